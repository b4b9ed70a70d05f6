import type { LabelMap, RawImage } from '@ifan/core';
import { HELEN_COLORS } from './constants';

/** A colour-coded mask (default Helen colours), as an RGB image. */
export function colorizeMask(mask: LabelMap, colors: readonly [number, number, number][] = HELEN_COLORS): RawImage {
  const data = new Uint8Array(mask.width * mask.height * 3);
  for (let i = 0; i < mask.data.length; i++) {
    const c = colors[mask.data[i]] ?? [255, 255, 255];
    data[i * 3] = c[0];
    data[i * 3 + 1] = c[1];
    data[i * 3 + 2] = c[2];
  }
  return { width: mask.width, height: mask.height, channels: 3, data };
}

const POINT_COLORS: [number, number, number][] = [
  [255, 40, 40],
  [40, 255, 40],
  [255, 255, 40],
  [40, 200, 255],
  [255, 40, 255],
];

/** A copy of the image with each point drawn as a small cross (colour per point index). */
export function drawLandmarks(image: RawImage, points: [number, number][], radius = 2): RawImage {
  const data = new Uint8Array(image.data);
  const { width, height } = image;
  points.forEach(([px, py], k) => {
    const c = POINT_COLORS[k % POINT_COLORS.length];
    const x0 = Math.floor(px);
    const y0 = Math.floor(py);
    for (let d = -radius; d <= radius; d++) {
      for (const [x, y] of [
        [x0 + d, y0],
        [x0, y0 + d],
      ]) {
        if (x < 0 || y < 0 || x >= width || y >= height) continue;
        const i = (y * width + x) * 3;
        data[i] = c[0];
        data[i + 1] = c[1];
        data[i + 2] = c[2];
      }
    }
  });
  return { width, height, channels: 3, data };
}
