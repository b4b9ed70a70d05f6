/**
 * Every face of a photo through the network: found by a face detector (or given as boxes), framed as
 * training framed labelled faces (core's `frameFace` of the face's framing box with the framing saved
 * in the model, optionally turned upright by the roll of its eyes), analysed in one batch, and mapped
 * back to the photo; one overlay of the whole photo with every face drawn.
 *
 * The detector is any object with `detect(image)` returning faces with a `framingBox` (what
 * `@ifan/detect` gives); nothing here imports `@ifan/detect`, so a user who brings boxes does not
 * install it. {@link loadFaceDetector} loads it on demand.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  applyAffine,
  composeAffine,
  frameFace,
  invertAffine,
  translation,
  warpImage,
  type Framing,
  type IntegratedNetwork,
  type LabelTransform,
  type RawImage,
  type SourcedTransform,
  type TaskPlugin,
} from '@ifan/core';
import { cutRect, drawLine, drawText, pasteRect, textSize, type PixelRect } from './draw';

/** `[x, y, width, height]` in photo pixels. */
export type FaceBox = [number, number, number, number];
export type FacePoint = [number, number];
/** BlazeFace's keypoint names (`@ifan/detect`); another detector may give others. */
export type FaceKeypointName = 'leftEye' | 'rightEye' | 'nose' | 'mouth' | 'leftEar' | 'rightEar';
/** Keypoints in photo pixels, by name. */
export type FaceKeypoints = Partial<Record<FaceKeypointName, FacePoint>>;

/** One face to analyse: what `@ifan/detect`'s `detect` returns, or a box of your own. */
export interface FaceInput {
  /**
   * The box the face is framed by, as training framed labelled faces (`@ifan/detect`'s `framingBox`:
   * core's `faceBoxFromKeypoints` of the eyes and mouth). The network sees the square of side
   * `max(w, h)` on its centre, grown by the model's crop margin.
   */
  framingBox: FaceBox;
  /** Roll of the eye line, radians (clockwise on screen positive); used by `align`. Default 0. */
  roll?: number;
  /** The detector's own box. Default `framingBox`. */
  box?: FaceBox;
  /** Detector confidence; none (or null) for given boxes. */
  score?: number | null;
  /** The detector's keypoints in photo pixels. */
  keypoints?: FaceKeypoints;
}

/** What {@link analyzeFaces} needs of a face detector (`@ifan/detect`'s `Detector` is one). */
export interface FaceDetectorLike {
  detect(image: RawImage, options?: { minScore?: number; maxFaces?: number }): Promise<FaceInput[]>;
}

/** A network with its task plugins (`loadModel` gives one); faces are framed by `net.framing`. */
export interface FaceModel {
  net: IntegratedNetwork;
  plugins: readonly TaskPlugin[];
}

export interface AnalyzeFacesOptions {
  model: FaceModel;
  /** Finds the faces (e.g. `await loadFaceDetector()`, or `createDetector()` of `@ifan/detect/node`). */
  detector?: FaceDetectorLike;
  /** Faces given as framing boxes `[x, y, w, h]`: detection is skipped (no detector needed). */
  boxes?: readonly FaceBox[];
  /** Detector options: faces scoring below are dropped (default the detector's, 0.5), at most `maxFaces` (default 20). */
  minScore?: number;
  maxFaces?: number;
  /**
   * Turn each face upright before the network sees it: rotate by `-roll` about its framing box's
   * centre (a similarity; the paper's aligned-face setting). Needs the detector's roll; given boxes
   * have none. Default false: the crop of training.
   */
  align?: boolean;
  /** Interaction iterations. Default the network's ITER. */
  iterations?: number;
  /**
   * Batch-norm key for every task (the data set whose statistics the photos resemble). Default each
   * task's own key, as it was trained (one pass per key).
   */
  bnKey?: string;
  /**
   * Test-time mirroring: each face is also analysed mirrored, and each task's prediction is the mean of
   * the two (`InferenceOptions.mirror`). Twice the compute. Default false.
   */
  mirror?: boolean;
  /** Draw the overlay. Default true. */
  overlay?: boolean;
  /** Faces per forward pass. Default 16 (all faces of most photos in one batch). */
  batchSize?: number;
}

