/**
 * Samples -> network batches: load, face crop (core's `faceCrop`, the one crop of training, evaluation
 * and prediction), optional augmentation, labels moved with the image by each plugin's
 * `transformLabel`, pixels to floats in [0, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  augmentTransform,
  colorJitter,
  faceCrop,
  prepareSample,
  type LabelledImage,
  type LabelTransform,
  type RandomSource,
  type Sample,
  type TaskPlugin,
} from '@ifan/core';
import type { AugmentConfig, CropConfig } from './types';

/** A batch at network resolution, without tensors (so a prefetched batch cannot leak any). */
export interface Batch {
  ids: string[];
  size: number;
  /** `[size, S, S, 3]` floats in [0, 1]. */
  images: Float32Array;
  /** Per task: each sample's label in network-input coordinates, `undefined` where it has none. */
  labels: Record<string, unknown[]>;
  /** Original image -> network input, per sample (to map outputs back with `decodeOutput`). */
  transforms: LabelTransform[];
  /** The samples as loaded (original images and labels), when asked for. */
  originals?: LabelledImage[];
}

export interface BatchOptions {
  inputSize: number;
  crop: CropConfig;
  /** Plugins of the tasks whose labels the batch carries. */
  plugins: readonly TaskPlugin[];
  /** Augmentation and the random source it draws from (training only). */
  augment?: { config: AugmentConfig; rng: RandomSource };
  keepOriginals?: boolean;
}

/**
 * Loads and prepares `samples` as one batch. Augmentation draws from `augment.rng` sample by sample, in
 * order. A failure is rethrown naming the sample (its id is added to the message when absent).
 */
export async function loadBatch(samples: readonly Sample[], opts: BatchOptions): Promise<Batch> {
  const loaded = await Promise.all(
    samples.map(async (s) => {
      try {
        return await s.load();
      } catch (e) {
        throw namingSample(e, s.id);
      }
    }),
  );
  const S = opts.inputSize;
  const n = S * S * 3;
  const images = new Float32Array(samples.length * n);
  const labels: Record<string, unknown[]> = Object.fromEntries(opts.plugins.map((p) => [p.name, []]));
  const transforms: LabelTransform[] = [];
  const aug = opts.augment;
  for (const [i, li] of loaded.entries()) {
    try {
      let t = faceCrop([li.image.width, li.image.height], li.faceBox, { size: S, margin: opts.crop.margin });
      if (aug && aug.config.geometry) t = augmentTransform(t, aug.rng, aug.config.geometry);
      const prepared = prepareSample(li, t, opts.plugins);
      const image = aug && aug.config.color ? colorJitter(prepared.image, aug.rng, aug.config.color) : prepared.image;
      const px = image.data;
      const base = i * n;
      for (let k = 0; k < n; k++) images[base + k] = px[k] / 255;
      for (const p of opts.plugins) labels[p.name].push(prepared.labels[p.name]);
      transforms.push(t);
    } catch (e) {
      throw namingSample(e, samples[i].id);
    }
  }
  return {
    ids: samples.map((s) => s.id),
    size: samples.length,
    images,
    labels,
    transforms,
    ...(opts.keepOriginals ? { originals: loaded } : {}),
  };
}

/** `e` with the sample's id in its message (the same error object, so its class and fields stay). */
function namingSample(e: unknown, id: string): Error {
  if (!(e instanceof Error)) return new Error(`sample ${id}: ${String(e)}`);
  if (!e.message.includes(id)) {
    // (V8 formats the stack when first read: read it before the message changes)
    const stack = e.stack;
    const head = `${e.name}: ${e.message}`;
    e.message = `${e.message} (sample ${id})`;
    if (typeof stack === 'string' && stack.startsWith(head)) e.stack = `${e.name}: ${e.message}${stack.slice(head.length)}`;
  }
  return e;
}

/** The batch's images as a `[b, S, S, 3]` tensor. */
export function imageTensor(batch: Batch, inputSize: number): tf.Tensor4D {
  return tf.tensor4d(batch.images, [batch.size, inputSize, inputSize, 3]);
}

/** Targets and masks of the given tasks (`encodeTargets`; samples without a label get mask 0). */
export function targetTensors(
  batch: Batch,
  plugins: readonly TaskPlugin[],
  inputSize: number,
): Record<string, { target: tf.Tensor; mask: tf.Tensor1D }> {
  const out: Record<string, { target: tf.Tensor; mask: tf.Tensor1D }> = {};
  try {
    for (const p of plugins) out[p.name] = p.encodeTargets(batch.labels[p.name] as never[], inputSize);
  } catch (e) {
    disposeTargets(out);
    throw e;
  }
  return out;
}

export function disposeTargets(targets: Record<string, { target: tf.Tensor; mask: tf.Tensor1D }>): void {
  for (const t of Object.values(targets)) tf.dispose([t.target, t.mask]);
}
