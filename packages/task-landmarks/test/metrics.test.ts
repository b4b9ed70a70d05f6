import { describe, expect, it } from 'vitest';
import { createLandmarkMetric, interOcularDistance, normalisedErrors } from '../src/metrics';
import type { LandmarkSet } from '../src/types';

type Pts = [number, number][];

/** MTFL's five points; the eye centres are points themselves. */
const FIVE: LandmarkSet = {
  name: 'five',
  points: ['left eye', 'right eye', 'nose', 'left mouth', 'right mouth'],
  flipPairs: [[0, 1], [3, 4]],
  leftEye: [0],
  rightEye: [1],
};

/** Four points, two per eye: eye centres are means (as with 68-point sets). */
const EYE_CORNERS: LandmarkSet = {
  name: 'corners',
  points: ['l outer', 'l inner', 'r inner', 'r outer'],
  flipPairs: [[0, 3], [1, 2]],
  leftEye: [0, 1],
  rightEye: [2, 3],
};

// Face A: inter-ocular distance |(0,0) - (10,0)| = 10.
const TRUTH_A: Pts = [[0, 0], [10, 0], [5, 5], [2, 10], [8, 10]];
// errors: 0, |(0,2)| = 2 -> 0.2, |(3,4)| = 5 -> 0.5, 0, 0; face mean (0.2 + 0.5)/5 = 0.14 (> 0.1: fails)
const PRED_A: Pts = [[0, 0], [10, 2], [8, 9], [2, 10], [8, 10]];
// Face B: eyes stacked vertically, inter-ocular distance |(0,0) - (0,20)| = 20.
const TRUTH_B: Pts = [[0, 0], [0, 20], [10, 10], [3, 15], [7, 15]];
// errors: 1/20 = 0.05, 0, 1/20 = 0.05, 0, 0; face mean 0.1/5 = 0.02
const PRED_B: Pts = [[1, 0], [0, 20], [10, 11], [3, 15], [7, 15]];

/** Deterministic pseudo-random face (LCG): truth with eyes 20-40 px apart, prediction jittered. */
function randomFace(seed: number): { truth: Pts; pred: Pts } {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const truth: Pts = [[10, 10], [30 + 20 * rnd(), 10 + 5 * rnd()], [25, 25], [15, 35], [35, 35]];
  const pred = truth.map(([x, y]) => [x + 6 * (rnd() - 0.5), y + 6 * (rnd() - 0.5)] as [number, number]);
  return { truth, pred };
}

describe('interOcularDistance / normalisedErrors', () => {
  it('uses the mean of each eye\'s points as its centre', () => {
    // centres (0+2)/2 = 1 and (10+12)/2 = 11 -> distance 10
    expect(interOcularDistance([[0, 0], [2, 0], [10, 0], [12, 0]], EYE_CORNERS)).toBe(10);
    // point 0 off by (3,4): 5/10 = 0.5
    expect(normalisedErrors([[3, 4], [2, 0], [10, 0], [12, 0]], [[0, 0], [2, 0], [10, 0], [12, 0]], EYE_CORNERS))
      .toEqual([0.5, 0, 0, 0]);
  });

  it('normalises by the ground-truth distance, not the prediction', () => {
    expect(normalisedErrors(PRED_A, TRUTH_A, FIVE)).toEqual([0, 0.2, 0.5, 0, 0]);
  });
});

