/**
 * The face detector candidates of issue 14 on the real faces in ../shared/data (never needed by tests):
 * BlazeFace from `@vladmandic/human` (what `@ifan/detect` ships) and face-api's Tiny Face Detector from
 * `@vladmandic/face-api` (re-implemented in `tiny-face-detector.ts`, outputs identical to face-api's).
 *
 *   pnpm bench detect-candidates [DATA_ROOT]      (default ../../shared/data, i.e. /work/shared/data)
 *
 * Sets: MTFL (every 25th of 10,000 faces, <= 160 px, 5 labelled points), FASSEG (20 portraits, eyes and
 * mouth from the colour masks), CelebAMask-1k (first 200, eyes and mouth from the class masks), FER2013
 * (300 validation crops, 48 px grey: any detection counts), and 40 synthetic group pictures of 640 x 480
 * with 3-6 CelebAMask faces each (the other 700 images; 90-230 px tiles, a third turned by up to 30 deg).
 *
 * A detection finds a labelled face when its box holds the face's eye midpoint and mouth and its side
 * (sqrt of the area) is 1.2-6 times the face's scale D = max(eye distance, eye-to-mouth distance);
 * faces and detections are matched one to one, best score first. Unmatched detections are false
 * positives. For BlazeFace also: IoU of its `framingBox` with the one from the labelled points
 * (core's `faceBoxFromKeypoints`), and its eye and mouth errors in units of D.
 * and the error of its roll (from the eyes) in degrees. BENCH_ONLY=blazeface (a name prefix) runs some
 * candidates only. Writes out/detect-candidates.json.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, composeAffine, faceBoxFromKeypoints, rotation, scaling, selectBackend, translation, warpImage, warpLabelMap, type RawImage } from '@ifan/core';
import { decodeImage, decodeLabelImage } from '@ifan/core/node';
import { createDetector } from '@ifan/detect/node';
import { boxIou, loadTinyFaceDetector } from './tiny-face-detector';
import { median } from './stats';

type P = [number, number];
interface Truth {
  leftEye: P;
  rightEye: P;
  mouth: P;
}
interface Item {
  image: RawImage;
  faces: Truth[] | 'any';
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(process.argv[2] ?? join(here, '..', '..', 'shared', 'data'));

function centroid(data: ArrayLike<number>, width: number, test: (i: number) => boolean): P | null {
  let sx = 0,
    sy = 0,
    n = 0;
  for (let i = 0; i < data.length; i++) {
    if (test(i)) {
      sx += (i % width) + 0.5;
      sy += Math.floor(i / width) + 0.5;
      n++;
    }
  }
  return n >= 4 ? [sx / n, sy / n] : null;
}

async function mtfl(): Promise<Item[]> {
  const lines = readFileSync(join(root, 'mtfl', 'training.txt'), 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const items: Item[] = [];
  for (let i = 0; i < lines.length; i += 25) {
    const p = lines[i].trim().split(/\s+/);
    const v = p.slice(1, 11).map(Number);
    items.push({
      image: await decodeImage(join(root, 'mtfl', p[0].replace(/\\/g, '/'))),
      faces: [{ leftEye: [v[0], v[5]], rightEye: [v[1], v[6]], mouth: [(v[3] + v[4]) / 2, (v[8] + v[9]) / 2] }],
    });
  }
  return items;
}

async function fasseg(): Promise<Item[]> {
  const dir = join(root, 'fasseg');
  const items: Item[] = [];
  for (const f of readdirSync(join(dir, 'Train_RGB')).sort()) {
    const image = await decodeImage(join(dir, 'Train_RGB', f));
    const mask = await decodeImage(join(dir, 'Train_Labels', f));
    const colours = [[255, 0, 0], [127, 0, 0], [255, 255, 0], [0, 0, 255], [0, 255, 255], [0, 255, 0]];
    const cls = new Uint8Array(mask.width * mask.height);
    for (let i = 0; i < cls.length; i++) {
      let best = 0,
        bd = Infinity;
      colours.forEach((c, k) => {
        const d = (mask.data[3 * i] - c[0]) ** 2 + (mask.data[3 * i + 1] - c[1]) ** 2 + (mask.data[3 * i + 2] - c[2]) ** 2;
        if (d < bd) [bd, best] = [d, k];
      });
      cls[i] = best;
    }
    const eyes = centroid(cls, mask.width, (i) => cls[i] === 3);
    const mouth = centroid(cls, mask.width, (i) => cls[i] === 5);
    if (!eyes || !mouth) continue;
    const left = centroid(cls, mask.width, (i) => cls[i] === 3 && (i % mask.width) + 0.5 < eyes[0]);
    const right = centroid(cls, mask.width, (i) => cls[i] === 3 && (i % mask.width) + 0.5 >= eyes[0]);
    if (left && right) items.push({ image, faces: [{ leftEye: left, rightEye: right, mouth }] });
  }
  return items;
}

async function celeba(from: number, to: number): Promise<{ image: RawImage; truth: Truth }[]> {
  const dir = join(root, 'celebamask-1k');
  const names = readdirSync(join(dir, 'images')).sort().slice(from, to);
  const out: { image: RawImage; truth: Truth }[] = [];
  for (const n of names) {
    const image = await decodeImage(join(dir, 'images', n));
    const m = await decodeLabelImage(join(dir, 'masks', n.replace(/\.jpg$/, '.png')));
    const c = m.channels === 1 ? m.data : m.data.filter((_, i) => i % 3 === 0);
    // class 4 is the person's left eye (the image's right), 5 the person's right
    const leftEye = centroid(c, m.width, (i) => c[i] === 5);
    const rightEye = centroid(c, m.width, (i) => c[i] === 4);
    const mouth = centroid(c, m.width, (i) => c[i] >= 10 && c[i] <= 12);
    if (leftEye && rightEye && mouth) out.push({ image, truth: { leftEye, rightEye, mouth } });
  }
  return out;
}

async function fer(): Promise<Item[]> {
  const dir = join(root, 'fer2013', 'validation');
  const items: Item[] = [];
  for (const cls of readdirSync(dir).sort()) {
    for (const f of readdirSync(join(dir, cls)).sort().slice(0, 43)) items.push({ image: await decodeImage(join(dir, cls, f)), faces: 'any' });
  }
  return items.slice(0, 300);
}

/** 640 x 480 pictures with 3-6 faces pasted on a smooth random background. */
function groups(tiles: { image: RawImage; truth: Truth }[], count: number): Item[] {
  const rng = new Rng(14);
  const W = 640,
    H = 480;
  const items: Item[] = [];
  let next = 0;
  for (let g = 0; g < count; g++) {
    const data = new Uint8Array(W * H * 3);
    const c0 = [0, 1, 2].map(() => 40 + 180 * rng.next());
    const c1 = [0, 1, 2].map(() => 40 + 180 * rng.next());
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const t = (x / W + y / H) / 2;
        for (let k = 0; k < 3; k++) data[3 * (y * W + x) + k] = Math.max(0, Math.min(255, c0[k] * (1 - t) + c1[k] * t + 12 * (rng.next() - 0.5)));
      }
    }
    const canvas: RawImage = { width: W, height: H, channels: 3, data };
    const n = 3 + Math.floor(rng.next() * 4);
    const placed: [number, number, number][] = [];
    const faces: Truth[] = [];
    for (let f = 0; f < n; f++) {
      const tile = tiles[next++ % tiles.length];
      const side = 90 + 140 * rng.next();
      const angle = rng.next() < 1 / 3 ? ((rng.next() * 2 - 1) * 30 * Math.PI) / 180 : 0;
      let cx = 0,
        cy = 0,
        ok = false;
      for (let attempt = 0; attempt < 200 && !ok; attempt++) {
        cx = side / 2 + rng.next() * (W - side);
        cy = side / 2 + rng.next() * (H - side);
        ok = placed.every(([px, py, ps]) => Math.abs(px - cx) > (ps + side) / 2 || Math.abs(py - cy) > (ps + side) / 2);
      }
      if (!ok) continue;
      placed.push([cx, cy, side]);
      const s = side / tile.image.width;
      const a = composeAffine(translation(-tile.image.width / 2, -tile.image.height / 2), scaling(s), rotation(angle), translation(cx, cy));
      const warped = warpImage(tile.image, a, W, H);
      const mask = warpLabelMap({ width: tile.image.width, height: tile.image.height, data: new Uint8Array(tile.image.width * tile.image.height).fill(1) }, a, W, H);
      for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) for (let k = 0; k < 3; k++) data[3 * i + k] = warped.data[3 * i + k];
      const map = (p: P): P => [a[0] * p[0] + a[1] * p[1] + a[2], a[3] * p[0] + a[4] * p[1] + a[5]];
      faces.push({ leftEye: map(tile.truth.leftEye), rightEye: map(tile.truth.rightEye), mouth: map(tile.truth.mouth) });
    }
    items.push({ image: canvas, faces });
  }
  return items;
}

