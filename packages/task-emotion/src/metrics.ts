import type { MetricAccumulator, MetricReport } from '@ifan/core';
import type { EmotionLabel, EmotionLabelSet, EmotionOutput } from './types';

/**
 * The facial emotion recognition metric (iFAN 4.1.3, Table 3 and the confusion matrices of Figure 6)
 * for a label set of any size.
 *
 * The prediction of an image is its output's `classIndex` (the decoder's arg-max; `probabilities`
 * are not read). Report values, as fractions (the paper prints percentages):
 * - `accuracy` (primary, higher is better): correct predictions / images;
 * - `perClassAccuracy`: per class name, the recall of that class (correct / images of that class);
 *   `NaN` for a class with no image in the truth;
 * - `meanPerClassAccuracy`: mean of `perClassAccuracy` over the classes present in the truth
 *   (classes without a true image are left out rather than counted as 0 or 1);
 * - `confusionMatrix`: counts, rows = true class, columns = predicted class, in label-set order;
 * - `images`.
 *
 * Empty accumulator: the scores are `NaN`, the matrix all zeros.
 *
 * @throws in `update` when a class index is not an integer in `0..classes.length-1` (the message names
 * the sample).
 */
export function createEmotionMetric(
  labelSet: EmotionLabelSet,
): MetricAccumulator<EmotionLabel, EmotionOutput> {
  const n = labelSet.classes.length;
  if (n < 1) throw new Error(`emotion label set '${labelSet.name}' has no classes`);
  const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  let images = 0;

  const check = (index: number, what: string, where: string): void => {
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new Error(
        `${where}: ${what} class index ${index} is not in 0..${n - 1} (label set '${labelSet.name}')`,
      );
    }
  };

  return {
    update(outputs: EmotionOutput[], labels: EmotionLabel[]): void {
      if (outputs.length !== labels.length) {
        throw new Error(`emotion metric: update() got ${outputs.length} outputs but ${labels.length} labels`);
      }
      // Validate the whole batch before counting, so a bad sample leaves the state unchanged.
      outputs.forEach((output, i) => {
        const where = `emotion metric, sample ${i} of this batch (image ${images + i} since reset)`;
        check(labels[i].classIndex, 'label', where);
        check(output.classIndex, 'output', where);
      });
      outputs.forEach((output, i) => counts[labels[i].classIndex][output.classIndex]++);
      images += outputs.length;
    },

    report(): MetricReport {
      let correct = 0;
      const perClassAccuracy: Record<string, number> = {};
      let recallSum = 0;
      let present = 0;
      labelSet.classes.forEach((name, c) => {
        correct += counts[c][c];
        const truth = counts[c].reduce((a, b) => a + b, 0);
        perClassAccuracy[name] = truth > 0 ? counts[c][c] / truth : NaN;
        if (truth > 0) {
          recallSum += counts[c][c] / truth;
          present++;
        }
      });
      const accuracy = images > 0 ? correct / images : NaN;
      return {
        primary: { name: 'accuracy', value: accuracy, higherIsBetter: true },
        values: {
          accuracy,
          perClassAccuracy,
          meanPerClassAccuracy: present > 0 ? recallSum / present : NaN,
          confusionMatrix: counts.map((row) => [...row]),
          images,
        },
      };
    },

    reset(): void {
      for (const row of counts) row.fill(0);
      images = 0;
    },
  };
}
