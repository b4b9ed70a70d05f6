/**
 * Bilinear upsampling of the half-resolution backdrop onto the image, skipping what the head and the
 * hair over it will cover anyway.
 */
import type { Canvas } from '../raster';

/** Per destination column (or row) of an upsampling: the first source index and the weight of the next one. */
interface Taps {
  index: Int32Array;
  weight: Float32Array;
}

const tapCache = new Map<number, Taps>();

/** Bilinear taps from `n` source samples onto `m` destination samples (pixel centres aligned). */
function taps(n: number, m: number): Taps {
  const key = n * 8192 + m;
  let t = tapCache.get(key);
  if (t) return t;
  if (tapCache.size > 64) tapCache.clear();
  t = { index: new Int32Array(m), weight: new Float32Array(m) };
  for (let x = 0; x < m; x++) {
    const fx = Math.max(0, ((x + 0.5) * n) / m - 0.5);
    const x0 = Math.min(Math.floor(fx), n - 1);
    t.index[x] = x0;
    t.weight[x] = x0 < n - 1 ? fx - x0 : 0;
  }
  tapCache.set(key, t);
  return t;
}

/** The two interpolated source rows of {@link upsample}, reused. */
let rowScratch = new Float32Array(0);

/**
 * Bilinear upsampling of a small canvas's colours over a whole larger canvas, but for the pixels
 * `cover` says later shapes hide (see {@link Canvas.cover}). Each source row is interpolated across
 * once, then every destination pixel mixes two such rows.
 */
export function upsample(src: Canvas, dst: Canvas, cover: Int32Array): void {
  const { width: sw, height: sh, rgb: srgb } = src;
  const { width: dw, height: dh, rgb: drgb } = dst;
  const { index: xi, weight: xt } = taps(sw, dw);
  const { index: yi, weight: yt } = taps(sh, dh);
  const stride = dw * 3;
  // the two interpolated source rows
  if (rowScratch.length < 2 * stride) rowScratch = new Float32Array(2 * stride);
  const rows = [rowScratch.subarray(0, stride), rowScratch.subarray(stride, 2 * stride)];
  let top = 0; // the slot of the upper row
  /** Pixels `[from, to)` of row `y` from the upper row (slot `top`) and the lower one. */
  const mixRow = (y: number, from: number, to: number) => mixFloats(rows[top], rows[top ^ 1], yt[y], drgb, y * stride, from * 3, to * 3);
  let r0 = -1; // source row in slot `top`
  let r1 = -1; // source row in the other slot
  for (let y = 0; y < dh; y++) {
    const y0 = yi[y];
    const y1 = Math.min(y0 + 1, sh - 1);
    if (r0 !== y0) {
      if (r1 === y0) {
        top ^= 1;
        r1 = -1;
      } else interpolateRow(srgb, y0 * sw * 3, rows[top], xi, xt, dw);
      r0 = y0;
    }
    if (r1 !== y1) {
      interpolateRow(srgb, y1 * sw * 3, rows[top ^ 1], xi, xt, dw);
      r1 = y1;
    }
    const cl = cover[2 * y];
    const cr = cover[2 * y + 1];
    if (cr <= cl) mixRow(y, 0, dw);
    else {
      mixRow(y, 0, cl);
      mixRow(y, cr, dw);
    }
  }
}

/**
 * The cover of the backdrop canvas (`bw` x `bh`, upsampled onto `w` x `h`): per row the pixels that
 * feed only destination pixels inside `cover` (see {@link Canvas.cover}).
 */
export function backdropCover(cover: Int32Array, bw: number, bh: number, w: number, h: number): Int32Array {
  const out = new Int32Array(2 * bh);
  const xi = taps(bw, w).index;
  const yi = taps(bh, h).index;
  // per source column, the first and last destination column that reads it
  const first = new Int32Array(bw).fill(w);
  const last = new Int32Array(bw).fill(-1);
  for (let x = 0; x < w; x++) {
    const a = xi[x];
    const b = Math.min(a + 1, bw - 1);
    if (first[a] > x) first[a] = x;
    last[a] = x;
    if (first[b] > x) first[b] = x;
    last[b] = x;
  }
  // per source row, the intersection of the covers of the destination rows that read it
  const lo = new Int32Array(bh);
  const hi = new Int32Array(bh).fill(w);
  const read = new Uint8Array(bh);
  for (let y = 0; y < h; y++) {
    // the two rows it reads (the same one at the bottom edge)
    for (let r = yi[y], e = Math.min(r + 1, bh - 1); r <= e; r++) {
      read[r] = 1;
      lo[r] = Math.max(lo[r], cover[2 * y]);
      hi[r] = Math.min(hi[r], cover[2 * y + 1]);
    }
  }
  for (let r = 0; r < bh; r++) {
    if (!read[r] || hi[r] <= lo[r]) continue;
    let x0 = 0;
    while (x0 < bw && first[x0] < lo[r]) x0++;
    let x1 = x0;
    while (x1 < bw && last[x1] < hi[r] && first[x1] >= lo[r]) x1++;
    if (x1 > x0) {
      out[2 * r] = x0;
      out[2 * r + 1] = x1;
    }
  }
  return out;
}

/** One source row interpolated across to `dw` pixels (see {@link upsample}). */
function interpolateRow(srgb: Float32Array, base: number, row: Float32Array, xi: Int32Array, xt: Float32Array, dw: number): void {
  for (let x = 0, j = 0; x < dw; x++, j += 3) {
    const a = base + xi[x] * 3;
    const tx = xt[x];
    const b = tx > 0 ? a + 3 : a;
    row[j] = srgb[a] + (srgb[b] - srgb[a]) * tx;
    row[j + 1] = srgb[a + 1] + (srgb[b + 1] - srgb[a + 1]) * tx;
    row[j + 2] = srgb[a + 2] + (srgb[b + 2] - srgb[a + 2]) * tx;
  }
}

/** Floats `[j0, j1)` of a destination row: `top + (bottom - top) * ty` into `drgb` from `o`. */
function mixFloats(top: Float32Array, bottom: Float32Array, ty: number, drgb: Float32Array, o: number, j0: number, j1: number): void {
  for (let j = j0; j < j1; j++) drgb[o + j] = top[j] + (bottom[j] - top[j]) * ty;
}
