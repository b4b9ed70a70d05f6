/**
 * Trivial baselines, scored by each task's own metric on its test set exactly like a network: what a
 * model reaches without looking at the image. `labelMean` answers every test face with the mean of the
 * training targets at network resolution (`encodeTargets`), decoded like a network output: the mean
 * shape for landmarks, the per-pixel most frequent training class for parsing, the majority class for
 * emotion. `majorityClass` answers one class everywhere (the training set's most frequent): for
 * parsing, background on every pixel, whose overall F-score is 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, TaskPlugin } from '@ifan/core';
import { loadBatch } from './batches';
import type { EvaluationResult, TaskEvaluation } from './evaluate';
import type { CropConfig } from './types';

export type BaselineKind = 'labelMean' | 'majorityClass';

export interface BaselineOptions {
  inputSize: number;
  crop: CropConfig;
  /** Images per batch while reading the data. Default 32. */
  batchSize?: number;
}

/** The mean of the training targets, `[1, ...target shape]`; null when no sample has the task's label. */
async function meanTarget(plugin: TaskPlugin, train: Dataset, opts: BaselineOptions): Promise<tf.Tensor | null> {
  const B = opts.batchSize ?? 32;
  let sum: tf.Tensor | null = null;
  let count = 0;
  for (let start = 0; start < train.samples.length; start += B) {
    const batch = await loadBatch(train.samples.slice(start, start + B), { inputSize: opts.inputSize, crop: opts.crop, plugins: [plugin] });
    const { target, mask } = plugin.encodeTargets(batch.labels[plugin.name] as never[], opts.inputSize);
    const part = tf.tidy(() => {
      const m = tf.reshape(mask, [mask.shape[0], ...target.shape.slice(1).map(() => 1)]);
      return tf.sum(tf.mul(target, m), 0, true);
    });
    count += Array.from(await mask.data(), Number).reduce((a, v) => a + v, 0);
    tf.dispose([target, mask]);
    const next: tf.Tensor = sum ? tf.add(sum, part) : part;
    if (sum) tf.dispose([sum, part]);
    sum = next;
  }
  if (!sum || count === 0) {
    sum?.dispose();
    return null;
  }
  const mean = tf.div(sum, count);
  sum.dispose();
  return mean;
}

/** The constant prediction of a baseline, `[1, ...]`, from the mean target. */
function constantPrediction(kind: BaselineKind, mean: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (kind === 'labelMean') return mean.clone();
    // one class everywhere: the most frequent over the whole target (class maps: over all pixels)
    const C = mean.shape[mean.shape.length - 1];
    const flat = tf.reshape(mean, [-1, C]);
    const k = tf.argMax(tf.sum(flat, 0)).arraySync() as number;
    return tf.mul(tf.onesLike(mean), tf.reshape(tf.oneHot(k, C).asType('float32'), [...mean.shape.map(() => 1).slice(1), C]));
  });
}

/**
 * A baseline of every task (keyed by task name, with training and test sets) as an evaluation result
 * with one iteration, ready for the tables beside the networks' results. Tasks whose targets are not
 * class scores (landmark coordinates) have no `majorityClass` baseline and are left out of it.
 */
export async function baseline(
  kind: BaselineKind,
  plugins: readonly TaskPlugin[],
  data: Record<string, { train: Dataset; test: Dataset }>,
  opts: BaselineOptions,
): Promise<EvaluationResult> {
  const tasks: Record<string, TaskEvaluation> = {};
  for (const plugin of plugins) {
    const d = data[plugin.name];
    if (!d) continue;
    if (kind === 'majorityClass' && !isClassScores(plugin)) continue;
    const mean = await meanTarget(plugin, d.train, opts);
    if (!mean) continue;
    const constant = constantPrediction(kind, mean);
    mean.dispose();
    try {
      const metric = plugin.createMetric();
      let images = 0;
      const B = opts.batchSize ?? 32;
      for (let start = 0; start < d.test.samples.length; start += B) {
        const batch = await loadBatch(d.test.samples.slice(start, start + B), { inputSize: opts.inputSize, crop: opts.crop, plugins: [], keepOriginals: true });
        const keep = batch.originals!.map((o, i) => (o.labels[plugin.name] !== undefined ? i : -1)).filter((i) => i >= 0);
        if (keep.length === 0) continue;
        const pred = tf.tile(constant, [keep.length, ...constant.shape.slice(1).map(() => 1)]);
        try {
          const outputs = await plugin.decodeOutput(pred, opts.inputSize, keep.map((i) => batch.transforms[i]));
          metric.update(outputs, keep.map((i) => batch.originals![i].labels[plugin.name]));
        } finally {
          pred.dispose();
        }
        images += keep.length;
      }
      tasks[plugin.name] = { task: plugin.name, dataset: d.test.name, images, bnKey: plugin.bnKey, reports: [metric.report()] };
    } finally {
      constant.dispose();
    }
  }
  return { iterations: 0, tasks };
}

/** Whether a task's targets are class scores (a softmax over the last axis): a `classes` list in its config. */
function isClassScores(plugin: TaskPlugin): boolean {
  return Array.isArray((plugin.config as { classes?: unknown }).classes);
}

/**
 * How often each class occurs in a class-score task's training targets at network resolution (for
 * parsing, the share of pixels of each class), summing to 1.
 */
export async function classFrequencies(plugin: TaskPlugin, train: Dataset, opts: BaselineOptions): Promise<number[]> {
  const mean = await meanTarget(plugin, train, opts);
  if (!mean) throw new Error(`classFrequencies: no training sample of ${train.name} has a ${plugin.name} label`);
  const C = mean.shape[mean.shape.length - 1];
  const f = tf.tidy(() => tf.mean(tf.reshape(mean, [-1, C]), 0).arraySync() as number[]);
  mean.dispose();
  const total = f.reduce((a, v) => a + v, 0);
  return f.map((v) => v / total);
}

/**
 * Class weights from class shares `f` (as {@link classFrequencies} gives them): `f^-1/2`, scaled so
 * that the average pixel weighs 1, at most {@link MAX_CLASS_WEIGHT}; a class that never occurs weighs 1.
 */
export function inverseSqrtWeights(f: readonly number[]): number[] {
  const norm = f.reduce((a, v) => a + Math.sqrt(v), 0);
  return f.map((v) => (v > 0 ? Math.min(MAX_CLASS_WEIGHT, 1 / (Math.sqrt(v) * norm)) : 1));
}
export const MAX_CLASS_WEIGHT = 25;

/**
 * Parsing's class weights for a training set: {@link inverseSqrtWeights} of its class shares at network
 * resolution, rounded to 3 decimals (what a run config's `"classWeights": "inverse-sqrt"` and the demo use).
 */
export async function inverseSqrtClassWeights(plugin: TaskPlugin, train: Dataset, opts: BaselineOptions): Promise<number[]> {
  return inverseSqrtWeights(await classFrequencies(plugin, train, opts)).map((w) => Math.round(w * 1000) / 1000);
}
