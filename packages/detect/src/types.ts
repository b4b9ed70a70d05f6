import type { RawImage } from '@ifan/core';
import type * as tf from '@tensorflow/tfjs-core';

/** A point in image pixels `[x, y]` (pixel centres at integer + 0.5, as in `@ifan/core`'s geometry). */
export type Point = [number, number];

/** `[x, y, width, height]` in image pixels. */
export type Box = [number, number, number, number];

/**
 * BlazeFace's six keypoints, in image pixels. `leftEye` is the eye on the image's LEFT side (the
 * person's right eye in an unmirrored photo), as MTFL's 'left eye' and `@ifan/task-landmarks` name it;
 * likewise `leftEar`.
 */
export interface FaceKeypoints {
  leftEye: Point;
  rightEye: Point;
  nose: Point;
  /** Centre of the mouth. */
  mouth: Point;
  leftEar: Point;
  rightEar: Point;
}

export interface DetectedFace {
  /** The detector's own box, `[x, y, width, height]` in the image's pixels (may reach outside it). */
  box: Box;
  /** Detector confidence in `(0, 1)`. */
  score: number;
  keypoints: FaceKeypoints;
  /**
   * The box the iFAN models are trained on: `@ifan/core`'s `faceBoxFromKeypoints(leftEye, rightEye,
   * mouth)` of the keypoints above. Give this, not `box`, to `faceCrop`.
   */
  framingBox: Box;
  /**
   * Roll of the head from the eyes, radians: the angle of the line from the left to the right eye,
   * positive when it turns clockwise on screen (y points down), as core's `rotation()`. Rotating the
   * image by `-roll` about the face puts the eyes level ({@link faceTransform} with `align: true`).
   */
  roll: number;
}

/** What {@link Detector.detect} accepts: a decoded RGB image or an `[height, width, 3]` tensor of 0..255 values. */
export type DetectorInput = RawImage | tf.Tensor3D;

export interface DetectOptions {
  /** Faces scoring below this are dropped. Default: the detector's (0.5). */
  minScore?: number;
  /** At most this many faces, best first. Default: the detector's (20). */
  maxFaces?: number;
}

export interface Detector {
  /** Every face in the image, best score first. No face is an empty array, not an error. */
  detect(image: DetectorInput, options?: DetectOptions): Promise<DetectedFace[]>;
  /** Frees the model's weights. The detector cannot be used afterwards. */
  dispose(): void;
  /** The model's input side (256 for BlazeFace). */
  readonly inputSize: number;
}
