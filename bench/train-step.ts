/**
 * Training-step benchmark of the integrated 3-task network (parsing + landmarks + emotion), paper
 * stage 2: each step trains the backbone with one task's batch-norm key, that task's decoder and every
 * re-encoder on one task's batch, the tasks in rotation, RMSProp.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx train-step.ts [options]
 *
 *   --iterations N   interaction iterations of the training step (default 1)
 *   --steps N        timed steps per small configuration (default 6: two rotations of the tasks;
 *                    the paper preset runs one rotation)
 *   --quick          small preset only, one rotation
 *   --no-cpu         skip the stock cpu baseline (small at batch 2: ~10 minutes)
 *   --no-cpu-paper   skip the stock cpu paper-preset step (batch 1: ~25 minutes)
 *   --no-train       skip the training-step measurement (stock-cpu rows still come from the cache)
 *   --no-data        skip the data-loading measurement
 *   --no-inference   skip the inference measurement
 *   --out FILE       the JSON's name under bench/out (default train-step.json)
 *
 * Stock-cpu rows are saved to out/train-step-stock-cpu.json; a configuration skipped in a later run
 * is shown from there, marked `cached`.
 *
 * Prints tables and writes bench/out/train-step.json. A step time is the mean over the three tasks of
 * each task's mean wall-clock step time (a parsing step backpropagates through the whole last up
 * path, the others do not); `cpu` is this process's CPU time per step (user + system), which a
 * loaded, shared machine distorts least. Effective GFLOP/s counts a step as 3 x forward FLOPs
 * (backward = 2 x forward) x batch. The speed-up over stock cpu compares time per image on the tasks
 * both measured.
 *
 * Backends: `wasm` is tfjs-backend-wasm with this library's kernels (selectBackend); `cpu (stock)` is
 * tfjs-backend-cpu with none of them (unregisterTrainingKernels), measured at a smaller batch and
 * compared per image.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { IntegratedNetwork, selectBackend, type BackbonePresetName } from '@ifan/core';
import { parsingTask } from '@ifan/task-parsing';
import { landmarkTask } from '@ifan/task-landmarks';
import { emotionTask } from '@ifan/task-emotion';
import { unregisterTrainingKernels } from '../packages/core/src/kernels/index';
import { BatchMaker, type PreparedBatch } from './batch-prep';
import {
  buildNetwork,
  disposeBatch,
  loadBackends,
  randomBatch,
  Rmsprop,
  TASKS,
  trainStep,
  wasmHeapBytes,
  type Batch,
  type TaskName,
} from './train-setup';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag('quick');
const ITER = option('iterations', 1);
const STEPS = option('steps', quick ? 3 : 6);

await loadBackends();

const MB = 2 ** 20;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

// ---------------------------------------------------------------- training

/** Stock-cpu rows of earlier runs (a paper-preset step takes ~25 minutes), keyed by preset. */
const STOCK_CACHE = join(here, 'out', 'train-step-stock-cpu.json');
function readStockCache(): TrainRow[] {
  try {
    return JSON.parse(readFileSync(STOCK_CACHE, 'utf8')) as TrainRow[];
  } catch {
    return []; // no run has measured stock cpu yet
  }
}
const loadStockRows = (): TrainRow[] => readStockCache().filter((r) => r.iterations === ITER);
function saveStockRow(row: TrainRow): void {
  const rows = readStockCache().filter((r) => !(r.preset === row.preset && r.iterations === row.iterations));
  rows.push({ ...row, date: new Date().toISOString() } as TrainRow);
  mkdirSync(dirname(STOCK_CACHE), { recursive: true });
  writeFileSync(STOCK_CACHE, JSON.stringify(rows, null, 2));
}

interface TrainRow {
  backend: string;
  preset: BackbonePresetName;
  batch: number;
  iterations: number;
  steps: number;
  /** Mean step time per task (the tasks' steps differ: only parsing's loss reaches the last up path). */
  msPerTask: Partial<Record<TaskName, number>>;
  /** Mean CPU time (this process, user + system) of a step per task. */
  cpuMsPerTask?: Partial<Record<TaskName, number>>;
  /** Mean over the tasks measured. */
  msPerStep: number;
  bestMs: number;
  cpuMsPerStep: number;
  imagesPerSecond: number;
  gflopPerSecond: number;
  /** FLOPs per second of this process's CPU time: the kernels' speed on one core, whatever the load. */
  gflopPerCpuSecond: number;
  /** Engine bytes at the peak of one step (tf.profile), MB. */
  peakTensorMB: number;
  /** wasm heap size after the steps (it only grows), MB. */
  wasmHeapMB: number | null;
  rssMB: number;
  speedUpVsStockCpu?: number;
  /** The same from CPU time per image (the load on a shared machine inflates wall times unevenly). */
  cpuSpeedUpVsStockCpu?: number;
  error?: string;
}
const trainRows: TrainRow[] = [];

