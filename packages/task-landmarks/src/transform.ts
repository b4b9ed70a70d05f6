/**
 * Moving landmarks with the image: forward through a crop/augmentation transform for training, and
 * back from network coordinates to the original image for results. Left/right pairs swap whenever the
 * transform mirrors the image, so "left eye" stays the eye on the left of the picture.
 */
import { applyAffine, invertAffine } from '@ifan/core';
import type { LabelTransform } from '@ifan/core';
import type { LandmarkLabel, LandmarkSet } from './types';

/** A copy of `items` with the entries of every flip pair exchanged. */
export function swapFlipPairs<T>(items: readonly T[], flipPairs: readonly [number, number][]): T[] {
  const out = items.slice();
  for (const [i, j] of flipPairs) {
    out[i] = items[j];
    out[j] = items[i];
  }
  return out;
}

function checkCount(points: readonly unknown[], set: LandmarkSet, where: string): void {
  if (points.length !== set.points.length) {
    throw new Error(`${where}: ${points.length} points given but the landmark set "${set.name}" has ${set.points.length}`);
  }
}

/**
 * Applies an image transform to a label: every point goes through the affine map; when the transform
 * mirrors the image (`t.flipped`), the flip pairs of `set` swap places.
 */
export function transformLandmarks(label: LandmarkLabel, t: LabelTransform, set: LandmarkSet): LandmarkLabel {
  checkCount(label.points, set, 'transformLandmarks');
  const moved = label.points.map(([x, y]) => applyAffine(t.affine, x, y));
  return { points: t.flipped ? swapFlipPairs(moved, set.flipPairs) : moved };
}

/**
 * Maps points predicted on the network input back to the original image through the inverse of the
 * transform that produced the input, swapping flip pairs back if that transform mirrored the image.
 */
export function mapPointsBack(points: readonly [number, number][], t: LabelTransform, set: LandmarkSet): [number, number][] {
  checkCount(points, set, 'mapPointsBack');
  const inv = invertAffine(t.affine);
  const back = points.map(([x, y]) => applyAffine(inv, x, y));
  return t.flipped ? swapFlipPairs(back, set.flipPairs) : back;
}

/** MTFL's attributes of one face (see `loadMtfl`). */
export interface MtflAttributes {
  gender: 'male' | 'female';
  smile: boolean;
  glasses: boolean;
  /** 1 left profile, 2 left, 3 frontal, 4 right, 5 right profile (MTFL's codes). */
  pose: 1 | 2 | 3 | 4 | 5;
}

/** MTFL's attributes after an image transform: a mirror turns a left pose into a right one. */
export function transformMtflAttributes(attributes: MtflAttributes, t: LabelTransform): MtflAttributes {
  if (!t.flipped) return attributes;
  return { ...attributes, pose: (6 - attributes.pose) as MtflAttributes['pose'] };
}
