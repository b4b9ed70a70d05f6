/**
 * FER2013 faces aligned by their eyes, nose and mouth corners, for the paper's Table 3 (emotion on aligned
 * against cropped faces). FER2013 labels no points: a landmark model (default the shipped `landmarks`)
 * predicts the 5 points on each 48 px face (framed first by the whole picture, then by the box of the points
 * it found, as the model frames faces), and a least-squares
 * similarity takes them onto bench/replicate/align.ts's template in a square of the same size. The output
 * has FER2013's folder layout, so `ifan train` reads it as `folders:OUT/train` like the original.
 *
 *   pnpm bench align-fer ../shared/data/fer2013 OUT [--model DIR|NAME] [--size 48] [--passes 3] [--limit N] [--sheet FILE]
 *
 * Writes OUT/SPLIT/CLASS/NAME.png (RGB with equal channels, as the loader gives FER's grey faces), OUT/points.json (the predicted points, per split and file, in the
 * 48 px image's pixels) and a contact sheet of the first faces before and after (default OUT/sheet.png).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { faceBoxFromKeypoints, selectBackend, type LabelledImage, type RawImage } from '@ifan/core';
import { encodePng } from '@ifan/core/node';
import { emotionTask } from '@ifan/task-emotion/node';
import { analyzeFaces, resolveModel } from '@ifan/trainer';
import { userPath } from './paths';
import { alignFace } from './replicate/align';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string', default: 'landmarks' }, size: { type: 'string', default: '48' }, limit: { type: 'string' }, sheet: { type: 'string' }, passes: { type: 'string', default: '3' } },
});
if (positionals.length !== 2) throw new Error('align-fer: give the FER2013 folder and an output folder (pnpm bench align-fer ../shared/data/fer2013 OUT)');
const [root, out] = positionals.map(userPath);
const size = Number(values.size);
const limit = values.limit !== undefined ? Number(values.limit) : Infinity;
if (!Number.isInteger(size) || size < 16) throw new Error(`align-fer: --size ${values.size}: expected a whole number of pixels >= 16`);

await selectBackend();
// A model folder or run directory (from where the command was typed), or a shipped model's name.
const model = await resolveModel(existsSync(userPath(values.model!)) ? userPath(values.model!) : values.model);
if (!model.plugins.some((p) => p.name === 'landmarks')) throw new Error(`align-fer: ${model.dir} has no landmarks task`);
const plugin = emotionTask();
const passes = Number(values.passes);
const points: Record<string, Record<string, [number, number][]>> = {};
const moved: number[] = [];
const sheetPairs: [RawImage, RawImage][] = [];
const t0 = Date.now();

/**
 * The 5 points of one face. The model frames a face by the box of its eyes and mouth (as in training);
 * FER2013 gives only its 48 px crop, so the first pass frames the whole picture and each further pass the
 * box of the points found before (mirrored too: the average of the picture and its mirror image).
 */
async function facePoints(image: RawImage): Promise<[number, number][]> {
  let box: [number, number, number, number] = [0, 0, image.width, image.height];
  let pts: [number, number][] = [];
  for (let pass = 0; pass < passes; pass++) {
    const { faces } = await analyzeFaces(image, { model, boxes: [box], mirror: true });
    const next = (faces[0].outputs.landmarks as { points: [number, number][] }).points;
    if (pass === passes - 1 && pts.length) {
      const eyes = Math.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1]);
      moved.push(Math.max(...next.map(([x, y], i) => Math.hypot(x - pts[i][0], y - pts[i][1]))) / eyes);
    }
    pts = next;
    const mouth: [number, number] = [(pts[3][0] + pts[4][0]) / 2, (pts[3][1] + pts[4][1]) / 2];
    box = faceBoxFromKeypoints(pts[0], pts[1], mouth, model.net.framing.keypointBoxScale);
  }
  return pts;
}

for (const split of (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  const ds = await plugin.loadDataset('folders', root, { split });
  const samples = ds.samples.slice(0, limit);
  points[split] = {};
  for (const [i, sample] of samples.entries()) {
    const li: LabelledImage = await sample.load();
    const pts = await facePoints(li.image);
    const aligned = alignFace(li, pts, size).image;
    const dir = join(out, split, basename(dirname(sample.id)));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${basename(sample.id, extname(sample.id))}.png`), await encodePng(aligned));
    points[split][sample.id] = pts.map(([px, py]) => [Number(px.toFixed(2)), Number(py.toFixed(2))]);
    if (sheetPairs.length < 48 && split === 'validation') sheetPairs.push([li.image, aligned]);
    if (i % 200 === 199 || i === samples.length - 1) process.stderr.write(`\r${split}: ${i + 1}/${samples.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
}
model.net.dispose();
moved.sort((a, b) => a - b);
const q = (f: number) => moved[Math.floor(f * (moved.length - 1))] ?? NaN;
const convergence = { medianMoved: q(0.5), p95Moved: q(0.95), unit: "largest point move of the last pass, in eye distances" };
await writeFile(join(out, 'points.json'), `${JSON.stringify({ model: model.dir, template: 'bench/replicate/align.ts ALIGN_TEMPLATE', size, passes, convergence, points })}\n`);
const sheet = values.sheet ? userPath(values.sheet) : join(out, 'sheet.png');
if (sheetPairs.length) await writeFile(sheet, await encodePng(contactSheet(sheetPairs, size)));
console.log(`align-fer: ${Object.entries(points).map(([s, p]) => `${s} ${Object.keys(p).length}`).join(', ')} faces in ${out} (${((Date.now() - t0) / 1000).toFixed(0)} s); sheet ${sheet}`);
console.log(`the last of ${passes} passes moved the points by ${convergence.medianMoved.toFixed(3)} eye distances (median), ${convergence.p95Moved.toFixed(3)} (95th percentile)`);

/** Pairs (original, aligned) side by side, 8 pairs a row, each scaled to `cell` pixels. */
function contactSheet(pairs: [RawImage, RawImage][], cell: number): RawImage {
  const cols = 8, rows = Math.ceil(pairs.length / cols), gap = 4;
  const width = cols * (2 * cell + gap), height = rows * (cell + gap);
  const data = new Uint8Array(width * height * 3).fill(255);
  const put = (img: RawImage, ox: number, oy: number) => {
    for (let y = 0; y < cell; y++)
      for (let x = 0; x < cell; x++) {
        const sx = Math.min(img.width - 1, Math.floor((x * img.width) / cell)), sy = Math.min(img.height - 1, Math.floor((y * img.height) / cell));
        for (let c = 0; c < 3; c++) data[((oy + y) * width + ox + x) * 3 + c] = img.data[(sy * img.width + sx) * img.channels + Math.min(c, img.channels - 1)];
      }
  };
  pairs.forEach(([a, b], k) => {
    const ox = (k % cols) * (2 * cell + gap), oy = Math.floor(k / cols) * (cell + gap);
    put(a, ox, oy);
    put(b, ox + cell, oy);
  });
  return { width, height, channels: 3, data };
}
