/**
 * Renders a grid of synthetic samples: for each face the image, its colour-coded mask and the image
 * with its landmarks, labelled with the expression. Writes `docs/synthetic-grid.png` at the repo root.
 *
 *   cd packages/synthetic && node --conditions=@ifan/source --import tsx scripts/grid.ts [--size 128] [--count 24] [--seed 1] [--domain parsing] [--out path]
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawImage } from '@ifan/core';
import sharp from 'sharp';
import { DOMAINS, type DomainName, EXPRESSIONS, colorizeMask, drawLandmarks, generateFace } from '../src/index';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const size = Number(args.get('size') ?? 128);
const count = Number(args.get('count') ?? 24);
const seed = Number(args.get('seed') ?? 1);
const domain = args.get('domain') as DomainName | undefined;
const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(args.get('out') ?? resolve(here, '../../../docs/synthetic-grid.png'));

const columns = 4; // faces per row, each face is three tiles wide
const pad = 4;
const label = 14;
const tileW = size * 3 + pad * 2;
const tileH = size + label;
const W = columns * tileW + (columns + 1) * pad * 2;
const rows = Math.ceil(count / columns);
const H = rows * tileH + (rows + 1) * pad;
const canvas = new Uint8Array(W * H * 3).fill(255);

function blit(img: RawImage, x0: number, y0: number) {
  for (let y = 0; y < img.height; y++) {
    const src = img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3);
    canvas.set(src, ((y0 + y) * W + x0) * 3);
  }
}

const captions: string[] = [];
for (let k = 0; k < count; k++) {
  const options = domain ? { ...DOMAINS[domain].face, size, expression: k % 7, tasks: undefined } : { size, expression: k % 7 };
  const face = generateFace(seed * 1000 + k, options);
  const row = Math.floor(k / columns);
  const col = k % columns;
  const x0 = pad * 2 + col * (tileW + pad * 2);
  const y0 = pad + row * (tileH + pad);
  blit(face.image, x0, y0 + label);
  blit(colorizeMask(face.labels.parsing!.mask), x0 + size + pad, y0 + label);
  blit(drawLandmarks(face.image, face.labels.landmarks!.points, Math.max(1, Math.round(size / 64))), x0 + 2 * (size + pad), y0 + label);
  const a = face.attributes;
  const caption =
    size >= 96
      ? `${EXPRESSIONS[a.expression]} ${a.intensity.toFixed(2)} | ${a.hairStyle} | yaw ${a.yaw.toFixed(0)} roll ${a.roll.toFixed(0)}${a.occluded ? ' | occl' : ''}${a.glasses ? ' | glasses' : ''}`
      : `${EXPRESSIONS[a.expression]} ${a.intensity.toFixed(1)}`;
  captions.push(`<text x="${x0}" y="${y0 + label - 3}" font-family="sans-serif" font-size="11">${caption}</text>`);
}

const svg = Buffer.from(`<svg width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${captions.join('')}</svg>`);
await mkdir(dirname(out), { recursive: true });
await sharp(canvas, { raw: { width: W, height: H, channels: 3 } })
  .composite([{ input: svg, top: 0, left: 0 }])
  .png({ compressionLevel: 9, palette: true, quality: 95, effort: 8 })
  .toFile(out);
console.log(`wrote ${out} (${count} faces at ${size} px)`);
