/**
 * The neck and the shoulders (clothes, plain or patterned), on the backdrop canvas: out of focus like
 * the rest of the background, and not labelled (background class).
 */
import type { Rng } from '@ifan/core/rng';
import { type Canvas, SPAN_D, SPAN_RGB, SPAN_U, SPAN_V, type Mat, boxDist, compose, draw, ellipseDist, smoothstep } from '../raster';
import type { FaceFrame } from './frame';
import { PATTERN_T, patternSpan, randomColour, randomPattern } from './pattern';

/** Draws the body of `face` on the backdrop canvas, whose pixels are `view` (and `viewScale`) times the image's. */
export function drawBody(canvas: Canvas, view: Mat, viewScale: number, face: FaceFrame, rng: Rng): void {
  const { F, scale: s, sinY, faceA: a, id } = face;
  const Fb = compose(view, F);
  const sb = s * viewScale;
  const clothes = randomColour(rng);
  const pattern = rng.chance(0.35) ? randomPattern(rng, clothes, s) : null;
  const neckX = -0.12 * sinY;
  const shoulderShade = face.shade(0, 0.6);
  const bodyDist = (u: number, v: number) => ellipseDist(u - neckX * 2, v - 2.1, 2.0, 0.85);
  const cr = Math.fround(clothes[0]);
  const cg = Math.fround(clothes[1]);
  const cb = Math.fround(clothes[2]);
  draw(canvas, {
    toPixel: Fb,
    bounds: [-2.2, 1.2, 2.2, 3.2],
    scale: sb,
    cls: -1,
    lipschitz: 1.5,
    distSpan(n) {
      for (let k = 0; k < n; k++) SPAN_D[k] = bodyDist(SPAN_U[k], SPAN_V[k]);
    },
    colourSpan(n) {
      if (pattern) patternSpan(pattern, n, s);
      for (let k = 0; k < n; k++) {
        let r = cr;
        let g = cg;
        let b = cb;
        if (pattern) {
          const t = PATTERN_T[k];
          r = Math.fround(pattern.r0 + (pattern.r1 - pattern.r0) * t);
          g = Math.fround(pattern.g0 + (pattern.g1 - pattern.g0) * t);
          b = Math.fround(pattern.b0 + (pattern.b1 - pattern.b0) * t);
        }
        const sh = shoulderShade * (0.8 + 0.2 * smoothstep(1.3, 2.0, SPAN_V[k]));
        SPAN_RGB[3 * k] = r * sh;
        SPAN_RGB[3 * k + 1] = g * sh;
        SPAN_RGB[3 * k + 2] = b * sh;
      }
    },
  });
  const neckSkin = id.skin;
  const neckShade = face.shade(0, 0.5);
  const neckW = 0.4 * (a / 0.74);
  const neckDist = (u: number, v: number) => boxDist(u - neckX, v - 1.1, neckW + 0.04 * Math.max(0, v - 1.2), 0.75, 0.1);
  draw(canvas, {
    toPixel: Fb,
    bounds: [-0.7, 0.3, 0.7, 1.9],
    scale: sb,
    cls: -1,
    lipschitz: 1.5,
    distSpan(n) {
      for (let k = 0; k < n; k++) SPAN_D[k] = neckDist(SPAN_U[k], SPAN_V[k]);
    },
    colourSpan(n) {
      for (let k = 0; k < n; k++) {
        const u = SPAN_U[k];
        const v = SPAN_V[k];
        const sh = neckShade * (0.62 + 0.22 * smoothstep(0.95, 1.45, v)) * (1 - 0.1 * smoothstep(0.1, 0.4, Math.abs(u - neckX)));
        SPAN_RGB[3 * k] = neckSkin[0] * sh;
        SPAN_RGB[3 * k + 1] = neckSkin[1] * sh;
        SPAN_RGB[3 * k + 2] = neckSkin[2] * sh;
      }
    },
  });
}
