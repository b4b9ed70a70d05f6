/**
 * Colours and textures of things that are not the face: clothes, background objects and occluders.
 */
import type { Rng } from '@ifan/core/rng';
import { type RGB, SPAN_CAPACITY, SPAN_U, SPAN_V, clamp, fastSin, mix, smoothstep } from '../raster';
import { fbm2, valueNoise } from '../rng';

/** A muted random colour, as found in rooms and streets. */
export function randomColour(rng: Rng): RGB {
  const c: RGB = [rng.range(15, 240), rng.range(15, 240), rng.range(15, 240)];
  const grey = (c[0] + c[1] + c[2]) / 3;
  return mix(c, [grey, grey, grey], rng.range(0.1, 0.75));
}

/** A texture in pixel-scale local coordinates: solid, stripes, checks, mottled or a gradient. */
export interface Pattern {
  kind: number;
  ca: number;
  sa: number;
  seed: number;
  r0: number;
  g0: number;
  b0: number;
  r1: number;
  g1: number;
  b1: number;
}

export function randomPattern(rng: Rng, base: RGB, unit: number): Pattern {
  const other = rng.chance(0.5) ? randomColour(rng) : mix(base, rng.chance(0.5) ? [0, 0, 0] : [255, 255, 255], rng.range(0.2, 0.5));
  const kind = rng.int(5);
  const period = unit * rng.range(0.03, 0.15);
  const angle = rng.range(0, Math.PI);
  const ca = Math.cos(angle) / period;
  const sa = Math.sin(angle) / period;
  const seed = rng.uint32();
  return { kind, ca, sa, seed, r0: base[0], g0: base[1], b0: base[2], r1: other[0], g1: other[1], b1: other[2] };
}

/** The pattern's mix from its base (0) to its other colour (1) at `(u, v)`. */
function patternMix(p: Pattern, u: number, v: number): number {
  const ca = p.ca;
  switch (p.kind) {
    case 0:
      return 0.15 * valueNoise(u * ca, v * ca, p.seed);
    case 1:
      return smoothstep(-0.3, 0.3, fastSin((u * ca + v * p.sa) * Math.PI));
    case 2:
      return (Math.floor(u * ca) + Math.floor(v * ca)) & 1 ? 1 : 0;
    case 3:
      return fbm2(u * ca * 0.7, v * ca * 0.7, p.seed);
    default:
      return clamp((u * ca + v * p.sa) * 0.05 + 0.5, 0, 1);
  }
}

/** Pattern mixes of a batch of points (see {@link patternSpan}). */
export const PATTERN_T = new Float64Array(SPAN_CAPACITY);

/**
 * `PATTERN_T[k]` = the pattern's mix at `(SPAN_U[k] * mul, SPAN_V[k] * mul)` for `k < n` (see
 * `Shape.colourSpan`), one loop per kind so that V8 inlines each noise.
 */
export function patternSpan(p: Pattern, n: number, mul: number): void {
  switch (p.kind) {
    case 0: {
      const { ca, seed } = p;
      for (let k = 0; k < n; k++) PATTERN_T[k] = 0.15 * valueNoise(SPAN_U[k] * mul * ca, SPAN_V[k] * mul * ca, seed);
      break;
    }
    case 1: {
      const { ca, sa } = p;
      for (let k = 0; k < n; k++) PATTERN_T[k] = smoothstep(-0.3, 0.3, fastSin((SPAN_U[k] * mul * ca + SPAN_V[k] * mul * sa) * Math.PI));
      break;
    }
    case 2: {
      const ca = p.ca;
      for (let k = 0; k < n; k++) PATTERN_T[k] = (Math.floor(SPAN_U[k] * mul * ca) + Math.floor(SPAN_V[k] * mul * ca)) & 1 ? 1 : 0;
      break;
    }
    case 3: {
      const { ca, seed } = p;
      for (let k = 0; k < n; k++) PATTERN_T[k] = fbm2(SPAN_U[k] * mul * ca * 0.7, SPAN_V[k] * mul * ca * 0.7, seed);
      break;
    }
    default: {
      const { ca, sa } = p;
      for (let k = 0; k < n; k++) PATTERN_T[k] = clamp((SPAN_U[k] * mul * ca + SPAN_V[k] * mul * sa) * 0.05 + 0.5, 0, 1);
    }
  }
}

/** The pattern's colour at `(u, v)` into `out[q..q+2]`. */
export function patternAt(p: Pattern, u: number, v: number, out: Float32Array, q: number): void {
  const t = patternMix(p, u, v);
  out[q] = p.r0 + (p.r1 - p.r0) * t;
  out[q + 1] = p.g0 + (p.g1 - p.g0) * t;
  out[q + 2] = p.b0 + (p.b1 - p.b0) * t;
}
