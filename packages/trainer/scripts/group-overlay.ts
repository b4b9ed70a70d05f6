/**
 * The README's group-photo picture: a 720 x 400 "group photo" of five `@ifan/synthetic` faces (ours to
 * commit; no data set's faces), then `ifan predict` on it: every face found, framed as in training,
 * analysed in one batch, drawn on one overlay.
 *
 *   node --conditions=@ifan/source --import tsx packages/trainer/scripts/group-overlay.ts --model RUN [--out DIR] [--min-score X]
 *
 * Writes DIR/group-photo.jpg and DIR/group-overlay.jpg (default DIR: docs/ of the repository).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { composeAffine, Rng, rotation, selectBackend, translation, warpImage, warpLabelMap, type RawImage } from '@ifan/core';
import { generateFace } from '@ifan/synthetic';
import { loadFaceDetector } from '../src/faces';
import { loadModel } from '../src/model';
import { predictFaces } from '../src/predict';

const { values } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string' }, 'min-score': { type: 'string' } } });
if (!values.model) throw new Error('give --model RUN (a run directory or model folder)');
const outDir = resolve(values.out ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs'));
mkdirSync(outDir, { recursive: true });

/** A backdrop gradient with five faces in a row, of 120-170 px, two of them turned a little. */
function groupPhoto(): RawImage {
  const W = 720;
  const H = 400;
  const rng = new Rng(2017);
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) {
    const t = ((i % W) / W + Math.floor(i / W) / H) / 2;
    const c = [60 + 130 * t, 90 + 80 * t, 130 - 20 * t];
    for (let k = 0; k < 3; k++) data[3 * i + k] = Math.round(c[k] + 8 * (rng.next() - 0.5));
  }
  const canvas: RawImage = { width: W, height: H, channels: 3, data };
  const faces: [number, number, number, number][] = [
    // centre x, centre y, side, roll (degrees)
    [95, 215, 150, 0],
    [240, 175, 130, 12],
    [380, 225, 170, 0],
    [525, 170, 125, -10],
    [650, 230, 120, 0],
  ];
  faces.forEach(([cx, cy, side, roll], k) => {
    const face = generateFace(3100 + k, { size: side, pose: { maxRoll: 0, maxYaw: 8 }, occlusion: 0, glasses: 0 }).image;
    const a = composeAffine(translation(-side / 2, -side / 2), rotation((roll * Math.PI) / 180), translation(cx, cy));
    const warped = warpImage(face, a, W, H);
    const mask = warpLabelMap({ width: side, height: side, data: new Uint8Array(side * side).fill(1) }, a, W, H);
    for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) for (let c = 0; c < 3; c++) data[3 * i + c] = warped.data[3 * i + c];
  });
  return canvas;
}

const raw = (im: RawImage) => sharp(Buffer.from(im.data), { raw: { width: im.width, height: im.height, channels: 3 } });
const photo = join(outDir, 'group-photo.jpg');
await raw(groupPhoto()).jpeg({ quality: 90 }).toFile(photo);
await selectBackend();
const model = await loadModel(values.model);
const detector = await loadFaceDetector();
try {
  const [r] = await predictFaces(model, [photo], { detector, minScore: values['min-score'] !== undefined ? Number(values['min-score']) : undefined });
  await raw(r.overlay).jpeg({ quality: 90 }).toFile(join(outDir, 'group-overlay.jpg'));
  console.log(`${photo}: ${r.faces.length} faces`);
  for (const f of r.faces) {
    const e = f.outputs.emotion as { className?: string } | undefined;
    console.log(`  face ${f.index + 1}: box ${f.box.map(Math.round).join(',')} score ${f.score?.toFixed(2)}${e ? ` emotion ${e.className}` : ''}`);
  }
  console.log(`overlay: ${join(outDir, 'group-overlay.jpg')}`);
} finally {
  detector.dispose();
  model.net.dispose();
}
