/** Ground truth of one image: the index of its class in the label set. */
export interface EmotionLabel {
  classIndex: number;
}

export interface EmotionOutput {
  /** The predicted class: the arg-max of `probabilities`. */
  classIndex: number;
  /** Its name in the label set (`happy`, ...). */
  className: string;
  /** One probability per class, in label-set order. */
  probabilities: number[];
}

/** A label set as data. */
export interface EmotionLabelSet {
  name: string;
  classes: string[];
}
