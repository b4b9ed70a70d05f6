/**
 * Geometry of training, evaluation and prediction: the face crop, augmentation, and warping of images
 * and label maps by the same affine map. Browser-safe (no sharp, no tfjs).
 *
 * Coordinates are continuous pixel coordinates with pixel centres at integer + 0.5: pixel `(i, j)`
 * covers `[i, i + 1) x [j, j + 1)`, an image of width `w` spans `[0, w]`. Landmarks use the same
 * coordinates, so a point and the pixel under it move together.
 */
import type { RandomSource } from '../rng';
import type { Affine, LabelledImage, LabelMap, LabelTransform, RawImage } from './types';

/** The identity map. */
export const IDENTITY_AFFINE: Affine = [1, 0, 0, 0, 1, 0];

/** A multi-channel float map, row-major HWC (network probabilities, heat maps). */
export interface FloatMap {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

// ---------------------------------------------------------------------------------------------------
// Affine maps

/** Composes maps in the order they are applied: `composeAffine(m1, m2)(p) = m2(m1(p))`. */
export function composeAffine(...maps: Affine[]): Affine {
  let r: Affine = IDENTITY_AFFINE;
  for (const m of maps) {
    const [a, b, c, d, e, f] = r;
    const [A, B, C, D, E, F] = m;
    r = [A * a + B * d, A * b + B * e, A * c + B * f + C, D * a + E * d, D * b + E * e, D * c + E * f + F];
  }
  return r;
}

/** The inverse map. @throws if the map is singular (it collapses the image to a line). */
export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) {
    throw new Error(`invertAffine: the map [${m.join(', ')}] is singular (determinant ${det})`);
  }
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

/** Applies a map to one point. */
export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** Applies a map to a list of points (a new array). */
export function applyAffineToPoints(m: Affine, points: readonly (readonly [number, number])[]): [number, number][] {
  return points.map(([x, y]) => applyAffine(m, x, y));
}

export function translation(tx: number, ty: number): Affine {
  return [1, 0, tx, 0, 1, ty];
}

export function scaling(sx: number, sy = sx): Affine {
  return [sx, 0, 0, 0, sy, 0];
}

/** Rotation by `radians` about `(cx, cy)`; positive turns clockwise on screen (y points down). */
export function rotation(radians: number, cx = 0, cy = 0): Affine {
  const cos = Math.cos(radians);
  const sin = Math.sin(radians);
  return composeAffine(translation(-cx, -cy), [cos, -sin, 0, sin, cos, 0], translation(cx, cy));
}

/** Mirror about the vertical line `x = width / 2` of an image `width` pixels wide. */
export function mirrorX(width: number): Affine {
  return [-1, 0, width, 0, 1, 0];
}

// ---------------------------------------------------------------------------------------------------
// Transforms

/**
 * A transform that also remembers the `[width, height]` of the image it applies to, which is what
 * mapping a result back to the original image needs. {@link faceCrop} makes one; {@link flipTransform}
 * and {@link augmentTransform} keep it.
 */
export interface SourcedTransform extends LabelTransform {
  sourceSize: [number, number];
}

/** The source image size a transform carries ({@link SourcedTransform}), if any. */
export function sourceSizeOf(t: LabelTransform): [number, number] | undefined {
  const s = (t as Partial<SourcedTransform>).sourceSize;
  return Array.isArray(s) && s.length === 2 ? [s[0], s[1]] : undefined;
}

export interface FaceCropOptions {
  /** Network input size: the crop is resized to `size` x `size`. */
  size: number;
  /**
   * Context around the face, as a fraction of the square's side added on EACH side: the square of
   * side `max(boxWidth, boxHeight)` centred on the box grows to `side * (1 + 2 * margin)`. Default 0.
   */
  margin?: number;
}

/**
 * THE face crop, used identically in training, evaluation and prediction: the square centred on the
 * face box with side `max(width, height)` of the box (without a box: the centred square of side
 * `min(imageWidth, imageHeight)`, the right choice for data sets whose images are already face crops),
 * grown by `margin` on each side (only a face box is grown: an image without one is taken as already
 * framed), then resized to `size` x `size`. Parts of the square outside the
 * image are filled (black for images, class 0 for label maps).
 *
 * @param imageSize `[width, height]` of the original image.
 * @param faceBox `[x, y, width, height]` in image pixels.
 */
