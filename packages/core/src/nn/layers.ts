import * as tf from '@tensorflow/tfjs-core';
import { batchNormTraining } from '../kernels/batch_norm';
import type { ForwardContext } from './context';
import type { ParamScope } from './params';

/**
 * Layers are plain objects holding their variables; `apply` is a pure function of its inputs and the
 * forward context. Each layer records the multiply-adds it performs per image so the network can
 * count its own FLOPs.
 */
export interface CostedLayer {
  /** Multiply-accumulate operations per image for one forward pass. */
  readonly macs: number;
}

export interface Conv2DArgs {
  inChannels: number;
  outChannels: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Spatial size (square) of the output, for the FLOP count. */
  outSize: number;
  /** Default true. */
  useBias?: boolean;
  /** Default 'he'. */
  init?: 'he' | 'glorot';
}

/** Stride-1 'same' convolution, NHWC. */
export class Conv2D implements CostedLayer {
  readonly kernel: tf.Variable;
  readonly bias?: tf.Variable;
  readonly macs: number;
  constructor(scope: ParamScope, name: string, readonly args: Conv2DArgs) {
    const s = scope.child(name);
    const k = args.kernelSize;
    this.kernel = s.weight('kernel', [k, k, args.inChannels, args.outChannels], args.init ?? 'he');
    if (args.useBias ?? true) this.bias = s.weight('bias', [args.outChannels], 'zeros');
    this.macs = args.outSize * args.outSize * k * k * args.inChannels * args.outChannels;
  }
  apply(x: tf.Tensor4D): tf.Tensor4D {
    const y = tf.conv2d(x, this.kernel as tf.Tensor4D, 1, 'same');
    return this.bias ? tf.add(y, this.bias) : y;
  }
}

export interface DenseArgs {
  inUnits: number;
  outUnits: number;
  useBias?: boolean;
  init?: 'he' | 'glorot';
}

export class Dense implements CostedLayer {
  readonly kernel: tf.Variable;
  readonly bias?: tf.Variable;
  readonly macs: number;
  constructor(scope: ParamScope, name: string, readonly args: DenseArgs) {
    const s = scope.child(name);
    this.kernel = s.weight('kernel', [args.inUnits, args.outUnits], args.init ?? 'glorot');
    if (args.useBias ?? true) this.bias = s.weight('bias', [args.outUnits], 'zeros');
    this.macs = args.inUnits * args.outUnits;
  }
  apply(x: tf.Tensor2D): tf.Tensor2D {
    const y = tf.matMul(x, this.kernel as tf.Tensor2D) as tf.Tensor2D;
    return this.bias ? (tf.add(y, this.bias) as tf.Tensor2D) : y;
  }
}

export interface BatchNormArgs {
  channels: number;
  /** Batch-norm keys with a parameter set of their own. */
  keys: readonly string[];
  /** When true, one parameter set `shared` serves every key (the paper's 4.3.3 ablation). */
  shared: boolean;
  /** Moving-average momentum. Default 0.9. */
  momentum?: number;
  epsilon?: number;
}

interface BnParams {
  gamma: tf.Variable;
  beta: tf.Variable;
  movingMean: tf.Variable;
  movingVariance: tf.Variable;
}

/** The name of the parameter set every key uses when batch norm is shared. */
export const SHARED_BN_KEY = 'shared';

/**
 * Batch normalisation over the channel axis with one set of gamma, beta, moving mean and moving
 * variance per batch-norm key (paper 3.3): the key in the forward context chooses the set.
 */
export class BatchNorm {
  readonly sets = new Map<string, BnParams>();
  private readonly momentum: number;
  private readonly epsilon: number;
  constructor(scope: ParamScope, name: string, readonly args: BatchNormArgs) {
    const s = scope.child(name);
    this.momentum = args.momentum ?? 0.9;
    this.epsilon = args.epsilon ?? 1e-3;
    const keys = args.shared ? [SHARED_BN_KEY] : args.keys;
    for (const key of keys) {
      const k = s.child(key);
      const c = args.channels;
      this.sets.set(key, {
        gamma: k.weight('gamma', [c], 'ones'),
        beta: k.weight('beta', [c], 'zeros'),
        movingMean: k.weight('moving_mean', [c], 'zeros', false),
        movingVariance: k.weight('moving_variance', [c], 'ones', false),
      });
    }
  }

