import * as tf from '@tensorflow/tfjs-core';
import {
  Conv2D,
  Dense,
  dropout,
  maskedMean,
  softmaxCrossEntropy,
  tileToSizes,
  type BuildContext,
  type FeatureTap,
  type TaskHead,
  type TaskPlugin,
} from '@ifan/core';
import { FER2013_7 } from './sets';
import { createEmotionMetric } from './metrics';
import type { EmotionLabel, EmotionLabelSet, EmotionOutput } from './types';
import { drawEmotion } from './visualize';

export interface EmotionTaskOptions {
  /** Task name and label key. Default `'emotion'`. */
  name?: string;
  /** Batch-norm key. Default the task name. */
  bnKey?: string;
  /** The classes. Default FER2013's 7. */
  labelSet?: EmotionLabelSet;
  /** Where the decoder reads. Default the deepest down-path feature (4x4 at 128 px, paper 4.1.2). */
  decodeFrom?: FeatureTap;
  /** Dropout before the softmax layer. Default 0.5. */
  dropout?: number;
  /** Hidden units of the decoder and the re-encoder. Default 64. */
  hiddenUnits?: number;
  /** Channels of every feedback pyramid level. Default 8. */
  feedbackChannels?: number;
  /** Class frequencies used as the prior prediction. Default uniform. */
  prior?: number[];
  /**
   * Label smoothing for training: the loss's target puts `1 - labelSmoothing` on the labelled class and
   * spreads `labelSmoothing` evenly over all classes (as Keras's and PyTorch's `label_smoothing`), so the
   * network is not pushed towards certainty on noisy labels. In `[0, 1)`; default 0.
   */
  labelSmoothing?: number;
}

/**
 * Facial emotion recognition (paper 4.1.2): a softmax over the label set from the 4x4 down-path features,
 * dropout before it; the re-encoder is fully connected layers on the probability vector, tiled to every
 * size of the feedback pyramid.
 */
export function emotionTask(options: EmotionTaskOptions = {}): TaskPlugin<EmotionLabel, EmotionOutput> {
  const set = options.labelSet ?? FER2013_7;
  const C = set.classes.length;
  const name = options.name ?? 'emotion';
  const hidden = options.hiddenUnits ?? 64;
  const F = options.feedbackChannels ?? 8;
  const dropRate = options.dropout ?? 0.5;
  const prior = options.prior ?? set.classes.map(() => 1 / C);
  if (prior.length !== C) throw new Error(`emotionTask: prior has ${prior.length} values, the label set "${set.name}" has ${C} classes`);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`emotionTask: labelSmoothing must be in [0, 1), got ${smoothing}`);

  return {
    name,
    bnKey: options.bnKey ?? name,
    decodeFrom: options.decodeFrom ?? { path: 'down', downsample: 'deepest' },
    config: { labelSet: set.name, classes: set.classes, hiddenUnits: hidden, feedbackChannels: F },
    // how the trainer's batch worker makes this plugin again
    recipe: { module: '@ifan/task-emotion', export: 'emotionTask', args: [{ ...options }] },

    build(ctx: BuildContext): TaskHead {
      const [s, , c] = ctx.featureShape;
      const bn = ctx.batchNorm(ctx.decoder, 'bn', c);
      const conv = new Conv2D(ctx.decoder, 'conv', { inChannels: c, outChannels: 32, kernelSize: 1, outSize: s });
      const fc = new Dense(ctx.decoder, 'fc', { inUnits: s * s * 32, outUnits: hidden, init: 'he' });
      const logits = new Dense(ctx.decoder, 'logits', { inUnits: hidden, outUnits: C });
      const enc1 = new Dense(ctx.reencoder, 'fc1', { inUnits: C, outUnits: hidden, init: 'he' });
      const enc2 = new Dense(ctx.reencoder, 'fc2', { inUnits: hidden, outUnits: F, init: 'he' });
      const pyramidTiles = ctx.pyramidSizes.reduce((a, z) => a + z * z * F, 0);
      return {
        decode: (f, fctx) => {
          const h = tf.relu(conv.apply(tf.relu(bn.apply(f, fctx))));
          const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
          return logits.apply(dropout(tf.relu(fc.apply(flat)), dropRate, fctx));
        },
        activate: (raw) => tf.softmax(raw),
        reencode: (p) => tileToSizes(tf.relu(enc2.apply(tf.relu(enc1.apply(p as tf.Tensor2D)))), ctx.pyramidSizes),
        pyramidChannels: ctx.pyramidSizes.map(() => F),
        toMap: (p) => tf.reshape(p, [p.shape[0], 1, 1, C]) as tf.Tensor4D,
        mapChannels: C,
        prior: (b) => tf.tile(tf.tensor2d([prior]), [b, 1]),
        cost: { decoder: conv.macs + fc.macs + logits.macs, reencoder: enc1.macs + enc2.macs + pyramidTiles * 0 },
      };
    },

    encodeTargets(labels) {
      const b = labels.length;
      const t = new Float32Array(b * C);
      const mask = new Float32Array(b);
      labels.forEach((l, i) => {
        if (!l) return;
        if (!Number.isInteger(l.classIndex) || l.classIndex < 0 || l.classIndex >= C) {
          throw new Error(`${name}: class index ${l.classIndex} is outside the label set "${set.name}" (0..${C - 1})`);
        }
        t[i * C + l.classIndex] = 1;
        mask[i] = 1;
      });
      return { target: tf.tensor2d(t, [b, C]), mask: tf.tensor1d(mask) };
    },

    loss: (raw, target, mask) =>
      tf.tidy(() => {
        const t = smoothing > 0 ? tf.add(tf.mul(target, 1 - smoothing), smoothing / C) : target;
        return maskedMean(softmaxCrossEntropy(raw, t), mask);
      }),

    async decodeOutput(prediction) {
      const v = (await prediction.array()) as number[][];
      return v.map((probabilities) => {
        const classIndex = probabilities.indexOf(Math.max(...probabilities));
        return { classIndex, className: set.classes[classIndex], probabilities };
      });
    },

    // an expression reads the same in a mirror
    mirrorPrediction: (prediction) => prediction,
    transformLabel: (label) => label,
    createMetric: () => createEmotionMetric(set),
    visualize: (image, output) => drawEmotion(image, output, set),
  };
}