export interface FaceResult {
  /** 0-based, in the detector's order (best score first) or the boxes' order. */
  index: number;
  /** The detector's box (or the given box), photo pixels. */
  box: FaceBox;
  /** Detector confidence, `null` for a given box. */
  score: number | null;
  framingBox: FaceBox;
  /** Radians; 0 for a given box. */
  roll: number;
  /** Whether the crop was turned upright by `roll`. */
  aligned: boolean;
  keypoints?: FaceKeypoints;
  /** The square the network saw: its corners in photo pixels (top left, top right, bottom right, bottom left of the crop). */
  crop: FacePoint[];
  /** Each task's decoded output in photo coordinates (label maps of the photo's size, points in its pixels). */
  outputs: Record<string, unknown>;
}

export interface FacesAnalysis {
  width: number;
  height: number;
  /** Where the faces came from. */
  source: 'detector' | 'boxes';
  /** One result per face; empty when no face was found (not an error). */
  faces: FaceResult[];
  /** The photo with every face's outputs drawn (unless `overlay: false`). */
  overlay?: RawImage;
}

/**
 * The transform from the photo to one face's network input: core's `frameFace` of `framingBox` with
 * the model's framing, after a rotation by `-roll` about the box's centre when `align` (the same
 * framing as `@ifan/detect`'s `faceTransform`).
 */
export function faceInputTransform(face: FaceInput, imageSize: readonly [number, number], size: number, framing: Partial<Framing>, align: boolean): SourcedTransform {
  return frameFace(imageSize, face.framingBox, { size, framing, roll: face.roll, align });
}

function checkImage(image: RawImage): void {
  const ok =
    image !== null &&
    typeof image === 'object' &&
    Number.isInteger(image.width) &&
    Number.isInteger(image.height) &&
    image.width > 0 &&
    image.height > 0 &&
    (image.data instanceof Uint8Array || (image.data as unknown) instanceof Uint8ClampedArray) &&
    image.data.length === image.width * image.height * 3;
  if (!ok) throw new Error('analyzeFaces: the image must be a RawImage ({ width, height, channels: 3, data: Uint8Array of width * height * 3 bytes }), e.g. from decodeImage of @ifan/core/node');
}

function checkBox(b: readonly number[], where: string): FaceBox {
  if (!Array.isArray(b) || b.length !== 4 || !b.every(Number.isFinite) || b[2] <= 0 || b[3] <= 0) {
    throw new Error(`${where}: a face box is [x, y, width, height] with positive width and height, got ${JSON.stringify(b)}`);
  }
  return [b[0], b[1], b[2], b[3]];
}

/**
 * Finds every face of `image` (or takes `boxes`), analyses all of them in one batch and maps each
 * task's output back to the photo. No face is a result with `faces: []`. Leaves no tensor behind.
 */
