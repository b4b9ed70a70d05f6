/**
 * A training step on two cores: the training thread computes the gradients of the first half of the
 * batch while a worker thread (gradient-worker.ts) computes the second half's, and the two are added.
 *
 * The result is the one-thread step's up to float rounding, not a different algorithm:
 * - batch norm normalises with the whole batch's statistics, and its gradient uses the whole batch's
 *   sums: the two threads exchange per-channel figures at every batch-norm layer, both directions
 *   (core's SharedStatsReducer over a SharedArrayBuffer; synchronised batch norm, not "ghost" batch
 *   norm);
 * - each half's loss of a task is scaled by its share of the task's masked samples, so the halves'
 *   losses and gradients add up to the masked mean over the whole batch (`TaskPlugin.loss` is a
 *   masked mean);
 * - the step's loss weights are numbers the training thread decided (its loss weighting, whatever it
 *   is, runs there alone), and both halves weigh their losses by them;
 * - dropout draws the whole batch's mask from the same seed and each half keeps its rows;
 * - the training thread's network alone is updated (optimiser, moving statistics from the whole
 *   batch's statistics, dropout generator); the worker's copy receives every weight with each step.
 *
 * Up to float rounding includes ReLU's kink: where a unit's input is within rounding of 0, rounding
 * decides whether its gradient passes, and the two threads' whole-batch statistics are the one-thread
 * step's only up to rounding. In a step where such a unit changes side, many gradients differ by more
 * than rounding (by 1.7% in the landmark decoder's in test/threads.test.ts, where the evidence is);
 * losses and moving statistics do not.
 *
 * Why data-parallel halves rather than multi-threaded kernels: tfjs-backend-wasm 4.22 does not use
 * its threaded build under Node (tfjs issue 3830), so every kernel (stock XNNPACK and this project's)
 * would need threads of its own; two halves use both cores with the kernels as they are.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import {
  SharedStatsReducer,
  createSharedStatsBuffer,
  setBatchStatsReducer,
  type IntegratedNetwork,
  type LossWeights,
  type TaskPlugin,
} from '@ifan/core';
import { deserializeError } from './batch-worker-client';
import { pluginIdentity } from './batch-worker-protocol';
import { ConfigError } from './errors';
import type { GradientRequest, GradientWorkerMessage, GradientWorkerSetup } from './gradient-worker-protocol';

/** The `threads` option: `'auto'`, or 1 / 2 threads computing each step's gradients. */
export type ThreadsOption = 'auto' | 1 | 2;

export function checkThreadsOption(t: unknown): ThreadsOption {
  if (t === undefined) return 'auto';
  if (t === 'auto' || t === 1 || t === 2) return t;
  throw new ConfigError('threads', `must be 'auto', 1 or 2, got ${JSON.stringify(t)}`);
}

/** Why this network cannot compute its gradients in two threads on the active backend (null when it can). */
export function threadsObstacle(plugins: readonly TaskPlugin[]): string | null {
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') {
    return `the ${backend} backend runs its own threads; two gradient threads need the wasm backend (or cpu)`;
  }
  for (const p of plugins) {
    if (!p.recipe) return `task plugin "${p.name}" has no recipe to rebuild it in the gradient worker: the built-in task factories set one; for your own, set \`recipe\` or pass threads: 1`;
    try {
      structuredClone(p.recipe);
    } catch (e) {
      return `the recipe of task plugin "${p.name}" cannot be sent to a worker (${(e as Error).message}): its args must be plain data`;
    }
  }
  return null;
}

export function cores(): number {
  return availableParallelism();
}

function workerEntry(): { url: URL; execArgv?: string[] } {
  const here = import.meta.url;
  if (/\.[cm]?ts$/.test(new URL(here).pathname)) {
    return { url: new URL('./gradient-worker-tsx.mjs', here), execArgv: [...process.execArgv, '--conditions=@ifan/source'] };
  }
  return { url: new URL('./gradient-worker.js', here) };
}

type Targets = Record<string, { target: tf.Tensor; mask: tf.Tensor1D }>;

export interface GradientsResult {
  grads: tf.NamedTensorMap;
  total: number;
  losses: Record<string, number[]>;
}

export interface StepOptions {
  bnKey: string;
  iterations: number;
  variables: tf.Variable[];
  /** Weights of the step's losses (core's `computeGradients`); default 1 each. */
  lossWeights?: LossWeights;
}

