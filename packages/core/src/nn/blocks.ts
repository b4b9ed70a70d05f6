import * as tf from '@tensorflow/tfjs-core';
import { Conv2D } from './layers';
import type { ParamScope } from './params';

export interface ConvPyramidArgs {
  inChannels: number;
  /** Pyramid sizes, largest first; each is half the previous (the network's `pyramidSizes`). */
  sizes: number[];
  /** Channels of every level. */
  channels: number;
}

/**
 * The paper's re-encoder for map-like predictions (4.1.2): alternating 3x3 convolution + ReLU and 2x2
 * max pooling, one pyramid level per size. A building block for task plugins.
 */
export class ConvPyramidEncoder {
  readonly convs: Conv2D[];
  constructor(scope: ParamScope, readonly args: ConvPyramidArgs) {
    this.convs = args.sizes.map(
      (size, k) =>
        new Conv2D(scope, `conv${k}`, {
          inChannels: k === 0 ? args.inChannels : args.channels,
          outChannels: args.channels,
          kernelSize: 3,
          outSize: size,
        }),
    );
    args.sizes.forEach((s, k) => {
      if (k > 0 && s * 2 !== args.sizes[k - 1]) throw new Error(`ConvPyramidEncoder: sizes must halve, got ${args.sizes.join(', ')}`);
    });
  }
  get macs(): number {
    return this.convs.reduce((a, c) => a + c.macs, 0);
  }
  get pyramidChannels(): number[] {
    return this.args.sizes.map(() => this.args.channels);
  }
  /** `[b, sizes[0], sizes[0], inChannels]` -> one `[b, s, s, channels]` per size. */
  apply(x: tf.Tensor4D): tf.Tensor4D[] {
    const out: tf.Tensor4D[] = [];
    let h = x;
    this.convs.forEach((conv, k) => {
      if (k > 0) h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.relu(conv.apply(h));
      out.push(h);
    });
    return out;
  }
}

/**
 * Mean of per-sample losses `[b]` over the samples whose mask is 1; 0 when no sample has a label.
 * Every task loss ends with this, so a batch with missing labels adds nothing for them.
 */
export function maskedMean(perSample: tf.Tensor1D, mask: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(perSample, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/**
 * Softmax cross-entropy per sample: logits and one-hot (or soft) targets `[b, ..., classes]`, averaged
 * over every position between the batch and class axes (pixels, for dense prediction).
 */
export function softmaxCrossEntropy(logits: tf.Tensor, target: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const perPosition = tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(logits)), -1));
    if (perPosition.rank === 1) return perPosition as tf.Tensor1D;
    const axes = Array.from({ length: perPosition.rank - 1 }, (_, i) => i + 1);
    return tf.mean(perPosition, axes) as tf.Tensor1D;
  });
}

/** Tiles `[b, c]` features to `[b, size, size, c]` for every size: how vector predictions join the pyramid. */
export function tileToSizes(v: tf.Tensor2D, sizes: number[]): tf.Tensor4D[] {
  const [b, c] = v.shape;
  const r = tf.reshape(v, [b, 1, 1, c]) as tf.Tensor4D;
  return sizes.map((s) => tf.tile(r, [1, s, s, 1]));
}
