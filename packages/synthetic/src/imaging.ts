/**
 * Camera and data-set statistics applied after drawing: lighting gradient, brightness, contrast,
 * colour cast, gamma, blur, noise and grey conversion. Labels are untouched by all of these.
 */
import type { Rng } from '@ifan/core/rng';
import { NOISE_RGB, NOISE_RGB_TRIPLES, NORMAL_TABLE, NORMAL_TABLE_MASK, xorshift32 } from './rng';
import type { ImagingOptions } from './types';

export type ResolvedImaging = Required<ImagingOptions>;

export const DEFAULT_IMAGING: ResolvedImaging = {
  brightness: 1,
  contrast: 1,
  colorCast: [1, 1, 1],
  gamma: 1,
  blur: 0.4,
  noise: 3,
  grey: false,
  lighting: 0.35,
  jitter: 0.12,
};

/**
 * Applies the imaging pipeline to linear 0..255 floats (blurring them in place) and returns the 8-bit
 * image: blur, then lighting gradient, gains, contrast, gamma, grey and noise in one pass.
 */
export function develop(rgb: Float32Array, width: number, height: number, im: ResolvedImaging, rng: Rng): Uint8Array {
  const j = im.jitter;
  const jit = (x: number) => x * (1 + rng.sym(j));
  const brightness = jit(im.brightness);
  const contrast = jit(im.contrast);
  const cast = im.colorCast.map((c) => c * (1 + rng.sym(j * 0.25)));
  const gamma = im.gamma === 1 ? 1 : im.gamma * (1 + rng.sym(j * 0.5));
  const blur = Math.max(0, jit(im.blur));
  const noise = Math.max(0, jit(im.noise));
  const strength = im.lighting * rng.next();
  const angle = rng.range(0, 2 * Math.PI);
  const seed = rng.uint32() | 1;
  const side = Math.min(width, height);
  const gx = (Math.cos(angle) * strength) / side;
  const gy = (Math.sin(angle) * strength) / side;

  // Blur: every 3-tap pass but the last happens in place; the last is fused into the final
  // per-pixel pass (wholly for colour; its vertical half otherwise).
  let w = 0;
  let passes = 0;
  if (blur > 0.05) {
    const variance = blur * blur;
    passes = Math.max(1, Math.ceil(variance / 0.45));
    w = variance / (2 * passes);
    for (let p = 0; p < passes - 1; p++) {
      blurRows(rgb, width, height, w);
      blurColumns(rgb, width, height, w);
    }
  }

  // out = lut(((x * gain * light) - 128) * contrast + 128) + noise; without gamma the table is skipped
  const useGamma = Math.abs(gamma - 1) > 1e-3;
  const lut = gammaTable(useGamma ? gamma : 1);
  const toIndex = useGamma ? GAMMA_STEPS / 255 : 1;
  const gain = brightness * contrast * toIndex;
  const offset = 128 * (1 - contrast) * toIndex;
  const tone: Tone = { w, kr: cast[0] * gain, kg: cast[1] * gain, kb: cast[2] * gain, offset, gx, gy, noise, seed };
  const out = new Uint8ClampedArray(rgb.length);
  if (!useGamma && !im.grey) finishColour(rgb, out, width, height, tone);
  else {
    if (passes > 0) blurRows(rgb, width, height, w);
    finish(rgb, out, width, height, tone, useGamma ? lut : null, im.grey);
  }
  return new Uint8Array(out.buffer);
}

/**
 * The final pass's numbers: the last vertical blur tap `w` (0 for none), per-channel gains, the
 * contrast offset, the lighting gradient per pixel, the noise level and the noise seed.
 */
interface Tone {
  w: number;
  kr: number;
  kg: number;
  kb: number;
  offset: number;
  gx: number;
  gy: number;
  noise: number;
  seed: number;
}

const GAMMA_STEPS = 2048;

/** The lighting gradient's factor at the first pixel of row `y` (it grows by `gx` per pixel across). */
function rowLight(width: number, height: number, gx: number, gy: number, y: number): number {
  return 1 - (width / 2) * gx + (y - height / 2) * gy;
}

