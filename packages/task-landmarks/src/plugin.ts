import * as tf from '@tensorflow/tfjs-core';
import {
  ConvPyramidEncoder,
  Dense,
  Conv2D,
  dropout,
  maskedMean,
  type BuildContext,
  type FeatureTap,
  type LabelTransform,
  type TaskHead,
  type TaskPlugin,
} from '@ifan/core';
import { createLandmarkMetric } from './metrics';
import { MTFL_5 } from './sets';
import { mapPointsBack, swapFlipPairs, transformLandmarks } from './transform';
import type { LandmarkLabel, LandmarkOutput, LandmarkSet } from './types';
import { drawLandmarks } from './visualize';

export interface LandmarkTaskOptions {
  /** Task name and label key. Default `'landmarks'`. */
  name?: string;
  /** Batch-norm key. Default the task name. */
  bnKey?: string;
  /** The point set. Default MTFL's 5 points. */
  landmarkSet?: LandmarkSet;
  /** Where the decoder reads. Default the down path at 1/16 of the input (8x8 at 128 px, paper 4.1.2). */
  decodeFrom?: FeatureTap;
  /**
   * Mean shape in normalised coordinates `[x, y]` per point (0..1 of the network input): the decoder's
   * initial output and the prior prediction. Default a frontal template for the 5 MTFL points, else
   * the centre.
   */
  meanShape?: [number, number][];
  /** Radius of a point's disk in the re-encoder's heat map at 128 px (scaled with the input). Default 5. */
  heatmapRadius?: number;
  /** Channels of every level of the feedback pyramid. Default 8. */
  feedbackChannels?: number;
  /** Units of the decoder's hidden layer. Default 128. */
  hiddenUnits?: number;
  /** Dropout before the regression. Default 0. */
  dropout?: number;
}

/** Frontal template of the 5 MTFL points inside the default face crop (normalised). */
const MTFL_TEMPLATE: [number, number][] = [
  [0.34, 0.4],
  [0.66, 0.4],
  [0.5, 0.55],
  [0.37, 0.7],
  [0.63, 0.7],
];

/**
 * Facial landmark localisation (paper 4.1.2): regression of normalised coordinates from the 8x8 down-path
 * features with a Euclidean loss; the re-encoder draws each predicted point as a disk in a heat map and
 * encodes the maps with alternating convolutions and max pooling.
 */
