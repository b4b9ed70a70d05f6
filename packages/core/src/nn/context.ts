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
  /**
   * The batch is rows `offset..offset + b` of a batch of `total` split between threads (see
   * nn/batch-sync.ts): dropout then draws the whole batch's mask and keeps these rows, as one thread would.
   */
  batchSlice?: BatchSlice;
}

/** Where a part of a batch split between threads sits in the whole batch. */
export interface BatchSlice {
  offset: number;
  total: number;
}
