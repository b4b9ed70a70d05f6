/**
 * The shipped models of `@ifan/models` on a real photo: every face found by a face detector (BlazeFace
 * of `@ifan/detect` unless one is given), each shipped model's overlay of the whole photo (one row per
 * model), the rows cropped to every model's face crops with room above for the labels, and a short
 * summary of what each model says about each face. `ifan demo` ends with it and
 * `scripts/pretrained-figure.ts` makes the README's figure with it.
 */
import sharp from 'sharp';
import type { RawImage } from '@ifan/core';
import { loadPretrained, PRETRAINED } from '@ifan/models/node';
import { analyzeFaces, loadFaceDetector, type FaceBox, type FaceDetectorLike, type FacePoint } from './faces';

export interface PretrainedPhotoOptions {
  /** Finds the faces. Default `loadFaceDetector()` (BlazeFace of `@ifan/detect`, which must be installed), disposed after. */
  detector?: FaceDetectorLike;
  /** The shipped models, one row each, top to bottom. Default every model of `PRETRAINED`, in its order. */
  models?: readonly string[];
  /** Width of the picture in pixels (each row is scaled to it). Default 1000. */
  width?: number;
}

/** What one model says about one face. */
export interface PretrainedFaceSummary {
  model: string;
  /** A class-like output (emotion): the winning class and its probability. */
  emotion?: { className: string; probability: number };
  /** A points output (landmarks): how many points. */
  landmarks?: { points: number };
  /**
   * A label-map output (parsing), counted inside the face's crop (the part of it inside the photo):
   * the share of its pixels labelled as a part of the face (skin, brows, eyes, nose, lips, mouth: every
   * class but background, hair and what Helen's classes do not have, such as ears, neck or cloth), and
   * how many of the label set's classes appear there (the background included).
   */
  parsing?: { faceShare: number; classesSeen: number; classes: number };
  /** The above in a few words: `happy 71%`, `5 points`, `face parts 52% of the crop, 10 of 19 classes`. */
  text: string;
}

export interface PretrainedPhotoFace {
  /** 0-based, in the detector's order (`#1` in the picture is index 0). */
  index: number;
  /** The detector's box, photo pixels. */
  box: FaceBox;
  score: number | null;
  /** One entry per model, in the rows' order. */
  models: PretrainedFaceSummary[];
}

export interface PretrainedPhotoResult {
  /** The models, top to bottom. */
  models: string[];
  /** One per face found; empty when the detector found none. */
  faces: PretrainedPhotoFace[];
  /** One row per model, each the photo's part holding every face crop; `null` when no face was found. */
  picture: RawImage | null;
  /** Height of each row in `picture`, top to bottom. */
  rowHeights: number[];
}

/** Label-map class names that are not a part of the face (beside those without a Helen term). */
const NOT_FACE = new Set(['background', 'hair']);

/**
 * Analyses every face of `photo` with each shipped model and composes the picture: one row per model
 * (its overlay: parsing blended in each face's crop, landmarks, `#k CLASS P%` labels), all rows
 * cropped to the same part of the photo, around every model's face crops. Each model is loaded,
 * used and disposed in turn; no tensor is left behind.
 */