/**
 * The per-pixel pass of {@link develop}: the last vertical blur tap (weight `w`, 0 for none), tone,
 * gamma (when `lut` is given), grey and noise. Kept in its own function (its numbers read into locals
 * first) so that V8 optimises it once and for all (a hot loop inside a once-per-image function keeps
 * deoptimising).
 */
function finish(rgb: Float32Array, out: Uint8ClampedArray, width: number, height: number, tone: Tone, lut: Float32Array | null, grey: boolean): void {
  const { w, kr, kg, kb, offset, gx, gy, noise, seed } = tone;
  const shared = noise * (grey ? 1 : 0.8);
  const chroma = noise * 0.6;
  const top = GAMMA_STEPS;
  const c = 1 - 2 * w;
  const stride = width * 3;
  let state = seed | 0;
  for (let y = 0, i = 0; y < height; y++) {
    const up = y > 0 ? -stride : 0;
    const down = y < height - 1 ? stride : 0;
    let light = rowLight(width, height, gx, gy, y);
    for (let x = 0; x < width; x++, i += 3, light += gx) {
      let ir = (c * rgb[i] + w * (rgb[i + up] + rgb[i + down])) * kr * light + offset;
      let ig = (c * rgb[i + 1] + w * (rgb[i + 1 + up] + rgb[i + 1 + down])) * kg * light + offset;
      let ib = (c * rgb[i + 2] + w * (rgb[i + 2 + up] + rgb[i + 2 + down])) * kb * light + offset;
      if (lut !== null) {
        ir = lut[ir <= 0 ? 0 : ir >= top ? top : ir | 0];
        ig = lut[ig <= 0 ? 0 : ig >= top ? top : ig | 0];
        ib = lut[ib <= 0 ? 0 : ib >= top ? top : ib | 0];
      }
      // xorshift32 indices into a table of normals: one shared and per-channel draws per pixel
      state = xorshift32(state);
      const n = NORMAL_TABLE[state & NORMAL_TABLE_MASK] * shared + 0.5;
      if (grey) {
        const v = 0.299 * ir + 0.587 * ig + 0.114 * ib + n;
        out[i] = v;
        out[i + 1] = v;
        out[i + 2] = v;
      } else {
        out[i] = ir + n + NORMAL_TABLE[(state >>> 8) & NORMAL_TABLE_MASK] * chroma;
        out[i + 1] = ig + n + NORMAL_TABLE[(state >>> 12) & NORMAL_TABLE_MASK] * chroma;
        out[i + 2] = ib + n + NORMAL_TABLE[(state >>> 16) & NORMAL_TABLE_MASK] * chroma;
      }
    }
  }
}

/**
 * {@link finish} for colour without gamma, the common case, with no per-pixel branches: the last
 * blur pass (per pixel the vertical 3 taps, then the horizontal ones over three such sums kept in
 * registers, edges clamped), tone, and noise read a row at a time from {@link NOISE_RGB} at a random
 * offset per row.
 */
function finishColour(rgb: Float32Array, out: Uint8ClampedArray, width: number, height: number, tone: Tone): void {
  const { w, kr, kg, kb, offset, gx, gy, noise, seed } = tone;
  const c = 1 - 2 * w;
  const stride = width * 3;
  const table = NOISE_RGB;
  const mask = NOISE_RGB_TRIPLES - 1;
  const off = offset + 0.5;
  let state = seed | 0;
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const du = y > 0 ? -stride : 0;
    const dd = y < height - 1 ? stride : 0;
    state = xorshift32(state);
    const t = 3 * (state & mask) - row;
    let light = rowLight(width, height, gx, gy, y);
    // vertical sums: p* of the pixel being written, q* of its left neighbour, n* of its right one
    let pr = c * rgb[row] + w * (rgb[row + du] + rgb[row + dd]);
    let pg = c * rgb[row + 1] + w * (rgb[row + 1 + du] + rgb[row + 1 + dd]);
    let pb = c * rgb[row + 2] + w * (rgb[row + 2 + du] + rgb[row + 2 + dd]);
    let qr = pr;
    let qg = pg;
    let qb = pb;
    const end = row + stride;
    let o = row;
    for (let i = row + 3; i < end; i += 3, o += 3, light += gx) {
      const nr = c * rgb[i] + w * (rgb[i + du] + rgb[i + dd]);
      const ng = c * rgb[i + 1] + w * (rgb[i + 1 + du] + rgb[i + 1 + dd]);
      const nb = c * rgb[i + 2] + w * (rgb[i + 2 + du] + rgb[i + 2 + dd]);
      out[o] = (c * pr + w * (qr + nr)) * (kr * light) + off + table[t + o] * noise;
      out[o + 1] = (c * pg + w * (qg + ng)) * (kg * light) + off + table[t + o + 1] * noise;
      out[o + 2] = (c * pb + w * (qb + nb)) * (kb * light) + off + table[t + o + 2] * noise;
      qr = pr;
      qg = pg;
      qb = pb;
      pr = nr;
      pg = ng;
      pb = nb;
    }
    out[o] = (c * pr + w * (qr + pr)) * (kr * light) + off + table[t + o] * noise;
    out[o + 1] = (c * pg + w * (qg + pg)) * (kg * light) + off + table[t + o + 1] * noise;
    out[o + 2] = (c * pb + w * (qb + pb)) * (kb * light) + off + table[t + o + 2] * noise;
  }
}

