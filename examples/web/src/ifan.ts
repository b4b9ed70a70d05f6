/**
 * The page's model and pipeline, browser-safe (only the packages' main entries) so that the Node side
 * of the browser test and `scripts/make-test-model.ts` run the very same code.
 *
 * - {@link createDemoNetwork}: the three built-in tasks on the `tiny` backbone (32 px), one batch-norm
 *   key for every task (the page trains on one data set at a time).
 * - {@link trainSteps}: a plain training loop (Adam, the network's own `computeGradients`) over
 *   labelled samples, each task's loss masked where a sample has no label for it.
 * - {@link analyzePhoto}: every face BlazeFace finds, framed as training framed faces, through the
 *   network, mapped back to the photo.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  IntegratedNetwork,
  Rng,
  faceCrop,
  prepareSample,
  type LabelledImage,
  type LabelTransform,
  type NetworkConfig,
  type RawImage,
  type Sample,
  type TaskPlugin,
} from '@ifan/core';
import { cropFaces, type DetectedFace } from '@ifan/detect';
import { syntheticDataset } from '@ifan/synthetic';
import { emotionTask, type EmotionOutput } from '@ifan/task-emotion';
import { landmarkTask, type LandmarkOutput } from '@ifan/task-landmarks';
import { parsingTask, HELEN_11, type ParsingOutput } from '@ifan/task-parsing';

/** The one batch-norm key of the page's network. */
export const BN_KEY = 'faces';
export const DEMO_NETWORK: Partial<NetworkConfig> = { backbone: 'tiny', iterations: 1, seed: 7 };

export function demoPlugins(): TaskPlugin[] {
  return [
    parsingTask({ bnKey: BN_KEY }),
    landmarkTask({ bnKey: BN_KEY, hiddenUnits: 32 }),
    emotionTask({ bnKey: BN_KEY, hiddenUnits: 32 }),
  ] as TaskPlugin[];
}

export function createDemoNetwork(): IntegratedNetwork {
  return new IntegratedNetwork(demoPlugins(), DEMO_NETWORK);
}

/** Synthetic faces labelled for all three tasks (the page's training data when no model is shipped). */
export function syntheticSamples(count: number, seed: number): Sample[] {
  return syntheticDataset({ count, seed, size: 64, tasks: ['parsing', 'landmarks', 'emotion'] }).samples;
}

export interface TrainOptions {
  steps: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  /** Called after every step with the total loss and each task's (summed over iterations). */
  onStep?: (step: number, total: number, losses: Record<string, number>) => void | Promise<void>;
  /** Stops between steps. */
  signal?: AbortSignal;
}

/** An optimiser per network, kept across calls so that fine-tuning continues its moments. */
const optimizers = new WeakMap<IntegratedNetwork, tf.Optimizer>();

/**
 * Trains `net` on `samples` (each labelled for any subset of the tasks): batches drawn with a seeded
 * generator, cropped by each sample's face box as prediction crops detected faces, Adam. Returns the
 * last step's total loss.
 */
export async function trainSteps(net: IntegratedNetwork, samples: readonly Sample[], options: TrainOptions): Promise<number> {
  const { steps, batchSize = 12, learningRate = 3e-3, seed = 1 } = options;
  if (samples.length === 0) throw new Error('no samples to train on');
  const loaded: LabelledImage[] = await Promise.all(samples.map((s) => s.load()));
  const S = net.inputSize;
  const rng = new Rng(seed);
  let opt = optimizers.get(net);
  if (!opt) {
    opt = tf.train.adam(learningRate);
    optimizers.set(net, opt);
  }
  const names = net.plugins.map((p) => p.name);
  const variables = net.variables({ backbone: true, bnKey: BN_KEY, decoders: names, reencoders: names });
  let last = NaN;
  for (let step = 0; step < steps; step++) {
    if (options.signal?.aborted) break;
    const pick = Array.from({ length: Math.min(batchSize, loaded.length) }, () => loaded[Math.floor(rng.next() * loaded.length)]);
    const images = new Float32Array(pick.length * S * S * 3);
    const labels: Record<string, unknown[]> = Object.fromEntries(names.map((n) => [n, []]));
    pick.forEach((li, i) => {
      const t = faceCrop([li.image.width, li.image.height], li.faceBox, { size: S, margin: net.framing.margin });
      const prepared = prepareSample(li, t, net.plugins);
      const px = prepared.image.data;
      for (let k = 0; k < px.length; k++) images[i * S * S * 3 + k] = px[k] / 255;
      for (const n of names) labels[n].push(prepared.labels[n]);
    });
    const x = tf.tensor4d(images, [pick.length, S, S, 3]);
    const targets: Record<string, { target: tf.Tensor; mask: tf.Tensor1D }> = {};
    for (const p of net.plugins) if (labels[p.name].some((l) => l !== undefined)) targets[p.name] = p.encodeTargets(labels[p.name] as never[], S);
    try {
      const { grads, total, losses } = net.computeGradients(x, targets, { bnKey: BN_KEY, training: true, variables });
      if (Number.isFinite(total)) opt.applyGradients(grads);
      tf.dispose(Object.values(grads));
      last = total;
      const perTask = Object.fromEntries(Object.entries(losses).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)]));
      await options.onStep?.(step, total, perTask);
    } finally {
      x.dispose();
      for (const t of Object.values(targets)) tf.dispose([t.target, t.mask]);
    }
  }
  return last;
}

