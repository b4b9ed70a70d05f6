/**
 * Two minimal task plugins written only against the public API, for testing the network without the
 * real task packages: a per-pixel classifier read from the full-resolution up path, and an image-level
 * classifier read from the deepest down-path feature. Their metrics are real (pixel accuracy against the
 * map's target pattern, accuracy), so that what picks a checkpoint by validation can be tested.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2D, Dense, type BuildContext, type TaskHead, type TaskPlugin } from '../src/index';

export function mapTask(name = 'map', classes = 3, bnKey = name): TaskPlugin<unknown, unknown> {
  return {
    name,
    bnKey,
    decodeFrom: { path: 'up', downsample: 1 },
    config: { classes },
    build(ctx: BuildContext): TaskHead {
      const [s, , c] = ctx.featureShape;
      const bn = ctx.batchNorm(ctx.decoder, 'bn', c);
      const conv = new Conv2D(ctx.decoder, 'logits', { inChannels: c, outChannels: classes, kernelSize: 1, outSize: s });
      const enc = ctx.pyramidSizes.map((size, k) =>
        new Conv2D(ctx.reencoder, `level${k}`, { inChannels: classes, outChannels: 2, kernelSize: 3, outSize: size }),
      );
      return {
        decode: (f, fctx) => conv.apply(tf.relu(bn.apply(f, fctx))),
        activate: (raw) => tf.softmax(raw),
        reencode: (p) => {
          let x = p as tf.Tensor4D;
          return enc.map((layer, k) => {
            if (k > 0) x = tf.maxPool(x, 2, 2, 'valid');
            return tf.relu(layer.apply(x));
          });
        },
        pyramidChannels: ctx.pyramidSizes.map(() => 2),
        toMap: (p) => p as tf.Tensor4D,
        mapChannels: classes,
        prior: (b) => tf.fill([b, ctx.inputSize, ctx.inputSize, classes], 1 / classes),
        cost: { decoder: s * s * c * classes, reencoder: enc.reduce((a, l) => a + l.macs, 0) },
      };
    },
    encodeTargets(labels, inputSize) {
      const b = labels.length;
      const t = tf.buffer([b, inputSize, inputSize, classes]);
      labels.forEach((l, i) => {
        if (l === undefined) return;
        const cls = l as number;
        for (let y = 0; y < inputSize; y++) for (let x = 0; x < inputSize; x++) t.set(1, i, y, x, (cls + (x > y ? 1 : 0)) % classes);
      });
      return { target: t.toTensor(), mask: tf.tensor1d(labels.map((l) => (l === undefined ? 0 : 1))) };
    },
    loss(raw, target, mask) {
      return tf.tidy(() => {
        const perPixel = tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(raw)), -1));
        const perImage = tf.mean(perPixel, [1, 2]);
        return tf.div(tf.sum(tf.mul(perImage, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
      });
    },
    async decodeOutput(prediction) {
      const arg = tf.argMax(prediction, -1);
      const v = (await arg.array()) as number[][][];
      arg.dispose();
      return v;
    },
    transformLabel: (l) => l,
    createMetric: () => {
      // share of pixels whose class matches the pattern encodeTargets draws for the image's label
      let right = 0;
      let total = 0;
      return {
        update(outputs, labels) {
          outputs.forEach((o, i) => {
            const cls = labels[i] as number;
            (o as number[][]).forEach((row, y) =>
              row.forEach((c, x) => {
                right += c === (cls + (x > y ? 1 : 0)) % classes ? 1 : 0;
                total++;
              }),
            );
          });
        },
        report: () => ({ primary: { name: 'pixelAccuracy', value: right / total, higherIsBetter: true }, values: { pixelAccuracy: right / total } }),
        reset() {
          right = total = 0;
        },
      };
    },
  };
}

export function vectorTask(name = 'vector', classes = 4, bnKey = name): TaskPlugin<unknown, unknown> {
  return {
    name,
    bnKey,
    decodeFrom: { path: 'down', downsample: 'deepest' },
    config: { classes },
    build(ctx: BuildContext): TaskHead {
      const [s, , c] = ctx.featureShape;
      const fc = new Dense(ctx.decoder, 'logits', { inUnits: s * s * c, outUnits: classes });
      const enc = new Dense(ctx.reencoder, 'fc', { inUnits: classes, outUnits: 3 });
      return {
        decode: (f) => fc.apply(tf.reshape(tf.relu(f), [f.shape[0], -1])),
        activate: (raw) => tf.softmax(raw),
        reencode: (p) => {
          const v = tf.relu(enc.apply(p as tf.Tensor2D));
          const b = v.shape[0];
          return ctx.pyramidSizes.map((size) => tf.tile(tf.reshape(v, [b, 1, 1, 3]), [1, size, size, 1]));
        },
        pyramidChannels: ctx.pyramidSizes.map(() => 3),
        toMap: (p) => tf.reshape(p, [p.shape[0], 1, 1, classes]),
        mapChannels: classes,
        prior: (b) => tf.fill([b, classes], 1 / classes),
        cost: { decoder: fc.macs, reencoder: enc.macs },
      };
    },
    encodeTargets(labels) {
      const idx = labels.map((l) => (l === undefined ? 0 : (l as number)));
      return {
        target: tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(idx, 'int32'), classes), 'float32')),
        mask: tf.tensor1d(labels.map((l) => (l === undefined ? 0 : 1))),
      };
    },
    loss(raw, target, mask) {
      return tf.tidy(() => {
        const per = tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(raw)), -1));
        return tf.div(tf.sum(tf.mul(per, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar;
      });
    },
    async decodeOutput(prediction) {
      const arg = tf.argMax(prediction, -1);
      const v = (await arg.array()) as number[];
      arg.dispose();
      return v;
    },
    transformLabel: (l) => l,
    createMetric: () => {
      let right = 0;
      let total = 0;
      return {
        update(outputs, labels) {
          outputs.forEach((o, i) => {
            right += o === labels[i] ? 1 : 0;
            total++;
          });
        },
        report: () => ({ primary: { name: 'accuracy', value: right / total, higherIsBetter: true }, values: { accuracy: right / total } }),
        reset() {
          right = total = 0;
        },
      };
    },
  };
}
