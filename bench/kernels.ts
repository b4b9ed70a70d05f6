/**
 * Training-kernel benchmark: this library's wasm kernels (packages/core/src/kernels) against the stock
 * tfjs-backend-wasm kernels and, on one small shape, the stock cpu kernels, on the network's own layer
 * shapes. Prints a table and writes bench/out/kernels.json.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx kernels.ts [--quick]
 *
 * Each time is the best of several runs (other processes on a 2-core machine make the mean noisy).
 * Every run gets freshly written inputs, as in training: the wasm backend caches XNNPACK operators
 * (with their packed weights) under the id of a tensor, so re-running on the same tensors would time
 * a cache hit that a training step never gets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingKernels, unregisterTrainingKernels } from '../packages/core/src/kernels/index';

// The backends are dependencies of @ifan/core; load them from there.
const coreRequire = createRequire(new URL('../packages/core/package.json', import.meta.url));
for (const pkg of ['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm']) {
  await import(pathToFileURL(coreRequire.resolve(pkg)).href);
}
await tf.setBackend('cpu');
await tf.setBackend('wasm');
await tf.ready();

const quick = process.argv.includes('--quick');
type Shape4 = [number, number, number, number];

interface Row {
  kernel: string;
  shape: string;
  gflop: number | null;
  oursMs: number;
  stockWasmMs: number | null;
  stockCpuMs: number | null;
  note?: string;
}
const rows: Row[] = [];

type Inputs = tf.Tensor[];
type Bench = (inputs: Inputs) => tf.Tensor | tf.Tensor[];

/** A copy in a new buffer (tf.clone would share the buffer, and with it the XNNPACK cache entry). */
const fresh = (ts: Inputs): Inputs => tf.tidy(() => ts.map((t) => tf.add(t, tf.zerosLike(t))));

/** Best wall time of `reps` runs of f on fresh copies of `inputs` (after one warm-up), in ms. */
function time(inputs: Inputs, f: Bench, reps: number): number {
  let best = Infinity;
  for (let i = 0; i <= reps; i++) {
    const ins = fresh(inputs);
    const t0 = performance.now();
    tf.tidy(() => {
      f(ins);
    });
    if (i > 0) best = Math.min(best, performance.now() - t0);
    tf.dispose(ins);
  }
  return best;
}

