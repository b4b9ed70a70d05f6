/**
 * Seeded randomness for the whole project: initial weights, augmentation, shuffles and splits, the
 * training schedule and the synthetic faces all draw from {@link Rng}, and derive seeds with
 * {@link mixSeed}, so a seed reproduces a run or an image exactly, on every platform.
 *
 * Exported from the main entry and, without tfjs behind it, as `@ifan/core/rng` (what the synthetic
 * generator imports, so that drawing faces loads no tfjs). No imports: safe anywhere.
 */

/** Anything that yields uniform numbers in `[0, 1)`, e.g. {@link Rng}. */
export interface RandomSource {
  next(): number;
}

/** A deterministic pseudo-random generator: mulberry32, 32 bits of state. */
export class Rng implements RandomSource {
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

  /** An integer in [0, n); without `n`, a 31-bit integer (for seeding tfjs ops). */
  int(n = 0x7fffffff): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform in [-r, r). */
  sym(r: number): number {
    return (2 * this.next() - 1) * r;
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
  fork(salt: number): Rng {
    return new Rng(mixSeed(this.uint32(), salt));
  }

  /** The state, to save with a checkpoint. */
  getState(): number {
    return this.state;
  }

  /** Restores a state from {@link getState}. */
  setState(state: number): void {
    this.state = state >>> 0;
  }
}

/**
 * Hashes integers into one 32-bit seed (murmur3's mixing per part, then its finaliser): the seed of
 * one part of a run, e.g. `mixSeed(runSeed, epoch)`. Each part is taken as a 32-bit integer.
 */
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
