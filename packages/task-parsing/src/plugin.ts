import * as tf from '@tensorflow/tfjs-core';
import {
  Conv2D,
  ConvPyramidEncoder,
  maskedMean,
  softmaxCrossEntropy,
  type BuildContext,
  type FeatureTap,
  type LabelTransform,
  type TaskHead,
  type TaskPlugin,
} from '@ifan/core';
import { HELEN_11, resolveParsingLabelSet, type ParsingLabelSetSpec } from './sets';
import { createParsingMetric } from './metrics';
import { argmaxClasses, flipClassTable, probabilitiesToOriginal, transformParsing } from './transform';
import type { ParsingLabel, ParsingOutput } from './types';
import { drawParsing } from './visualize';

export interface ParsingTaskOptions {
  /** Task name and label key. Default `'parsing'`. */
  name?: string;
  /** Batch-norm key. Default the task name. */
  bnKey?: string;
  /**
   * The classes: a label set, the name of a built-in one (`helen-11`, `fasseg-6`, `celebamask-19`)
   * or class names, background first. Default Helen's 11.
   */
  labelSet?: ParsingLabelSetSpec;
  /** Where the decoder reads. Default the full-resolution end of the up path (paper 4.1.2). */
  decodeFrom?: FeatureTap;
  /** Channels of every feedback pyramid level. Default 8. */
  feedbackChannels?: number;
  /** Class frequencies used as the prior prediction (every pixel). Default uniform. */
  prior?: number[];
  /**
   * A weight per class (label-set order) multiplying the cross-entropy of every pixel of that class,
   * so that small classes (eyes, brows, lips: a few pixels of a small input) are not left to the
   * large ones; e.g. inverse square roots of the class frequencies. Default none (every pixel 1).
   */
  classWeights?: number[];
  /**
   * A weight per class multiplying its probability before the arg-max that decides each pixel's class
   * (`decodeOutput`: predictions and evaluation). A network trained with `classWeights` w over-predicts
   * the small classes (its probabilities are tilted by about w); decision weights w^-a take part of
   * that tilt back, trading their recall for precision. Default none (the plain arg-max).
   */
  decisionWeights?: number[];
}

/**
 * Face parsing (paper 4.1.2): a per-pixel softmax over the label set from the full-resolution features at
 * the end of the up path, categorical cross-entropy on the network-resolution map; evaluation resizes
 * the probabilities to the original image (bilinear) before the argmax. The re-encoder passes the
 * probability map through alternating convolutions and max pooling.
 */