const heapMB = () => ((tf.engine().backend as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length / 2 ** 20).toFixed(0);

/** Times f with this library's kernels and with the stock wasm kernels (null when stock has none). */
function compare(inputs: Inputs, f: Bench, reps: number, stockReps = reps): [number, number | null] {
  if (process.env.DEBUG_HEAP) console.error('heap MB', heapMB(), 'buffers', tf.engine().backend.numDataIds());
  registerTrainingKernels('wasm');
  const ours = time(inputs, f, reps);
  unregisterTrainingKernels('wasm');
  let stock: number | null = null;
  try {
    stock = time(inputs, f, stockReps);
  } catch (e) {
    if (!/not registered/.test((e as Error).message)) throw e;
  }
  registerTrainingKernels('wasm');
  return [ours, stock];
}

/** Times f on the stock cpu backend, on copies of `inputs` moved there. */
function onCpu(inputs: Inputs, f: Bench, reps: number): number {
  const values = inputs.map((t) => [t.dataSync(), t.shape] as const);
  tf.setBackend('cpu');
  const ins = values.map(([v, shape]) => tf.tensor(v, shape));
  try {
    return time(ins, f, reps);
  } finally {
    tf.dispose(ins);
    tf.setBackend('wasm');
  }
}

interface ConvShape {
  name: string;
  x: Shape4;
  k: number;
  out: number;
}

// Layer shapes of the backbone presets (packages/core/src/backbone.ts) at their training batch sizes.
const CONVS: ConvShape[] = [
  { name: 'brief: 128px dense layer, batch 24', x: [24, 128, 128, 16], k: 3, out: 12 },
  { name: 'paper 128px stem, batch 8', x: [8, 128, 128, 3], k: 7, out: 48 },
  { name: 'paper 128px down0 layer0', x: [8, 128, 128, 48], k: 3, out: 12 },
  { name: 'paper 128px down0 layer2', x: [8, 128, 128, 72], k: 3, out: 12 },
  { name: 'paper 64px transition sub-pixel 1x1', x: [8, 64, 64, 36], k: 1, out: 144 },
  { name: 'paper 128px transition conv', x: [8, 128, 128, 36], k: 3, out: 36 },
  { name: 'paper 8px bottom layer', x: [8, 8, 8, 228], k: 3, out: 12 },
  { name: 'small 64px stem, batch 32', x: [32, 64, 64, 3], k: 7, out: 16 },
  { name: 'small 64px down0 layer1', x: [32, 64, 64, 24], k: 3, out: 8 },
  { name: 'small 32px down1 layer1', x: [32, 32, 32, 40], k: 3, out: 8 },
  { name: 'small 32px sub-pixel 1x1', x: [32, 16, 16, 16], k: 1, out: 64 },
  { name: 'small 64px head 1x1', x: [32, 64, 64, 48], k: 1, out: 11 },
];

const fmt = (s: number[]) => `[${s.join(',')}]`;

for (const c of quick ? CONVS.slice(0, 3) : CONVS) {
  const [b, h, w, ci] = c.x;
  const fshape: Shape4 = [c.k, c.k, ci, c.out];
  const yshape: Shape4 = [b, h, w, c.out];
  const gflop = (2 * b * h * w * c.k * c.k * ci * c.out) / 1e9;
  const x = tf.randomNormal(c.x);
  const dy = tf.randomNormal(yshape);
  const filter = tf.randomNormal(fshape);
  const shape = `${fmt(c.x)} ${c.k}x${c.k} -> ${c.out}`;
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC' };
  const reps = gflop > 2 ? 3 : 5;
  const fwd = time([x, filter], ([xx, ff]) => tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 1, 'same'), reps);
  rows.push({ kernel: 'Conv2D (forward, stock)', shape, gflop, oursMs: fwd, stockWasmMs: null, stockCpuMs: null, note: c.name });
  const [dw] = compare([x, dy], ([xx, dd]) => tf.engine().runKernel('Conv2DBackpropFilter', { x: xx, dy: dd }, { ...attrs, filterShape: fshape }) as tf.Tensor, reps);
  rows.push({ kernel: 'Conv2DBackpropFilter', shape, gflop, oursMs: dw, stockWasmMs: null, stockCpuMs: null, note: 'stock wasm: missing' });
  const [dx, dxStock] = compare([dy, filter], ([dd, ff]) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dd, filter: ff }, { ...attrs, inputShape: c.x }) as tf.Tensor, reps, 1);
  rows.push({ kernel: 'Conv2DBackpropInput', shape, gflop, oursMs: dx, stockWasmMs: dxStock, stockCpuMs: null });
  tf.dispose([x, dy, filter]);
}

// One small shape against the stock cpu backend (its convolutions run at well under 1 GFLOP/s).
{
  const xs: Shape4 = [4, 32, 32, 16];
  const fs: Shape4 = [3, 3, 16, 12];
  const ys: Shape4 = [4, 32, 32, 12];
  const gflop = (2 * 4 * 32 * 32 * 9 * 16 * 12) / 1e9;
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC' };
  const shape = `${fmt(xs)} 3x3 -> 12`;
  const x = tf.randomNormal(xs);
  const dy = tf.randomNormal(ys);
  const filter = tf.randomNormal(fs);
  const dwF: Bench = ([xx, dd]) => tf.engine().runKernel('Conv2DBackpropFilter', { x: xx, dy: dd }, { ...attrs, filterShape: fs }) as tf.Tensor;
  const dxF: Bench = ([dd, ff]) => tf.engine().runKernel('Conv2DBackpropInput', { dy: dd, filter: ff }, { ...attrs, inputShape: xs }) as tf.Tensor;
  const [dw] = compare([x, dy], dwF, 5);
  rows.push({ kernel: 'Conv2DBackpropFilter', shape, gflop, oursMs: dw, stockWasmMs: null, stockCpuMs: onCpu([x, dy], dwF, 1) });
  const [dx, dxStock] = compare([dy, filter], dxF, 5, 2);
  rows.push({ kernel: 'Conv2DBackpropInput', shape, gflop, oursMs: dx, stockWasmMs: dxStock, stockCpuMs: onCpu([dy, filter], dxF, 2) });
  // The one kernel registered for cpu, run on cpu.
  registerTrainingKernels('cpu');
  const dwCpu = onCpu([x, dy], dwF, 2);
  unregisterTrainingKernels('cpu');
  rows.push({ kernel: 'Conv2DBackpropFilter', shape, gflop, oursMs: dwCpu, stockWasmMs: null, stockCpuMs: onCpu([x, dy], dwF, 1), note: 'ours on the cpu backend' });
  tf.dispose([x, dy, filter]);
}