  params(key: string): BnParams {
    const set = this.sets.get(this.args.shared ? SHARED_BN_KEY : key);
    if (!set) {
      throw new Error(
        `unknown batch-norm key "${key}": this network has keys ${[...this.sets.keys()].join(', ')}; ` +
          `pass one of them as bnKey, or add a task plugin whose bnKey is "${key}"`,
      );
    }
    return set;
  }

  apply<T extends tf.Tensor4D | tf.Tensor2D>(x: T, ctx: ForwardContext): T {
    const p = this.params(ctx.bnKey);
    if (!ctx.training) {
      return tf.batchNorm(x, p.movingMean, p.movingVariance, p.beta, p.gamma, this.epsilon) as T;
    }
    // One fused kernel with a closed-form gradient where the backend has it (wasm, cpu: see
    // kernels/batch_norm.ts); tf.moments + tf.batchNorm elsewhere. Same values either way.
    const fused = batchNormTraining(x, p.gamma as tf.Tensor1D, p.beta as tf.Tensor1D, this.epsilon);
    const { mean, variance } = fused ?? tf.moments(x, x.rank === 4 ? [0, 1, 2] : [0]);
    ctx.updates.push({
      mean: p.movingMean,
      variance: p.movingVariance,
      batchMean: tf.keep(mean),
      batchVariance: tf.keep(variance),
      momentum: this.momentum,
    });
    return fused ? fused.y : (tf.batchNorm(x, mean, variance, p.beta, p.gamma, this.epsilon) as T);
  }
}

/**
 * Applies and disposes the moving-statistics updates collected in training mode:
 * `moving = momentum * moving + (1 - momentum) * batch`.
 */
export function applyMovingStatUpdates(ctx: ForwardContext): void {
  for (const u of ctx.updates) {
    tf.tidy(() => {
      u.mean.assign(tf.add(tf.mul(u.mean, u.momentum), tf.mul(u.batchMean, 1 - u.momentum)));
      u.variance.assign(tf.add(tf.mul(u.variance, u.momentum), tf.mul(u.batchVariance, 1 - u.momentum)));
    });
    u.batchMean.dispose();
    u.batchVariance.dispose();
  }
  ctx.updates.length = 0;
}

/** Discards collected updates without applying them (inference in training mode, aborted steps). */
export function discardMovingStatUpdates(ctx: ForwardContext): void {
  for (const u of ctx.updates) {
    u.batchMean.dispose();
    u.batchVariance.dispose();
  }
  ctx.updates.length = 0;
}

/** Pre-activation unit of DenseNet: batch norm, ReLU, convolution. */
export class BnReluConv implements CostedLayer {
  readonly bn: BatchNorm;
  readonly conv: Conv2D;
  constructor(scope: ParamScope, name: string, conv: Conv2DArgs, bn: Omit<BatchNormArgs, 'channels'>) {
    const s = scope.child(name);
    this.bn = new BatchNorm(s, 'bn', { ...bn, channels: conv.inChannels });
    this.conv = new Conv2D(s, 'conv', conv);
  }
  get macs(): number {
    return this.conv.macs;
  }
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return this.conv.apply(tf.relu(this.bn.apply(x, ctx)));
  }
}

/** Inverted dropout; identity outside training. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, ctx: ForwardContext): T {
  if (!ctx.training || rate <= 0) return x;
  const slice = ctx.batchSlice;
  if (!slice) return tf.dropout(x, rate, undefined, ctx.nextSeed()) as T;
  // part of a batch split between threads: the whole batch's mask (tf.dropout's arithmetic), this part's rows
  const seed = ctx.nextSeed();
  return tf.tidy(() => {
    const keep = 1 - rate;
    const whole = tf.div(tf.floor(tf.add(tf.randomUniform([slice.total, ...x.shape.slice(1)], 0, 1, 'float32', seed), keep)), keep);
    const begin = x.shape.map((_, i) => (i === 0 ? slice.offset : 0));
    return tf.mul(x, tf.slice(whole, begin, x.shape)) as T;
  });
}
