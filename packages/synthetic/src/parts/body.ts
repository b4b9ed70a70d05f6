/**
 * The neck and the shoulders (clothes, plain or patterned), on the backdrop canvas: out of focus like
 * the rest of the background, and not labelled (background class).
 */
import type { Rng } from '@ifan/core/rng';
import { type Canvas, RUN, SPAN_D, SPAN_U, SPAN_V, type Mat, blend, boxDist, compose, draw, ellipseDist, smoothstep } from '../raster';
import type { FaceFrame } from './frame';
import { PATTERN_T, patternRun, randomColour, randomPattern } from './pattern';

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
    span() {
      const { rgb, mask, n, du: stepU, dv: stepV, scale, inside } = RUN;
      let { i, u, v } = RUN;
      if (pattern) patternRun(pattern, n, u, v, stepU, stepV, s);
      for (let p = 0; p < n; p++, i++, u += stepU, v += stepV) {
        let dp = -1;
        if (!inside) {
          dp = SPAN_D[p] * scale;
          if (dp >= 0.5) continue;
        }
        let r = cr;
        let g = cg;
        let b = cb;
        if (pattern) {
          const t = PATTERN_T[p];
          r = Math.fround(pattern.r0 + (pattern.r1 - pattern.r0) * t);
          g = Math.fround(pattern.g0 + (pattern.g1 - pattern.g0) * t);
          b = Math.fround(pattern.b0 + (pattern.b1 - pattern.b0) * t);
        }
        const sh = shoulderShade * (0.8 + 0.2 * smoothstep(1.3, 2.0, v));
        blend(rgb, mask, i, dp, Math.fround(r * sh), Math.fround(g * sh), Math.fround(b * sh), 1, -1);
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
    span() {
      const { rgb, mask, n, du: stepU, dv: stepV, scale, inside } = RUN;
      let { i, u, v } = RUN;
      for (let p = 0; p < n; p++, i++, u += stepU, v += stepV) {
        let dp = -1;
        if (!inside) {
          dp = SPAN_D[p] * scale;
          if (dp >= 0.5) continue;
        }
        const sh = neckShade * (0.62 + 0.22 * smoothstep(0.95, 1.45, v)) * (1 - 0.1 * smoothstep(0.1, 0.4, Math.abs(u - neckX)));
        blend(rgb, mask, i, dp, Math.fround(neckSkin[0] * sh), Math.fround(neckSkin[1] * sh), Math.fround(neckSkin[2] * sh), 1, -1);
      }
    },
  });
}
