/**
 * A shipped model's outputs on the committed fixture faces: recorded next to the model when it is added
 * (`scripts/add-model.ts`) and compared by the tests, so a shipped model that loads but predicts
 * something else fails.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { faceBoxFromKeypoints, frameFace, warpImage, type IntegratedNetwork } from '@ifan/core';
import { decodeImage } from '@ifan/core/node';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Per face (fixture order): each task's output in a comparable form. */
export interface RecordedOutputs {
  faces: { image: string; landmarks?: [number, number][]; emotion?: number[]; parsingHistogram?: number[] }[];
}

type Point = [number, number];

export async function recordOutputs(net: IntegratedNetwork): Promise<RecordedOutputs> {
  const boxes = JSON.parse(readFileSync(join(FIXTURES, 'fixtures.json'), 'utf8')) as Record<string, { leftEye: Point; rightEye: Point; mouth: Point }[]>;
  const faces: RecordedOutputs['faces'] = [];
  const S = net.inputSize;
  for (const [file, truth] of Object.entries(boxes)) {
    const image = await decodeImage(join(FIXTURES, file));
    for (const t of truth) {
      const box = faceBoxFromKeypoints(t.leftEye, t.rightEye, t.mouth);
      const crop = warpImage(image, frameFace([image.width, image.height], box, { size: S, framing: net.framing }).affine, S, S);
      const x = tf.tidy(() => tf.div(tf.tensor4d(crop.data, [1, S, S, 3], 'float32'), 255) as tf.Tensor4D);
      // each task read with its own batch-norm key, as the trainer's prediction does
      const byKey = new Map<string, Record<string, unknown[]>>();
      for (const key of net.bnKeys) byKey.set(key, await net.predict(x, { bnKey: key }));
      x.dispose();
      const face: RecordedOutputs['faces'][number] = { image: file };
      for (const plugin of net.plugins) {
        const task = plugin.name;
        const o = byKey.get(plugin.bnKey)![task][0];
        const v = o as { points?: Point[]; probabilities?: number[]; mask?: { data: Uint8Array | number[] } };
        if (v.points) face.landmarks = v.points.map(([a, b]) => [round(a), round(b)]);
        if (v.probabilities) face.emotion = v.probabilities.map(round);
        if (v.mask) {
          const classes = (net.plugins.find((p) => p.name === task)!.config as { classes: string[] }).classes.length;
          const h = new Array<number>(classes).fill(0);
          for (const c of v.mask.data) h[c]++;
          face.parsingHistogram = h;
        }
      }
      faces.push(face);
    }
  }
  return { faces };
}

const round = (v: number) => Math.round(v * 1e5) / 1e5;
