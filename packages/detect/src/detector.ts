/**
 * The face detector: BlazeFace on any image size. Browser-safe: the model comes from a URL, a tfjs
 * `IOHandler` or an already loaded `GraphModel` (`@ifan/detect/node` reads the installed files).
 */
import { faceBoxFromKeypoints } from '@ifan/core';
import * as tfconv from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import { BLAZEFACE_INPUT, blazefaceAnchors, decodeBlazeface, REGRESSION_SIZE, weightedNms, type RawDetection } from './blazeface';
import type { DetectedFace, DetectOptions, Detector, DetectorInput, Point } from './types';

/** Where the BlazeFace graph model comes from. */
export type ModelSource = string | tf.io.IOHandler | tfconv.GraphModel;

export interface DetectorOptions {
  /**
   * The BlazeFace graph model (`@vladmandic/human`'s `models/blazeface.json`): its URL, a tfjs
   * `IOHandler` (e.g. `tf.io.fromMemory`, `tf.io.browserFiles`) or a loaded `GraphModel` (then the
   * detector's `dispose()` leaves it to you). Required here; `@ifan/detect/node` defaults to the
   * installed files.
   */
  model?: ModelSource;
  /** Faces scoring below this are dropped. Default 0.5. */
  minScore?: number;
  /** Overlap (IoU) above which two candidates are one face. Default 0.3 (MediaPipe's). */
  iouThreshold?: number;
  /** At most this many faces per image, best first. Default 20. */
  maxFaces?: number;
}

export const DEFAULT_DETECTOR_OPTIONS = { minScore: 0.5, iouThreshold: 0.3, maxFaces: 20 } as const;

/** Loads BlazeFace from a {@link ModelSource}; checks that it is the 256 px model with 896 anchors. */
export async function loadBlazeface(source: ModelSource): Promise<tfconv.GraphModel> {
  const model = source instanceof tfconv.GraphModel ? source : await tfconv.loadGraphModel(source);
  const shape = model.inputs[0]?.shape;
  if (!shape || shape.length !== 4 || shape[1] !== BLAZEFACE_INPUT || shape[2] !== BLAZEFACE_INPUT || shape[3] !== 3) {
    throw new Error(`@ifan/detect: the model's input is [${shape?.join(', ')}], expected BlazeFace's [1, ${BLAZEFACE_INPUT}, ${BLAZEFACE_INPUT}, 3] (models/blazeface.json of @vladmandic/human)`);
  }
  return model;
}

/**
 * Creates a face detector. In the browser pass `model` (a URL of `blazeface.json`, an `IOHandler` or a
 * `GraphModel`); in Node, `createDetector` of `@ifan/detect/node` reads the installed weights.
 * A tfjs backend must be active (e.g. `@ifan/core`'s `selectBackend()`).
 */