async function measureTraining(backend: string, preset: BackbonePresetName, batch: number, steps: number): Promise<TrainRow> {
  const net = buildNetwork(preset, ITER);
  const opt = new Rmsprop(net);
  const row: TrainRow = {
    backend,
    preset,
    batch,
    iterations: ITER,
    steps,
    msPerTask: {},
    msPerStep: NaN,
    bestMs: NaN,
    cpuMsPerStep: NaN,
    imagesPerSecond: NaN,
    gflopPerSecond: NaN,
    gflopPerCpuSecond: NaN,
    peakTensorMB: NaN,
    wasmHeapMB: null,
    rssMB: NaN,
  };
  try {
    // Warm-up on wasm: one step per task (creates every optimiser slot, compiles, grows the heap).
    // None on cpu, whose steps take minutes (its first step's slot creation is noise there).
    if (!backend.startsWith('cpu')) {
      for (let i = 0; i < 3; i++) {
        const b = randomBatch(net, TASKS[i % 3], batch, i + 1);
        trainStep(net, opt, b, ITER);
        disposeBatch(b);
      }
    }
    const wall: number[] = [];
    const cpu: number[] = [];
    const byTask: Partial<Record<TaskName, number[]>> = {};
    const cpuByTask: Partial<Record<TaskName, number[]>> = {};
    for (let s = 0; s < steps; s++) {
      const task = TASKS[s % 3];
      const b = randomBatch(net, task, batch, 100 + s);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      trainStep(net, opt, b, ITER);
      const dt = performance.now() - t0;
      wall.push(dt);
      (byTask[task] ??= []).push(dt);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1e3);
      (cpuByTask[task] ??= []).push((c.user + c.system) / 1e3);
      disposeBatch(b);
    }
    for (const [task, ts] of Object.entries(byTask)) row.msPerTask[task as TaskName] = mean(ts);
    row.cpuMsPerTask = Object.fromEntries(Object.entries(cpuByTask).map(([t, ts]) => [t, mean(ts)]));
    // One more step under tf.profile, for the peak of live tensor bytes.
    const b = randomBatch(net, 'parsing', batch, 999);
    const info = await tf.profile(() => {
      trainStep(net, opt, b, ITER);
    });
    const peak = info.peakBytes;
    disposeBatch(b);
    row.msPerStep = mean(Object.values(row.msPerTask) as number[]);
    row.bestMs = Math.min(...wall);
    row.cpuMsPerStep = mean(cpu);
    row.imagesPerSecond = (batch * 1000) / row.msPerStep;
    row.gflopPerSecond = (3 * net.flops(ITER) * batch) / 1e9 / (row.msPerStep / 1000);
    row.gflopPerCpuSecond = (3 * net.flops(ITER) * batch) / 1e9 / (row.cpuMsPerStep / 1000);
    row.peakTensorMB = peak / MB;
  } catch (e) {
    row.error = (e as Error).message.split('\n')[0].slice(0, 120);
  } finally {
    const heap = wasmHeapBytes();
    row.wasmHeapMB = heap === null ? null : heap / MB;
    row.rssMB = process.memoryUsage().rss / MB;
    opt.optimizer.dispose();
    net.dispose();
  }
  console.error(
    `  ${backend} ${preset} b=${batch}: ${row.error ?? `${row.msPerStep.toFixed(0)} ms/step (cpu ${row.cpuMsPerStep.toFixed(0)}), ${row.gflopPerSecond.toFixed(1)} GFLOP/s`}`,
  );
  return row;
}

const wasmConfigs: Array<[BackbonePresetName, number, number]> = quick
  ? [
      ['small', 16, STEPS],
      ['small', 32, STEPS],
    ]
  : [
      ['small', 16, STEPS],
      ['small', 32, STEPS],
      ['paper', 2, 3],
      ['paper', 4, 3],
    ];
