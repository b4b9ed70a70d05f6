/**
 * The training thread's side of the batch worker (batch-worker.ts): whether a run can use one, starting
 * it (from the built `dist/batch-worker.js`, or from the sources through tsx), asking it for batches
 * and rethrowing its errors as the errors the training thread would have thrown.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { TaskPlugin } from '@ifan/core';
import { DatasetError } from '@ifan/core/node';
import type { Batch } from './batches';
import { idsHash, pluginIdentity, type SerializedError, type WorkerMessage, type WorkerReady, type WorkerSetup } from './batch-worker-protocol';
import { ConfigError, TrainingDivergedError } from './errors';
import type { DataSource } from './trainer-config';
import type { AugmentConfig, CropConfig } from './types';

/** The `workers` option: `'auto'`, or 0 / 1 batch worker threads. */
export type WorkersOption = 'auto' | 0 | 1;

const HOW_TO_FIX =
  'the built-in loaders, syntheticDataset, subsetDataset and splitDataset set one; for your own, set `recipe` ' +
  '({ module, export, args }: the function that makes it again, see Recipe in @ifan/core) or pass workers: 0';

/** Why this run cannot prepare batches in a worker thread (null when it can). */
export function workerObstacle(sources: readonly DataSource[], plugins: (task: string) => TaskPlugin): string | null {
  for (const s of sources) {
    if (!s.dataset.recipe) return `data set "${s.dataset.name}" (task ${s.tasks.join(', ')}) has no recipe to rebuild it in a worker: ${HOW_TO_FIX}`;
    for (const t of s.tasks) {
      if (!plugins(t).recipe) return `task plugin "${t}" has no recipe to rebuild it in a worker: the built-in task factories set one; for your own, set \`recipe\` or pass workers: 0`;
    }
    try {
      structuredClone(s.dataset.recipe);
    } catch (e) {
      return `the recipe of data set "${s.dataset.name}" cannot be sent to a worker (${(e as Error).message}): its args must be plain data`;
    }
  }
  for (const t of new Set(sources.flatMap((s) => s.tasks))) {
    try {
      structuredClone(plugins(t).recipe);
    } catch (e) {
      return `the recipe of task plugin "${t}" cannot be sent to a worker (${(e as Error).message}): its args must be plain data`;
    }
  }
  return null;
}

/** Cores this process may use. */
export function cores(): number {
  return availableParallelism();
}

export function checkWorkersOption(w: unknown): WorkersOption {
  if (w === undefined) return 'auto';
  if (w === 'auto' || w === 0 || w === 1) return w;
  throw new ConfigError('workers', `must be 'auto', 0 or 1, got ${JSON.stringify(w)}`);
}

/** The worker entry next to this module: dist/batch-worker.js when built, the tsx bootstrap in the sources. */
function workerEntry(): { url: URL; execArgv?: string[] } {
  const here = import.meta.url;
  if (/\.[cm]?ts$/.test(new URL(here).pathname)) {
    // the sources: the workspace packages must resolve to their sources in the worker too
    const condition = '--conditions=@ifan/source';
    return { url: new URL('./batch-worker-tsx.mjs', here), execArgv: [...process.execArgv, condition] };
  }
  return { url: new URL('./batch-worker.js', here) };
}

/** Thrown when the worker could not rebuild the run's data sets or plugins (`reason` says which and why). */
export class WorkerSetupError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'WorkerSetupError';
  }
}

