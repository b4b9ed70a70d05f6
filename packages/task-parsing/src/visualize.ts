import type { LabelMap, RawImage } from '@ifan/core';
import type { ParsingLabelSet } from './types';

/**
 * A copy of the image with the parsing map blended on it in the label set's colours (background left
 * as it is). The map must be the image's size.
 */
export function drawParsing(image: RawImage, mask: LabelMap, set: ParsingLabelSet, alpha = 0.5): RawImage {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new Error(`drawParsing: the map is ${mask.width}x${mask.height}, the image ${image.width}x${image.height}`);
  }
  const out = { ...image, data: new Uint8Array(image.data) };
  for (let p = 0; p < mask.data.length; p++) {
    const k = mask.data[p];
    if (k === 0) continue;
    const c = set.colors[k] ?? [255, 255, 255];
    for (let j = 0; j < 3; j++) out.data[p * 3 + j] = Math.round(image.data[p * 3 + j] * (1 - alpha) + c[j] * alpha);
  }
  return out;
}

/** The map alone in the label set's colours. */
export function colorizeLabelMap(mask: LabelMap, set: ParsingLabelSet): RawImage {
  const data = new Uint8Array(mask.width * mask.height * 3);
  for (let p = 0; p < mask.data.length; p++) {
    const c = set.colors[mask.data[p]] ?? [255, 255, 255];
    data.set(c, p * 3);
  }
  return { width: mask.width, height: mask.height, channels: 3, data };
}