// Stock cpu runs at ~0.01 GFLOP/s: small at batch 2 for one rotation of the tasks, paper at batch 1
// for one (parsing) step, about 25 minutes.
const cpuConfigs: Array<[BackbonePresetName, number, number]> = flag('no-cpu')
  ? []
  : quick || flag('no-cpu-paper')
    ? [['small', 2, 3]]
    : [
        ['small', 2, 3],
        ['paper', 1, 1],
      ];

if (!flag('no-train')) {
  console.error(`training, ITER=${ITER}:`);
  await selectBackend({ backend: 'wasm', log: false });
  for (const [preset, batch, steps] of wasmConfigs) trainRows.push(await measureTraining('wasm', preset, batch, steps));
}
if (cpuConfigs.length && !flag('no-train')) {
  await selectBackend({ backend: 'cpu', log: false });
  unregisterTrainingKernels('cpu');
  for (const [preset, batch, steps] of cpuConfigs) {
    const row = await measureTraining('cpu (stock)', preset, batch, steps);
    trainRows.push(row);
    if (!row.error) saveStockRow(row);
  }
}
// A stock-cpu configuration skipped in this run is taken from the last run that measured it.
for (const cached of loadStockRows()) {
  if (!trainRows.some((r) => r.backend === 'cpu (stock)' && r.preset === cached.preset)) trainRows.push({ ...cached, backend: 'cpu (stock, cached)' });
}
// Speed-up per image over the tasks both measured (stock cpu measures fewer steps).
for (const r of trainRows) {
  const stock = trainRows.find((s) => s.backend.startsWith('cpu (stock') && s.preset === r.preset && !s.error);
  if (!stock || r.backend !== 'wasm' || r.error) continue;
  const common = TASKS.filter((t) => stock.msPerTask[t] !== undefined && r.msPerTask[t] !== undefined);
  if (common.length === 0) continue;
  const perImage = (x: TrainRow) => mean(common.map((t) => x.msPerTask[t]!)) / x.batch;
  r.speedUpVsStockCpu = perImage(stock) / perImage(r);
  // CPU time per task; a stock row of one task (or of all three) without per-task CPU has it in cpuMsPerStep
  const stockCpu = (t: TaskName) => stock.cpuMsPerTask?.[t] ?? (common.length === 1 || common.length === TASKS.length ? stock.cpuMsPerStep : undefined);
  const cpuPerImage = (x: (t: TaskName) => number | undefined, batch: number) => {
    const v = common.map(x);
    return v.every((y) => y !== undefined) ? mean(v as number[]) / batch : NaN;
  };
  const ratio = cpuPerImage(stockCpu, stock.batch) / cpuPerImage((t) => r.cpuMsPerTask?.[t], r.batch);
  if (Number.isFinite(ratio)) r.cpuSpeedUpVsStockCpu = ratio;
}

// ---------------------------------------------------------------- inference

interface InferenceRow {
  preset: BackbonePresetName;
  batch: number;
  iterations: number;
  gflopPerImage: number;
  msPerBatch: number;
  imagesPerSecond: number;
}
const inferenceRows: InferenceRow[] = [];
interface CostRow {
  preset: BackbonePresetName;
  integratedGflop: number;
  singleTaskGflop: number;
  flopRatio: number;
  integratedMs: number;
  singleTaskMs: number;
  timeRatio: number;
}
const costRows: CostRow[] = [];

/** Best time of `reps` inference forward passes (eval mode, predictions read back). */
function timeForward(net: IntegratedNetwork, images: tf.Tensor4D, iterations: number, reps: number): number {
  let best = Infinity;
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    tf.tidy(() => {
      const out = net.forward(images, net.context({ training: false }), iterations);
      for (const p of Object.values(out.predictions[iterations])) p.dataSync();
    });
    if (r > 0) best = Math.min(best, performance.now() - t0);
  }
  return best;
}

