import type * as tf from '@tensorflow/tfjs-core';

/** A pending update of a batch-norm layer's moving statistics, applied after the gradient step. */
export interface MovingStatUpdate {
  mean: tf.Variable;
  variance: tf.Variable;
  batchMean: tf.Tensor;
  batchVariance: tf.Tensor;
  momentum: number;
}

/** State threaded through one forward pass. */
export interface ForwardContext {
  /** Batch statistics and dropout when true; moving statistics when false. */
  training: boolean;
  /** Which batch-norm parameter set the backbone uses for this batch. */
  bnKey: string;
  /** Filled by batch-norm layers in training mode; the caller applies them (see `applyMovingStatUpdates`). */
  updates: MovingStatUpdate[];
  /** Seed source for dropout masks, advanced per call. */
  nextSeed(): number;
}
