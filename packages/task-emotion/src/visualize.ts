import type { RawImage } from '@ifan/core';
import type { EmotionLabelSet, EmotionOutput } from './types';

/** One colour per class (cycled), shared by the bars and any legend a caller draws. */
export const EMOTION_COLORS: [number, number, number][] = [
  [220, 50, 50],
  [120, 160, 40],
  [150, 80, 200],
  [250, 200, 40],
  [160, 160, 160],
  [60, 110, 220],
  [250, 130, 40],
];

/**
 * A copy of the image with the class probabilities as a bar chart along the bottom edge: one bar per
 * class in label-set order, its height the probability, the predicted class outlined in white.
 */
export function drawEmotion(image: RawImage, output: EmotionOutput, set: EmotionLabelSet): RawImage {
  const out = { ...image, data: new Uint8Array(image.data) };
  const C = set.classes.length;
  const chartH = Math.max(6, Math.round(image.height / 4));
  const barW = Math.max(1, Math.floor(image.width / C));
  const top = image.height - chartH;
  const put = (x: number, y: number, c: [number, number, number], alpha = 1) => {
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
    const o = (y * image.width + x) * 3;
    for (let k = 0; k < 3; k++) out.data[o + k] = Math.round(out.data[o + k] * (1 - alpha) + c[k] * alpha);
  };
  for (let y = top; y < image.height; y++) for (let x = 0; x < barW * C; x++) put(x, y, [0, 0, 0], 0.5);
  output.probabilities.forEach((p, k) => {
    const h = Math.round(p * (chartH - 1));
    const color = EMOTION_COLORS[k % EMOTION_COLORS.length];
    for (let y = image.height - h; y < image.height; y++) for (let x = k * barW; x < (k + 1) * barW - (barW > 2 ? 1 : 0); x++) put(x, y, color);
    if (k === output.classIndex) {
      for (let x = k * barW; x < (k + 1) * barW; x++) put(x, top, [255, 255, 255]);
      for (let y = top; y < image.height; y++) {
        put(k * barW, y, [255, 255, 255]);
        put((k + 1) * barW - 1, y, [255, 255, 255]);
      }
    }
  });
  return out;
}
