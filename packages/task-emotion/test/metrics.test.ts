import { describe, expect, it } from 'vitest';
import { createEmotionMetric } from '../src/metrics';
import type { EmotionLabelSet, EmotionOutput } from '../src/types';

const THREE: EmotionLabelSet = { name: 'three', classes: ['happy', 'sad', 'neutral'] };
/** FER2013's seven classes. */
const SEVEN: EmotionLabelSet = {
  name: 'seven',
  classes: ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'],
};

const out = (classIndex: number): EmotionOutput => ({ classIndex, className: `class ${classIndex}`, probabilities: [] });
const lab = (classIndex: number) => ({ classIndex });

describe('createEmotionMetric', () => {
  it('matches hand-computed accuracy, per-class accuracy and confusion matrix', () => {
    const metric = createEmotionMetric(THREE);
    // truth:      happy happy happy sad sad neutral
    // prediction: happy happy sad   sad happy neutral
    metric.update([0, 0, 1, 1, 0, 2].map(out), [0, 0, 0, 1, 1, 2].map(lab));
    const r = metric.report();
    // correct: 2 (happy) + 1 (sad) + 1 (neutral) = 4 of 6
    expect(r.primary).toEqual({ name: 'accuracy', value: 4 / 6, higherIsBetter: true });
    // rows = truth, cols = prediction
    expect(r.values.confusionMatrix).toEqual([
      [2, 1, 0],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    // recall: happy 2/3, sad 1/2, neutral 1/1; mean (2/3 + 1/2 + 1)/3 = 13/18
    expect(r.values.perClassAccuracy).toEqual({ happy: 2 / 3, sad: 1 / 2, neutral: 1 });
    expect(r.values.meanPerClassAccuracy).toBeCloseTo(13 / 18, 12);
    expect(r.values.images).toBe(6);
  });

  it('leaves a class absent from the truth out of the mean (NaN per class)', () => {
    const metric = createEmotionMetric(SEVEN);
    // truth: angry, angry, happy; prediction: angry, fear, happy
    metric.update([0, 2, 3].map(out), [0, 0, 3].map(lab));
    const r = metric.report();
    const perClass = r.values.perClassAccuracy as Record<string, number>;
    // angry 1/2, happy 1/1; fear never true (only predicted) -> NaN
    expect(perClass.angry).toBe(0.5);
    expect(perClass.happy).toBe(1);
    expect(perClass.fear).toBeNaN();
    expect(perClass.neutral).toBeNaN();
    // mean over the 2 present classes: (0.5 + 1)/2 = 0.75; accuracy 2/3
    expect(r.values.meanPerClassAccuracy).toBe(0.75);
    expect(r.values.accuracy).toBeCloseTo(2 / 3, 12);
  });

  it('gives the same report for several update() calls as for one big one', () => {
    const truth = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1];
    const pred = [0, 2, 2, 1, 1, 0, 1, 2, 0, 1];
    const one = createEmotionMetric(THREE);
    one.update(pred.map(out), truth.map(lab));
    const split = createEmotionMetric(THREE);
    split.update(pred.slice(0, 4).map(out), truth.slice(0, 4).map(lab));
    split.update(pred.slice(4, 5).map(out), truth.slice(4, 5).map(lab));
    split.update(pred.slice(5).map(out), truth.slice(5).map(lab));
    expect(split.report()).toEqual(one.report());
  });

  it('reports NaN when empty, and reset() returns to empty', () => {
    const metric = createEmotionMetric(THREE);
    const empty = metric.report();
    expect(empty.primary.value).toBeNaN();
    expect(empty.values.meanPerClassAccuracy).toBeNaN();
    expect(empty.values.confusionMatrix).toEqual([[0, 0, 0], [0, 0, 0], [0, 0, 0]]);
    metric.update([out(1)], [lab(1)]);
    expect(metric.report().primary.value).toBe(1);
    metric.reset();
    expect(metric.report()).toEqual(empty);
  });

  it('rejects class indices outside the label set, naming the sample, and keeps its state', () => {
    const metric = createEmotionMetric(THREE);
    expect(() => metric.update([out(0), out(3)], [lab(0), lab(0)])).toThrow(
      /sample 1 of this batch \(image 1 since reset\): output class index 3 is not in 0\.\.2/,
    );
    expect(() => metric.update([out(0)], [lab(-1)])).toThrow(/label class index -1/);
    expect(() => metric.update([out(0.5)], [lab(0)])).toThrow(/output class index 0.5/);
    expect(metric.report().values.images).toBe(0);
    expect(() => metric.update([out(0)], [])).toThrow(/1 outputs but 0 labels/);
  });
});
