/**
 * Moving parsing masks with the image (nearest neighbour, left/right classes swapped under a flip)
 * and mapping network outputs back to the original image.
 */
import { invertTransform, warpFloatMap, warpLabelMap } from '@ifan/core';
import type { FloatMap, LabelMap, LabelTransform } from '@ifan/core';
import type { ParsingLabel, ParsingLabelSet } from './types';

/** A lookup table class -> class that exchanges every flip pair (identity elsewhere), 256 entries. */
export function flipClassTable(set: ParsingLabelSet): Uint8Array {
  const table = Uint8Array.from({ length: 256 }, (_, i) => i);
  for (const [a, b] of set.flipPairs) {
    table[a] = b;
    table[b] = a;
  }
  return table;
}

function swapClasses(map: LabelMap, set: ParsingLabelSet): LabelMap {
  if (set.flipPairs.length === 0) return map;
  const table = flipClassTable(set);
  const data = map.data;
  for (let i = 0; i < data.length; i++) data[i] = table[data[i]];
  return map;
}

/**
 * Applies an image transform to a label: the mask is warped by nearest neighbour to `t.outSize`
 * (outside the source becomes class 0, the background), and when the transform mirrors the image the
 * left/right classes of `set` are swapped, so "left eye" stays the eye on the left of the picture.
 */
export function transformParsing(label: ParsingLabel, t: LabelTransform, set: ParsingLabelSet): ParsingLabel {
  const mask = warpLabelMap(label.mask, t.affine, t.outSize[0], t.outSize[1]);
  return { mask: t.flipped ? swapClasses(mask, set) : mask };
}

/**
 * Maps a class map predicted on the network input back to the original image, by nearest neighbour
 * through the inverse of `t`. `sourceSize` (`[width, height]` of the original) defaults to the size a
 * transform made by `faceCrop` carries. Pixels of the original image outside the crop are background.
 */
export function parsingToOriginal(mask: LabelMap, t: LabelTransform, set: ParsingLabelSet, sourceSize?: readonly [number, number]): LabelMap {
  const inv = invertTransform(t, sourceSize);
  const out = warpLabelMap(mask, inv.affine, inv.outSize[0], inv.outSize[1]);
  return t.flipped ? swapClasses(out, set) : out;
}

/**
 * Maps per-class probabilities predicted on the network input (`[h, w, classes]`) back to the original
 * image bilinearly, swapping left/right channels if `t` mirrored the image. `sourceSize` as in
 * {@link parsingToOriginal}. Outside the crop the probabilities are those of certain background.
 * Take {@link argmaxClasses} for the class map.
 */
export function probabilitiesToOriginal(
  probabilities: FloatMap,
  t: LabelTransform,
  set: ParsingLabelSet,
  sourceSize?: readonly [number, number],
): FloatMap {
  const c = probabilities.channels;
  if (c !== set.classes.length) {
    throw new Error(`probabilitiesToOriginal: ${c} channels but the label set "${set.name}" has ${set.classes.length} classes`);
  }
  const inv = invertTransform(t, sourceSize);
  const background = new Float32Array(c);
  background[0] = 1;
  const out = warpFloatMap(probabilities, inv.affine, inv.outSize[0], inv.outSize[1], background);
  if (t.flipped && set.flipPairs.length > 0) {
    const table = flipClassTable(set);
    const d = out.data;
    const tmp = new Float32Array(c);
    for (let p = 0; p < d.length; p += c) {
      for (let k = 0; k < c; k++) tmp[table[k]] = d[p + k];
      d.set(tmp, p);
    }
  }
  return out;
}

/** The most probable class of each pixel (the first on ties). */
export function argmaxClasses(map: FloatMap): LabelMap {
  const { width, height, channels: c, data } = map;
  if (c > 256) throw new Error(`argmaxClasses: ${c} channels do not fit a byte class map`);
  const out = new Uint8Array(width * height);
  for (let p = 0, o = 0; o < out.length; o++, p += c) {
    let best = 0;
    let bestV = data[p];
    for (let k = 1; k < c; k++) {
      if (data[p + k] > bestV) {
        bestV = data[p + k];
        best = k;
      }
    }
    out[o] = best;
  }
  return { width, height, data: out };
}
