/**
 * From detected faces to network inputs and back: the crop every iFAN model is trained on (core's
 * `faceCrop` of the face's `framingBox`), optionally turned so that the eyes are level.
 */
import {
  applyAffine,
  frameFace,
  invertTransform,
  warpImage,
  type Framing,
  type LabelTransform,
  type RawImage,
  type Sample,
  type SourcedTransform,
} from '@ifan/core';
import type { DetectedFace } from './types';

export interface FaceTransformOptions {
  /** Network input side (the model's `inputSize`). */
  size: number;
  /** The model's framing (`net.framing`, saved in its model.json). Default core's `DEFAULT_FRAMING`. */
  framing?: Partial<Framing>;
  /**
   * Turn the face upright: rotate by `-roll` about the framing box's centre before the crop, a
   * similarity that puts the eyes level (the aligned-face setting). Default false: the crop of
   * training, unrotated.
   */
  align?: boolean;
}

/**
 * The transform from the photo to one face's network input: core's `frameFace` of `face.framingBox`
 * with the model's framing, after a rotation by `-face.roll` when `align`. Map outputs back to the
 * photo with core's `invertTransform(t)` and each task plugin's `transformLabel`.
 */
export function faceTransform(face: Pick<DetectedFace, 'framingBox' | 'roll'>, imageSize: readonly [number, number], options: FaceTransformOptions): SourcedTransform {
  return frameFace(imageSize, face.framingBox, { size: options.size, framing: options.framing, roll: face.roll, align: options.align });
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
 * margin, takes to analyse every face of a photo unaligned, exactly as training framed labelled faces
 * (for a model whose framing has the default keypoint-box scale).
 */
export function faceSamples(id: string, image: RawImage, faces: readonly Pick<DetectedFace, 'framingBox'>[]): Sample[] {
  return faces.map((f, k) => ({
    id: `${id}#${k}`,
    load: async () => ({ image, labels: {}, faceBox: [...f.framingBox] as [number, number, number, number] }),
  }));
}