describe('createLandmarkMetric', () => {
  it('matches hand-computed NME, failure rates, CED and AUC', () => {
    const metric = createLandmarkMetric(FIVE, { failureThreshold: 0.1 });
    metric.update([{ points: PRED_A }, { points: PRED_B }], [{ points: TRUTH_A }, { points: TRUTH_B }]);
    const r = metric.report();
    // mean NME over faces: (0.14 + 0.02)/2 = 0.08
    expect(r.primary).toEqual({ name: 'meanNME', value: r.values.meanNME, higherIsBetter: false });
    expect(r.values.meanNME).toBeCloseTo(0.08, 12);
    // per point, mean over the two faces: left eye (0 + 0.05)/2, right eye (0.2 + 0)/2,
    // nose (0.5 + 0.05)/2, mouth corners 0; their mean (0.025 + 0.1 + 0.275)/5 = 0.08 = meanNME
    const perPoint = r.values.perPointNME as Record<string, number>;
    expect(perPoint['left eye']).toBeCloseTo(0.025, 12);
    expect(perPoint['right eye']).toBeCloseTo(0.1, 12);
    expect(perPoint.nose).toBeCloseTo(0.275, 12);
    expect(perPoint['left mouth']).toBe(0);
    // face A fails (0.14 > 0.1), face B does not (0.02) -> 1/2
    expect(r.values.failureRate).toBe(0.5);
    // per point: right eye fails on A (0.2), nose on A (0.5); left eye's 0.05 and B's errors pass
    expect(r.values.perPointFailureRate).toEqual({
      'left eye': 0, 'right eye': 0.5, nose: 0.5, 'left mouth': 0, 'right mouth': 0,
    });
    // CED grid 0, 0.01, ..., 0.3 (31 points); fraction of faces with mean error <= x
    const xs = r.values.cedThresholds as number[];
    const ced = r.values.ced as number[];
    expect(xs.length).toBe(31);
    expect(xs[3]).toBe(0.03);
    expect(xs[30]).toBe(0.3);
    expect(ced[0]).toBe(0); // no face is error-free
    expect(ced[1]).toBe(0); // 0.01: none
    expect(ced[3]).toBe(0.5); // 0.03: face B
    expect(ced[15]).toBe(1); // 0.15: both
    expect(ced[30]).toBe(1);
    // AUC@0.1 = mean of max(0, 0.1 - e)/0.1 = (0 + 0.08)/(2 · 0.1) = 0.4
    expect(r.values['auc@0.1']).toBeCloseTo(0.4, 12);
    expect(r.values.faces).toBe(2);
  });

  it('honours the failure threshold option (exactly at the threshold is not a failure)', () => {
    const metric = createLandmarkMetric(FIVE, { failureThreshold: 0.2 });
    metric.update([{ points: PRED_A }], [{ points: TRUTH_A }]);
    // face 0.14 <= 0.2: passes; right eye exactly 0.2: passes; nose 0.5: fails
    expect(metric.report().values.failureRate).toBe(0);
    expect((metric.report().values.perPointFailureRate as Record<string, number>)['right eye']).toBe(0);
    expect((metric.report().values.perPointFailureRate as Record<string, number>).nose).toBe(1);
  });

  it('gives the same report for several update() calls as for one big one', () => {
    const faces = [1, 2, 3, 4, 5, 6, 7].map(randomFace);
    const one = createLandmarkMetric(FIVE);
    one.update(faces.map((f) => ({ points: f.pred })), faces.map((f) => ({ points: f.truth })));
    const split = createLandmarkMetric(FIVE);
    for (const chunk of [faces.slice(0, 3), faces.slice(3, 4), faces.slice(4)]) {
      split.update(chunk.map((f) => ({ points: f.pred })), chunk.map((f) => ({ points: f.truth })));
    }
    const a = one.report();
    const b = split.report();
    expect(b.values.faces).toBe(7);
    expect(b.values.ced).toEqual(a.values.ced);
    expect(b.values.failureRate).toBe(a.values.failureRate);
    expect(b.values.meanNME as number).toBeCloseTo(a.values.meanNME as number, 12);
    for (const name of FIVE.points) {
      expect((b.values.perPointNME as Record<string, number>)[name]).toBeCloseTo(
        (a.values.perPointNME as Record<string, number>)[name],
        12,
      );
    }
  });

  it('reports NaN when empty, and reset() returns to empty', () => {
    const metric = createLandmarkMetric(FIVE);
    const empty = metric.report();
    expect(empty.primary.value).toBeNaN();
    expect(empty.values.failureRate).toBeNaN();
    expect(empty.values['auc@0.1']).toBeNaN();
    expect((empty.values.ced as number[]).every(Number.isNaN)).toBe(true);
    expect(empty.values.faces).toBe(0);
    metric.update([{ points: PRED_A }], [{ points: TRUTH_A }]);
    expect(metric.report().values.faces).toBe(1);
    metric.reset();
    expect(metric.report()).toEqual(empty);
  });

  it('throws on a zero inter-ocular distance, naming the sample, and keeps its state', () => {
    const metric = createLandmarkMetric(FIVE);
    const degenerate: Pts = [[4, 4], [4, 4], [5, 5], [2, 10], [8, 10]];
    expect(() =>
      metric.update([{ points: PRED_A }, { points: PRED_A }], [{ points: TRUTH_A }, { points: degenerate }]),
    ).toThrow(/sample 1 of this batch \(face 1 since reset\): inter-ocular distance is 0/);
    expect(metric.report().values.faces).toBe(0);
  });

  it('rejects wrong point counts, non-finite points and bad sets', () => {
    const metric = createLandmarkMetric(FIVE);
    expect(() => metric.update([{ points: PRED_A.slice(0, 4) }], [{ points: TRUTH_A }])).toThrow(
      /sample 0 .*has 5 points but the label has 5 and the output 4/,
    );
    const nan: Pts = PRED_A.map((p, j) => (j === 2 ? [NaN, 1] : p));
    expect(() => metric.update([{ points: nan }], [{ points: TRUTH_A }])).toThrow(/output point 2 \(nose\) is not finite/);
    expect(() => metric.update([], [{ points: TRUTH_A }])).toThrow(/0 outputs but 1 labels/);
    expect(() => createLandmarkMetric({ ...FIVE, leftEye: [] })).toThrow(/leftEye lists no points/);
    expect(() => createLandmarkMetric({ ...FIVE, rightEye: [5] })).toThrow(/rightEye lists point 5, not in 0\.\.4/);
    expect(() => createLandmarkMetric(FIVE, { failureThreshold: 0 })).toThrow(/failureThreshold must be a positive/);
  });
});
