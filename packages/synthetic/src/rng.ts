/**
 * The generator's randomness, on core's `Rng` and `mixSeed`: seeds from numbers, names and other
 * sources, value noise, and the fixed noise tables. Everything a face looks like is drawn from an
 * `Rng`, so a seed fixes the image and its labels exactly, on every platform.
 */

import { Rng, mixSeed, type RandomSource } from '@ifan/core/rng';

/**
 * The generator's old name for core's {@link Rng} (the same class, the same numbers).
 * @deprecated Use `Rng` from `@ifan/core`.
 */
export const SeededRandom = Rng;
/** @deprecated Use `Rng` from `@ifan/core`. */
export type SeededRandom = Rng;

/** A stable 32-bit hash of a string (FNV-1a), for salting seeds by name. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Turns a seed or a random source into an {@link Rng}: an `Rng` is used as it is, any other source gives one seed. */
export function toRandom(seedOrRng: number | RandomSource): Rng {
  if (typeof seedOrRng === 'number') {
    if (!Number.isFinite(seedOrRng)) throw new Error(`seed must be a finite number, got ${seedOrRng}`);
    return new Rng(mixSeed(Math.floor(seedOrRng), Math.floor(seedOrRng / 4294967296)));
  }
  if (seedOrRng instanceof Rng) return seedOrRng;
  return new Rng(Math.floor(seedOrRng.next() * 4294967296) >>> 0);
}

/** One step of Marsaglia's xorshift32 on a 32-bit integer state (the camera noise's table offsets). */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  return x ^ (x << 5);
}

const LATTICE_BITS = 7;
const LATTICE_MASK = (1 << LATTICE_BITS) - 1;
/** 128 x 128 random lattice values (64 KB, cache-friendly), made once from a fixed seed; noise seeds pick an offset into it. */
const LATTICE: Float32Array = (() => {
  const rng = new Rng(0x1b873593);
  const table = new Float32Array(1 << (2 * LATTICE_BITS));
  for (let i = 0; i < table.length; i++) table[i] = rng.next();
  return table;
})();

/**
 * Value noise in [0, 1): smooth (C1), periodic over 128 lattice cells, seeded (the low 14 bits of
 * `seed` choose the offset into a fixed lattice). A few nanoseconds per call.
 */
export function valueNoise(x: number, y: number, seed: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  let fx = x - x0;
  let fy = y - y0;
  fx = fx * fx * (3 - 2 * fx);
  fy = fy * fy * (3 - 2 * fy);
  const ix = (x0 + seed) & LATTICE_MASK;
  const iy = (y0 + (seed >>> 8)) & LATTICE_MASK;
  const ix1 = (ix + 1) & LATTICE_MASK;
  const r0 = iy << LATTICE_BITS;
  const r1 = ((iy + 1) & LATTICE_MASK) << LATTICE_BITS;
  const a = LATTICE[r0 | ix];
  const b = LATTICE[r0 | ix1];
  const c = LATTICE[r1 | ix];
  const d = LATTICE[r1 | ix1];
  const top = a + (b - a) * fx;
  return top + (c + (d - c) * fx - top) * fy;
}

/** Two octaves of {@link valueNoise}, in [0, 1). */
export function fbm2(x: number, y: number, seed: number): number {
  return 0.65 * valueNoise(x, y, seed) + 0.35 * valueNoise(x * 2.3 + 17.1, y * 2.3 - 9.7, seed + 0x5bd1);
}

const NORMAL_TABLE_BITS = 12;
/** 4096 standard-normal samples (16 KB, stays in L1), made once from a fixed seed, for fast pixel noise. */
export const NORMAL_TABLE: Float32Array = (() => {
  const rng = new Rng(0x2545f491);
  const table = new Float32Array(1 << NORMAL_TABLE_BITS);
  for (let i = 0; i < table.length; i++) table[i] = rng.normal();
  return table;
})();
export const NORMAL_TABLE_MASK = (1 << NORMAL_TABLE_BITS) - 1;

/** Triples in {@link NOISE_RGB}: 2^14 distinct ones, then 4096 repeated so that a row of up to 4096 pixels never wraps. */
export const NOISE_RGB_TRIPLES = 1 << 14;
/**
 * Per-pixel camera noise for colour images, made once from a fixed seed: triples `0.8 s + 0.6 c_k`
 * of standard normals (a shared `s`, one `c_k` per channel), so each channel is standard normal and
 * channels correlate by 0.64. Read a row of pixels at a time from a random triple offset (see
 * `finishColour` in imaging.ts).
 */
export const NOISE_RGB: Float32Array = (() => {
  const rng = new Rng(0x7f4a7c15);
  const n = NOISE_RGB_TRIPLES;
  const table = new Float32Array(3 * (n + 4096));
  for (let i = 0; i < 3 * n; i += 3) {
    const s = 0.8 * rng.normal();
    table[i] = s + 0.6 * rng.normal();
    table[i + 1] = s + 0.6 * rng.normal();
    table[i + 2] = s + 0.6 * rng.normal();
  }
  table.copyWithin(3 * n, 0, 3 * 4096);
  return table;
})();
