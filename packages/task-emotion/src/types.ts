/** Ground truth of one image: the index of its class in the label set. */
export interface EmotionLabel {
  classIndex: number;
}

export interface EmotionOutput {
  classIndex: number;
  probabilities: number[];
}

/** A label set as data. */
export interface EmotionLabelSet {
  name: string;
  classes: string[];
}