export function landmarkTask(options: LandmarkTaskOptions = {}): TaskPlugin<LandmarkLabel, LandmarkOutput> {
  const set = options.landmarkSet ?? MTFL_5;
  const P = set.points.length;
  const name = options.name ?? 'landmarks';
  const meanShape = options.meanShape ?? (P === 5 ? MTFL_TEMPLATE : set.points.map(() => [0.5, 0.5] as [number, number]));
  if (meanShape.length !== P) throw new Error(`landmarkTask: meanShape has ${meanShape.length} points, the set "${set.name}" has ${P}`);
  const radius128 = options.heatmapRadius ?? 5;
  const F = options.feedbackChannels ?? 8;
  const hidden = options.hiddenUnits ?? 128;
  const dropRate = options.dropout ?? 0;

  return {
    name,
    bnKey: options.bnKey ?? name,
    decodeFrom: options.decodeFrom ?? { path: 'down', downsample: 16 },
    config: { landmarkSet: set.name, points: P, feedbackChannels: F, hiddenUnits: hidden },
    // how the trainer's batch worker makes this plugin again
    recipe: { module: '@ifan/task-landmarks', export: 'landmarkTask', args: [{ ...options }] },

    build(ctx: BuildContext): TaskHead {
      const [s, , c] = ctx.featureShape;
      const S = ctx.inputSize;
      const bn = ctx.batchNorm(ctx.decoder, 'bn', c);
      const conv = new Conv2D(ctx.decoder, 'conv', { inChannels: c, outChannels: 32, kernelSize: 3, outSize: s });
      const fc1 = new Dense(ctx.decoder, 'fc1', { inUnits: s * s * 32, outUnits: hidden, init: 'he' });
      const out = new Dense(ctx.decoder, 'coords', { inUnits: hidden, outUnits: 2 * P });
      // start from the mean shape: shrink the last layer's weights and put the template in the bias.
      // `assign` makes the variable share the new value's data and leaves that tensor alive, so the
      // values are made inside a tidy (as the moving-statistics updates are): the network's parameter
      // store then owns the only handle on them, and `net.dispose()` frees them
      tf.tidy(() => {
        out.kernel.assign(tf.mul(out.kernel, 0.1));
        out.bias!.assign(tf.tensor1d(meanShape.flat()));
      });
      const encoder = new ConvPyramidEncoder(ctx.reencoder, { inChannels: P, sizes: ctx.pyramidSizes, channels: F });
      const radius = (radius128 * S) / 128;
      const softness = Math.max(0.5, S / 128);
      const heatmaps = (coords: tf.Tensor): tf.Tensor4D =>
        tf.tidy(() => {
          const b = coords.shape[0];
          // rank-3 slices: the gradient of a rank-5 slice (a rank-5 pad) has no WebGL shader that compiles
          const pts = tf.reshape(tf.mul(coords, S), [b, P, 2]);
          const grid = tf.add(tf.range(0, S), 0.5);
          const gx = tf.reshape(grid, [1, 1, S, 1]);
          const gy = tf.reshape(grid, [1, S, 1, 1]);
          const px = tf.reshape(tf.slice(pts, [0, 0, 0], [b, P, 1]), [b, 1, 1, P]);
          const py = tf.reshape(tf.slice(pts, [0, 0, 1], [b, P, 1]), [b, 1, 1, P]);
          const d2 = tf.add(tf.square(tf.sub(gx, px)), tf.square(tf.sub(gy, py)));
          const dist = tf.sqrt(tf.add(d2, 1e-6));
          // a disk of the given radius with a soft edge, so the map is differentiable in the points
          return tf.sigmoid(tf.div(tf.sub(radius, dist), softness)) as tf.Tensor4D;
        });
      return {
        decode: (f, fctx) => {
          const h = tf.relu(conv.apply(tf.relu(bn.apply(f, fctx))));
          const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
          return out.apply(dropout(tf.relu(fc1.apply(flat)), dropRate, fctx));
        },
        activate: (raw) => raw,
        reencode: (p) => encoder.apply(heatmaps(p)),
        pyramidChannels: encoder.pyramidChannels,
        toMap: (p) => heatmaps(p),
        mapChannels: P,
        prior: (b) => tf.tile(tf.tensor2d([meanShape.flat()]), [b, 1]),
        cost: { decoder: conv.macs + fc1.macs + out.macs, reencoder: encoder.macs + S * S * P * 8 },
      };
    },

    encodeTargets(labels, inputSize) {
      const b = labels.length;
      const t = new Float32Array(b * 2 * P);
      const mask = new Float32Array(b);
      labels.forEach((l, i) => {
        if (!l) return;
        if (l.points.length !== P) throw new Error(`${name}: a label has ${l.points.length} points, the set "${set.name}" has ${P}`);
        mask[i] = 1;
        l.points.forEach(([x, y], k) => {
          t[i * 2 * P + 2 * k] = x / inputSize;
          t[i * 2 * P + 2 * k + 1] = y / inputSize;
        });
      });
      return { target: tf.tensor2d(t, [b, 2 * P]), mask: tf.tensor1d(mask) };
    },

    /** Euclidean loss: half the squared distance summed over the points (normalised coordinates). */
    loss(raw, target, mask) {
      return tf.tidy(() => maskedMean(tf.mul(tf.sum(tf.square(tf.sub(raw, target)), 1), 0.5) as tf.Tensor1D, mask));
    },

    async decodeOutput(prediction, inputSize, transforms?: LabelTransform[]) {
      const v = (await prediction.array()) as number[][];
      return v.map((row, i) => {
        const pts: [number, number][] = [];
        for (let k = 0; k < P; k++) pts.push([row[2 * k] * inputSize, row[2 * k + 1] * inputSize]);
        return { points: transforms ? mapPointsBack(pts, transforms[i], set) : pts };
      });
    },

    // x -> 1 - x (a mirror of the input square, as core's mirrorX), and the flip pairs swap back
    mirrorPrediction: (prediction) =>
      tf.tidy(() => {
        const b = prediction.shape[0];
        const pts = tf.reshape(prediction, [b, P, 2]);
        const [x, y] = tf.split(pts, 2, 2);
        const order = swapFlipPairs([...Array(P).keys()], set.flipPairs);
        return tf.reshape(tf.gather(tf.concat([tf.sub(1, x), y], 2), order, 1), [b, 2 * P]);
      }),
    transformLabel: (label, t) => transformLandmarks(label, t, set),
    createMetric: () => createLandmarkMetric(set),
    visualize: (image, output) => drawLandmarks(image, output.points),
  };
}