export async function analyzeFaces(image: RawImage, options: AnalyzeFacesOptions): Promise<FacesAnalysis> {
  checkImage(image);
  const { net, plugins } = options.model;
  const iterations = options.iterations ?? net.config.iterations;
  const align = options.align ?? false;
  const S = net.inputSize;
  let inputs: FaceInput[];
  let source: FacesAnalysis['source'];
  if (options.boxes) {
    inputs = options.boxes.map((b, i) => {
      const box = checkBox(b as number[], `analyzeFaces: boxes[${i}]`);
      return { framingBox: box, box };
    });
    source = 'boxes';
  } else if (options.detector) {
    inputs = await options.detector.detect(image, { minScore: options.minScore, maxFaces: options.maxFaces });
    source = 'detector';
  } else {
    throw new Error(
      'analyzeFaces: pass a detector (await loadFaceDetector(), or createDetector() of @ifan/detect/node) or boxes ([x, y, w, h] framing boxes, which skip detection)',
    );
  }
  const size: [number, number] = [image.width, image.height];
  const transforms = inputs.map((f) => faceInputTransform(f, size, S, net.framing, align));
  const faces: FaceResult[] = inputs.map((f, index) => {
    const back = invertAffine(transforms[index].affine);
    return {
      index,
      box: [...(f.box ?? f.framingBox)] as FaceBox,
      score: f.score ?? null,
      framingBox: [...f.framingBox] as FaceBox,
      roll: f.roll ?? 0,
      aligned: align && (f.roll ?? 0) !== 0,
      ...(f.keypoints ? { keypoints: f.keypoints } : {}),
      crop: [[0, 0], [S, 0], [S, S], [0, S]].map(([x, y]) => applyAffine(back, x, y)),
      outputs: {},
    };
  });
  const draw = options.overlay ?? true;
  const regions = faces.map((f) => regionOf(f.crop, image.width, image.height));
  // decoded in each face's region of the photo, for drawing
  const regional: Record<string, unknown>[] = faces.map(() => ({}));
  const batchSize = Math.max(1, options.batchSize ?? 16);
  for (let start = 0; start < faces.length; start += batchSize) {
    const idx = faces.slice(start, start + batchSize).map((f) => f.index);
    const pixels = new Float32Array(idx.length * S * S * 3);
    idx.forEach((i, k) => {
      const crop = warpImage(image, transforms[i].affine, S, S);
      for (let p = 0; p < crop.data.length; p++) pixels[k * S * S * 3 + p] = crop.data[p] / 255;
    });
    const x = tf.tensor4d(pixels, [idx.length, S, S, 3]);
    const preds = net.taskPredictions(x, { iterations, bnKey: options.bnKey, mirror: options.mirror });
    x.dispose();
    try {
      for (const p of plugins) {
        if (!draw) {
          const decoded = await p.decodeOutput(preds[p.name], S, idx.map((i) => transforms[i]));
          decoded.forEach((o, k) => (faces[idx[k]].outputs[p.name] = o));
          continue;
        }
        // decoded into each face's region of the photo, for drawing; label maps are then placed in a
        // photo-sized map (the same values as decoding into the whole photo, where everything outside
        // the region is outside the crop: class 0), which spares warping every class's probabilities
        // over the whole photo per face; other outputs are decoded into the photo
        const inRegion = await p.decodeOutput(preds[p.name], S, idx.map((i) => regionTransform(transforms[i], regions[i])));
        inRegion.forEach((o, k) => (regional[idx[k]][p.name] = o));
        const placed = inRegion.map((o, k) => placeMaps(o, regions[idx[k]], image.width, image.height));
        const rest = placed.flatMap((o, k) => (o === undefined ? [k] : []));
        const decoded = rest.length ? await p.decodeOutput(preds[p.name], S, idx.map((i) => transforms[i])) : [];
        placed.forEach((o, k) => (faces[idx[k]].outputs[p.name] = o ?? decoded[k]));
      }
    } finally {
      tf.dispose(Object.values(preds));
    }
  }
  const result: FacesAnalysis = { width: image.width, height: image.height, source, faces };
  if (draw) result.overlay = drawFaces(image, faces, regions, regional, plugins);
  return result;
}

type LabelMapLike = { width: number; height: number; data: Uint8Array };

function isLabelMap(v: unknown): v is LabelMapLike {
  const m = v as LabelMapLike;
  return typeof m === 'object' && m !== null && m.data instanceof Uint8Array && typeof m.width === 'number' && m.data.length === m.width * m.height;
}

/**
 * An output decoded into the region `r` with its label maps (fields of the output object) placed in
 * photo-sized maps, class 0 elsewhere; `undefined` when the output has no label map (it must then be
 * decoded into the photo: its coordinates are the region's).
 */
function placeMaps(output: unknown, r: PixelRect | null, width: number, height: number): unknown {
  if (typeof output !== 'object' || output === null || Array.isArray(output)) return undefined;
  const entries = Object.entries(output);
  if (!entries.some(([, v]) => isLabelMap(v))) return undefined;
  if (!entries.every(([, v]) => isLabelMap(v) || typeof v !== 'object' || v === null)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, v] of entries) {
    if (!isLabelMap(v)) {
      out[key] = v;
      continue;
    }
    const data = new Uint8Array(width * height);
    if (r) {
      const [x, y, w, h] = r;
      for (let j = 0; j < h; j++) data.set(v.data.subarray(j * w, (j + 1) * w), (y + j) * width + x);
    }
    out[key] = { ...v, width, height, data };
  }
  return out;
}

/** The pixel rectangle holding the crop's corners, inside the photo (`null` when the crop misses it). */
function regionOf(corners: readonly FacePoint[], width: number, height: number): PixelRect | null {
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const x1 = Math.min(width, Math.ceil(Math.max(...xs)));
  const y1 = Math.min(height, Math.ceil(Math.max(...ys)));
  return x1 > x0 && y1 > y0 ? [x0, y0, x1 - x0, y1 - y0] : null;
}