export function parsingTask(options: ParsingTaskOptions = {}): TaskPlugin<ParsingLabel, ParsingOutput> {
  const set = resolveParsingLabelSet(options.labelSet ?? HELEN_11);
  const C = set.classes.length;
  const name = options.name ?? 'parsing';
  const F = options.feedbackChannels ?? 8;
  const prior = options.prior ?? set.classes.map(() => 1 / C);
  if (prior.length !== C) throw new Error(`parsingTask: prior has ${prior.length} values, the label set "${set.name}" has ${C} classes`);
  const weights = options.classWeights;
  if (weights && (weights.length !== C || !weights.every((w) => Number.isFinite(w) && w >= 0))) {
    throw new Error(`parsingTask: classWeights must be ${C} non-negative numbers (one per class of "${set.name}"), got [${weights.join(', ')}]`);
  }
  const decision = options.decisionWeights;
  if (decision && (decision.length !== C || !decision.every((w) => Number.isFinite(w) && w > 0))) {
    throw new Error(`parsingTask: decisionWeights must be ${C} positive numbers (one per class of "${set.name}"), got [${decision.join(', ')}]`);
  }

  return {
    name,
    bnKey: options.bnKey ?? name,
    decodeFrom: options.decodeFrom ?? { path: 'up', downsample: 1 },
    // (classWeights only shape training: a model saved with them loads without them)
    config: { labelSet: set.name, classes: set.classes, feedbackChannels: F },
    // how the trainer's batch worker makes this plugin again
    recipe: { module: '@ifan/task-parsing', export: 'parsingTask', args: [{ ...options }] },

    build(ctx: BuildContext): TaskHead {
      const [s, , c] = ctx.featureShape;
      const bn = ctx.batchNorm(ctx.decoder, 'bn', c);
      const hidden = new Conv2D(ctx.decoder, 'conv', { inChannels: c, outChannels: 16, kernelSize: 3, outSize: s });
      const logits = new Conv2D(ctx.decoder, 'logits', { inChannels: 16, outChannels: C, kernelSize: 1, outSize: s });
      const encoder = new ConvPyramidEncoder(ctx.reencoder, { inChannels: C, sizes: ctx.pyramidSizes, channels: F });
      return {
        decode: (f, fctx) => logits.apply(tf.relu(hidden.apply(tf.relu(bn.apply(f, fctx))))),
        activate: (raw) => tf.softmax(raw),
        reencode: (p) => encoder.apply(p as tf.Tensor4D),
        pyramidChannels: encoder.pyramidChannels,
        toMap: (p) => p as tf.Tensor4D,
        mapChannels: C,
        prior: (b) => tf.tile(tf.reshape(tf.tensor1d(prior), [1, 1, 1, C]), [b, ctx.inputSize, ctx.inputSize, 1]),
        cost: { decoder: hidden.macs + logits.macs, reencoder: encoder.macs },
      };
    },

    encodeTargets(labels, inputSize) {
      const b = labels.length;
      const n = inputSize * inputSize;
      const t = new Float32Array(b * n * C);
      const mask = new Float32Array(b);
      labels.forEach((l, i) => {
        if (!l) return;
        const m = l.mask;
        if (m.width !== inputSize || m.height !== inputSize) {
          throw new Error(`${name}: a label mask is ${m.width}x${m.height}, the network needs ${inputSize}x${inputSize}: transform labels with transformLabel (prepareSample) first`);
        }
        mask[i] = 1;
        for (let p = 0; p < n; p++) {
          const k = m.data[p];
          if (k >= C) throw new Error(`${name}: class ${k} at pixel ${p} is outside the label set "${set.name}" (0..${C - 1})`);
          t[(i * n + p) * C + k] = 1;
        }
      });
      return { target: tf.tensor4d(t, [b, inputSize, inputSize, C]), mask: tf.tensor1d(mask) };
    },

    /**
     * Categorical cross-entropy averaged over the network-resolution pixels, then over labelled images;
     * with `classWeights`, each pixel's term times its true class's weight.
     */
    loss: (raw, target, mask) =>
      tf.tidy(() => maskedMean(softmaxCrossEntropy(raw, weights ? tf.mul(target, tf.tensor1d(weights)) : target), mask)),

    async decodeOutput(prediction, inputSize, transforms?: LabelTransform[]) {
      const probs = (await prediction.data()) as Float32Array;
      const b = prediction.shape[0];
      const n = inputSize * inputSize * C;
      const out: ParsingOutput[] = [];
      for (let i = 0; i < b; i++) {
        const p = decision ? probs.slice(i * n, (i + 1) * n).map((v, j) => v * decision[j % C]) : probs.subarray(i * n, (i + 1) * n);
        const map = { width: inputSize, height: inputSize, channels: C, data: p };
        const mask = transforms ? argmaxClasses(probabilitiesToOriginal(map, transforms[i], set)) : argmaxClasses(map);
        out.push({ mask, classes: set.classes, ...(set.helenTerms ? { helenClasses: set.helenTerms } : {}) });
      }
      return out;
    },

    // the map mirrored back, left/right classes swapped back
    mirrorPrediction: (prediction) =>
      tf.tidy(() => tf.gather(tf.reverse(prediction, 2), Array.from(flipClassTable(set).subarray(0, C)), 3)),
    transformLabel: (label, t) => transformParsing(label, t, set),
    createMetric: () => createParsingMetric(set),
    visualize: (image, output) => drawParsing(image, output.mask, set),
  };
}

