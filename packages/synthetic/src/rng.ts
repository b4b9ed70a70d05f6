/**
 * Seeded randomness for the generator. Everything a face looks like is drawn from one of these, so a
 * seed fixes the image and its labels exactly, on every platform.
 */

/** Anything with a uniform `next()` in [0, 1), e.g. `Rng` from `@ifan/core`. */
export interface RandomSource {
  next(): number;
}

/** mulberry32: a small, fast 32-bit PRNG with a good enough period for picture making. */
export class SeededRandom implements RandomSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform in [-r, r). */
  sym(r: number): number {
    return (2 * this.next() - 1) * r;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** An index drawn with probability proportional to `weights[i]`. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** An independent stream: same parent state and salt give the same child. */
  fork(salt: number): SeededRandom {
    return new SeededRandom(mixSeed(this.uint32(), salt));
  }
}

/** Hashes integers into one 32-bit seed (murmur3 finaliser per part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    let k = Math.imul(p | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A stable 32-bit hash of a string (FNV-1a), for salting seeds by name. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Turns a seed or a foreign random source into a {@link SeededRandom}. */
export function toRandom(seedOrRng: number | RandomSource): SeededRandom {
  if (typeof seedOrRng === 'number') {
    if (!Number.isFinite(seedOrRng)) throw new Error(`seed must be a finite number, got ${seedOrRng}`);
    return new SeededRandom(mixSeed(Math.floor(seedOrRng), Math.floor(seedOrRng / 4294967296)));
  }
  if (seedOrRng instanceof SeededRandom) return seedOrRng;
  return new SeededRandom(Math.floor(seedOrRng.next() * 4294967296) >>> 0);
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
  const rng = new SeededRandom(0x1b873593);
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
  const rng = new SeededRandom(0x2545f491);
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
  const rng = new SeededRandom(0x7f4a7c15);
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
