import type { LabelMap } from '@ifan/core';

/** Ground truth of one image: a class index per pixel, at the image's own resolution. */
export interface ParsingLabel {
  mask: LabelMap;
}

/** Predicted class per pixel at the resolution of the image the result refers to. */
export interface ParsingOutput {
  mask: LabelMap;
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
}