/** What a detector gives (the page's `@ifan/detect` detector). */
export interface DetectorLike {
  detect(image: RawImage, options?: { minScore?: number; maxFaces?: number }): Promise<DetectedFace[]>;
}

export interface FaceAnalysis {
  box: [number, number, number, number];
  framingBox: [number, number, number, number];
  score: number;
  landmarks: [number, number][];
  emotion: { className: string; classIndex: number; probabilities: number[] };
  /** Predicted class per pixel of the photo inside the framing box's crop (0 outside it), photo size. */
  parsing: ParsingOutput['mask'];
  /** Pixels of each parsing class in the photo, for the numbers the page shows. */
  parsingCounts: number[];
}

/** Every face of `photo`: detection, the training crop, the network, results mapped back to the photo. */
export async function analyzePhoto(net: IntegratedNetwork, detector: DetectorLike, photo: RawImage): Promise<FaceAnalysis[]> {
  const faces = await detector.detect(photo, { minScore: 0.5, maxFaces: 10 });
  if (faces.length === 0) return [];
  const S = net.inputSize;
  const { images, transforms } = cropFaces(photo, faces, { size: S, framing: net.framing, align: false });
  const data = new Float32Array(images.length * S * S * 3);
  images.forEach((im, i) => {
    for (let k = 0; k < S * S * 3; k++) data[i * S * S * 3 + k] = im.data[k] / 255;
  });
  const outputs = await predictCrops(net, data, images.length, transforms);
  return faces.map((f, i) => {
    const parsing = (outputs.parsing[i] as ParsingOutput).mask;
    const counts = new Array<number>(HELEN_11.classes.length).fill(0);
    for (let k = 0; k < parsing.data.length; k++) counts[parsing.data[k]]++;
    const emotion = outputs.emotion[i] as EmotionOutput;
    return {
      box: f.box,
      framingBox: f.framingBox,
      score: f.score,
      landmarks: (outputs.landmarks[i] as LandmarkOutput).points,
      emotion: { className: emotion.className, classIndex: emotion.classIndex, probabilities: emotion.probabilities },
      parsing,
      parsingCounts: counts,
    };
  });
}

/** The network's decoded outputs for `b` crops (`[b, S, S, 3]` floats), mapped back through `transforms`. */
export async function predictCrops(net: IntegratedNetwork, crops: Float32Array, b: number, transforms: LabelTransform[]): Promise<Record<string, unknown[]>> {
  const S = net.inputSize;
  const it = DEMO_NETWORK.iterations ?? 1;
  const preds = tf.tidy(() => {
    const x = tf.tensor4d(crops, [b, S, S, 3]);
    return net.forward(x, net.context({ bnKey: BN_KEY, training: false }), it).predictions[it];
  });
  try {
    const out: Record<string, unknown[]> = {};
    for (const p of net.plugins) out[p.name] = await p.decodeOutput(preds[p.name], S, transforms);
    return out;
  } finally {
    tf.dispose(Object.values(preds));
  }
}

/** The numbers the page shows for a face (and the browser test compares with Node's). */
export function faceNumbers(f: FaceAnalysis) {
  return {
    score: f.score,
    box: f.box,
    landmarks: f.landmarks,
    emotion: f.emotion.className,
    probabilities: f.emotion.probabilities,
    parsingCounts: f.parsingCounts,
  };
}
