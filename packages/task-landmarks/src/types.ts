/** Ground truth of one image: points in image pixel coordinates, in the data set's point order. */
export interface LandmarkLabel {
  points: [number, number][];
}

/** Predicted points, in the pixel coordinates of the image the result refers to. */
export interface LandmarkOutput {
  points: [number, number][];
}

/**
 * A point set as data: names, the left/right pairs that swap under a horizontal flip, and the two
 * points (or groups of points, averaged) whose distance normalises the error (the eye centres).
 */
export interface LandmarkSet {
  name: string;
  points: string[];
  flipPairs: [number, number][];
  /** Indices averaged into the left and right eye centre for the inter-ocular distance. */
  leftEye: number[];
  rightEye: number[];
}
