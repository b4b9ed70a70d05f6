/**
 * From detected faces to network inputs and back: the crop every iFAN model is trained on (core's
 * `faceCrop` of the face's `framingBox`), optionally turned so that the eyes are level.
 */
import {
  applyAffine,
  composeAffine,
  faceCrop,
  invertTransform,
  rotation,
  warpImage,
  type LabelTransform,
  type RawImage,
  type Sample,
  type SourcedTransform,
} from '@ifan/core';
import type { DetectedFace } from './types';

export interface FaceTransformOptions {
  /** Network input side (the model's `inputSize`). */
  size: number;
  /** The model's crop margin (its saved `crop.margin`). Default 0. */
  margin?: number;
  /**
   * Turn the face upright: rotate by `-roll` about the framing box's centre before the crop, a
   * similarity that puts the eyes level (the aligned-face setting). Default false: the crop of
   * training, unrotated.
   */
  align?: boolean;
}

/**
 * The transform from the photo to one face's network input: core's `faceCrop` of `face.framingBox`
 * with the model's margin, after a rotation by `-face.roll` when `align`. Map outputs back to the
 * photo with core's `invertTransform(t)` and each task plugin's `transformLabel`.
 */
export function faceTransform(face: Pick<DetectedFace, 'framingBox' | 'roll'>, imageSize: readonly [number, number], options: FaceTransformOptions): SourcedTransform {
  const crop = faceCrop(imageSize, face.framingBox, { size: options.size, margin: options.margin ?? 0 });
  if (!options.align || face.roll === 0) return crop;
  const [x, y, w, h] = face.framingBox;
  return { ...crop, affine: composeAffine(rotation(-face.roll, x + w / 2, y + h / 2), crop.affine) };
}

export interface FaceCrops {
  /** One `size` x `size` image per face, in the order of the faces. */
  images: RawImage[];
  /** The transform that made each (photo -> crop). */
  transforms: SourcedTransform[];
}

/**
 * Every face's network input, cut from the photo by {@link faceTransform} (bilinear, anti-aliased,
 * black outside the photo), ready to be stacked into one batch.
 */
export function cropFaces(image: RawImage, faces: readonly Pick<DetectedFace, 'framingBox' | 'roll'>[], options: FaceTransformOptions): FaceCrops {
  const transforms = faces.map((f) => faceTransform(f, [image.width, image.height], options));
  return { images: transforms.map((t) => warpImage(image, t.affine, t.outSize[0], t.outSize[1])), transforms };
}

/** Maps points from a face crop back to the photo (e.g. landmarks predicted on the crop). */
export function pointsToImage(transform: LabelTransform, points: readonly (readonly [number, number])[]): [number, number][] {
  const back = invertTransform(transform).affine;
  return points.map(([x, y]) => applyAffine(back, x, y));
}

/**
 * One data-set sample per face of a photo, framed by its `framingBox` (ids `"<id>#<k>"`): what the
 * trainer's prediction, which crops every sample with core's `faceCrop` of its face box and the model's
 * margin, takes to analyse every face of a photo unaligned, exactly as training framed labelled faces.
 */
export function faceSamples(id: string, image: RawImage, faces: readonly Pick<DetectedFace, 'framingBox'>[]): Sample[] {
  return faces.map((f, k) => ({
    id: `${id}#${k}`,
    load: async () => ({ image, labels: {}, faceBox: [...f.framingBox] as [number, number, number, number] }),
  }));
}
