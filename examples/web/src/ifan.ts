/**
 * The page's model and pipeline, browser-safe (only the packages' main entries) so that the Node side
 * of the browser test and `scripts/make-test-model.ts` run the very same code.
 *
 * - {@link loadModel}: a saved iFAN model (the shipped `ifan-3t` of `@ifan/models`, a URL, or the one
 *   kept in IndexedDB), its task plugins made from the recipes in its model.json.
 * - {@link createDemoNetwork}: the three built-in tasks on the `tiny` backbone (32 px), one batch-norm
 *   key for every task, for training from scratch in the page (`?model=train`) and the test model.
 * - {@link trainSteps}: a plain training loop (Adam, the network's own `computeGradients`) over
 *   labelled samples, each task under its own batch-norm key, its loss masked where a sample has no
 *   label for it.
 * - {@link analyzePhoto}: every face BlazeFace finds, framed as the model's training framed faces,
 *   through the network (optionally mirrored too), mapped back to the photo.
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
import { loadPretrainedFrom } from '@ifan/models';
import { parsingLabelSet, parsingTask, HELEN_11, PARSING_LABEL_SETS, type ParsingLabelSet, type ParsingOutput } from '@ifan/task-parsing';

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

/**
 * A saved iFAN model from a URL (`http(s)://`, `indexeddb://`, Node's `file://`), its plugins made from
 * the recipes in its model.json (the built-in tasks' browser-safe factories).
 */
export async function loadModel(url: string): Promise<IntegratedNetwork> {
  const handler = tf.io.getLoadHandlers(url)[0];
  if (!handler) throw new Error(`no way to load a model from ${url}`);
  return (await loadPretrainedFrom(handler, url)).net;
}

/** The label set of the network's parsing task (a built-in one by name, else made from its classes). */
export function parsingSet(net: IntegratedNetwork): ParsingLabelSet {
  const config = net.plugins.find((p) => p.name === 'parsing')?.config as { labelSet?: string; classes?: string[] } | undefined;
  if (!config) return HELEN_11;
  return PARSING_LABEL_SETS[config.labelSet ?? ''] ?? (config.classes ? parsingLabelSet(config.classes, { name: config.labelSet }) : HELEN_11);
}

/**
 * The tasks the page's synthetic faces can train in `net`: all but a parsing task whose label set is not
 * the synthetic faces' (Helen's 11 classes), e.g. `ifan-3t`'s CelebAMask-HQ 19.
 */
export function syntheticTasks(net: IntegratedNetwork): string[] {
  return net.plugins.filter((p) => p.name !== 'parsing' || parsingSet(net).name === HELEN_11.name).map((p) => p.name);
}

/** Synthetic faces labelled for all three tasks (Helen's 11 parsing classes, 5 points, 7 expressions). */
export function syntheticSamples(count: number, seed: number): Sample[] {
  return syntheticDataset({ count, seed, size: 64, tasks: ['parsing', 'landmarks', 'emotion'] }).samples;
}

export interface TrainOptions {
  steps: number;
  /** The tasks trained (default every task of the network); labels of the others are ignored. */
  tasks?: readonly string[];
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
  const names = options.tasks ? [...options.tasks] : net.plugins.map((p) => p.name);
  // each task trains under its own batch-norm key (a shipped model has one per data set): one gradient
  // step per key, with the decoders and re-encoders of that key's tasks
  const keys = [...new Set(names.map((n) => net.plugin(n).bnKey))];
  const groups = keys.map((bnKey) => {
    const tasks = names.filter((n) => net.plugin(n).bnKey === bnKey);
    return { bnKey, tasks, variables: net.variables({ backbone: true, bnKey, decoders: tasks, reencoders: tasks }) };
  });
  let last = NaN;
  for (let step = 0; step < steps; step++) {
    if (options.signal?.aborted) break;
    const pick = Array.from({ length: Math.min(batchSize, loaded.length) }, () => loaded[Math.floor(rng.next() * loaded.length)]);
    const images = new Float32Array(pick.length * S * S * 3);
    const labels: Record<string, unknown[]> = Object.fromEntries(names.map((n) => [n, []]));
    const plugins = names.map((n) => net.plugin(n));
    pick.forEach((li, i) => {
      const t = faceCrop([li.image.width, li.image.height], li.faceBox, { size: S, margin: net.framing.margin });
      const prepared = prepareSample({ ...li, labels: Object.fromEntries(names.map((n) => [n, li.labels[n]])) }, t, plugins);
      const px = prepared.image.data;
      for (let k = 0; k < px.length; k++) images[i * S * S * 3 + k] = px[k] / 255;
      for (const n of names) labels[n].push(prepared.labels[n]);
    });
    const x = tf.tensor4d(images, [pick.length, S, S, 3]);
    const targets: Record<string, { target: tf.Tensor; mask: tf.Tensor1D }> = {};
    for (const n of names) if (labels[n].some((l) => l !== undefined)) targets[n] = net.plugin(n).encodeTargets(labels[n] as never[], S);
    try {
      let total = 0;
      const perTask: Record<string, number> = {};
      for (const g of groups) {
        const mine = Object.fromEntries(g.tasks.filter((t) => targets[t]).map((t) => [t, targets[t]]));
        if (Object.keys(mine).length === 0) continue;
        const r = net.computeGradients(x, mine, { bnKey: g.bnKey, training: true, variables: g.variables });
        if (Number.isFinite(r.total)) opt.applyGradients(r.grads);
        tf.dispose(Object.values(r.grads));
        total += r.total;
        for (const [k, v] of Object.entries(r.losses)) perTask[k] = v.reduce((a, b) => a + b, 0);
      }
      last = total;
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

/**
 * Every face of `photo`: detection, the training crop, the network (each task through its own batch-norm
 * key; `mirror`: test-time mirroring), results mapped back to the photo.
 */
export async function analyzePhoto(net: IntegratedNetwork, detector: DetectorLike, photo: RawImage, options: { mirror?: boolean } = {}): Promise<FaceAnalysis[]> {
  const faces = await detector.detect(photo, { minScore: 0.5, maxFaces: 10 });
  if (faces.length === 0) return [];
  const S = net.inputSize;
  const { images, transforms } = cropFaces(photo, faces, { size: S, framing: net.framing, align: false });
  const data = new Float32Array(images.length * S * S * 3);
  images.forEach((im, i) => {
    for (let k = 0; k < S * S * 3; k++) data[i * S * S * 3 + k] = im.data[k] / 255;
  });
  const outputs = await predictCrops(net, data, images.length, transforms, options.mirror);
  return faces.map((f, i) => {
    const parsed = outputs.parsing[i] as ParsingOutput;
    const parsing = parsed.mask;
    const counts = new Array<number>(parsed.classes?.length ?? parsingSet(net).classes.length).fill(0);
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
export async function predictCrops(net: IntegratedNetwork, crops: Float32Array, b: number, transforms: LabelTransform[], mirror = false): Promise<Record<string, unknown[]>> {
  const x = tf.tensor4d(crops, [b, net.inputSize, net.inputSize, 3]);
  try {
    return await net.predict(x, { transforms, mirror });
  } finally {
    x.dispose();
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