export function faceCrop(
  imageSize: readonly [number, number],
  faceBox: readonly [number, number, number, number] | undefined,
  options: FaceCropOptions,
): SourcedTransform {
  const { size } = options;
  const margin = options.margin ?? 0;
  const [w, h] = imageSize;
  if (!Number.isInteger(size) || size < 1) throw new Error(`faceCrop: size must be a positive integer, got ${size}`);
  if (!(margin > -0.5) || !Number.isFinite(margin)) throw new Error(`faceCrop: margin must be a number > -0.5, got ${margin}`);
  if (!(w > 0 && h > 0)) throw new Error(`faceCrop: image size must be positive, got ${w}x${h}`);
  let cx: number, cy: number, side: number;
  if (faceBox) {
    const [bx, by, bw, bh] = faceBox;
    if (![bx, by, bw, bh].every(Number.isFinite) || bw <= 0 || bh <= 0) {
      throw new Error(`faceCrop: face box must be [x, y, width, height] with positive width and height, got [${faceBox.join(', ')}]`);
    }
    cx = bx + bw / 2;
    cy = by + bh / 2;
    side = Math.max(bw, bh);
  } else {
    cx = w / 2;
    cy = h / 2;
    side = Math.min(w, h);
  }
  if (faceBox) side *= 1 + 2 * margin;
  const k = size / side;
  return { affine: [k, 0, size / 2 - k * cx, 0, k, size / 2 - k * cy], outSize: [size, size], flipped: false, sourceSize: [w, h] };
}

/**
 * Side of the framing square from {@link faceBoxFromKeypoints}, in units of the larger of the eye
 * distance and the eye-to-mouth distance: the eyes end up about 0.31 of the crop apart on a frontal
 * face, as tightly as a face detector frames one.
 */
export const KEYPOINT_BOX_SCALE = 3.2;

/**
 * How a network's faces are framed: saved with the network (`model.json`), so that training,
 * evaluation and prediction crop every face alike. A face is the square {@link faceBoxFromKeypoints}
 * gives for its eyes and mouth (side `keypointBoxScale` times the larger of the eye distance and the
 * eye-to-mouth distance), or a box the data or the user gives, grown by `margin` on every side
 * ({@link faceCrop}).
 */
export interface Framing {
  /** Fraction of the box's side added on every side. */
  margin: number;
  /** Side of the keypoint box in units of the larger of the eye and eye-to-mouth distances. */
  keypointBoxScale: number;
}

/** The framing of the trainer's defaults: the keypoint box as it is, no margin. */
export const DEFAULT_FRAMING: Readonly<Framing> = Object.freeze({ margin: 0, keypointBoxScale: KEYPOINT_BOX_SCALE });

/** `framing` with every field checked (a finite margin above -0.5, a positive scale); throws naming the field. */
export function checkFraming(framing: Partial<Framing>, where = 'framing'): Framing {
  const f = { ...DEFAULT_FRAMING, ...framing };
  if (typeof f.margin !== 'number' || !Number.isFinite(f.margin) || f.margin <= -0.5) {
    throw new Error(`${where}.margin must be a finite number above -0.5, got ${JSON.stringify(f.margin)}`);
  }
  if (typeof f.keypointBoxScale !== 'number' || !Number.isFinite(f.keypointBoxScale) || f.keypointBoxScale <= 0) {
    throw new Error(`${where}.keypointBoxScale must be a positive number, got ${JSON.stringify(f.keypointBoxScale)}`);
  }
  return { margin: f.margin, keypointBoxScale: f.keypointBoxScale };
}

/**
 * The face box that frames a face from its eye centres and mouth centre, the same however the points
 * were found (labelled points in training, a face detector's keypoints in prediction), so that every
 * consumer of a model frames faces alike: a square of side `scale` (the network's
 * {@link Framing.keypointBoxScale}, default {@link KEYPOINT_BOX_SCALE}) times the larger of
 * the eye distance and the eye-to-mouth distance (the larger, so a turned head keeps its size), centred a
 * third of the way from the eyes' midpoint to the mouth. Returns `[x, y, width, height]`.
 */
