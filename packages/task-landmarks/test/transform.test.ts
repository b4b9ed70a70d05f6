import { describe, expect, it } from 'vitest';
import { augmentTransform, faceCrop, flipTransform, Rng } from '@ifan/core';
import { IBUG_68, MTFL_5 } from '../src/sets';
import { mapPointsBack, swapFlipPairs, transformLandmarks, transformMtflAttributes } from '../src/transform';
import type { LandmarkLabel } from '../src/types';

type Pts = [number, number][];

function closePts(a: Pts, b: Pts, digits = 9): void {
  expect(a).toHaveLength(b.length);
  a.forEach((p, i) => {
    expect(p[0]).toBeCloseTo(b[i][0], digits);
    expect(p[1]).toBeCloseTo(b[i][1], digits);
  });
}

/** A face on a 100 x 100 image: eyes at x 30 / 70, nose at 50, mouth corners at 38 / 62. */
const FACE: LandmarkLabel = { points: [[30, 40], [70, 42], [50, 60], [38, 75], [62, 76]] };

describe('transformLandmarks', () => {
  it('applies the crop', () => {
    const t = faceCrop([100, 100], [20, 20, 60, 60], { size: 30 });
    closePts(transformLandmarks(FACE, t, MTFL_5).points, [[5, 10], [25, 11], [15, 20], [9, 27.5], [21, 28]]);
  });

  it('under a flip, mirrors and swaps the left/right points so "left eye" stays on the left', () => {
    const t = flipTransform(faceCrop([100, 100], undefined, { size: 100 }));
    const out = transformLandmarks(FACE, t, MTFL_5).points;
    // the right eye (70, 42) is mirrored to (30, 42) and becomes the left eye
    closePts(out, [[30, 42], [70, 40], [50, 60], [38, 76], [62, 75]]);
    expect(out[0][0]).toBeLessThan(out[1][0]);
    expect(out[3][0]).toBeLessThan(out[4][0]);
  });

  it('keeps the 68-point picture-left eye on the left after a flip', () => {
    // a symmetric 68-point face: left-of-picture points at x < 50, their partners mirrored
    const pts: Pts = Array.from({ length: 68 }, () => [50, 50]);
    for (const [a, b] of IBUG_68.flipPairs) {
      pts[a] = [20 + a * 0.1, 30 + a];
      pts[b] = [100 - pts[a][0], 30 + a];
    }
    const t = flipTransform(faceCrop([100, 100], undefined, { size: 100 }));
    closePts(transformLandmarks({ points: pts }, t, IBUG_68).points, pts);
  });

  it('refuses a label with the wrong number of points', () => {
    const t = faceCrop([100, 100], undefined, { size: 10 });
    expect(() => transformLandmarks({ points: [[1, 1]] }, t, MTFL_5)).toThrow(/1 points given but the landmark set "mtfl-5" has 5/);
  });
});

describe('mapPointsBack', () => {
  it('inverts any crop + augmentation, flipped or not', () => {
    const rng = new Rng(9);
    for (let k = 0; k < 20; k++) {
      const t = augmentTransform(faceCrop([100, 120], [10, 20, 80, 70], { size: 64, margin: 0.2 }), rng, {
        scale: [0.8, 1.2],
        rotationDeg: 20,
        shift: 0.1,
        flip: 0.5,
      });
      const onNetwork = transformLandmarks(FACE, t, MTFL_5).points;
      closePts(mapPointsBack(onNetwork, t, MTFL_5), FACE.points);
    }
  });
});

describe('helpers', () => {
  it('swapFlipPairs exchanges pairs and leaves the rest', () => {
    expect(swapFlipPairs(['a', 'b', 'c', 'd', 'e'], [[0, 1], [3, 4]])).toEqual(['b', 'a', 'c', 'e', 'd']);
  });

  it('a flip turns left poses into right ones', () => {
    const t = faceCrop([10, 10], undefined, { size: 10 });
    const a = { gender: 'male' as const, smile: true, glasses: false, pose: 1 as const };
    expect(transformMtflAttributes(a, t)).toBe(a);
    expect(transformMtflAttributes(a, flipTransform(t)).pose).toBe(5);
    expect(transformMtflAttributes({ ...a, pose: 3 }, flipTransform(t)).pose).toBe(3);
  });
});
