/**
 * Evaluation as in the paper: every task on its own test set, under its own batch-norm key, at every
 * interaction iteration 0..ITER (one forward pass yields all of them: `net.predictIterations`, the
 * inference path of `net.predict` and `ifan predict`), with outputs mapped back to the original images
 * (the crop transforms) and scored by the task's own metric.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, IntegratedNetwork, MetricReport, TaskPlugin } from '@ifan/core';
import { imageTensor, loadBatch, type Batch } from './batches';
import type { CropConfig } from './types';

export interface EvaluateOptions {
  /** Evaluate iterations 0..`iterations`. Default the network's ITER. */
  iterations?: number;
  /**
   * Test-time mirroring: every image is also evaluated mirrored and each task scores the mean of the
   * two predictions (`InferenceOptions.mirror`). Twice the compute. Default false.
   */
  mirror?: boolean;
  /** Images per forward pass. Default 16. */
  batchSize?: number;
  /** The crop margin. Default the network's (`net.framing.margin`, saved with it). */
  crop?: Partial<CropConfig>;
  /**
   * Called after every batch with the images done and the images in all data sets (samples without
   * the task's label count as done when their batch is).
   */
  onProgress?(progress: { task: string; done: number; total: number }): void;
  /** Stops the evaluation between two batches: it then rejects with {@link EvaluationAborted}. */
  signal?: AbortSignal;
}

/** The error of an evaluation stopped by its `signal`. */
export class EvaluationAborted extends Error {
  constructor(reason?: unknown) {
    super(`evaluation stopped${reason instanceof Error ? `: ${reason.message}` : typeof reason === 'string' ? `: ${reason}` : ''}`);
    this.name = 'EvaluationAborted';
  }
}

/** One task's figures. */
export interface TaskEvaluation {
  task: string;
  dataset: string;
  /** Images evaluated (samples carrying this task's label). */
  images: number;
  bnKey: string;
  /** `reports[I]`: the metric after interaction iteration I. */
  reports: MetricReport[];
}

export interface EvaluationResult {
  iterations: number;
  /** Whether the figures are of test-time mirroring ({@link EvaluateOptions.mirror}); `evaluate` always says. */
  mirror?: boolean;
  tasks: Record<string, TaskEvaluation>;
}

/**
 * Evaluates `net` on each task's data set (keyed by task name; tasks without one are skipped).
 * Samples without a label for the task are left out. Leaves no tensor behind.
 */
export async function evaluate(net: IntegratedNetwork, data: Record<string, Dataset>, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const iterations = options.iterations ?? net.config.iterations;
  const batchSize = options.batchSize ?? 16;
  const crop = { margin: net.framing.margin, ...options.crop };
  const tasks: Record<string, TaskEvaluation> = {};
  const total = Object.values(data).reduce((a, d) => a + d.samples.length, 0);
  let done = 0;
  const progress = (task: string, n: number) => {
    done += n;
    options.onProgress?.({ task, done, total });
  };
  const first = Object.keys(data)[0];
  if (first !== undefined) options.onProgress?.({ task: first, done: 0, total });
  for (const [task, dataset] of Object.entries(data)) {
    const plugin = net.plugin(task);
    tasks[task] = await evaluateTask(net, plugin, dataset, { iterations, batchSize, crop, mirror: options.mirror, signal: options.signal, progress: (n) => progress(task, n) });
  }
  return { iterations, mirror: options.mirror ?? false, tasks };
}

async function evaluateTask(
  net: IntegratedNetwork,
  plugin: TaskPlugin,
  dataset: Dataset,
  opts: { iterations: number; batchSize: number; crop: CropConfig; mirror?: boolean; signal?: AbortSignal; progress(n: number): void },
): Promise<TaskEvaluation> {
  if (opts.signal?.aborted) throw new EvaluationAborted(opts.signal.reason);
  const S = net.inputSize;
  const metrics = Array.from({ length: opts.iterations + 1 }, () => plugin.createMetric());
  let images = 0;
  const samples = dataset.samples;
  // the next batch loads while this one is evaluated
  const next = (start: number): Promise<Batch> | null => {
    if (start >= samples.length) return null;
    const p = loadBatch(samples.slice(start, start + opts.batchSize), { inputSize: S, crop: opts.crop, plugins: [], keepOriginals: true });
    p.catch(() => undefined); // awaited below; a failure while another batch is evaluated must not go unhandled
    return p;
  };
  let pending = next(0);
  for (let start = 0; pending; start += opts.batchSize) {
    const batch: Batch = await pending;
    if (opts.signal) {
      // a turn of the event loop, so that what aborts (a signal handler, a timer) can run: loading and
      // decoding may otherwise go from batch to batch in microtasks alone
      await new Promise<void>((r) => setImmediate(r));
      if (opts.signal.aborted) throw new EvaluationAborted(opts.signal.reason);
    }
    pending = next(start + opts.batchSize);
    const keep = batch.originals!.map((o, i) => (o.labels[plugin.name] !== undefined ? i : -1)).filter((i) => i >= 0);
    if (keep.length === 0) {
      opts.progress(batch.size);
      continue;
    }
    const x = tf.tidy(() => tf.gather(imageTensor(batch, S), tf.tensor1d(keep, 'int32')) as tf.Tensor4D);
    const transforms = keep.map((i) => batch.transforms[i]);
    let outputs: Record<string, unknown[]>[];
    try {
      outputs = await net.predictIterations(x, { iterations: opts.iterations, tasks: [plugin.name], bnKey: plugin.bnKey, transforms, mirror: opts.mirror });
    } finally {
      x.dispose();
    }
    const labels = keep.map((i) => batch.originals![i].labels[plugin.name]);
    outputs.forEach((o, it) => metrics[it].update(o[plugin.name], labels));
    images += keep.length;
    opts.progress(batch.size);
  }
  return { task: plugin.name, dataset: dataset.name, images, bnKey: plugin.bnKey, reports: metrics.map((m) => m.report()) };
}