export function faceBoxFromKeypoints(
  leftEye: readonly [number, number],
  rightEye: readonly [number, number],
  mouth: readonly [number, number],
  scale: number = KEYPOINT_BOX_SCALE,
): [number, number, number, number] {
  const ex = (leftEye[0] + rightEye[0]) / 2;
  const ey = (leftEye[1] + rightEye[1]) / 2;
  const eyes = Math.hypot(rightEye[0] - leftEye[0], rightEye[1] - leftEye[1]);
  const toMouth = Math.hypot(mouth[0] - ex, mouth[1] - ey);
  const side = scale * Math.max(eyes, toMouth, 1e-6);
  if (!Number.isFinite(side)) throw new Error(`faceBoxFromKeypoints: the points must be finite, got eyes [${leftEye}] [${rightEye}], mouth [${mouth}]`);
  const cx = ex + (mouth[0] - ex) / 3;
  const cy = ey + (mouth[1] - ey) / 3;
  return [cx - side / 2, cy - side / 2, side, side];
}

export interface FrameFaceOptions {
  /** Network input side. */
  size: number;
  /** The network's framing (`net.framing`). Default {@link DEFAULT_FRAMING}. */
  framing?: Partial<Framing>;
  /** Roll of the eye line, radians (clockwise on screen positive). Default 0. */
  roll?: number;
  /** Rotate by `-roll` about the box's centre before the crop, so that the eyes are level. Default false. */
  align?: boolean;
}

/**
 * The transform from a photo to one face's network input, as a network with `framing` was trained:
 * `framingBox` is a face's keypoint box ({@link faceBoxFromKeypoints} at the default scale, as `@ifan/detect`
 * gives it, or a box of the same kind), scaled about its centre to the network's `keypointBoxScale`,
 * then {@link faceCrop} with its margin; with `align`, rotated by `-roll` about the box's centre first.
 */
export function frameFace(imageSize: readonly [number, number], framingBox: readonly [number, number, number, number], options: FrameFaceOptions): SourcedTransform {
  const { margin, keypointBoxScale } = checkFraming(options.framing ?? {});
  const [x, y, w, h] = framingBox;
  const cx = x + w / 2;
  const cy = y + h / 2;
  const k = keypointBoxScale / KEYPOINT_BOX_SCALE;
  const box: [number, number, number, number] = k === 1 ? [x, y, w, h] : [cx - (w * k) / 2, cy - (h * k) / 2, w * k, h * k];
  const crop = faceCrop(imageSize, box, { size: options.size, margin });
  const roll = options.roll ?? 0;
  if (!options.align || roll === 0) return crop;
  return { ...crop, affine: composeAffine(rotation(-roll, cx, cy), crop.affine) };
}

/** The same transform followed by a horizontal mirror of its output (toggles `flipped`). */
export function flipTransform<T extends LabelTransform>(t: T): T {
  return { ...t, affine: composeAffine(t.affine, mirrorX(t.outSize[0])), flipped: !t.flipped };
}

/**
 * The transform back from the network input to the original image of `[width, height]` `sourceSize`
 * (default: the size `t` carries, see {@link SourcedTransform}). `flipped` is kept: a label mapped
 * back through a flipped transform must swap again.
 * @throws if no source size is given or carried.
 */
export function invertTransform(t: LabelTransform, sourceSize?: readonly [number, number]): LabelTransform {
  const size = sourceSize ?? sourceSizeOf(t);
  if (!size) throw new Error('invertTransform: the original image size is unknown; pass sourceSize or use a transform made by faceCrop');
  return { affine: invertAffine(t.affine), outSize: [size[0], size[1]], flipped: t.flipped };
}

