import type { RawImage } from '@ifan/core';

/** Palette of point colours, cycled. */
const COLORS: [number, number, number][] = [
  [255, 64, 64],
  [64, 160, 255],
  [64, 220, 64],
  [255, 200, 0],
  [220, 64, 255],
];

/** A copy of the image with each point drawn as a filled disk with a dark outline. */
export function drawLandmarks(image: RawImage, points: [number, number][], radius = Math.max(1.5, image.width / 80)): RawImage {
  const out = { ...image, data: new Uint8Array(image.data) };
  points.forEach(([px, py], k) => {
    const color = COLORS[k % COLORS.length];
    const r = radius + 1;
    for (let y = Math.floor(py - r); y <= Math.ceil(py + r); y++) {
      for (let x = Math.floor(px - r); x <= Math.ceil(px + r); x++) {
        if (x < 0 || y < 0 || x >= image.width || y >= image.height) continue;
        const d = Math.hypot(x + 0.5 - px, y + 0.5 - py);
        if (d > r) continue;
        const c = d > radius ? [0, 0, 0] : color;
        const o = (y * image.width + x) * 3;
        out.data[o] = c[0];
        out.data[o + 1] = c[1];
        out.data[o + 2] = c[2];
      }
    }
  });
  return out;
}