/** The face's transform as seen from the rectangle `r` of the photo (so outputs decode into it). */
function regionTransform(t: SourcedTransform, r: PixelRect | null): LabelTransform {
  const [x, y, w, h] = r ?? [0, 0, 1, 1];
  return { affine: composeAffine(translation(x, y), t.affine), outSize: t.outSize, flipped: t.flipped, sourceSize: [w, h] } as LabelTransform;
}

const FACE_COLORS: [number, number, number][] = [
  [255, 220, 0],
  [0, 220, 255],
  [255, 90, 200],
  [120, 255, 90],
  [255, 150, 40],
  [170, 130, 255],
];

/** A class-like output (`className`, and `probabilities` with the winner's value). */
function classLabel(v: unknown): string | null {
  const o = v as { className?: unknown; classIndex?: unknown; probabilities?: ArrayLike<number> };
  if (typeof o !== 'object' || o === null || typeof o.className !== 'string') return null;
  const p = typeof o.classIndex === 'number' && o.probabilities ? o.probabilities[o.classIndex] : undefined;
  return p === undefined ? o.className : `${o.className} ${Math.round(p * 100)}%`;
}

/**
 * The photo with, per face: every plugin's drawing inside the face's region (parsing blended inside
 * the crop, landmarks), the crop's outline, and a label `#k` with class-like outputs by name
 * (emotion), drawn as text instead of the plugin's own chart.
 */
function drawFaces(
  image: RawImage,
  faces: readonly FaceResult[],
  regions: readonly (PixelRect | null)[],
  regional: readonly Record<string, unknown>[],
  plugins: readonly TaskPlugin[],
): RawImage {
  const out: RawImage = { ...image, data: new Uint8Array(image.data) };
  for (const f of faces) {
    const r = regions[f.index];
    if (!r) continue;
    let part = cutRect(out, r);
    for (const p of plugins) {
      const v = regional[f.index][p.name];
      if (v === undefined || !p.visualize || classLabel(v) !== null) continue;
      part = p.visualize(part, v);
    }
    pasteRect(out, part, r);
  }
  // outlines and labels last, so a neighbour's drawing never covers them
  for (const f of faces) {
    const color = FACE_COLORS[f.index % FACE_COLORS.length];
    const side = Math.hypot(f.crop[1][0] - f.crop[0][0], f.crop[1][1] - f.crop[0][1]);
    const thick = Math.max(1, Math.round(side / 120));
    for (let k = 0; k < 4; k++) drawLine(out, f.crop[k], f.crop[(k + 1) % 4], color, thick);
    const labels = plugins.map((p) => classLabel(f.outputs[p.name])).filter((s): s is string => s !== null);
    const text = [`#${f.index + 1}`, ...labels].join(' ');
    const scale = Math.max(1, Math.min(4, Math.round(side / 90)));
    const [tw, th] = textSize(text, scale);
    const top = Math.min(...f.crop.map((c) => c[1]));
    const left = Math.min(...f.crop.map((c) => c[0]));
    const x = Math.round(Math.min(Math.max(scale, left), image.width - tw - scale));
    const y = Math.round(top - th - 2 * scale >= 0 ? top - th - 2 * scale : Math.max(scale, top + 2 * scale));
    drawText(out, text, x, y, { scale, color });
  }
  return out;
}

/**
 * `@ifan/detect/node`'s BlazeFace detector, imported on demand: `@ifan/detect` is an optional peer of
 * this package (a user who brings boxes does not install it). Fails with what to install when missing.
 */
export async function loadFaceDetector(options: { minScore?: number; maxFaces?: number } = {}): Promise<FaceDetectorLike & { dispose(): void }> {
  const mod = await importDetectPackage('@ifan/detect/node');
  return mod.createDetector(options);
}

/** Imports the detector package `name`; when it is not installed, says what to install or do instead. (Exported for tests.) */
export async function importDetectPackage(name: string): Promise<{ createDetector(o?: object): Promise<FaceDetectorLike & { dispose(): void }> }> {
  try {
    return (await import(/* @vite-ignore */ name)) as Awaited<ReturnType<typeof importDetectPackage>>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(err.message)) {
      throw new Error(
        `finding faces needs the face detector package @ifan/detect, which is not installed (${name} cannot be imported): install it (npm install @ifan/detect), ` +
          'or give face boxes (ifan predict --box x,y,w,h or --boxes FILE.json; boxes in analyzeFaces), or take each image as one face (--no-detect) for images that are already face crops',
      );
    }
    throw e;
  }
}