export interface AugmentOptions {
  /** Zoom factor drawn uniformly from `[min, max]` (> 1 zooms in). Default `[1, 1]`. */
  scale?: [number, number];
  /** Translation drawn uniformly from `±shift` times the output size, per axis. Default 0. */
  shift?: number;
  /** Rotation drawn uniformly from `±rotationDeg` degrees. Default 0. */
  rotationDeg?: number;
  /** Probability of a horizontal flip (`true` = 0.5). Default 0. */
  flip?: boolean | number;
}

/** Augmentation commonly used for face parsing / landmarks at network resolution. */
export const DEFAULT_AUGMENT: Readonly<Required<AugmentOptions>> = Object.freeze({
  scale: [0.9, 1.1] as [number, number],
  shift: 0.05,
  rotationDeg: 10,
  flip: 0.5,
});

/**
 * Composes a random scale, rotation, shift (about the centre of the output) and flip onto a crop. The
 * random numbers are drawn in a fixed order (scale, rotation, shift x, shift y, flip), four or five
 * per call, so a seeded `rng` reproduces the same augmentation.
 */
export function augmentTransform<T extends LabelTransform>(crop: T, rng: RandomSource, options: AugmentOptions = DEFAULT_AUGMENT): T {
  const [lo, hi] = options.scale ?? [1, 1];
  if (!(lo > 0 && hi >= lo)) throw new Error(`augmentTransform: scale must be [min, max] with 0 < min <= max, got [${lo}, ${hi}]`);
  const shift = options.shift ?? 0;
  const rot = ((options.rotationDeg ?? 0) * Math.PI) / 180;
  const flipP = options.flip === true ? 0.5 : options.flip === false || options.flip === undefined ? 0 : options.flip;
  const [w, h] = crop.outSize;
  const s = lo + (hi - lo) * rng.next();
  const theta = (2 * rng.next() - 1) * rot;
  const dx = (2 * rng.next() - 1) * shift * w;
  const dy = (2 * rng.next() - 1) * shift * h;
  const aug = composeAffine(translation(-w / 2, -h / 2), scaling(s), rotation(theta), translation(w / 2 + dx, h / 2 + dy));
  const out: T = { ...crop, affine: composeAffine(crop.affine, aug) };
  return flipP > 0 && rng.next() < flipP ? flipTransform(out) : out;
}

// ---------------------------------------------------------------------------------------------------
// Warping

/**
 * Resamples `channels`-channel data through `affine` (source -> destination) by inverse mapping.
 * Bilinear; when the map shrinks the image by more than 1x, each destination pixel averages
 * `ceil(shrink)^2` bilinear samples (up to 8 x 8) so that minified images do not alias. Samples
 * outside the source take `fill`.
 */
function warpBilinear(
  src: ArrayLike<number>,
  sw: number,
  sh: number,
  ch: number,
  affine: Affine,
  outW: number,
  outH: number,
  out: Uint8Array | Float32Array,
  fill: ArrayLike<number>,
  round: boolean,
): void {
  const [a, b, c, d, e, f] = invertAffine(affine);
  const nx = Math.min(8, Math.max(1, Math.ceil(Math.hypot(a, d) - 1e-9)));
  const ny = Math.min(8, Math.max(1, Math.ceil(Math.hypot(b, e) - 1e-9)));
  const nSamples = nx * ny;
  const acc = new Float64Array(ch);
  for (let j = 0; j < outH; j++) {
    for (let i = 0; i < outW; i++) {
      acc.fill(0);
      for (let sj = 0; sj < ny; sj++) {
        const py = j + (sj + 0.5) / ny;
        for (let si = 0; si < nx; si++) {
          const px = i + (si + 0.5) / nx;
          const sx = a * px + b * py + c;
          const sy = d * px + e * py + f;
          if (!(sx >= 0 && sx <= sw && sy >= 0 && sy <= sh)) {
            for (let k = 0; k < ch; k++) acc[k] += fill[k];
            continue;
          }
          const u = sx - 0.5;
          const v = sy - 0.5;
          let x0 = Math.floor(u);
          let y0 = Math.floor(v);
          const fx = u - x0;
          const fy = v - y0;
          let x1 = x0 + 1;
          let y1 = y0 + 1;
          if (x0 < 0) x0 = 0;
          if (y0 < 0) y0 = 0;
          if (x1 > sw - 1) x1 = sw - 1;
          if (y1 > sh - 1) y1 = sh - 1;
          if (x0 > sw - 1) x0 = sw - 1;
          if (y0 > sh - 1) y0 = sh - 1;
          const o00 = (y0 * sw + x0) * ch;
          const o10 = (y0 * sw + x1) * ch;
          const o01 = (y1 * sw + x0) * ch;
          const o11 = (y1 * sw + x1) * ch;
          const w00 = (1 - fx) * (1 - fy);
          const w10 = fx * (1 - fy);
          const w01 = (1 - fx) * fy;
          const w11 = fx * fy;
          for (let k = 0; k < ch; k++) {
            acc[k] += src[o00 + k] * w00 + src[o10 + k] * w10 + src[o01 + k] * w01 + src[o11 + k] * w11;
          }
        }
      }
      const o = (j * outW + i) * ch;
      for (let k = 0; k < ch; k++) {
        const value = acc[k] / nSamples;
        out[o + k] = round ? Math.min(255, Math.max(0, Math.round(value))) : value;
      }
    }
  }
}

