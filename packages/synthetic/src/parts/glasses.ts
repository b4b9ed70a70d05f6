/**
 * Glasses: two rims (ellipses with a faint glint over the lens), the bridge between them and the arms
 * towards the ears. They have no class: the mask keeps the eyes and brows beneath.
 */
import type { Rng } from '@ifan/core/rng';
import { AT, type Canvas, type RGB, boxDist, compose, draw, ellipseDist, frame } from '../raster';
import type { FaceFrame } from './frame';

/** Draws glasses on `face` with probability `probability` (from `rng`); returns whether it did. */
export function drawGlasses(canvas: Canvas, face: FaceFrame, probability: number, rng: Rng): boolean {
  if (!rng.chance(probability)) return false;
  const { F, scale: s, faceA: a, id, eyes } = face;
  const frameColour: RGB = rng.pick<RGB>([
    [20, 18, 18],
    [70, 40, 25],
    [150, 150, 155],
    [110, 30, 30],
    [30, 40, 90],
  ]);
  const rw = rng.range(0.012, 0.024);
  const rx = id.eyeHW * rng.range(1.45, 1.65);
  const ry = id.eyeHW * rng.range(1.05, 1.2);
  const ey = id.eyeY + 0.01;
  // an indexed loop: `for...of` over an array of the two rims kept throwing V8 out of optimised code
  for (let r = 0; r < eyes.length; r++) {
    const toPixel = compose(F, frame(eyes[r].x, ey, 0, eyes[r].kx, 1));
    draw(canvas, {
      toPixel,
      bounds: [-rx - rw, -ry - rw, rx + rw, ry + rw],
      scale: s,
      cls: -1,
      dist: () => {
        const u = AT[0];
        const v = AT[1];
        AT[2] = ellipseDist(u, v, rx + rw / 2, ry + rw / 2);
      },
      paint(out) {
        const u = AT[0];
        const v = AT[1];
        const ring = Math.abs(ellipseDist(u, v, rx, ry)) < rw / 2;
        out[0] = ring ? frameColour[0] : 200;
        out[1] = ring ? frameColour[1] : 215;
        out[2] = ring ? frameColour[2] : 230;
        out[3] = ring ? 1 : 0.1;
      },
    });
  }
  const x0 = eyes[0].x + rx * eyes[0].kx;
  const x1 = eyes[1].x - rx * eyes[1].kx;
  if (x1 > x0) {
    draw(canvas, {
      toPixel: compose(F, frame((x0 + x1) / 2, ey - ry * 0.3, 0)),
      bounds: [-(x1 - x0) / 2 - 0.01, -0.03, (x1 - x0) / 2 + 0.01, 0.03],
      scale: s,
      cls: -1,
      dist: () => {
        const u = AT[0];
        const v = AT[1];
        AT[2] = boxDist(u, v + 0.012 * (1 - (2 * u) ** 2 / ((x1 - x0) ** 2 + 1e-6)), (x1 - x0) / 2 + 0.005, rw / 2);
      },
      paint(out) {
        out[0] = frameColour[0];
        out[1] = frameColour[1];
        out[2] = frameColour[2];
      },
    });
  }
  for (const e of eyes) {
    const inner = e.x + e.sideSign * rx * e.kx;
    const outer = e.sideSign * (a - 0.02);
    if (e.sideSign * (outer - inner) <= 0) continue;
    draw(canvas, {
      toPixel: compose(F, frame((inner + outer) / 2, ey - ry * 0.35, 0)),
      bounds: [-Math.abs(outer - inner) / 2 - 0.01, -0.03, Math.abs(outer - inner) / 2 + 0.01, 0.03],
      scale: s,
      cls: -1,
      dist: () => {
        const u = AT[0];
        const v = AT[1];
        AT[2] = boxDist(u, v, Math.abs(outer - inner) / 2, rw * 0.45);
      },
      paint(out) {
        out[0] = frameColour[0];
        out[1] = frameColour[1];
        out[2] = frameColour[2];
      },
    });
  }
  return true;
}
