import type { LabelMap, MetricAccumulator, MetricReport } from '@ifan/core';
import type { ParsingLabel, ParsingLabelSet, ParsingOutput } from './types';

/** Scores of one class or one group of classes merged. */
export interface ClassScore {
  /** Pixels whose truth and prediction are both in the class (group). */
  truePositives: number;
  /** Pixels labelled with the class (any class of the group). */
  truthPixels: number;
  /** Pixels predicted as the class (any class of the group). */
  predictedPixels: number;
  /** `truePositives / predictedPixels`; `NaN` when nothing was predicted. */
  precision: number;
  /** `truePositives / truthPixels`; `NaN` when the truth has none. */
  recall: number;
  /** `2·TP / (truthPixels + predictedPixels)`; `NaN` when both are 0. */
  fScore: number;
}

/**
 * Pixel confusion matrix, rows = truth, columns = prediction, accumulated image by image. Counts are
 * integers held in a `Float64Array` (exact up to 2^53 pixels, where a `Uint32Array` would overflow
 * after ~4.3 gigapixels).
 */
export class PixelConfusionMatrix {
  readonly numClasses: number;
  private readonly counts: Float64Array;
  private pixels = 0;

  constructor(numClasses: number) {
    if (!Number.isInteger(numClasses) || numClasses < 1) {
      throw new Error(`PixelConfusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
    }
    this.numClasses = numClasses;
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Adds one image. `where` names the image in error messages.
   * @throws if the masks differ in size, a mask's data does not match its size, or a pixel holds a
   * class index `>= numClasses`.
   */
  add(truth: LabelMap, predicted: LabelMap, where = 'image'): void {
    if (truth.width !== predicted.width || truth.height !== predicted.height) {
      throw new Error(
        `${where}: predicted mask is ${predicted.width}x${predicted.height} but the label mask is ` +
          `${truth.width}x${truth.height}; score predictions at the label's resolution (decodeOutput ` +
          `with the sample's transforms maps them back to the original image)`,
      );
    }
    checkDataLength(truth, `${where}: label mask`);
    checkDataLength(predicted, `${where}: predicted mask`);
    const n = this.numClasses;
    const t = truth.data;
    const p = predicted.data;
    const counts = this.counts;
    for (let i = 0; i < t.length; i++) {
      const ti = t[i];
      const pi = p[i];
      if (ti >= n || pi >= n) {
        const which = ti >= n ? `label mask has class ${ti}` : `predicted mask has class ${pi}`;
        throw new Error(
          `${where}: ${which} at pixel (${i % truth.width}, ${Math.floor(i / truth.width)}), ` +
            `but the label set has only ${n} classes (0..${n - 1})`,
        );
      }
      counts[ti * n + pi]++;
    }
    this.pixels += t.length;
  }

  /** Pixels labelled `truth` and predicted `predicted`. */
  count(truth: number, predicted: number): number {
    return this.counts[truth * this.numClasses + predicted];
  }

  /** Pixels added since construction or {@link reset}. */
  get totalPixels(): number {
    return this.pixels;
  }

  /** The matrix as rows (truth) of columns (prediction). */
  toArray(): number[][] {
    const n = this.numClasses;
    return Array.from({ length: n }, (_, r) => Array.from(this.counts.subarray(r * n, (r + 1) * n)));
  }

  /** Scores of the given classes merged into one (a single class is a group of one). */
  score(classes: readonly number[]): ClassScore {
    const n = this.numClasses;
    let tp = 0;
    let truthPixels = 0;
    let predictedPixels = 0;
    for (const c of classes) {
      if (!Number.isInteger(c) || c < 0 || c >= n) {
        throw new Error(`PixelConfusionMatrix.score: class ${c} is not in 0..${n - 1}`);
      }
      for (let k = 0; k < n; k++) {
        truthPixels += this.counts[c * n + k];
        predictedPixels += this.counts[k * n + c];
      }
      for (const d of classes) tp += this.counts[c * n + d];
    }
    return {
      truePositives: tp,
      truthPixels,
      predictedPixels,
      precision: predictedPixels > 0 ? tp / predictedPixels : NaN,
      recall: truthPixels > 0 ? tp / truthPixels : NaN,
      fScore: truthPixels + predictedPixels > 0 ? (2 * tp) / (truthPixels + predictedPixels) : NaN,
    };
  }

  /** Fraction of pixels whose predicted class is the true one; `NaN` when empty. */
  pixelAccuracy(): number {
    let diagonal = 0;
    for (let c = 0; c < this.numClasses; c++) diagonal += this.count(c, c);
    return this.pixels > 0 ? diagonal / this.pixels : NaN;
  }

  reset(): void {
    this.counts.fill(0);
    this.pixels = 0;
  }
}

function checkDataLength(map: LabelMap, what: string): void {
  if (map.data.length !== map.width * map.height) {
    throw new Error(
      `${what} has ${map.data.length} values but is declared ${map.width}x${map.height} ` +
        `(${map.width * map.height} pixels)`,
    );
  }
}

/** Checks that a label set can be scored: classes exist, every group lists valid, distinct classes. */
function validateLabelSet(labelSet: ParsingLabelSet): void {
  const n = labelSet.classes.length;
  if (n < 1) throw new Error(`label set '${labelSet.name}' has no classes`);
  if (n > 256) {
    throw new Error(`label set '${labelSet.name}' has ${n} classes; masks are Uint8Array, so at most 256`);
  }
  if (!labelSet.groups || !('overall' in labelSet.groups)) {
    throw new Error(
      `label set '${labelSet.name}' has no groups.overall; the parsing metric's primary figure is the ` +
        `overall F-score, so list the facial components scored as one there (Helen: brows, eyes, ` +
        `nose, inner mouth, upper and lower lip)`,
    );
  }
  for (const [group, classes] of Object.entries(labelSet.groups)) {
    if (classes.length === 0) throw new Error(`label set '${labelSet.name}': group '${group}' is empty`);
    for (const c of classes) {
      if (!Number.isInteger(c) || c < 0 || c >= n) {
        throw new Error(
          `label set '${labelSet.name}': group '${group}' lists class ${c}, not in 0..${n - 1}`,
        );
      }
    }
    if (new Set(classes).size !== classes.length) {
      throw new Error(`label set '${labelSet.name}': group '${group}' lists a class twice`);
    }
  }
}