/** The gradient worker and the training thread's side of the two-thread step. */
export class GradientThreads {
  /** Settles when the worker has built its copy of the network; rejects with why it could not. */
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly reducer: SharedStatsReducer;
  private readonly pending = new Map<number, { resolve(m: GradientWorkerMessage): void; reject(e: unknown): void }>();
  private nextId = 0;
  private failure: Error | null = null;
  private terminated = false;
  /** Wait at batch-norm exchanges in the last step: this thread's and the worker's, ms. */
  lastWait = { main: 0, worker: 0 };
  /**
   * Where the last step's time went, ms from its start: `posted` the request, this thread's gradients
   * `started`/`ended`, the worker `received` the request, `started`/`ended` its gradients, its reply
   * `arrived` here, the halves were `merged`.
   */
  lastTimeline: StepTimeline | null = null;

  constructor(private readonly net: IntegratedNetwork) {
    const stats = createSharedStatsBuffer(maxChannels(net));
    this.reducer = new SharedStatsReducer(stats, 0);
    const setup: GradientWorkerSetup = {
      backend: tf.getBackend() as 'wasm' | 'cpu',
      network: net.config,
      plugins: net.plugins.map((p) => p.recipe!),
      stats,
    };
    const entry = workerEntry();
    this.worker = new Worker(entry.url, { workerData: setup, ...(entry.execArgv ? { execArgv: entry.execArgv } : {}) });
    let setupDone!: { resolve(): void; reject(e: Error): void };
    this.ready = new Promise<void>((resolve, reject) => (setupDone = { resolve, reject }));
    this.ready.catch(() => undefined);
    this.worker.on('message', (m: GradientWorkerMessage) => {
      if (m.type === 'ready') {
        const ours = net.plugins.map((p) => pluginIdentity(p));
        const names = [...net.params.variables.keys()];
        if (JSON.stringify(m.plugins) !== JSON.stringify(ours)) setupDone.reject(new Error('the gradient worker rebuilt other task plugins (name, bnKey or config differ)'));
        else if (JSON.stringify(m.variables) !== JSON.stringify(names)) setupDone.reject(new Error("the gradient worker's network has other variables"));
        else setupDone.resolve();
        return;
      }
      if (m.type === 'setup-failed') {
        setupDone.reject(new Error(`the gradient worker could not start: ${m.error.name}: ${m.error.message}`));
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      p.resolve(m);
    });
    const die = (e: Error) => {
      if (this.terminated || this.failure) return;
      this.failure = e;
      setupDone.reject(e);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', (e) => die(new Error(`the gradient worker failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => die(new Error(`the gradient worker stopped unexpectedly (exit code ${code})`)));
  }

  /**
   * `net.computeGradients` of the whole batch (training mode), computed as two halves in two threads.
   * A batch of one sample runs on this thread alone.
   */
  async computeGradients(images: tf.Tensor4D, targets: Targets, opts: StepOptions): Promise<GradientsResult> {
    const net = this.net;
    const b = images.shape[0];
    if (b < 2) return net.computeGradients(images, targets, { ...opts, training: true });
    const t0 = now();
    if (this.failure) throw this.failure;
    if (this.terminated) throw new Error('the gradient worker was terminated');
    const h = Math.ceil(b / 2);
    const [S1, S2, C] = images.shape.slice(1) as [number, number, number];
    const px = S1 * S2 * C;
    const imageData = images.dataSync() as Float32Array;
    const scaleA: Record<string, number> = {};
    const scaleB: Record<string, number> = {};
    const targetsB: GradientRequest['targets'] = {};
    for (const [task, t] of Object.entries(targets)) {
      const mask = t.mask.dataSync() as Float32Array;
      const mA = sum(mask.subarray(0, h));
      const mB = sum(mask.subarray(h));
      const m = Math.max(mA + mB, 1);
      scaleA[task] = Math.max(mA, 1) / m;
      scaleB[task] = Math.max(mB, 1) / m;
      const per = t.target.size / b;
      targetsB[task] = {
        target: (t.target.dataSync() as Float32Array).slice(h * per),
        shape: [b - h, ...t.target.shape.slice(1)],
        mask: mask.slice(h),
      };
    }
    const all = [...net.params.variables.values()];
    const weights = new Float32Array(all.reduce((a, v) => a + v.size, 0));
    let at = 0;
    for (const v of all) {
      weights.set(v.dataSync() as Float32Array, at);
      at += v.size;
    }
    const names = opts.variables.map((v) => v.name);
    const request: GradientRequest = {
      type: 'step',
      id: this.nextId++,
      weights,
      rng: net.rng.getState(),
      images: imageData.slice(h * px),
      shape: [b - h, S1, S2, C],
      targets: targetsB,
      bnKey: opts.bnKey,
      iterations: opts.iterations,
      variables: opts.variables.map((v) => net.params.nameOf(v)),
      lossScale: scaleB,
      ...(opts.lossWeights ? { lossWeights: opts.lossWeights } : {}),
      batchSlice: { offset: h, total: b },
    };
    this.reducer.reset();
    const reply = new Promise<GradientWorkerMessage>((resolve, reject) => this.pending.set(request.id, { resolve, reject }));
    reply.catch(() => undefined);
    const transfer = [request.weights.buffer, request.images.buffer, ...Object.values(targetsB).flatMap((t) => [t.target.buffer, t.mask.buffer])] as ArrayBuffer[];
    this.worker.postMessage(request, transfer);
    const posted = now();

    // this thread's half, exchanging batch-norm statistics with the worker as it goes
    let mine: GradientsResult;
    const local: tf.Tensor[] = [];
    const previous = setBatchStatsReducer(this.reducer);
    const started = now();
    try {
      const xA = tf.slice(images, [0, 0, 0, 0], [h, S1, S2, C]);
      local.push(xA);
      const targetsA: Targets = {};
      for (const [task, t] of Object.entries(targets)) {
        targetsA[task] = { target: tf.slice(t.target, 0, h), mask: tf.slice(t.mask, 0, h) };
        local.push(targetsA[task].target, targetsA[task].mask);
      }
      mine = net.computeGradients(xA, targetsA, { ...opts, training: true, lossScale: scaleA, batchSlice: { offset: 0, total: b } });
    } catch (e) {
      this.reducer.abort();
      // the worker stops at its next exchange; wait for it so the next step starts clean
      await reply.catch(() => undefined);
      throw e;
    } finally {
      setBatchStatsReducer(previous);
      tf.dispose(local);
    }
    const ended = now();
    let theirs: GradientWorkerMessage;
    try {
      theirs = await reply;
      if (theirs.type === 'failed') throw deserializeError(theirs.error);
      if (theirs.type !== 'grads') throw new Error(`the gradient worker answered ${theirs.type}`);
    } catch (e) {
      tf.dispose(Object.values(mine.grads));
      throw e;
    }
    const arrived = now();
    this.lastWait = { main: this.reducer.waitedMs, worker: theirs.waitedMs };
    // the whole batch: this half + the worker's half, in that order
    const grads: tf.NamedTensorMap = {};
    let o = 0;
    opts.variables.forEach((v, i) => {
      const a = mine.grads[names[i]];
      const part = theirs.present[i] ? theirs.grads.subarray(o, o + v.size) : null;
      o += v.size;
      if (!a && !part) return;
      if (a && !part) grads[names[i]] = a;
      else {
        grads[names[i]] = tf.tidy(() => {
          const other = tf.tensor(part!, v.shape, 'float32');
          return a ? tf.add(a, other) : other;
        });
        a?.dispose();
      }
    });
    const losses: Record<string, number[]> = {};
    for (const [task, ls] of Object.entries(mine.losses)) losses[task] = ls.map((l, i) => l + (theirs.losses[task]?.[i] ?? 0));
    const c = theirs.clock;
    this.lastTimeline = {
      posted: posted - t0,
      started: started - t0,
      ended: ended - t0,
      worker: { received: c.received - t0, started: c.started - t0, ended: c.ended - t0 },
      arrived: arrived - t0,
      merged: now() - t0,
    };
    return { grads, total: mine.total + theirs.total, losses };
  }

  /** Stops the worker thread (idempotent). */
  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    for (const p of this.pending.values()) p.reject(new Error('the gradient worker was terminated'));
    this.pending.clear();
    await this.worker.terminate();
  }
}

/** Milliseconds on the monotonic clock every thread of the process shares (performance.timeOrigin differs between threads by milliseconds). */
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** See {@link GradientThreads.lastTimeline}. */
export interface StepTimeline {
  posted: number;
  started: number;
  ended: number;
  worker: { received: number; started: number; ended: number };
  arrived: number;
  merged: number;
}

function sum(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

/** The most channels of any batch-norm layer (the size of the statistics exchanged). */
function maxChannels(net: IntegratedNetwork): number {
  let c = 1;
  for (const [n, v] of net.params.variables) if (n.endsWith('/gamma')) c = Math.max(c, v.size);
  return c;
}
