import { describe, expect, it } from 'vitest';
import type { LabelMap } from '@ifan/core';
import { createParsingMetric, PixelConfusionMatrix } from '../src/metrics';
import type { ParsingLabelSet } from '../src/types';

/** Builds a mask from rows of class indices. */
function mask(rows: number[][]): LabelMap {
  return { width: rows[0].length, height: rows.length, data: Uint8Array.from(rows.flat()) };
}

function labelSet(classes: string[], groups: Record<string, number[]>): ParsingLabelSet {
  return {
    name: 'fixture',
    classes,
    colors: classes.map(() => [0, 0, 0] as [number, number, number]),
    flipPairs: [],
    groups,
  };
}

/** Four classes: small enough to count by hand. */
const TINY = labelSet(['background', 'skin', 'left eye', 'right eye'], {
  eyes: [2, 3],
  overall: [2, 3],
});

/** Helen's 11 classes in the order of Smith et al.'s label images. */
const HELEN_LIKE = labelSet(
  [
    'background', 'face skin', 'left brow', 'right brow', 'left eye', 'right eye',
    'nose', 'upper lip', 'inner mouth', 'lower lip', 'hair',
  ],
  {
    eyes: [4, 5],
    brows: [2, 3],
    'mouth-all': [7, 8, 9],
    overall: [2, 3, 4, 5, 6, 7, 8, 9],
  },
);

/** FASSEG's 6 classes. */
const FASSEG_LIKE = labelSet(['background', 'skin', 'hair', 'eyes', 'nose', 'mouth'], {
  overall: [3, 4, 5],
});

/** Deterministic pseudo-random mask (LCG) for the accumulation tests. */
function randomMask(width: number, height: number, classes: number, seed: number): LabelMap {
  let s = seed >>> 0;
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s % classes;
  }
  return { width, height, data };
}

describe('PixelConfusionMatrix', () => {
  it('counts pixels by (truth, prediction)', () => {
    const m = new PixelConfusionMatrix(4);
    m.add(mask([[0, 0, 1, 1], [2, 2, 3, 3]]), mask([[0, 1, 1, 1], [2, 3, 3, 0]]));
    expect(m.toArray()).toEqual([
      [1, 1, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 1, 1],
      [1, 0, 0, 1],
    ]);
    expect(m.totalPixels).toBe(8);
    m.reset();
    expect(m.totalPixels).toBe(0);
    expect(m.toArray().flat().every((v) => v === 0)).toBe(true);
  });

  it('rejects a class index outside the label set, naming the pixel', () => {
    const m = new PixelConfusionMatrix(3);
    expect(() => m.add(mask([[0, 1]]), mask([[0, 7]]), 'sample 2')).toThrow(
      /sample 2: predicted mask has class 7 at pixel \(1, 0\).*only 3 classes/,
    );
    expect(() => m.add(mask([[5]]), mask([[0]]))).toThrow(/label mask has class 5/);
  });

  it('rejects data whose length does not match the declared size', () => {
    const m = new PixelConfusionMatrix(2);
    const bad = { width: 2, height: 2, data: new Uint8Array(3) };
    expect(() => m.add(bad, mask([[0, 0], [0, 0]]))).toThrow(/label mask has 3 values but is declared 2x2/);
  });
});