function checkOutSize(where: string, outW: number, outH: number): void {
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 || outH < 1) {
    throw new Error(`${where}: output size must be positive integers, got ${outW}x${outH}`);
  }
}

/**
 * Warps an RGB image through `affine` (source -> destination pixels) into an `outW` x `outH` image:
 * bilinear by inverse mapping, anti-aliased when shrinking. Outside the source is `fill` (black).
 */
export function warpImage(
  image: RawImage,
  affine: Affine,
  outW: number,
  outH: number,
  fill: [number, number, number] = [0, 0, 0],
): RawImage {
  checkOutSize('warpImage', outW, outH);
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`warpImage: image data has ${image.data.length} bytes, expected ${image.width}x${image.height}x3`);
  }
  const data = new Uint8Array(outW * outH * 3);
  warpBilinear(image.data, image.width, image.height, 3, affine, outW, outH, data, fill, true);
  return { width: outW, height: outH, channels: 3, data };
}

/** Warps a float map bilinearly (see {@link warpImage}); outside the source is `fill` per channel. */
export function warpFloatMap(map: FloatMap, affine: Affine, outW: number, outH: number, fill?: ArrayLike<number>): FloatMap {
  checkOutSize('warpFloatMap', outW, outH);
  const ch = map.channels;
  if (map.data.length !== map.width * map.height * ch) {
    throw new Error(`warpFloatMap: data has ${map.data.length} values, expected ${map.width}x${map.height}x${ch}`);
  }
  const fillValues = fill ?? new Float32Array(ch);
  if (fillValues.length !== ch) throw new Error(`warpFloatMap: fill has ${fillValues.length} values for ${ch} channels`);
  const data = new Float32Array(outW * outH * ch);
  warpBilinear(map.data, map.width, map.height, ch, affine, outW, outH, data, fillValues, false);
  return { width: outW, height: outH, channels: ch, data };
}

/**
 * Warps a class-index map through `affine` by nearest neighbour (class indices must not be blended).
 * Outside the source is `fill` (class 0, the background, by default).
 */
export function warpLabelMap(map: LabelMap, affine: Affine, outW: number, outH: number, fill = 0): LabelMap {
  checkOutSize('warpLabelMap', outW, outH);
  const { width: sw, height: sh, data: src } = map;
  if (src.length !== sw * sh) throw new Error(`warpLabelMap: map data has ${src.length} bytes, expected ${sw}x${sh}`);
  const [a, b, c, d, e, f] = invertAffine(affine);
  const data = new Uint8Array(outW * outH);
  for (let j = 0; j < outH; j++) {
    const py = j + 0.5;
    for (let i = 0; i < outW; i++) {
      const px = i + 0.5;
      const sx = Math.floor(a * px + b * py + c);
      const sy = Math.floor(d * px + e * py + f);
      data[j * outW + i] = sx >= 0 && sx < sw && sy >= 0 && sy < sh ? src[sy * sw + sx] : fill;
    }
  }
  return { width: outW, height: outH, data };
}