/**
 * The face parsing metric for any label set (Helen's 11 classes, FASSEG's 6, ...).
 *
 * Scores as in the iFAN paper (4.1.3, Table 2), which follows Smith et al. 2013 ("Exemplar-based
 * face parsing", CVPR) and Liu et al. 2015 ("Multi-objective convolutional learning for face
 * labeling", CVPR).
 *
 * Every figure is derived from one pixel confusion matrix ({@link PixelConfusionMatrix}) accumulated
 * over all images of the split: precision and recall are ratios of pixel counts summed over the whole
 * split, not per-image scores averaged afterwards. The F-score is their harmonic mean,
 * `2·TP / (|truth| + |predicted|)`.
 *
 * A group of classes (the label set's `groups`: `eyes` = left + right eye, `brows` = left + right
 * brow, `mouth-all` = inner mouth + both lips) is scored as one merged class: its true positives are
 * the pixels whose truth and prediction both lie anywhere in the group (a left-eye pixel predicted as
 * right eye is a hit for `eyes`), its truth count the pixels labelled with any of its classes, its
 * predicted count the pixels predicted as any of them.
 *
 * **Overall.** `groups.overall` is scored the same way. On Helen it is brows + eyes + nose + mouth
 * (inner mouth and both lips) merged as one foreground against the rest; face skin, hair and
 * background are excluded. Sources: the Smith et al. 2013 poster's F-measure table has the columns
 * Eyes, Brows, Nose, Mouth, Overall (Overall = those four components); the public evaluation code of
 * Te et al. 2020 (EAGRNet, ECCV; github.com/tegusi/EAGRNet, `utils/miou.py`) computes
 * `overall = merge(eyes, brows, nose, mouth)` with `mouth = upper lip + inner mouth + lower lip`, as
 * `2·|truth ∩ predicted| / (|truth| + |predicted|)` on the confusion histogram summed over the test
 * set. The full text of Smith et al. 2013 and Liu et al. 2015 could not be consulted to confirm the
 * definition word for word. The classes of `overall` come from the label set, so a different reading
 * would change the data, not this code.
 *
 * **Absent classes.** A class (or group) with no pixel in the truth and none in the prediction has
 * precision, recall and F-score `NaN`: there is nothing to score, and 0 or 1 would both be wrong. A
 * class present in only one of them scores 0 (its undefined precision or recall is reported as `NaN`).
 * `NaN` becomes `null` in JSON.
 *
 * Report values:
 * - `overallFScore` (primary, higher is better): F-score of `groups.overall` merged;
 * - `fScore`, `precision`, `recall`: per class, keyed by class name;
 * - `groupFScore`, `groupPrecision`, `groupRecall`: per group of `labelSet.groups`, keyed by group name
 *   (includes `overall`);
 * - `pixelAccuracy`, `pixels`, `images`, and `confusionMatrix` (rows = truth, columns = prediction).
 *
 * All are fractions in [0, 1] (the paper prints percentages). Empty accumulator: every score `NaN`.
 *
 * @throws at creation if the label set has no `groups.overall` or a group names an unknown class.
 */
export function createParsingMetric(
  labelSet: ParsingLabelSet,
): MetricAccumulator<ParsingLabel, ParsingOutput> {
  validateLabelSet(labelSet);
  const matrix = new PixelConfusionMatrix(labelSet.classes.length);
  let images = 0;

  return {
    update(outputs: ParsingOutput[], labels: ParsingLabel[]): void {
      if (outputs.length !== labels.length) {
        throw new Error(
          `parsing metric: update() got ${outputs.length} outputs but ${labels.length} labels`,
        );
      }
      outputs.forEach((output, i) => {
        matrix.add(
          labels[i].mask,
          output.mask,
          `parsing metric, sample ${i} of this batch (image ${images + i} since reset)`,
        );
      });
      images += outputs.length;
    },

    report(): MetricReport {
      const fScore: Record<string, number> = {};
      const precision: Record<string, number> = {};
      const recall: Record<string, number> = {};
      labelSet.classes.forEach((name, c) => {
        const s = matrix.score([c]);
        fScore[name] = s.fScore;
        precision[name] = s.precision;
        recall[name] = s.recall;
      });
      const groupFScore: Record<string, number> = {};
      const groupPrecision: Record<string, number> = {};
      const groupRecall: Record<string, number> = {};
      for (const [name, classes] of Object.entries(labelSet.groups)) {
        const s = matrix.score(classes);
        groupFScore[name] = s.fScore;
        groupPrecision[name] = s.precision;
        groupRecall[name] = s.recall;
      }
      const overall = groupFScore.overall;
      return {
        primary: { name: 'overallFScore', value: overall, higherIsBetter: true },
        values: {
          overallFScore: overall,
          fScore,
          precision,
          recall,
          groupFScore,
          groupPrecision,
          groupRecall,
          pixelAccuracy: matrix.pixelAccuracy(),
          pixels: matrix.totalPixels,
          images,
          confusionMatrix: matrix.toArray(),
        },
      };
    },

    reset(): void {
      matrix.reset();
      images = 0;
    },
  };
}