interface Det {
  box: [number, number, number, number];
  score: number;
  framingBox?: [number, number, number, number];
  keypoints?: { leftEye: P; rightEye: P; mouth: P };
  roll?: number;
}

interface Tally {
  faces: number;
  found: number;
  falsePositives: number;
  images: number;
  ms: number[];
  framingIou: number[];
  eyeError: number[];
  mouthError: number[];
  rollError: number[];
}

function score(item: Item, dets: Det[], t: Tally): void {
  t.images++;
  if (item.faces === 'any') {
    t.faces++;
    if (dets.length > 0) t.found++;
    t.falsePositives += Math.max(0, dets.length - 1);
    return;
  }
  const used = new Set<number>();
  for (const face of item.faces) {
    t.faces++;
    const em: P = [(face.leftEye[0] + face.rightEye[0]) / 2, (face.leftEye[1] + face.rightEye[1]) / 2];
    const D = Math.max(Math.hypot(face.rightEye[0] - face.leftEye[0], face.rightEye[1] - face.leftEye[1]), Math.hypot(face.mouth[0] - em[0], face.mouth[1] - em[1]));
    const inside = (b: number[], p: P) => p[0] >= b[0] && p[0] <= b[0] + b[2] && p[1] >= b[1] && p[1] <= b[1] + b[3];
    const k = dets.findIndex((d, i) => {
      if (used.has(i)) return false;
      const side = Math.sqrt(d.box[2] * d.box[3]);
      return inside(d.box, em) && inside(d.box, face.mouth) && side >= 1.2 * D && side <= 6 * D;
    });
    if (k < 0) continue;
    used.add(k);
    t.found++;
    const d = dets[k];
    if (d.framingBox && d.keypoints) {
      t.framingIou.push(boxIou(d.framingBox, faceBoxFromKeypoints(face.leftEye, face.rightEye, face.mouth)));
      const e = (p: P, q: P) => Math.hypot(p[0] - q[0], p[1] - q[1]) / D;
      t.eyeError.push((e(d.keypoints.leftEye, face.leftEye) + e(d.keypoints.rightEye, face.rightEye)) / 2);
      t.mouthError.push(e(d.keypoints.mouth, face.mouth));
      const trueRoll = Math.atan2(face.rightEye[1] - face.leftEye[1], face.rightEye[0] - face.leftEye[0]);
      if (d.roll !== undefined) t.rollError.push((Math.abs(d.roll - trueRoll) * 180) / Math.PI);
    }
  }
  t.falsePositives += dets.length - used.size;
}

