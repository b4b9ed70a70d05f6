/** Point sets and task keys of the landmark task: plain data, safe in a browser. */
import type { LandmarkSet } from './types';

/** Key of landmark labels in `LabelledImage.labels` unless a loader is told otherwise. */
export const LANDMARKS_TASK = 'landmarks';
/** Key of MTFL's attribute labels. */
export const MTFL_ATTRIBUTES_TASK = 'attributes';

/**
 * MTFL's five points. "Left" and "right" are as seen in the picture (MTFL's left eye has the smaller
 * x), the convention of 300-W's 68 points too.
 */
export const MTFL_5: LandmarkSet = Object.freeze({
  name: 'mtfl-5',
  points: ['left eye', 'right eye', 'nose tip', 'left mouth corner', 'right mouth corner'],
  flipPairs: [
    [0, 1],
    [3, 4],
  ],
  leftEye: [0],
  rightEye: [1],
}) as LandmarkSet;

function ibugNames(): string[] {
  const names: string[] = [];
  for (let i = 1; i <= 17; i++) names.push(`jaw ${i}`);
  for (let i = 1; i <= 5; i++) names.push(`left brow ${i}`);
  for (let i = 1; i <= 5; i++) names.push(`right brow ${i}`);
  for (let i = 1; i <= 4; i++) names.push(`nose bridge ${i}`);
  for (let i = 1; i <= 5; i++) names.push(`nostril ${i}`);
  for (let i = 1; i <= 6; i++) names.push(`left eye ${i}`);
  for (let i = 1; i <= 6; i++) names.push(`right eye ${i}`);
  for (let i = 1; i <= 12; i++) names.push(`outer lip ${i}`);
  for (let i = 1; i <= 8; i++) names.push(`inner lip ${i}`);
  return names;
}

/**
 * The 68 points of Multi-PIE / iBUG / 300-W (0-based here; the usual 1-based numbering is one more).
 * Points 36-41 are the eye on the left of the picture, 42-47 the one on the right.
 */
export const IBUG_68: LandmarkSet = Object.freeze({
  name: 'ibug-68',
  points: ibugNames(),
  flipPairs: [
    // jaw
    ...Array.from({ length: 8 }, (_, i) => [i, 16 - i] as [number, number]),
    // brows
    [17, 26], [18, 25], [19, 24], [20, 23], [21, 22],
    // nostrils
    [31, 35], [32, 34],
    // eyes
    [36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46],
    // outer lip
    [48, 54], [49, 53], [50, 52], [59, 55], [58, 56],
    // inner lip
    [60, 64], [61, 63], [67, 65],
  ],
  leftEye: [36, 37, 38, 39, 40, 41],
  rightEye: [42, 43, 44, 45, 46, 47],
}) as LandmarkSet;

const mean = (pts: [number, number][], idx: number[]): [number, number] => [
  idx.reduce((s, i) => s + pts[i][0], 0) / idx.length,
  idx.reduce((s, i) => s + pts[i][1], 0) / idx.length,
];

/**
 * The standard reduction of 68 points to MTFL's 5: eye centres = mean of each eye's six points
 * (36-41, 42-47), nose tip = 30, mouth corners = 48 and 54.
 */
export function reduce68To5(points: [number, number][]): [number, number][] {
  if (points.length !== 68) throw new Error(`reduce68To5: expected 68 points, got ${points.length}`);
  return [mean(points, IBUG_68.leftEye), mean(points, IBUG_68.rightEye), [...points[30]], [...points[48]], [...points[54]]];
}

/** The pose codes of MTFL, 1-based: `MTFL_POSES[pose - 1]`. */
export const MTFL_POSES = ['left profile', 'left', 'frontal', 'right', 'right profile'] as const;
