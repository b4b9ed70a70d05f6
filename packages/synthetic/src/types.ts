import type { LabelMap, LabelledImage } from '@ifan/core';

/** The tasks a synthetic face can be labelled for. */
export type TaskName = 'parsing' | 'landmarks' | 'emotion';

/** Parsing ground truth: a class per pixel in {@link HELEN_CLASSES} order (same shape as `@ifan/task-parsing`). */
export interface ParsingLabel {
  mask: LabelMap;
}

/** Landmark ground truth: the 5 MTFL points in image pixels (same shape as `@ifan/task-landmarks`). */
export interface LandmarkLabel {
  points: [number, number][];
}

/** Emotion ground truth: an index into {@link EXPRESSIONS} (same shape as `@ifan/task-emotion`). */
export interface EmotionLabel {
  classIndex: number;
}

/** The labels a synthetic face carries: one key per requested task. (A type alias, so it is a `Record<string, unknown>`.) */
export type SyntheticLabels = {
  parsing?: ParsingLabel;
  landmarks?: LandmarkLabel;
  emotion?: EmotionLabel;
};

export type HairStyle = 'short' | 'sidepart' | 'buzz' | 'bald' | 'long' | 'bob' | 'bangs' | 'bun' | 'curly';

export type Gender = 'male' | 'female';

/** What the generator chose for a face, kept with it (MTFL's attributes are filled from this). */
export interface FaceAttributes {
  /** Index into {@link EXPRESSIONS}. */
  expression: number;
  /** 0 for neutral, otherwise how strongly the expression shows, in (0, 1]. */
  intensity: number;
  gender: Gender;
  hairStyle: HairStyle;
  glasses: boolean;
  /** A visible smile: the happy expression. */
  smile: boolean;
  /** Head yaw in degrees; positive turns the face towards image-right. */
  yaw: number;
  /** In-plane rotation in degrees, clockwise on screen. */
  roll: number;
  /** MTFL head pose: 1 left profile, 2 left, 3 frontal, 4 right, 5 right profile (left = facing image-left). */
  pose: 1 | 2 | 3 | 4 | 5;
  /** Face half-height (centre of head to chin) in pixels. */
  faceScale: number;
  /** Whether each of the 5 landmarks is unoccluded: no occluder within 2 pixels of it. */
  visible: boolean[];
  /** Whether any occluder was drawn over the face. */
  occluded: boolean;
}

/** A generated image with its labels, face box and the attributes it was drawn with. */
export interface SyntheticFace extends LabelledImage {
  labels: SyntheticLabels;
  /** `[x, y, width, height]` of the face (cheek to cheek, hairline to chin) in pixels; may extend past the image. */
  faceBox: [number, number, number, number];
  attributes: FaceAttributes;
}

/** Where and how the face sits in the picture. */
export interface PoseOptions {
  /** Largest in-plane rotation in degrees (uniform in ±maxRoll). Default 15. */
  maxRoll?: number;
  /** Largest yaw in degrees, shown as features shifting round the head and foreshortening. Default 25. */
  maxYaw?: number;
  /** Range of the face half-height (head centre to chin) as a fraction of the shorter image side. Default [0.27, 0.36]. */
  scale?: [number, number];
  /** Largest shift of the head centre as a fraction of the image size, per axis. Default 0.06. */
  maxShift?: number;
}

/** Image statistics applied after drawing; the differences between domains live here. */
export interface ImagingOptions {
  /** Multiplies all channels. Default 1. */
  brightness?: number;
  /** Stretches around mid-grey. Default 1. */
  contrast?: number;
  /** Per-channel gains `[r, g, b]`. Default [1, 1, 1]. */
  colorCast?: [number, number, number];
  /** Gamma applied to the normalised intensity (> 1 darkens mid-tones). Default 1. */
  gamma?: number;
  /** Gaussian blur sigma in pixels. Default 0.4. */
  blur?: number;
  /** Gaussian pixel noise sigma in 0..255 units. Default 3. */
  noise?: number;
  /** Convert to grey (still 3 equal channels). Default false. */
  grey?: boolean;
  /** Strength of the random linear lighting gradient across the image, 0..1. Default 0.35. */
  lighting?: number;
  /** Relative per-image jitter of brightness, contrast, cast, blur and noise around the values above. Default 0.12. */
  jitter?: number;
}

/** How to draw one face. Every field is optional; see each for its default. */
export interface FaceOptions {
  /** Image size in pixels: a number for a square, or `[width, height]`. Default 128. */
  size?: number | [number, number];
  /** A fixed expression (index or name from {@link EXPRESSIONS}); default random. */
  expression?: number | string;
  /** Relative weights of the 7 expressions when random. Default uniform. */
  expressionWeights?: number[];
  /** Range of expression intensity for non-neutral faces. Default [0.55, 1]. */
  intensity?: [number, number];
  pose?: PoseOptions;
  imaging?: ImagingOptions;
  /** Probability that an occluder (hand, object, scarf) covers part of the face. Default 0.2. */
  occlusion?: number;
  /** Amount of background clutter, 0 (plain gradient) to 2. Default 1. */
  clutter?: number;
  /** Probability of glasses (frames only; the mask keeps the eyes). Default 0.12. */
  glasses?: number;
  /** Labels to attach. Default all three. */
  tasks?: TaskName[];
  /**
   * The identity (skin, hair, face shape, gender, eye colour, ...) comes from this seed instead of the
   * image's, so faces sharing it show the same person with different expressions, poses and scenes.
   */
  identitySeed?: number;
}