// Data movement and reductions on dense-block tensors (no FLOPs: compare times).
{
  const x = tf.randomNormal([32, 64, 64, 24]);
  const y = tf.randomNormal([32, 64, 64, 8]);
  const pooledDy = tf.randomNormal([32, 32, 32, 24]);
  const small = tf.randomNormal([1, 1, 1, 24]);
  const sub = tf.randomNormal([32, 32, 32, 32]);
  const big = tf.randomNormal([8, 128, 128, 72]);
  const cases: Array<[string, string, Inputs, Bench]> = [
    ['Concat', '[32,64,64,24] + [32,64,64,8] on channels', [x, y], ([a, b]) => tf.concat([a, b], 3)],
    ['SplitV', '[32,64,64,24] -> 16 + 8 channels', [x], ([a]) => tf.split(a, [16, 8], 3)],
    ['Slice', '[32,64,64,24] channels 0..16', [x], ([a]) => tf.slice(a, [0, 0, 0, 0], [32, 64, 64, 16])],
    ['Tile', '[1,1,1,24] -> [32,64,64,24] (batch-norm gradient)', [small], ([a]) => tf.tile(a, [32, 64, 64, 1])],
    ['DepthToSpace', '[32,32,32,32] block 2', [sub], ([a]) => tf.depthToSpace(a as tf.Tensor4D, 2)],
    ['Identity', '[32,64,64,24]', [x], ([a]) => tf.clone(a)],
    ['Cast', '[32,64,64,24] float32 to float32 (moments)', [x], ([a]) => tf.cast(a, 'float32')],
    ['Sum', '[32,64,64,24] over [0,1,2]', [x], ([a]) => tf.sum(a, [0, 1, 2])],
    ['Mean', '[8,128,128,72] over [0,1,2]', [big], ([a]) => tf.mean(a, [0, 1, 2], true)],
    ['Mean', '[32,32,32,32] over [1,2]', [sub], ([a]) => tf.mean(a, [1, 2])],
    [
      'AvgPoolGrad',
      '2x2/2 of [32,64,64,24]',
      [pooledDy, x],
      ([d, a]) => tf.engine().runKernel('AvgPoolGrad', { dy: d, input: a }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor,
    ],
  ];
  for (const [kernel, shape, inputs, f] of quick ? cases.slice(0, 3) : cases) {
    const [ours, stock] = compare(inputs, f, 7);
    rows.push({ kernel, shape, gflop: null, oursMs: ours, stockWasmMs: stock, stockCpuMs: null });
  }
  tf.dispose([x, y, pooledDy, small, sub, big]);
}

// ---- report ----
const gf = (r: Row, ms: number | null) => (ms == null ? '-' : r.gflop == null ? `${ms.toFixed(1)} ms` : `${(r.gflop / (ms / 1e3)).toPrecision(3)}`);
const header = ['kernel', 'shape', 'ours', 'stock wasm', 'stock cpu', 'speed-up', 'note'];
const table = rows.map((r) => {
  const base = r.stockWasmMs ?? r.stockCpuMs;
  return [
    r.kernel,
    r.shape,
    gf(r, r.oursMs),
    gf(r, r.stockWasmMs),
    gf(r, r.stockCpuMs),
    base == null ? '-' : `${(base / r.oursMs).toFixed(1)}x`,
    r.note ?? '',
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
console.log('GFLOP/s for convolutions (ms for data movement); best of several runs; wasm is single-threaded in Node');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const t of table) console.log(line(t));

mkdirSync(new URL('./out/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('./out/kernels.json', import.meta.url),
  JSON.stringify({ date: new Date().toISOString(), node: process.version, kernels: registerTrainingKernels('wasm'), rows }, null, 2),
);
console.log('wrote bench/out/kernels.json');
