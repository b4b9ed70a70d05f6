/**
 * The browser test's fixtures, made with the page's own code (src/ifan.ts) in Node:
 * - `test/fixtures/model/`: the page's network trained briefly on synthetic faces (fixed seeds), saved
 *   with `saveNetwork`; the test loads it in the page and in Node and compares what they show.
 * - `test/fixtures/faces.png`: a 256 x 160 picture of two synthetic faces on a plain backdrop (PNG, so
 *   that the browser and sharp decode the same bytes).
 *
 *   pnpm --filter web make-test-model [--steps 60]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { composeAffine, saveNetwork, selectBackend, translation, warpImage, warpLabelMap, type RawImage } from '@ifan/core';
import { encodePng } from '@ifan/core/node';
import { generateFace } from '@ifan/synthetic';
import { createDemoNetwork, syntheticSamples, trainSteps } from '../src/ifan';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '60' } } });
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures');
mkdirSync(out, { recursive: true });

await selectBackend({ backend: 'wasm' });
const net = createDemoNetwork();
const t0 = Date.now();
await trainSteps(net, syntheticSamples(96, 3), {
  steps: Number(values.steps),
  seed: 5,
  onStep: (s, total) => {
    if (s % 10 === 0) console.log(`step ${s}: loss ${total.toFixed(4)} (${((Date.now() - t0) / (s + 1)).toFixed(0)} ms/step)`);
  },
});
await saveNetwork(net, `file://${join(out, 'model')}`);

// the photo: two frontal synthetic faces pasted on a soft gradient
const W = 256;
const H = 160;
const photo: RawImage = { width: W, height: H, channels: 3, data: new Uint8Array(W * H * 3) };
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    const t = (x / W + y / H) / 2;
    const o = 3 * (y * W + x);
    photo.data[o] = Math.round(80 * (1 - t) + 200 * t);
    photo.data[o + 1] = Math.round(120 * (1 - t) + 180 * t);
    photo.data[o + 2] = Math.round(160 * (1 - t) + 120 * t);
  }
}
const frontal = { pose: { maxRoll: 0, maxYaw: 0 }, occlusion: 0, glasses: 0 };
for (const [seed, size, cx, cy] of [
  [4, 112, 68, 82],
  [9, 100, 190, 78],
] as const) {
  const f = generateFace(seed, { size, ...frontal });
  const a = composeAffine(translation(cx - size / 2, cy - size / 2));
  const warped = warpImage(f.image, a, W, H);
  const ones = { width: size, height: size, data: new Uint8Array(size * size).fill(1) };
  const mask = warpLabelMap(ones, a, W, H);
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) for (let k = 0; k < 3; k++) photo.data[3 * i + k] = warped.data[3 * i + k];
}
writeFileSync(join(out, 'faces.png'), await encodePng(photo));
console.log(`wrote ${out}/model and faces.png in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
net.dispose();