/** One batch worker thread. */
export class BatchWorker {
  /**
   * Settles when the worker has rebuilt the data sets and plugins and they match the training
   * thread's; rejects with a {@link WorkerSetupError} when it could not, or rebuilt something else.
   */
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(b: Batch): void; reject(e: unknown): void }>();
  private nextId = 0;
  private started = false;
  /** Set when the worker died by itself: every request then fails with it. */
  private failure: Error | null = null;
  private terminated = false;

  /** Starts a worker thread that rebuilds these sources (see {@link ready}). */
  constructor(sources: readonly DataSource[], plugins: (task: string) => TaskPlugin, opts: { inputSize: number; crop: CropConfig; augment: AugmentConfig }) {
    const tasks = [...new Set(sources.flatMap((s) => s.tasks))];
    const setup: WorkerSetup = {
      ...opts,
      plugins: Object.fromEntries(tasks.map((t) => [t, plugins(t).recipe!])),
      sources: sources.map((s) => ({ name: s.dataset.name, dataset: s.dataset.recipe!, tasks: s.tasks })),
    };
    const entry = workerEntry();
    const worker = new Worker(entry.url, { workerData: setup, ...(entry.execArgv ? { execArgv: entry.execArgv } : {}) });
    this.worker = worker;
    let setupDone: { resolve(): void; reject(e: WorkerSetupError): void };
    this.ready = new Promise<void>((resolve, reject) => (setupDone = { resolve, reject }));
    this.ready.catch(() => undefined);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready' || m.type === 'setup-failed') {
        const problem = m.type === 'setup-failed' ? `the batch worker could not rebuild ${m.what}: ${m.error.name}: ${m.error.message}` : mismatch(m, sources, tasks, plugins);
        if (problem === null) {
          this.started = true;
          setupDone.resolve();
        } else {
          setupDone.reject(new WorkerSetupError(problem));
          void this.terminate();
        }
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'batch') p.resolve(m.batch);
      else p.reject(deserializeError(m.error));
    });
    const die = (e: Error) => {
      if (this.terminated || this.failure) return;
      this.failure = e;
      setupDone.reject(new WorkerSetupError(e.message));
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => die(new Error(`the batch worker failed: ${e.message}`, { cause: e })));
    worker.on('messageerror', (e) => die(new Error(`the batch worker sent a message that could not be read: ${e.message}`)));
    worker.on('exit', (code) => die(new Error(`the batch worker stopped unexpectedly (exit code ${code})`)));
  }

  /** True once {@link ready} has resolved and until the worker stops. */
  get serving(): boolean {
    return this.started && !this.terminated && !this.failure;
  }

  /** The batch of `indices` of source `source`, augmented from `augmentSeed`. */
  request(source: number, indices: number[], augmentSeed: number): Promise<Batch> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.terminated) return Promise.reject(new Error('the batch worker was terminated'));
    const id = this.nextId++;
    return new Promise<Batch>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'batch', id, source, indices, augmentSeed });
    });
  }

  /** Stops the thread, started or not; requests still pending are dropped (never settle). */
  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    this.pending.clear();
    await this.worker.terminate();
  }
}

/** Why what the worker rebuilt differs from the training thread's data sets and plugins (null when it does not). */
function mismatch(ready: WorkerReady, sources: readonly DataSource[], tasks: string[], plugins: (task: string) => TaskPlugin): string | null {
  for (const [i, s] of sources.entries()) {
    const got = ready.datasets[i];
    const n = s.dataset.samples.length;
    if (got.samples !== n || got.ids !== idsHash(s.dataset.samples.map((x) => x.id))) {
      return (
        `the recipe of data set "${s.dataset.name}" rebuilds other samples (${got.samples}, not the ${n} given${got.samples === n ? ', or in another order' : ''}): ` +
        'a data set copied with other samples must drop or update its recipe (subsetDataset does)'
      );
    }
  }
  for (const t of tasks) {
    if (ready.plugins[t] !== pluginIdentity(plugins(t))) return `the recipe of task plugin "${t}" makes a plugin with another name, bnKey or config`;
  }
  return null;
}

/** The classes an error from the worker is rebuilt as (others become an Error with the same name). */
const ERROR_CLASSES: Record<string, { prototype: Error }> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  DatasetError,
  ConfigError,
  TrainingDivergedError,
};

/** The worker's error as the training thread would have thrown it: same class, message, fields and stack. */
export function deserializeError(s: SerializedError): Error {
  const cls = ERROR_CLASSES[s.className];
  const e: Error = cls ? Object.create(cls.prototype) : new Error();
  const define = (k: string, value: unknown) => Object.defineProperty(e, k, { value, writable: true, configurable: true, enumerable: false });
  define('message', s.message);
  if (s.stack !== undefined) define('stack', s.stack);
  if (s.cause) define('cause', deserializeError(s.cause));
  Object.assign(e, s.fields);
  if (e.name !== s.name) define('name', s.name);
  return e;
}