if (!flag('no-inference')) {
  await selectBackend({ backend: 'wasm', log: false });
  console.error('inference:');
  // (an inference pass keeps all its intermediates until it returns: paper at batch 8, ITER 2 would
  // need most of the 4 GB wasm heap)
  const configs: Array<[BackbonePresetName, number]> = quick ? [['small', 32]] : [
    ['small', 32],
    ['paper', 4],
  ];
  for (const [preset, batch] of configs) {
    const net = buildNetwork(preset, 2);
    const S = net.inputSize;
    const images = tf.randomUniform([batch, S, S, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const reps = preset === 'paper' ? 2 : 3;
    for (const it of [0, 1, 2]) {
      const ms = timeForward(net, images, it, reps);
      inferenceRows.push({ preset, batch, iterations: it, gflopPerImage: net.flops(it) / 1e9, msPerBatch: ms, imagesPerSecond: (batch * 1000) / ms });
      console.error(`  ${preset} ITER=${it}: ${((batch * 1000) / ms).toFixed(1)} images/s`);
    }
    // The integrated network at ITER 0 against three single-task networks of the same preset.
    const single = [parsingTask(), landmarkTask(), emotionTask()].map((p) => new IntegratedNetwork([p], { backbone: preset, iterations: 0 }));
    const net0 = new IntegratedNetwork([parsingTask(), landmarkTask(), emotionTask()], { backbone: preset, iterations: 0 });
    const integratedMs = timeForward(net0, images, 0, reps);
    const singleMs = single.reduce((a, n) => a + timeForward(n, images, 0, reps), 0);
    const integratedGflop = net0.flops(0) / 1e9;
    const singleGflop = single.reduce((a, n) => a + n.flops(0), 0) / 1e9;
    costRows.push({
      preset,
      integratedGflop,
      singleTaskGflop: singleGflop,
      flopRatio: integratedGflop / singleGflop,
      integratedMs: integratedMs / batch,
      singleTaskMs: singleMs / batch,
      timeRatio: integratedMs / singleMs,
    });
    for (const n of [...single, net0, net]) n.dispose();
    images.dispose();
  }
}

// ---------------------------------------------------------------- data loading

interface DataRow {
  preset: BackbonePresetName;
  batch: number;
  /** Preparing one batch on the training thread (decode/draw, crop, augment, to floats). */
  prepareMsPerBatch: number;
  /** Step alone, on pre-made batches. */
  stepMs: number;
  /** Prepare, then step, on one thread. */
  serialMsPerStep: number;
  /** Next batch prepared in a worker thread while the step runs. */
  workerMsPerStep: number;
}
const dataRows: DataRow[] = [];

if (!flag('no-data')) {
  await selectBackend({ backend: 'wasm', log: false });
  console.error('data loading:');
  const preset: BackbonePresetName = 'small';
  const batch = 32;
  const steps = 3;
  const net = buildNetwork(preset, ITER);
  const opt = new Rmsprop(net);
  const S = net.inputSize;
  const toBatch = (p: PreparedBatch): Batch => ({
    task: p.task,
    images: tf.tensor4d(p.images, [p.size, S, S, 3]),
    targets: { [p.task]: net.plugin(p.task).encodeTargets(p.labels, S) } as Batch['targets'],
  });
  const maker = new BatchMaker(S, batch, 3);
  // warm-up (JIT of the generator and of the step)
  for (let i = 0; i < 3; i++) {
    const b = toBatch(await maker.next(TASKS[i]));
    trainStep(net, opt, b, ITER);
    disposeBatch(b);
  }
  // prepare alone
  const prep: number[] = [];
  const ready: PreparedBatch[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    ready.push(await maker.next(TASKS[s % 3]));
    prep.push(performance.now() - t0);
  }
  // step alone on ready batches
  const alone: number[] = [];
  for (const p of ready) {
    const b = toBatch(p);
    const t0 = performance.now();
    trainStep(net, opt, b, ITER);
    alone.push(performance.now() - t0);
    disposeBatch(b);
  }
  // Serial (prepare, then step, on this thread) and overlapped (the next batch prepared in a worker
  // thread while the step runs), interleaved round by round so the machine's load hits both alike.
  const worker = new Worker(new URL('./batch-worker.mjs', import.meta.url), { workerData: { inputSize: S, batch, seed: 4 } });
  const request = (task: TaskName) =>
    new Promise<PreparedBatch>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage({ task });
    });
  await request(TASKS[0]); // worker start-up and JIT
  await request(TASKS[1]);
  const serialTimes: number[] = [];
  const workerTimes: number[] = [];
  const rounds = quick ? 1 : 2;
  for (let round = 0; round < rounds; round++) {
    const t1 = performance.now();
    for (let s = 0; s < 3; s++) {
      const b = toBatch(await maker.next(TASKS[s]));
      trainStep(net, opt, b, ITER);
      disposeBatch(b);
    }
    serialTimes.push((performance.now() - t1) / 3);
    let pending = request(TASKS[0]);
    const t2 = performance.now();
    for (let s = 0; s < 3; s++) {
      const p = await pending;
      pending = request(TASKS[(s + 1) % 3]);
      const b = toBatch(p);
      trainStep(net, opt, b, ITER);
      disposeBatch(b);
    }
    workerTimes.push((performance.now() - t2) / 3);
    await pending;
  }
  const serial = mean(serialTimes);
  const overlapped = mean(workerTimes);
  await worker.terminate();
  dataRows.push({ preset, batch, prepareMsPerBatch: mean(prep), stepMs: mean(alone), serialMsPerStep: serial, workerMsPerStep: overlapped });
  opt.optimizer.dispose();
  net.dispose();
}