export async function pretrainedPhoto(photo: RawImage, options: PretrainedPhotoOptions = {}): Promise<PretrainedPhotoResult> {
  const names = [...(options.models ?? PRETRAINED.map((m) => m.name))];
  const W = options.width ?? 1000;
  const own = options.detector ? null : await loadFaceDetector();
  const detector = options.detector ?? own!;
  let found: Awaited<ReturnType<FaceDetectorLike['detect']>>;
  try {
    found = await detector.detect(photo);
  } finally {
    own?.dispose();
  }
  const faces: PretrainedPhotoFace[] = found.map((f, index) => ({ index, box: [...(f.box ?? f.framingBox)] as FaceBox, score: f.score ?? null, models: [] }));
  if (found.length === 0) return { models: names, faces, picture: null, rowHeights: [] };
  const analyses: { overlay: RawImage; crops: FacePoint[][] }[] = [];
  for (const name of names) {
    const model = await loadPretrained(name);
    try {
      const result = await analyzeFaces(photo, { model, boxes: found.map((f) => f.framingBox) });
      analyses.push({ overlay: result.overlay!, crops: result.faces.map((f) => f.crop) });
      result.faces.forEach((f, i) => faces[i].models.push(summarise(name, f.outputs, f.crop, photo.width, photo.height)));
    } finally {
      model.net.dispose();
    }
  }
  // the rows show every model's face crops and a little around them, with room above for the labels
  // (each model frames a face its own way: the emotion model more loosely than the others)
  const corners = analyses.flatMap((a) => a.crops.flat());
  const side = Math.max(...faces.map((f) => f.box[2]));
  const pad = 0.1 * side;
  const left = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0])) - pad));
  const top = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1])) - pad - 0.15 * side));
  const width = Math.min(photo.width, Math.ceil(Math.max(...corners.map((c) => c[0])) + pad)) - left;
  const height = Math.min(photo.height, Math.ceil(Math.max(...corners.map((c) => c[1])) + pad)) - top;
  const rows: Buffer[] = [];
  for (const { overlay } of analyses) {
    rows.push(
      await sharp(Buffer.from(overlay.data), { raw: { width: overlay.width, height: overlay.height, channels: 3 } })
        .extract({ left, top, width, height })
        .resize(W)
        .png()
        .toBuffer(),
    );
  }
  const rowHeights = await Promise.all(rows.map(async (r) => (await sharp(r).metadata()).height!));
  let y = 0;
  const { data, info } = await sharp({ create: { width: W, height: rowHeights.reduce((a, h) => a + h, 0), channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(rows.map((r, i) => ({ input: r, left: 0, top: (y += i ? rowHeights[i - 1] : 0) })))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const picture: RawImage = { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  return { models: names, faces, picture, rowHeights };
}

/** A picture as JPEG (quality 82 by default, as the README's figures). */
export async function encodeJpeg(image: RawImage, quality = 82): Promise<Buffer> {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.length), { raw: { width: image.width, height: image.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** One face's summary line: `#1 (x 341, y 195, 130 px): emotion happy 71%; landmarks 5 points; ...`. */
export function describeFace(face: PretrainedPhotoFace): string {
  const [x, y, w] = face.box.map(Math.round);
  return `#${face.index + 1} (x ${x}, y ${y}, ${w} px): ${face.models.map((m) => `${m.model}: ${m.text}`).join('; ')}`;
}

type LabelMap = { width: number; height: number; data: Uint8Array };

function summarise(model: string, outputs: Record<string, unknown>, crop: readonly FacePoint[], width: number, height: number): PretrainedFaceSummary {
  const summary: PretrainedFaceSummary = { model, text: '' };
  const texts: string[] = [];
  for (const output of Object.values(outputs)) {
    const o = output as { className?: unknown; classIndex?: unknown; probabilities?: ArrayLike<number>; points?: unknown; mask?: LabelMap; classes?: readonly string[]; helenClasses?: readonly (string | null)[] };
    if (typeof o !== 'object' || o === null) continue;
    if (typeof o.className === 'string' && typeof o.classIndex === 'number' && o.probabilities) {
      const probability = o.probabilities[o.classIndex];
      summary.emotion = { className: o.className, probability };
      texts.push(`${o.className} ${Math.round(probability * 100)}%`);
    } else if (Array.isArray(o.points)) {
      summary.landmarks = { points: o.points.length };
      texts.push(`${o.points.length} points`);
    } else if (o.mask && o.mask.data instanceof Uint8Array && Array.isArray(o.classes)) {
      const p = parsingSummary(o.mask, o.classes, o.helenClasses, crop, width, height);
      summary.parsing = p;
      texts.push(`face parts ${Math.round(p.faceShare * 100)}% of the crop, ${p.classesSeen} of ${p.classes} classes`);
    }
  }
  summary.text = texts.join(', ');
  return summary;
}

/** Counts a photo-sized label map inside the face's crop (its bounding rectangle inside the photo). */
function parsingSummary(
  mask: LabelMap,
  classes: readonly string[],
  helen: readonly (string | null)[] | undefined,
  crop: readonly FacePoint[],
  width: number,
  height: number,
): NonNullable<PretrainedFaceSummary['parsing']> {
  const face = classes.map((c, i) => i > 0 && !NOT_FACE.has(c) && (!helen || (helen[i] !== null && !NOT_FACE.has(helen[i]!))));
  const x0 = Math.max(0, Math.floor(Math.min(...crop.map((c) => c[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...crop.map((c) => c[1]))));
  const x1 = Math.min(width, Math.ceil(Math.max(...crop.map((c) => c[0]))));
  const y1 = Math.min(height, Math.ceil(Math.max(...crop.map((c) => c[1]))));
  const seen = new Set<number>();
  let inFace = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const v = mask.data[y * mask.width + x];
      seen.add(v);
      if (face[v]) inFace++;
    }
  }
  const area = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return { faceShare: area ? inFace / area : 0, classesSeen: seen.size, classes: classes.length };
}
