/**
 * Camera and data-set statistics applied after drawing: lighting gradient, brightness, contrast,
 * colour cast, gamma, blur, noise and grey conversion. Labels are untouched by all of these.
 */
import { NORMAL_TABLE, NORMAL_TABLE_MASK, type SeededRandom } from './rng';
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
export function develop(rgb: Float32Array, width: number, height: number, im: ResolvedImaging, rng: SeededRandom): Uint8Array {
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

  // Blur: every 3-tap pass but the last vertical one happens in place; that one is fused into the
  // final per-pixel pass, which reads each blurred pixel once.
  let w = 0;
  if (blur > 0.05) {
    const variance = blur * blur;
    const passes = Math.max(1, Math.ceil(variance / 0.45));
    w = variance / (2 * passes);
    for (let p = 0; p < passes; p++) {
      blurRows(rgb, width, height, w);
      if (p < passes - 1) blurColumns(rgb, width, height, w);
    }
  }

  // out = lut(((x * gain * light) - 128) * contrast + 128) + noise; without gamma the table is skipped
  const useGamma = Math.abs(gamma - 1) > 1e-3;
  const lut = gammaTable(useGamma ? gamma : 1);
  const toIndex = useGamma ? GAMMA_STEPS / 255 : 1;
  const out = new Uint8ClampedArray(rgb.length);
  const gain = brightness * contrast * toIndex;
  const offset = 128 * (1 - contrast) * toIndex;
  if (!useGamma && !im.grey) finishColour(rgb, out, width, height, w, cast[0] * gain, cast[1] * gain, cast[2] * gain, offset, gx, gy, noise, seed);
  else finish(rgb, out, width, height, w, cast[0] * gain, cast[1] * gain, cast[2] * gain, offset, gx, gy, useGamma ? lut : null, noise, im.grey, seed);
  return new Uint8Array(out.buffer);
}

const GAMMA_STEPS = 2048;

/**
 * The per-pixel pass of {@link develop}: the last vertical blur tap (weight `w`, 0 for none), tone,
 * gamma (when `lut` is given), grey and noise. Kept in its own function with plain arguments so that
 * V8 optimises it once and for all (a hot loop inside a once-per-image function keeps deoptimising).
 */
function finish(
  rgb: Float32Array,
  out: Uint8ClampedArray,
  width: number,
  height: number,
  w: number,
  kr: number,
  kg: number,
  kb: number,
  offset: number,
  gx: number,
  gy: number,
  lut: Float32Array | null,
  noise: number,
  grey: boolean,
  seed: number,
): void {
  const shared = noise * (grey ? 1 : 0.8);
  const chroma = noise * 0.6;
  const top = GAMMA_STEPS;
  const c = 1 - 2 * w;
  const stride = width * 3;
  let state = seed | 0;
  for (let y = 0, i = 0; y < height; y++) {
    const up = y > 0 ? -stride : 0;
    const down = y < height - 1 ? stride : 0;
    let light = 1 - (width / 2) * gx + (y - height / 2) * gy;
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
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
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
 * {@link finish} for colour without gamma, the common case, with no per-pixel branches (the same
 * numbers).
 */
function finishColour(
  rgb: Float32Array,
  out: Uint8ClampedArray,
  width: number,
  height: number,
  w: number,
  kr: number,
  kg: number,
  kb: number,
  offset: number,
  gx: number,
  gy: number,
  noise: number,
  seed: number,
): void {
  const shared = noise * 0.8;
  const chroma = noise * 0.6;
  const c = 1 - 2 * w;
  const stride = width * 3;
  const table = NORMAL_TABLE;
  let state = seed | 0;
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const up = y > 0 ? row - stride : row;
    const down = y < height - 1 ? row + stride : row;
    let light = 1 - (width / 2) * gx + (y - height / 2) * gy;
    for (let k = 0; k < stride; k += 3, light += gx) {
      const ir = (c * rgb[row + k] + w * (rgb[up + k] + rgb[down + k])) * kr * light + offset;
      const ig = (c * rgb[row + k + 1] + w * (rgb[up + k + 1] + rgb[down + k + 1])) * kg * light + offset;
      const ib = (c * rgb[row + k + 2] + w * (rgb[up + k + 2] + rgb[down + k + 2])) * kb * light + offset;
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const n = table[state & NORMAL_TABLE_MASK] * shared + 0.5;
      out[row + k] = ir + n + table[(state >>> 8) & NORMAL_TABLE_MASK] * chroma;
      out[row + k + 1] = ig + n + table[(state >>> 12) & NORMAL_TABLE_MASK] * chroma;
      out[row + k + 2] = ib + n + table[(state >>> 16) & NORMAL_TABLE_MASK] * chroma;
    }
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
