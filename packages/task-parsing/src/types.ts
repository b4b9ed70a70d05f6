import type { LabelMap } from '@ifan/core';

/** Ground truth of one image: a class index per pixel, at the image's own resolution. */
export interface ParsingLabel {
  mask: LabelMap;
}

/** Predicted class per pixel at the resolution of the image the result refers to. */
export interface ParsingOutput {
  mask: LabelMap;
  /** The class of each mask value, in the label set's own terms (`classes[mask.data[i]]`); `decodeOutput` sets it. */
  classes?: readonly string[];
  /**
   * The same classes in the paper's Helen terms (`helen-11`'s names), null where Helen has no such
   * class (glasses, ears, neck, ...); absent for label sets that do not map onto Helen.
   */
  helenClasses?: readonly (string | null)[];
}

/** A parsing label set as data. */
export interface ParsingLabelSet {
  name: string;
  classes: string[];
  /** An RGB colour per class, for colour-coded masks and overlays. */
  colors: [number, number, number][];
  /** Classes that swap under a horizontal flip (left brow <-> right brow, ...). */
  flipPairs: [number, number][];
  /**
   * Named groups of classes scored together (Helen: `eyes` = left + right eye, `mouth-all` =
   * inner mouth + both lips), and `overall`, the facial components scored as one.
   */
  groups: Record<string, number[]>;
  /** Each class's name in Helen's 11 classes (the paper's parsing terms), null where Helen has none. */
  helenTerms?: (string | null)[];
}