// ---------------------------------------------------------------------------------------------------
// Photometric augmentation

export interface ColorJitterOptions {
  /** Brightness factor drawn from `[max(0, 1 - b), 1 + b]`. Default 0. */
  brightness?: number;
  /** Contrast factor (blend with the image's mean grey) from `[max(0, 1 - c), 1 + c]`. Default 0. */
  contrast?: number;
  /** Saturation factor (blend with each pixel's grey) from `[max(0, 1 - s), 1 + s]`. Default 0. */
  saturation?: number;
}

/**
 * Random brightness, then contrast, then saturation, as in torchvision's `ColorJitter` with a fixed
 * order. Draws exactly three numbers from `rng`. Returns a new image.
 */
export function colorJitter(image: RawImage, rng: RandomSource, options: ColorJitterOptions): RawImage {
  const factor = (amount = 0) => {
    const u = rng.next();
    return Math.max(0, 1 - amount) + (1 + amount - Math.max(0, 1 - amount)) * u;
  };
  const fb = factor(options.brightness);
  const fc = factor(options.contrast);
  const fs = factor(options.saturation);
  const src = image.data;
  const n = image.width * image.height;
  let mean = 0;
  for (let p = 0; p < n; p++) mean += 0.299 * src[3 * p] + 0.587 * src[3 * p + 1] + 0.114 * src[3 * p + 2];
  mean = n > 0 ? (mean / n) * fb : 0;
  const data = new Uint8Array(src.length);
  for (let p = 0; p < n; p++) {
    const o = 3 * p;
    const r = (src[o] * fb - mean) * fc + mean;
    const g = (src[o + 1] * fb - mean) * fc + mean;
    const b = (src[o + 2] * fb - mean) * fc + mean;
    const grey = 0.299 * r + 0.587 * g + 0.114 * b;
    data[o] = clampByte(grey + (r - grey) * fs);
    data[o + 1] = clampByte(grey + (g - grey) * fs);
    data[o + 2] = clampByte(grey + (b - grey) * fs);
  }
  return { width: image.width, height: image.height, channels: 3, data };
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

// ---------------------------------------------------------------------------------------------------
// Samples

/** Moves one task's label with the image (a plugin's `transformLabel`). */
export type LabelTransformer = (label: unknown, transform: LabelTransform) => unknown;

/** Either task plugins (anything with `name` and `transformLabel`) or transformers keyed by task name. */
export type LabelTransformers =
  | Iterable<{ readonly name: string; transformLabel(label: never, transform: LabelTransform): unknown }>
  | Record<string, LabelTransformer>;

/** A sample at network resolution, with the transform that took it there (to map outputs back). */
export interface PreparedSample extends LabelledImage {
  transform: LabelTransform;
  /** `[width, height]` of the original image. */
  sourceSize: [number, number];
}

function transformerMap(transformers: LabelTransformers): Map<string, LabelTransformer> {
  const map = new Map<string, LabelTransformer>();
  if (typeof (transformers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const p of transformers as Iterable<{ name: string; transformLabel(l: unknown, t: LabelTransform): unknown }>) {
      map.set(p.name, (label, t) => p.transformLabel(label, t));
    }
  } else {
    for (const [name, fn] of Object.entries(transformers as Record<string, LabelTransformer>)) map.set(name, fn);
  }
  return map;
}

/**
 * Warps the image by `transform` and moves every label with it through its task's transformer.
 * Labels of tasks without a transformer are dropped: they could not follow the image, and a task
 * that is not in the network has no use for them. The face box is consumed by the crop and dropped.
 */
export function prepareSample(li: LabelledImage, transform: LabelTransform, transformers: LabelTransformers): PreparedSample {
  const [outW, outH] = transform.outSize;
  const image = warpImage(li.image, transform.affine, outW, outH);
  const byTask = transformerMap(transformers);
  const labels: Record<string, unknown> = {};
  for (const [task, label] of Object.entries(li.labels)) {
    const fn = byTask.get(task);
    if (fn && label !== undefined) labels[task] = fn(label, transform);
  }
  return { image, labels, transform, sourceSize: [li.image.width, li.image.height] };
}
