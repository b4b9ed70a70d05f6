/**
 * Speed of `@ifan/detect` on 640 px photos: ms per photo for detection (BlazeFace, letterboxed to
 * 256 px), for cutting every found face to a network input (`cropFaces`, 64 px, aligned), and for the
 * whole of `ifan predict` on a photo: detection plus `analyzeFaces` of the N faces found (framing, one
 * batch through the network, every output mapped back to the photo, the overlay).
 *
 *   pnpm bench detect [DIR]
 *
 * The network: BENCH_MODEL=DIR (a saved model or run), else a randomly initialised 3-task network of
 * preset BENCH_PRESET (default small, 64 px) with BENCH_ITERATIONS (default 2) interaction
 * iterations; its weights do not change its speed.
 *
 * Photos: 640 x 480 group pictures composed from `@ifan/synthetic` faces (0, 1, 3 and 6 faces, 90-180 px,
 * 6 pictures each; no data set needed), and with DIR every image in it scaled so that its longer side is
 * 640 px. Also the CPU time of this process per detection (all threads), which load on the machine
 * stretches less than wall-clock time. After a warm-up, ROUNDS (env BENCH_ROUNDS, default 5) rounds time every photo once, so a burst
 * of load on a shared machine hits every case alike; the table gives medians. The backend is core's
 * `selectBackend()` (wasm here: tfjs-node cannot be installed). Prints `uptime` before and after (the
 * machine's cores are shared with training runs) and writes out/detect.json.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, composeAffine, rotation, scaling, selectBackend, translation, warpImage, warpLabelMap, type RawImage } from '@ifan/core';
import { decodeImage } from '@ifan/core/node';
import { IntegratedNetwork, type BackbonePresetName } from '@ifan/core';
import { cropFaces } from '@ifan/detect';
import { createDetector } from '@ifan/detect/node';
import { generateFace } from '@ifan/synthetic';
import { emotionTask } from '@ifan/task-emotion';
import { landmarkTask } from '@ifan/task-landmarks';
import { parsingTask } from '@ifan/task-parsing';
import { analyzeFaces, loadModel, type FaceModel } from '@ifan/trainer';
import { median } from './stats';
import { userPath } from './paths';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function groupPhoto(faces: number, seed: number): RawImage {
  const rng = new Rng(seed);
  const W = 640,
    H = 480;
  const data = new Uint8Array(W * H * 3);
  const c0 = [0, 1, 2].map(() => 50 + 150 * rng.next());
  const c1 = [0, 1, 2].map(() => 50 + 150 * rng.next());
  for (let i = 0; i < W * H; i++) {
    const t = ((i % W) / W + Math.floor(i / W) / H) / 2;
    for (let k = 0; k < 3; k++) data[3 * i + k] = c0[k] * (1 - t) + c1[k] * t;
  }
  const canvas: RawImage = { width: W, height: H, channels: 3, data };
  const placed: [number, number, number][] = [];
  for (let f = 0; f < faces; f++) {
    const side = Math.round(90 + 90 * rng.next());
    for (let attempt = 0; attempt < 500; attempt++) {
      const cx = side / 2 + rng.next() * (W - side);
      const cy = side / 2 + rng.next() * (H - side);
      if (!placed.every(([x, y, s]) => Math.abs(x - cx) > (s + side) / 2 || Math.abs(y - cy) > (s + side) / 2)) continue;
      placed.push([cx, cy, side]);
      const face = generateFace(seed * 100 + f, { size: side, pose: { maxRoll: 20, maxYaw: 20 }, occlusion: 0 }).image;
      const a = composeAffine(translation(-side / 2, -side / 2), rotation((rng.next() * 2 - 1) * 0.3), translation(cx, cy));
      const warped = warpImage(face, a, W, H);
      const mask = warpLabelMap({ width: side, height: side, data: new Uint8Array(side * side).fill(1) }, a, W, H);
      for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) for (let k = 0; k < 3; k++) data[3 * i + k] = warped.data[3 * i + k];
      break;
    }
  }
  return canvas;
}

async function photosIn(dir: string): Promise<RawImage[]> {
  const out: RawImage[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!['.jpg', '.jpeg', '.png', '.webp'].includes(extname(f).toLowerCase())) continue;
    const im = await decodeImage(join(dir, f));
    const k = 640 / Math.max(im.width, im.height);
    out.push(warpImage(im, scaling(k), Math.round(im.width * k), Math.round(im.height * k)));
  }
  return out;
}

const uptimeBefore = execSync('uptime').toString().trim();
const backend = await selectBackend();
const cases: { name: string; photos: RawImage[]; faces?: number }[] = [0, 1, 3, 6].map((n) => ({
  name: `640x480, ${n} synthetic face${n === 1 ? '' : 's'}`,
  faces: n,
  photos: Array.from({ length: 6 }, (_, i) => groupPhoto(n, 1 + i + 10 * n)),
}));
if (process.argv[2]) cases.push({ name: `${process.argv[2]} (longer side 640)`, photos: await photosIn(userPath(process.argv[2])) });

const detector = await createDetector();
const model: FaceModel & { name: string } = process.env.BENCH_MODEL
  ? { ...(await loadModel(process.env.BENCH_MODEL)), name: process.env.BENCH_MODEL }
  : (() => {
      const preset = (process.env.BENCH_PRESET ?? 'small') as BackbonePresetName;
      const iterations = Number(process.env.BENCH_ITERATIONS ?? 2);
      const plugins = [parsingTask(), landmarkTask(), emotionTask()];
      const net = new IntegratedNetwork(plugins, { backbone: preset, iterations });
      net.framing = { ...net.framing, margin: 0.1 };
      return { net, plugins, name: `random 3-task ${preset}, ITER ${iterations}` };
    })();
for (const c of cases) {
  for (const p of c.photos.slice(0, 2)) {
    const faces = await detector.detect(p); // warm-up
    await analyzeFaces(p, { model, boxes: faces.map((f) => f.framingBox) });
  }
}
const analyseMs = cases.map(() => [] as number[]);
const totalMs = cases.map(() => [] as number[]);
const detectMs = cases.map(() => [] as number[]);
const cropMs = cases.map(() => [] as number[]);
const cpuMs = cases.map(() => [] as number[]);
const found = cases.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  for (const [k, c] of cases.entries()) {
    for (const p of c.photos) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const faces = await detector.detect(p);
      const t1 = performance.now();
      const c1 = process.cpuUsage(c0);
      cpuMs[k].push((c1.user + c1.system) / 1000);
      cropFaces(p, faces, { size: 64, align: true });
      cropMs[k].push(performance.now() - t1);
      detectMs[k].push(t1 - t0);
      // what ifan predict does with a photo: the detection above, then every face in one batch with the overlay
      const t2 = performance.now();
      await analyzeFaces(p, { model, detector: { detect: async () => faces } });
      const analysis = performance.now() - t2;
      analyseMs[k].push(analysis);
      totalMs[k].push(t1 - t0 + analysis);
      if (round === 0) found[k].push(faces.length);
    }
  }
}
detector.dispose();
model.net.dispose();
const uptimeAfter = execSync('uptime').toString().trim();

console.log(`backend ${backend.name}; ${ROUNDS} rounds; network: ${model.name} (${model.net.inputSize} px)\nuptime before: ${uptimeBefore}\nuptime after:  ${uptimeAfter}\n`);
console.log('| photos | faces found / placed | detect ms / photo (median) | detect CPU ms / photo (median) | crop ms / photo (median) | analyse ms / photo (median) | detect + analyse ms / photo (median) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
const results = cases.map((c, k) => {
  const r = {
    name: c.name,
    photos: c.photos.length,
    facesFound: found[k].reduce((a, b) => a + b, 0),
    facesPlaced: c.faces === undefined ? null : c.faces * c.photos.length,
    detectMs: median(detectMs[k]),
    detectCpuMs: median(cpuMs[k]),
    cropMs: median(cropMs[k]),
    analyseMs: median(analyseMs[k]),
    detectAndAnalyseMs: median(totalMs[k]),
  };
  console.log(
    `| ${r.name} | ${r.facesFound} / ${r.facesPlaced ?? '?'} | ${r.detectMs.toFixed(1)} | ${r.detectCpuMs.toFixed(1)} | ${r.cropMs.toFixed(1)} | ${r.analyseMs.toFixed(1)} | ${r.detectAndAnalyseMs.toFixed(1)} |`,
  );
  return r;
});
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(join(here, 'out', 'detect.json'), JSON.stringify({ backend: backend.name, rounds: ROUNDS, network: model.name, inputSize: model.net.inputSize, uptimeBefore, uptimeAfter, results }, null, 2));