describe('createParsingMetric', () => {
  it('matches hand-computed per-class, group and overall F-scores', () => {
    const metric = createParsingMetric(TINY);
    // truth         prediction     confusion (row = truth, col = prediction)
    // 0 0 1 1       0 1 1 1        (0,0)=1 (0,1)=1 (1,1)=2 (2,2)=1 (2,3)=1 (3,3)=1 (3,0)=1
    // 2 2 3 3       2 3 3 0
    metric.update([{ mask: mask([[0, 1, 1, 1], [2, 3, 3, 0]]) }], [{ mask: mask([[0, 0, 1, 1], [2, 2, 3, 3]]) }]);
    const r = metric.report();
    const f = r.values.fScore as Record<string, number>;
    const p = r.values.precision as Record<string, number>;
    const rc = r.values.recall as Record<string, number>;
    // background: TP 1, truth 2, predicted 1 + 1 (from right eye) = 2 -> F = 2·1/(2+2) = 0.5
    expect(f.background).toBeCloseTo(0.5, 12);
    // skin: TP 2, truth 2, predicted 1 (from background) + 2 = 3 -> F = 4/5, P = 2/3, R = 1
    expect(f.skin).toBeCloseTo(0.8, 12);
    expect(p.skin).toBeCloseTo(2 / 3, 12);
    expect(rc.skin).toBe(1);
    // left eye: TP 1, truth 2, predicted 1 -> F = 2/3, P = 1, R = 1/2
    expect(f['left eye']).toBeCloseTo(2 / 3, 12);
    expect(p['left eye']).toBe(1);
    expect(rc['left eye']).toBe(0.5);
    // right eye: TP 1, truth 2, predicted 1 (from left eye) + 1 = 2 -> F = 0.5
    expect(f['right eye']).toBeCloseTo(0.5, 12);
    // eyes merged: TP = (2,2)+(2,3)+(3,2)+(3,3) = 1+1+0+1 = 3, truth 4, predicted 1+2 = 3
    //   -> F = 6/7 (the left-eye pixel predicted right eye is a hit for the group)
    const g = r.values.groupFScore as Record<string, number>;
    expect(g.eyes).toBeCloseTo(6 / 7, 12);
    expect((r.values.groupPrecision as Record<string, number>).eyes).toBe(1);
    expect((r.values.groupRecall as Record<string, number>).eyes).toBe(0.75);
    expect(r.values.overallFScore).toBeCloseTo(6 / 7, 12);
    // pixel accuracy: diagonal 1+2+1+1 = 5 of 8
    expect(r.values.pixelAccuracy).toBe(5 / 8);
    expect(r.values.pixels).toBe(8);
    expect(r.values.images).toBe(1);
    expect(r.primary).toEqual({ name: 'overallFScore', value: r.values.overallFScore, higherIsBetter: true });
  });

  it('scores Helen overall as brows+eyes+nose+mouth merged, excluding skin, hair and background', () => {
    const metric = createParsingMetric(HELEN_LIKE);
    // pixel:   0      1     2     3     4     5
    // truth:   lbrow  nose  skin  hair  bg    in-mouth
    // pred:    nose   nose  hair  hair  leye  skin
    metric.update([{ mask: mask([[6, 6, 10, 10, 4, 1]]) }], [{ mask: mask([[2, 6, 1, 10, 0, 8]]) }]);
    const r = metric.report();
    // overall = {2..9}: truth in set at pixels 0,1,5 (3); predicted in set at 0,1,4 (3);
    //   both at 0,1 (2: lbrow->nose counts) -> F = 2·2/(3+3) = 2/3
    expect(r.primary.value).toBeCloseTo(2 / 3, 12);
    const g = r.values.groupFScore as Record<string, number>;
    // mouth-all: truth 1 (pixel 5), predicted 0 -> F 0, recall 0, precision NaN
    expect(g['mouth-all']).toBe(0);
    expect((r.values.groupRecall as Record<string, number>)['mouth-all']).toBe(0);
    expect((r.values.groupPrecision as Record<string, number>)['mouth-all']).toBeNaN();
    // brows: truth 1, predicted 0 -> 0; eyes: truth 0, predicted 1 -> F 0, precision 0, recall NaN
    expect(g.brows).toBe(0);
    expect(g.eyes).toBe(0);
    expect((r.values.groupRecall as Record<string, number>).eyes).toBeNaN();
    const f = r.values.fScore as Record<string, number>;
    // nose: TP 1, truth 1, predicted 2 -> 2/3; hair: TP 1, truth 1, predicted 2 -> 2/3; skin: TP 0 -> 0
    expect(f.nose).toBeCloseTo(2 / 3, 12);
    expect(f.hair).toBeCloseTo(2 / 3, 12);
    expect(f['face skin']).toBe(0);
    expect(f.background).toBe(0);
    // classes absent from both truth and prediction: NaN, not 0 or 1
    expect(f['right brow']).toBeNaN();
    expect(f['upper lip']).toBeNaN();
  });

  it('accumulates pixel counts over the split instead of averaging per image', () => {
    const metric = createParsingMetric(TINY);
    // image A: one left-eye pixel, predicted left eye     -> per-image F(left eye) = 1
    // image B: three left-eye pixels, predicted background -> per-image F(left eye) = 0
    metric.update([{ mask: mask([[2, 0]]) }], [{ mask: mask([[2, 0]]) }]);
    metric.update([{ mask: mask([[0, 0, 0]]) }], [{ mask: mask([[2, 2, 2]]) }]);
    // pooled: TP 1, truth 4, predicted 1 -> 2/5 = 0.4, not the per-image mean (1 + 0)/2 = 0.5
    expect((metric.report().values.fScore as Record<string, number>)['left eye']).toBeCloseTo(0.4, 12);
  });

  it('gives the same report for several update() calls as for one big one', () => {
    const truths = [0, 1, 2, 3, 4].map((k) => randomMask(7 + k, 5, 11, 100 + k));
    const preds = [0, 1, 2, 3, 4].map((k) => randomMask(7 + k, 5, 11, 200 + k));
    const one = createParsingMetric(HELEN_LIKE);
    one.update(preds.map((m) => ({ mask: m })), truths.map((m) => ({ mask: m })));
    const split = createParsingMetric(HELEN_LIKE);
    split.update(preds.slice(0, 2).map((m) => ({ mask: m })), truths.slice(0, 2).map((m) => ({ mask: m })));
    split.update([{ mask: preds[2] }], [{ mask: truths[2] }]);
    split.update(preds.slice(3).map((m) => ({ mask: m })), truths.slice(3).map((m) => ({ mask: m })));
    expect(split.report()).toEqual(one.report());
    expect(one.report().values.images).toBe(5);
  });

  it('reports NaN scores when empty, and reset() returns to empty', () => {
    const metric = createParsingMetric(TINY);
    const empty = metric.report();
    expect(empty.primary.value).toBeNaN();
    expect(empty.values.pixelAccuracy).toBeNaN();
    expect(empty.values.pixels).toBe(0);
    expect(Object.values(empty.values.fScore as Record<string, number>).every(Number.isNaN)).toBe(true);
    metric.update([{ mask: mask([[2, 3]]) }], [{ mask: mask([[2, 3]]) }]);
    expect(metric.report().primary.value).toBe(1);
    metric.reset();
    expect(metric.report()).toEqual(empty);
  });

  it('works for a 6-class label set (FASSEG)', () => {
    const metric = createParsingMetric(FASSEG_LIKE);
    // truth: bg skin eyes nose mouth hair; prediction: bg skin nose nose mouth skin
    metric.update([{ mask: mask([[0, 1, 4, 4, 5, 1]]) }], [{ mask: mask([[0, 1, 3, 4, 5, 2]]) }]);
    const r = metric.report();
    // overall {eyes, nose, mouth}: truth at 2,3,4; predicted at 2,3,4; all hits -> 1
    expect(r.primary.value).toBe(1);
    // eyes: truth 1, predicted 0 -> F 0; nose: TP 1, truth 1, predicted 2 -> 2/3
    expect((r.values.fScore as Record<string, number>).eyes).toBe(0);
    expect((r.values.fScore as Record<string, number>).nose).toBeCloseTo(2 / 3, 12);
    expect((r.values.confusionMatrix as number[][]).length).toBe(6);
  });

  it('throws a clear error when output and label masks differ in size', () => {
    const metric = createParsingMetric(TINY);
    const ok = mask([[0, 0], [0, 0]]);
    expect(() =>
      metric.update([{ mask: ok }, { mask: mask([[0, 0, 0, 0]]) }], [{ mask: ok }, { mask: ok }]),
    ).toThrow(/sample 1 of this batch.*predicted mask is 4x1 but the label mask is 2x2/);
    expect(() => metric.update([{ mask: ok }], [])).toThrow(/1 outputs but 0 labels/);
  });

  it('rejects a label set without groups.overall or with a bad group', () => {
    expect(() => createParsingMetric(labelSet(['a', 'b'], { eyes: [1] }))).toThrow(/no groups\.overall/);
    expect(() => createParsingMetric(labelSet(['a', 'b'], { overall: [2] }))).toThrow(
      /group 'overall' lists class 2, not in 0\.\.1/,
    );
    expect(() => createParsingMetric(labelSet(['a', 'b'], { overall: [1, 1] }))).toThrow(/twice/);
  });
});