const loadBefore = execSync('uptime').toString().trim();
await selectBackend();
console.error(`data from ${root}`);
const celebaAll = await celeba(0, 900);
const sets: Record<string, Item[]> = {
  mtfl: await mtfl(),
  fasseg: await fasseg(),
  celebamask: celebaAll.slice(0, 200).map((c) => ({ image: c.image, faces: [c.truth] })),
  fer2013: await fer(),
  'group 640x480': groups(celebaAll.slice(200), 40),
};
console.error(Object.entries(sets).map(([k, v]) => `${k}: ${v.length} images`).join(', '));

const blaze = await createDetector();
const tiny = loadTinyFaceDetector();
const allCandidates: Record<string, (im: RawImage) => Promise<Det[]>> = {
  'blazeface (0.5)': (im) => blaze.detect(im, { minScore: 0.5 }),
  'blazeface (0.3)': (im) => blaze.detect(im, { minScore: 0.3 }),
  'tiny 416 (0.5)': (im) => tiny.detect(im, 416, 0.5),
  'tiny 416 (0.3)': (im) => tiny.detect(im, 416, 0.3),
  'tiny 608 (0.5)': (im) => tiny.detect(im, 608, 0.5),
};
const only = process.env.BENCH_ONLY;
const candidates = Object.fromEntries(Object.entries(allCandidates).filter(([name]) => !only || name.startsWith(only)));
// warm-up (wasm kernels, graph)
for (const run of Object.values(candidates)) for (let i = 0; i < 3; i++) await run(sets['group 640x480'][i].image);

