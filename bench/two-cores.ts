/**
 * A training step on one core against the same step on two (packages/trainer/src/gradient-threads.ts:
 * the batch's halves in the training thread and a worker thread, batch-norm statistics shared), in one
 * process, alternating: each round runs one step of every task with one thread, then with two (the
 * order flips every round), on the integrated 3-task network, paper stage 2 (the task's batch-norm key,
 * its decoder, every re-encoder and the integrator), RMSProp, the same network throughout.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx two-cores.ts [--preset small] [--batch 32] [--iterations 1] [--rounds 4]
 *
 * Prints per mode the median step time of each task, images/s (batch / the mean over tasks of those
 * medians), this process's CPU time per image (user + system, all threads), the time each thread
 * waited for the other at batch-norm exchanges, the machine's load average before and after, and the
 * ratio two / one. Writes bench/out/two-cores.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackbonePresetName } from '@ifan/core';
import { GradientThreads, type StepTimeline } from '@ifan/trainer';
import { median } from './stats';
import { buildNetwork, disposeBatch, loadBackends, randomBatch, Rmsprop, stageTwoVariables, TASKS, type TaskName } from './train-setup';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const preset = option('preset', 'small') as BackbonePresetName;
const BATCH = Number(option('batch', '32'));
const ITER = Number(option('iterations', '1'));
const ROUNDS = Number(option('rounds', '4'));

await loadBackends();
await selectBackend({ backend: 'wasm', log: false });
const load0 = loadavg();
console.log(`two-cores: ${preset} b=${BATCH} ITER=${ITER}, ${ROUNDS} rounds x 3 tasks per mode, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load ${load0.map((x) => x.toFixed(2)).join(' ')}`);

const net = buildNetwork(preset, ITER);
const opt = new Rmsprop(net);
const threads = new GradientThreads(net);
await threads.ready;

type Mode = 1 | 2;
interface Sample { mode: Mode; task: TaskName; ms: number; cpuMs: number; waitMain: number; waitWorker: number; total: number; gradsMs: number; applyMs: number; timeline: StepTimeline | null }
const samples: Sample[] = [];

async function step(mode: Mode, task: TaskName, seed: number, record: boolean): Promise<void> {
  const b = randomBatch(net, task, BATCH, seed);
  const opts = { bnKey: net.plugin(task).bnKey, variables: stageTwoVariables(net, task), iterations: ITER };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = mode === 1 ? net.computeGradients(b.images, b.targets, { ...opts, training: true }) : await threads.computeGradients(b.images, b.targets, opts);
  const t1 = performance.now();
  opt.apply(r.grads);
  tf.dispose(Object.values(r.grads));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  disposeBatch(b);
  if (record) {
    const w = mode === 2 ? threads.lastWait : { main: 0, worker: 0 };
    const timeline = mode === 2 ? threads.lastTimeline : null;
    samples.push({ mode, task, ms, cpuMs: (cpu.user + cpu.system) / 1000, waitMain: w.main, waitWorker: w.worker, total: r.total, gradsMs: t1 - t0, applyMs: ms - (t1 - t0), timeline });
  }
}

// warm-up: every task in both modes (first calls compile and allocate)
for (const mode of [1, 2] as const) for (const [i, task] of TASKS.entries()) await step(mode, task, 1 + i, false);
const startTensors = tf.memory().numTensors;
let seed = 100;
for (let round = 0; round < ROUNDS; round++) {
  const order: Mode[] = round % 2 === 0 ? [1, 2] : [2, 1];
  for (const mode of order) for (const task of TASKS) await step(mode, task, seed++, true);
  process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
}
const endTensors = tf.memory().numTensors;
await threads.terminate();
const load1 = loadavg();

const summary = ([1, 2] as const).map((mode) => {
  const of = samples.filter((s) => s.mode === mode);
  const perTask = TASKS.map((t) => median(of.filter((s) => s.task === t).map((s) => s.ms)));
  const stepMs = perTask.reduce((a, b) => a + b, 0) / perTask.length;
  const cpuPerImage = of.reduce((a, s) => a + s.cpuMs, 0) / (of.length * BATCH);
  const wait = (k: 'waitMain' | 'waitWorker') => of.reduce((a, s) => a + s[k], 0) / of.length;
  return { threads: mode, stepMs, perTaskMs: Object.fromEntries(TASKS.map((t, i) => [t, perTask[i]])), imagesPerSec: (BATCH * 1000) / stepMs, cpuMsPerImage: cpuPerImage, waitMainMs: wait('waitMain'), waitWorkerMs: wait('waitWorker') };
});
const ratio = summary[1].imagesPerSec / summary[0].imagesPerSec;
console.log('\n| threads | ms/step (parsing, landmarks, emotion) | images/s | CPU ms per image | wait at BN exchanges (main / worker) |');
console.log('|---:|---|---:|---:|---|');
for (const s of summary) {
  const per = TASKS.map((t) => s.perTaskMs[t].toFixed(0)).join(', ');
  console.log(`| ${s.threads} | ${s.stepMs.toFixed(0)} (${per}) | ${s.imagesPerSec.toFixed(1)} | ${s.cpuMsPerImage.toFixed(1)} | ${s.threads === 2 ? `${s.waitMainMs.toFixed(0)} / ${s.waitWorkerMs.toFixed(0)} ms per step` : ''} |`);
}
// where a two-thread step's time goes (medians over its steps, ms)
const two = samples.filter((s) => s.mode === 2 && s.timeline);
const med = (f: (s: Sample) => number) => median(two.map(f)).toFixed(1);
const one = samples.filter((s) => s.mode === 1);
console.log(
  `\ntwo-thread step, medians in ms: request posted ${med((s) => s.timeline!.posted)}, worker received it ${med((s) => s.timeline!.worker.received)} ` +
    `and started ${med((s) => s.timeline!.worker.started)}; gradients here ${med((s) => s.timeline!.ended - s.timeline!.started)}, ` +
    `in the worker ${med((s) => s.timeline!.worker.ended - s.timeline!.worker.started)}; reply here ${med((s) => s.timeline!.arrived - s.timeline!.worker.ended)} after the worker ended ` +
    `(${med((s) => s.timeline!.arrived - s.timeline!.ended)} after this thread's half), merged in ${med((s) => s.timeline!.merged - s.timeline!.arrived)}; ` +
    `optimiser ${med((s) => s.applyMs)} (one thread: ${median(one.map((s) => s.applyMs)).toFixed(1)}, its gradients ${median(one.map((s) => s.gradsMs)).toFixed(1)})`,
);
console.log(`\ntwo threads / one: ${ratio.toFixed(2)}x images/s; load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
console.log(`tensors on the training thread: ${startTensors} after warm-up, ${endTensors} at the end`);
mkdirSync(join(here, 'out'), { recursive: true });
const out = join(here, 'out', 'two-cores.json');
writeFileSync(out, JSON.stringify({ preset, batch: BATCH, iterations: ITER, rounds: ROUNDS, cores: availableParallelism(), load: { before: load0, after: load1 }, summary, ratio, samples, date: new Date().toISOString() }, null, 2));
console.log(`wrote ${out}`);