// ---------------------------------------------------------------- report

function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
const f = (x: number | null | undefined, d = 0) => (x == null || Number.isNaN(x) ? '-' : x.toFixed(d));

console.log(`\nTraining step, ITER=${ITER} (3 tasks, stage 2, RMSProp); ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}`);
console.log(
  table(
    ['backend', 'preset', 'batch', 'ms/step', 'cpu ms', 'images/s', 'GFLOP/s', 'GFLOP/cpu-s', 'peak tensors MB', 'wasm heap MB', 'RSS MB', 'vs stock cpu (wall)', 'vs stock cpu (CPU time)'],
    trainRows.map((r) =>
      r.error
        ? [r.backend, r.preset, r.batch, `failed: ${r.error}`, '', '', '', '', '', '', f(r.rssMB), '', '']
        : [
            r.backend,
            r.preset,
            r.batch,
            f(r.msPerStep),
            f(r.cpuMsPerStep),
            f(r.imagesPerSecond, 1),
            f(r.gflopPerSecond, 1),
            f(r.gflopPerCpuSecond, 1),
            f(r.peakTensorMB),
            f(r.wasmHeapMB),
            f(r.rssMB),
            r.speedUpVsStockCpu ? `${r.speedUpVsStockCpu.toFixed(1)}x` : '',
            r.cpuSpeedUpVsStockCpu ? `${r.cpuSpeedUpVsStockCpu.toFixed(1)}x` : '',
          ],
    ),
  ),
);
if (inferenceRows.length) {
  console.log('\nInference (wasm, eval mode, predictions read back)');
  console.log(
    table(
      ['preset', 'batch', 'ITER', 'GFLOP/image', 'ms/batch', 'images/s'],
      inferenceRows.map((r) => [r.preset, r.batch, r.iterations, f(r.gflopPerImage, 3), f(r.msPerBatch), f(r.imagesPerSecond, 1)]),
    ),
  );
  console.log('\nIntegrated 3-task network at ITER 0 vs three single-task networks (per image)');
  console.log(
    table(
      ['preset', 'integrated GFLOP', '3 single GFLOP', 'FLOP ratio', 'integrated ms', '3 single ms', 'time ratio'],
      costRows.map((r) => [r.preset, f(r.integratedGflop, 3), f(r.singleTaskGflop, 3), f(r.flopRatio, 2), f(r.integratedMs, 2), f(r.singleTaskMs, 2), f(r.timeRatio, 2)]),
    ),
  );
}
if (dataRows.length) {
  console.log(`\nData loading (synthetic faces: draw, crop, augment; ${dataRows[0].preset} batch ${dataRows[0].batch}, ITER=${ITER})`);
  console.log(
    table(
      ['prepare ms/batch', 'step ms (ready batches)', 'prepare + step, one thread', 'next batch in a worker'],
      dataRows.map((r) => [f(r.prepareMsPerBatch), f(r.stepMs), f(r.serialMsPerStep), f(r.workerMsPerStep)]),
    ),
  );
}

mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(
  join(here, 'out', args.includes('--out') ? args[args.indexOf('--out') + 1] : 'train-step.json'),
  JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, load: loadavg(), iterations: ITER, training: trainRows, inference: inferenceRows, cost: costRows, data: dataRows }, null, 2),
);