export async function createDetector(options: DetectorOptions = {}): Promise<Detector> {
  if (options.model === undefined) {
    throw new Error(
      "createDetector: pass `model` (the URL of @vladmandic/human's models/blazeface.json, a tfjs IOHandler or a loaded GraphModel); in Node, import createDetector from '@ifan/detect/node', which reads the installed files",
    );
  }
  const defaults = checkOptions({ ...DEFAULT_DETECTOR_OPTIONS, ...stripUndefined(options) }, 'createDetector');
  const ownsModel = !(options.model instanceof tfconv.GraphModel);
  const model = await loadBlazeface(options.model);
  const anchors = blazefaceAnchors();
  let disposed = false;

  return {
    inputSize: BLAZEFACE_INPUT,
    async detect(image: DetectorInput, opts: DetectOptions = {}): Promise<DetectedFace[]> {
      if (disposed) throw new Error('detect: this detector was disposed');
      const { minScore, maxFaces, iouThreshold } = checkOptions({ ...defaults, ...stripUndefined(opts) }, 'detect');
      const { width, height } = imageSize(image);
      const { input, toImage } = letterbox(image, width, height);
      let outputs: tf.Tensor[] = [];
      try {
        const result = model.execute(input);
        outputs = Array.isArray(result) ? result : [result];
        const { logits, regressions } = await readOutputs(outputs, anchors.length / 2);
        const raw = weightedNms(decodeBlazeface(logits, regressions, anchors, minScore), iouThreshold, maxFaces);
        return raw.map((d) => toFace(d, toImage));
      } finally {
        input.dispose();
        tf.dispose(outputs);
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (ownsModel) model.dispose();
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkOptions<T extends { minScore: number; iouThreshold: number; maxFaces: number }>(o: T, where: string): T {
  if (!(o.minScore >= 0 && o.minScore <= 1)) throw new Error(`${where}: minScore must be in [0, 1], got ${o.minScore}`);
  if (!(o.iouThreshold >= 0 && o.iouThreshold <= 1)) throw new Error(`${where}: iouThreshold must be in [0, 1], got ${o.iouThreshold}`);
  if (!(Number.isInteger(o.maxFaces) && o.maxFaces >= 0)) throw new Error(`${where}: maxFaces must be a whole number >= 0, got ${o.maxFaces}`);
  return o;
}

const EXPECTED =
  'a RawImage ({ width, height, channels: 3, data: Uint8Array of width * height * 3 bytes }) or a [height, width, 3] tensor of 0..255 values';

function describe(x: unknown): string {
  if (x instanceof tf.Tensor) return `a ${x.dtype} tensor of shape [${x.shape.join(', ')}]`;
  if (x === null || typeof x !== 'object') return String(x);
  const o = x as Record<string, unknown>;
  const len = (o.data as { length?: number } | undefined)?.length;
  return `{ width: ${String(o.width)}, height: ${String(o.height)}, channels: ${String(o.channels)}, data: ${o.data === undefined ? 'missing' : `${(o.data as object).constructor?.name ?? typeof o.data} of ${len} values`} }`;
}

/** The image's size; throws a message that says what was expected and what came. */
function imageSize(image: DetectorInput): { width: number; height: number } {
  if (image instanceof tf.Tensor) {
    if (image.isDisposed) throw new Error('detect: the image tensor was already disposed');
    const [h, w, c] = image.shape;
    if (image.rank !== 3 || c !== 3 || !(h > 0 && w > 0) || (image.dtype !== 'float32' && image.dtype !== 'int32')) {
      throw new Error(`detect: expected ${EXPECTED}, got ${describe(image)}`);
    }
    return { width: w, height: h };
  }
  const o = image as unknown as Record<string, unknown> | null;
  const ok =
    o !== null &&
    typeof o === 'object' &&
    Number.isInteger(o.width) &&
    Number.isInteger(o.height) &&
    (o.width as number) > 0 &&
    (o.height as number) > 0 &&
    (o.channels === undefined || o.channels === 3) &&
    (o.data instanceof Uint8Array || o.data instanceof Uint8ClampedArray) &&
    o.data.length === (o.width as number) * (o.height as number) * 3;
  if (!ok) throw new Error(`detect: expected ${EXPECTED}, got ${describe(image)}`);
  return { width: image.width, height: image.height };
}

/**
 * The model input: the image shrunk by a whole factor with an average pool when it is more than twice
 * the input size (so that the bilinear resize does not alias), padded to a centred square with black,
 * resized to 256 x 256 and scaled to [-1, 1]. Also returns the map from input pixels back to image pixels.
 */
function letterbox(image: DetectorInput, width: number, height: number): { input: tf.Tensor4D; toImage: (x: number, y: number) => Point } {
  const S = BLAZEFACE_INPUT;
  const factor = Math.max(1, Math.floor(Math.max(width, height) / S));
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const side = Math.max(w, h);
  const padX = Math.floor((side - w) / 2);
  const padY = Math.floor((side - h) / 2);
  const input = tf.tidy(() => {
    let x: tf.Tensor3D;
    if (image instanceof tf.Tensor) {
      x = tf.cast(image, 'float32');
      if (factor > 1) x = tf.avgPool(x, factor, factor, 'valid');
    } else {
      x = tf.tensor3d(factor > 1 ? poolBytes(image.data, width, factor, w, h) : Float32Array.from(image.data), [h, w, 3], 'float32');
    }
    if (side !== w || side !== h) x = tf.pad(x, [[padY, side - h - padY], [padX, side - w - padX], [0, 0]]);
    const resized = side === S ? x : tf.image.resizeBilinear(x, [S, S], false, true);
    return tf.expandDims(tf.sub(tf.div(resized, 127.5), 1), 0) as tf.Tensor4D;
  });
  const k = side / S;
  return { input, toImage: (u, v) => [(u * k - padX) * factor, (v * k - padY) * factor] };
}

/**
 * The mean of each `factor` x `factor` block of RGB bytes (`w` x `h` blocks from the top left), as
 * floats: the average pool of the tensor path, in one pass over the bytes without an int32 copy.
 */
function poolBytes(src: Uint8Array | Uint8ClampedArray, width: number, factor: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h * 3);
  const rowSums = new Float32Array(w * 3);
  const inv = 1 / (factor * factor);
  for (let j = 0; j < h; j++) {
    rowSums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      let o = ((j * factor + dy) * width) * 3;
      for (let i = 0; i < w; i++) {
        const r = 3 * i;
        for (let dx = 0; dx < factor; dx++, o += 3) {
          rowSums[r] += src[o];
          rowSums[r + 1] += src[o + 1];
          rowSums[r + 2] += src[o + 2];
        }
      }
    }
    const base = j * w * 3;
    for (let k = 0; k < w * 3; k++) out[base + k] = rowSums[k] * inv;
  }
  return out;
}

/** Logits and regressions of the 896 anchors from the model's outputs (4 tensors, or 1 of [1, 896, 17]). */
async function readOutputs(outputs: tf.Tensor[], n: number): Promise<{ logits: Float32Array; regressions: Float32Array }> {
  if (outputs.length === 1 && outputs[0].size === n * (REGRESSION_SIZE + 1)) {
    const all = (await outputs[0].data()) as Float32Array;
    const logits = new Float32Array(n);
    const regressions = new Float32Array(n * REGRESSION_SIZE);
    for (let i = 0; i < n; i++) {
      logits[i] = all[i * 17];
      regressions.set(all.subarray(i * 17 + 1, i * 17 + 17), i * REGRESSION_SIZE);
    }
    return { logits, regressions };
  }
  // MediaPipe's two heads: 16 x 16 cells x 2 anchors (512) first, then 8 x 8 x 6 (384).
  const bySize = (size: number) => {
    const t = outputs.find((o) => o.size === size);
    if (!t) throw new Error(`@ifan/detect: the model gave outputs of sizes [${outputs.map((o) => o.size).join(', ')}], not BlazeFace's`);
    return t;
  };
  const [l512, l384, r512, r384] = await Promise.all([512, 384, 512 * REGRESSION_SIZE, 384 * REGRESSION_SIZE].map((s) => bySize(s).data()));
  if (n !== 896) throw new Error(`@ifan/detect: ${n} anchors, expected 896`);
  const logits = new Float32Array(n);
  logits.set(l512 as Float32Array, 0);
  logits.set(l384 as Float32Array, 512);
  const regressions = new Float32Array(n * REGRESSION_SIZE);
  regressions.set(r512 as Float32Array, 0);
  regressions.set(r384 as Float32Array, 512 * REGRESSION_SIZE);
  return { logits, regressions };
}

function toFace(d: RawDetection, toImage: (x: number, y: number) => Point): DetectedFace {
  const p = (k: number) => toImage(d.points[2 * k], d.points[2 * k + 1]);
  const [x0, y0] = toImage(d.cx - d.w / 2, d.cy - d.h / 2);
  const [x1, y1] = toImage(d.cx + d.w / 2, d.cy + d.h / 2);
  // MediaPipe's order is the subject's right eye, left eye, nose, mouth, right ear, left ear: in an
  // unmirrored photo the subject's right eye is on the image's left.
  const keypoints = { leftEye: p(0), rightEye: p(1), nose: p(2), mouth: p(3), leftEar: p(4), rightEar: p(5) };
  return {
    box: [x0, y0, x1 - x0, y1 - y0],
    score: d.score,
    keypoints,
    framingBox: faceBoxFromKeypoints(keypoints.leftEye, keypoints.rightEye, keypoints.mouth),
    roll: Math.atan2(keypoints.rightEye[1] - keypoints.leftEye[1], keypoints.rightEye[0] - keypoints.leftEye[0]),
  };
}
