/**
 * A task plugin written from scratch against @ifan/core's public API only: the binary face attributes
 * that MTFL labels (smiling, wearing glasses, male). It shows everything a new task needs; the network,
 * the trainer and the evaluation take it like the built-in tasks, with no change to core.
 *
 * - decoder: the deepest backbone feature -> one logit per attribute (sigmoid);
 * - re-encoder: a fully connected layer on the probabilities, tiled to every feedback size;
 * - loss: binary cross-entropy averaged over the attributes, over the samples that carry the label;
 * - metric: accuracy per attribute and their mean, and the Brier score of the probabilities (mean
 *   squared distance to the 0/1 labels: 0.25 for an answer of 0.5 everywhere).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Dense,
  maskedMean,
  tileToSizes,
  type BuildContext,
  type LoadOptions,
  type MetricAccumulator,
  type RawImage,
  type TaskHead,
  type TaskPlugin,
} from '@ifan/core';

/** The label MTFL's loader attaches under `labels.attributes`. */
export interface AttributesLabel {
  gender: 'male' | 'female';
  smile: boolean;
  glasses: boolean;
}

export interface AttributesOutput {
  /** Probability of each attribute, in {@link ATTRIBUTE_NAMES} order. */
  probabilities: number[];
  smile: boolean;
  glasses: boolean;
  male: boolean;
}

export const ATTRIBUTE_NAMES = ['smile', 'glasses', 'male'] as const;

function toVector(l: AttributesLabel): number[] {
  return [l.smile ? 1 : 0, l.glasses ? 1 : 0, l.gender === 'male' ? 1 : 0];
}

export function attributesTask(options: { name?: string; bnKey?: string } = {}): TaskPlugin<AttributesLabel, AttributesOutput> {
  const name = options.name ?? 'attributes';
  const A = ATTRIBUTE_NAMES.length;
  return {
    name,
    // the attributes come with MTFL's landmark images: share their batch-norm statistics
    bnKey: options.bnKey ?? 'landmarks',
    decodeFrom: { path: 'down', downsample: 'deepest' },
    config: { attributes: [...ATTRIBUTE_NAMES] },
    build(ctx: BuildContext): TaskHead {
      const [s, , c] = ctx.featureShape;
      const bn = ctx.batchNorm(ctx.decoder, 'bn', c);
      const hidden = new Dense(ctx.decoder, 'fc', { inUnits: c, outUnits: 32, init: 'he' });
      const logits = new Dense(ctx.decoder, 'logits', { inUnits: 32, outUnits: A });
      const encoder = new Dense(ctx.reencoder, 'fc', { inUnits: A, outUnits: 4, init: 'he' });
      return {
        decode: (f, fctx) => {
          // global average pooling, then two dense layers
          const pooled = tf.mean(tf.relu(bn.apply(f, fctx)), [1, 2]) as tf.Tensor2D;
          return logits.apply(tf.relu(hidden.apply(pooled)));
        },
        activate: (raw) => tf.sigmoid(raw),
        reencode: (p) => tileToSizes(tf.relu(encoder.apply(p as tf.Tensor2D)), ctx.pyramidSizes),
        pyramidChannels: ctx.pyramidSizes.map(() => 4),
        toMap: (p) => tf.reshape(p, [p.shape[0], 1, 1, A]) as tf.Tensor4D,
        mapChannels: A,
        prior: (b) => tf.fill([b, A], 0.5),
        cost: { decoder: s * s * c + hidden.macs + logits.macs, reencoder: encoder.macs },
      };
    },

    encodeTargets(labels) {
      const b = labels.length;
      const t = new Float32Array(b * A);
      const mask = new Float32Array(b);
      labels.forEach((l, i) => {
        if (!l) return;
        t.set(toVector(l), i * A);
        mask[i] = 1;
      });
      return { target: tf.tensor2d(t, [b, A]), mask: tf.tensor1d(mask) };
    },

    loss(raw, target, mask) {
      return tf.tidy(() => {
        // numerically stable binary cross-entropy on logits: max(x,0) - x*z + log(1 + exp(-|x|))
        const x = raw;
        const perAttr = tf.add(tf.sub(tf.relu(x), tf.mul(x, target)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
        return maskedMean(tf.mean(perAttr, 1) as tf.Tensor1D, mask);
      });
    },

    async decodeOutput(prediction) {
      const rows = (await prediction.array()) as number[][];
      return rows.map((p) => ({ probabilities: p, smile: p[0] > 0.5, glasses: p[1] > 0.5, male: p[2] > 0.5 }));
    },

    // a crop, a resize or a mirror does not change whether a face smiles
    transformLabel: (label) => label,
    // nor does it in a mirror image's prediction: test-time mirroring (`mirror: true`) has nothing to turn back
    mirrorPrediction: (prediction) => prediction,

    createMetric(): MetricAccumulator<AttributesLabel, AttributesOutput> {
      let correct = new Array<number>(A).fill(0);
      let squared = 0;
      let n = 0;
      return {
        update(outputs, labels) {
          outputs.forEach((o, i) => {
            const truth = toVector(labels[i]);
            [o.smile, o.glasses, o.male].forEach((v, k) => {
              if ((v ? 1 : 0) === truth[k]) correct[k]++;
            });
            o.probabilities.forEach((p, k) => (squared += (p - truth[k]) ** 2));
            n++;
          });
        },
        report() {
          const acc = correct.map((c) => (n ? c / n : NaN));
          const mean = acc.reduce((a, v) => a + v, 0) / A;
          return {
            primary: { name: 'meanAccuracy', value: mean, higherIsBetter: true },
            values: { meanAccuracy: mean, brier: n ? squared / (n * A) : NaN, accuracy: Object.fromEntries(ATTRIBUTE_NAMES.map((a, k) => [a, acc[k]])), images: n },
          };
        },
        reset() {
          correct = new Array<number>(A).fill(0);
          squared = 0;
          n = 0;
        },
      };
    },

    visualize(image: RawImage, output: AttributesOutput): RawImage {
      // three squares in the top-left corner: green where the attribute is predicted present
      const out = { ...image, data: new Uint8Array(image.data) };
      const side = Math.max(2, Math.round(image.width / 16));
      [output.smile, output.glasses, output.male].forEach((on, k) => {
        for (let y = 1; y < 1 + side && y < image.height; y++) {
          for (let x = 1 + k * (side + 1); x < 1 + k * (side + 1) + side && x < image.width; x++) {
            out.data.set(on ? [40, 220, 40] : [60, 60, 60], (y * image.width + x) * 3);
          }
        }
      });
      return out;
    },
  };
}

export type { LoadOptions };
