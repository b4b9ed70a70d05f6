/**
 * face-api.js's Tiny Face Detector (`@vladmandic/face-api`'s `model/tiny_face_detector_model`, MIT),
 * re-implemented on tfjs-core ops from face-api's `TinyYolov2Base` / `TinyFaceDetector` sources, for
 * the detector comparison in `detect-candidates.ts` only (the product uses BlazeFace). Boxes only: this
 * model has no keypoints (face-api adds a 68-point landmark net for them).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RawImage } from '@ifan/core';
import * as tf from '@tensorflow/tfjs-core';

const ANCHORS = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];
const MEAN_RGB = [117.001, 114.697, 97.404];

export interface TinyFace {
  box: [number, number, number, number];
  score: number;
}

function faceApiDir(): string {
  const entry = createRequire(import.meta.url).resolve('@vladmandic/face-api');
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === '@vladmandic/face-api') return dir;
    } catch {
      /* keep looking */
    }
  }
  throw new Error('@vladmandic/face-api not found');
}

export function loadTinyFaceDetector(): { detect(image: RawImage, inputSize: number, minScore?: number): Promise<TinyFace[]>; dispose(): void } {
  const dir = join(faceApiDir(), 'model');
  const manifest = JSON.parse(readFileSync(join(dir, 'tiny_face_detector_model-weights_manifest.json'), 'utf8')) as tf.io.WeightsManifestConfig;
  const bin = readFileSync(join(dir, manifest[0].paths[0]));
  const w = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest.flatMap((g) => g.weights));
  const leaky = (x: tf.Tensor4D) => {
    const m = tf.mul(x, 0.10000000149011612);
    return tf.add(tf.relu(tf.sub(x, m)), m) as tf.Tensor4D;
  };
  const sep = (x: tf.Tensor4D, name: string) =>
    leaky(
      tf.add(
        tf.separableConv2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), w[`${name}/depthwise_filter`] as tf.Tensor4D, w[`${name}/pointwise_filter`] as tf.Tensor4D, 1, 'valid'),
        w[`${name}/bias`],
      ) as tf.Tensor4D,
    );
  const pool = (x: tf.Tensor4D, s: 1 | 2) => tf.maxPool(x, 2, s, 'same');
  return {
    async detect(image, inputSize, minScore = 0.5) {
      const side = Math.max(image.width, image.height);
      const out = tf.tidy(() => {
        let x = tf.cast(tf.tensor3d(image.data, [image.height, image.width, 3], 'int32'), 'float32');
        // face-api pads at the bottom / right to a square, then resizes without half-pixel centres
        x = tf.pad(x, [[0, side - image.height], [0, side - image.width], [0, 0]]);
        let b = tf.expandDims(tf.image.resizeBilinear(x, [inputSize, inputSize], false, false), 0) as tf.Tensor4D;
        b = tf.div(tf.sub(b, tf.tensor1d(MEAN_RGB)), 255);
        let o = leaky(tf.add(tf.conv2d(b, w['conv0/filters'] as tf.Tensor4D, 1, 'valid'), w['conv0/bias']) as tf.Tensor4D);
        for (const name of ['conv1', 'conv2', 'conv3', 'conv4']) o = sep(pool(o, 2), name);
        o = sep(pool(o, 2), 'conv5');
        o = pool(o, 1);
        return tf.add(tf.conv2d(o, w['conv8/filters'] as tf.Tensor4D, 1, 'valid'), w['conv8/bias']) as tf.Tensor4D;
      });
      const n = out.shape[1];
      const data = (await out.data()) as Float32Array;
      out.dispose();
      const sig = (v: number) => 1 / (1 + Math.exp(-v));
      const cands: TinyFace[] = [];
      for (let row = 0; row < n; row++) {
        for (let col = 0; col < n; col++) {
          for (let a = 0; a < 5; a++) {
            const o = ((row * n + col) * 5 + a) * 5;
            const score = sig(data[o + 4]);
            if (score < minScore) continue;
            const cx = ((col + sig(data[o])) / n) * side;
            const cy = ((row + sig(data[o + 1])) / n) * side;
            const bw = ((Math.exp(data[o + 2]) * ANCHORS[a][0]) / n) * side;
            const bh = ((Math.exp(data[o + 3]) * ANCHORS[a][1]) / n) * side;
            cands.push({ box: [cx - bw / 2, cy - bh / 2, bw, bh], score });
          }
        }
      }
      cands.sort((p, q) => q.score - p.score);
      const kept: TinyFace[] = [];
      for (const c of cands) if (kept.every((k) => boxIou(k.box, c.box) <= 0.4)) kept.push(c);
      return kept;
    },
    dispose() {
      tf.dispose(Object.values(w));
    },
  };
}

export function boxIou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const iy = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (ix <= 0 || iy <= 0) return 0;
  return (ix * iy) / (a[2] * a[3] + b[2] * b[3] - ix * iy);
}