const gammaTables = new Map<number, Float32Array>();

/** `255 * (x / 255)^(1 / gamma)` sampled at GAMMA_STEPS + 1 points of 0..255 (cached, gamma rounded to 1e-3). */
function gammaTable(gammaIn: number): Float32Array {
  const gamma = Math.round(gammaIn * 1000) / 1000;
  const cached = gammaTables.get(gamma);
  if (cached) return cached;
  if (gammaTables.size > 512) gammaTables.clear();
  const t = new Float32Array(GAMMA_STEPS + 1);
  for (let i = 0; i <= GAMMA_STEPS; i++) t[i] = 255 * Math.pow(i / GAMMA_STEPS, 1 / gamma);
  gammaTables.set(gamma, t);
  return t;
}

/** One horizontal 3-tap pass `[w, 1-2w, w]`, edges clamped, in place. */
function blurRows(rgb: Float32Array, width: number, height: number, w: number): void {
  const c = 1 - 2 * w;
  const stride = width * 3;
  for (let y = 0; y < height; y++) {
    const base = y * stride;
    const end = base + stride - 3;
    let p0 = rgb[base];
    let p1 = rgb[base + 1];
    let p2 = rgb[base + 2];
    for (let i = base; i < end; i += 3) {
      const c0 = rgb[i];
      const c1 = rgb[i + 1];
      const c2 = rgb[i + 2];
      rgb[i] = c * c0 + w * (p0 + rgb[i + 3]);
      rgb[i + 1] = c * c1 + w * (p1 + rgb[i + 4]);
      rgb[i + 2] = c * c2 + w * (p2 + rgb[i + 5]);
      p0 = c0;
      p1 = c1;
      p2 = c2;
    }
    rgb[end] = c * rgb[end] + w * (p0 + rgb[end]);
    rgb[end + 1] = c * rgb[end + 1] + w * (p1 + rgb[end + 1]);
    rgb[end + 2] = c * rgb[end + 2] + w * (p2 + rgb[end + 2]);
  }
}

/** One vertical 3-tap pass `[w, 1-2w, w]`, edges clamped, in place. */
function blurColumns(rgb: Float32Array, width: number, height: number, w: number): void {
  const c = 1 - 2 * w;
  const stride = width * 3;
  const prev = rgb.slice(0, stride);
  for (let y = 0; y < height; y++) {
    const base = y * stride;
    const next = y < height - 1 ? base + stride : base;
    for (let k = 0; k < stride; k++) {
      const o = rgb[base + k];
      rgb[base + k] = c * o + w * (prev[k] + rgb[next + k]);
      prev[k] = o;
    }
  }
}

/**
 * Separable Gaussian approximated by repeated 3-tap `[w, 1-2w, w]` passes (each adds variance 2w),
 * edges clamped, in place.
 */
export function gaussianBlur(rgb: Float32Array, width: number, height: number, sigma: number): void {
  const variance = sigma * sigma;
  const passes = Math.max(1, Math.ceil(variance / 0.45));
  const w = variance / (2 * passes);
  for (let p = 0; p < passes; p++) {
    blurRows(rgb, width, height, w);
    blurColumns(rgb, width, height, w);
  }
}