const results: Record<string, Record<string, unknown>> = {};
const rows: string[] = [];
for (const [setName, items] of Object.entries(sets)) {
  for (const [name, run] of Object.entries(candidates)) {
    const t: Tally = { faces: 0, found: 0, falsePositives: 0, images: 0, ms: [], framingIou: [], eyeError: [], mouthError: [], rollError: [] };
    for (const item of items) {
      const t0 = performance.now();
      const dets = await run(item.image);
      t.ms.push(performance.now() - t0);
      score(item, dets, t);
    }
    const r = {
      recall: t.found / t.faces,
      faces: t.faces,
      found: t.found,
      falsePositivesPerImage: t.falsePositives / t.images,
      msPerImage: median(t.ms),
      ...(t.framingIou.length
        ? {
            framingIouMedian: median(t.framingIou),
            framingIouAtLeast05: t.framingIou.filter((v) => v >= 0.5).length / t.framingIou.length,
            eyeErrorMedian: median(t.eyeError),
            mouthErrorMedian: median(t.mouthError),
            rollErrorDegMedian: median(t.rollError),
          }
        : {}),
    };
    (results[setName] ??= {})[name] = r;
    const f = (v: number | undefined, d = 3) => (v === undefined ? '-' : v.toFixed(d));
    rows.push(
      `| ${setName} | ${name} | ${f(r.recall)} (${t.found}/${t.faces}) | ${f(r.falsePositivesPerImage, 2)} | ${f(r.msPerImage, 1)} | ${f((r as { framingIouMedian?: number }).framingIouMedian)} | ${f((r as { eyeErrorMedian?: number }).eyeErrorMedian)} | ${f((r as { mouthErrorMedian?: number }).mouthErrorMedian)} | ${f((r as { rollErrorDegMedian?: number }).rollErrorDegMedian, 1)} |`,
    );
    console.error(rows[rows.length - 1]);
  }
}
blaze.dispose();
tiny.dispose();
const loadAfter = execSync('uptime').toString().trim();
console.log(`\nuptime before: ${loadBefore}\nuptime after:  ${loadAfter}\n`);
console.log('| set | detector (min score) | recall | false pos. / image | ms / image (median) | framing IoU (median) | eye err / D | mouth err / D | roll err deg |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(join(here, 'out', 'detect-candidates.json'), JSON.stringify({ root, loadBefore, loadAfter, results }, null, 2));
