/**
 * Batch statistics shared between threads, for data-parallel training (synchronised batch norm).
 *
 * When a batch is split between two threads, each computing the gradients of its part, the
 * training-mode batch norm must still normalise with the statistics of the whole batch, and its
 * gradient must use sums over the whole batch; otherwise two halves are two smaller batches ("ghost
 * batch norm"), not one. The batch-norm kernels (kernels/batch_norm.ts) therefore hand their
 * per-channel figures to the active {@link BatchStatsReducer}, when one is set, and continue with what
 * it returns: forward, the count, mean and sum of squared deviations of their part, combined into the
 * whole batch's mean and variance; backward, sum(dy) and sum(dy * (x - mean)), added up. Every part
 * then computes exactly what one thread computes for its samples, up to float rounding, and the
 * gradients of the parts add up to the gradient of the whole batch.
 *
 * Without a reducer (the default) the kernels run as they always did.
 */

/** How the batch-norm kernels of this thread combine their statistics with the other parts of the batch. */
export interface BatchStatsReducer {
  /**
   * Forward: this part's `n` values per channel, their `mean` and `m2` (sum of squared deviations
   * from `mean`), replaced in place by the whole batch's. Returns the whole batch's count.
   */
  moments(n: number, mean: Float64Array, m2: Float64Array): number;
  /** Backward: this part's per-channel `sums` (any number of them), replaced in place by the whole batch's. Returns the whole batch's count. */
  sums(n: number, sums: Float64Array): number;
}

let active: BatchStatsReducer | null = null;

/** Sets (or, with null, clears) the reducer the batch-norm kernels of this thread use. Returns the previous one. */
export function setBatchStatsReducer(reducer: BatchStatsReducer | null): BatchStatsReducer | null {
  const previous = active;
  active = reducer;
  return previous;
}

/** The reducer the batch-norm kernels of this thread use now, or null. */
export function batchStatsReducer(): BatchStatsReducer | null {
  return active;
}

/**
 * Chan et al.'s pairwise combination of two parts' counts, means and sums of squared deviations, in
 * place into `meanA` / `m2A`. Both threads call it with the parts in the same order, so they get the
 * same bits.
 */
export function combineMoments(nA: number, meanA: Float64Array, m2A: Float64Array, nB: number, meanB: ArrayLike<number>, m2B: ArrayLike<number>): number {
  const n = nA + nB;
  if (nB === 0) return nA;
  for (let k = 0; k < meanA.length; k++) {
    const delta = meanB[k] - meanA[k];
    meanA[k] = nA === 0 ? meanB[k] : meanA[k] + (delta * nB) / n;
    m2A[k] = nA === 0 ? m2B[k] : m2A[k] + m2B[k] + ((delta * delta * nA) / n) * nB;
  }
  return n;
}

// ---- two threads over one SharedArrayBuffer ----

/** Int32 control words: each party's exchange count, then the abort flag. */
const SEQ = 0;
const ABORT = 2;
const CONTROL_BYTES = 64;
/** Per slot: kind, length (int32), count (float64), then the values (float64). */
const HEADER_F64 = 2;
/** Exchange kinds, checked against each other (two threads out of step fail instead of mixing figures). */
const KIND = { moments: 1, sums: 2 } as const;

export interface SharedStatsOptions {
  /**
   * Give up waiting for the other thread after this long (it crashed or hangs). Default 10 minutes.
   * Time the process did not run (stopped with SIGSTOP or Ctrl-Z, a machine asleep) does not count.
   */
  timeoutMs?: number;
  /** Busy-wait this many checks before sleeping (the other thread usually arrives within microseconds). Default 2000. */
  spin?: number;
  /** The clock, in milliseconds (tests). Default `performance.now`. */
  now?: () => number;
}

/**
 * A wait of at most 100 ms that took longer than this means the process was not running meanwhile
 * (suspended, or the machine asleep): that time is not the other thread's delay.
 */
const SUSPENDED_MS = 5000;

/** Thrown in one thread when the other thread failed, stopped or went out of step. */
export class BatchStatsSyncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchStatsSyncError';
  }
}

/**
 * A {@link BatchStatsReducer} for two threads (`party` 0 and 1) that share `buffer` (from
 * {@link createSharedStatsBuffer}). Each exchange writes this thread's figures, waits for the other
 * thread's (Atomics.wait: the main thread of Node may block too) and combines both in the order
 * party 0, party 1. Slots alternate between exchanges, so a thread running ahead never overwrites
 * figures the other has not read yet.
 *
 * Both threads must {@link reset} before a step and then make the same exchanges in the same order
 * (the same network on parts of one batch does). {@link abort} makes the other thread's waiting
 * exchange throw a {@link BatchStatsSyncError}.
 */
export class SharedStatsReducer implements BatchStatsReducer {
  private readonly control: Int32Array;
  private readonly slots: Float64Array[][];
  private readonly capacity: number;
  private count = 0;
  private readonly timeoutMs: number;
  private readonly spin: number;
  private readonly now: () => number;
  /** Milliseconds this thread spent waiting for the other one since the last {@link reset}. */
  waitedMs = 0;

  constructor(
    buffer: SharedArrayBuffer,
    readonly party: 0 | 1,
    options: SharedStatsOptions = {},
  ) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    const slotF64 = (buffer.byteLength - CONTROL_BYTES) / 8 / 4;
    this.capacity = slotF64 - HEADER_F64;
    if (!Number.isInteger(slotF64) || this.capacity < 2) throw new Error('SharedStatsReducer: the buffer was not made by createSharedStatsBuffer');
    // slots[party][parity]
    this.slots = [0, 1].map((p) => [0, 1].map((q) => new Float64Array(buffer, CONTROL_BYTES + (p * 2 + q) * slotF64 * 8, slotF64)));
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.spin = options.spin ?? 2000;
    this.now = options.now ?? (() => performance.now());
  }

  /** Starts a step: this thread's exchange count from zero. Party 0 also clears both counts and the abort flag, before party 1 starts. */
  reset(): void {
    this.count = 0;
    this.waitedMs = 0;
    if (this.party === 0) {
      Atomics.store(this.control, SEQ, 0);
      Atomics.store(this.control, SEQ + 1, 0);
      Atomics.store(this.control, ABORT, 0);
    }
  }

  /** Makes the other thread's current or next exchange fail (this thread failed or stops). */
  abort(): void {
    Atomics.store(this.control, ABORT, 1);
    Atomics.notify(this.control, SEQ);
    Atomics.notify(this.control, SEQ + 1);
  }

  moments(n: number, mean: Float64Array, m2: Float64Array): number {
    const c = mean.length;
    const values = new Float64Array(2 * c);
    values.set(mean);
    values.set(m2, c);
    const [mine, other] = this.exchange(KIND.moments, n, values);
    // party 0's part first, on both threads
    const [a, b] = this.party === 0 ? [mine, other] : [other, mine];
    mean.set(a.values.subarray(0, c));
    m2.set(a.values.subarray(c, 2 * c));
    return combineMoments(a.n, mean, m2, b.n, b.values.subarray(0, c), b.values.subarray(c, 2 * c));
  }

  sums(n: number, sums: Float64Array): number {
    const [mine, other] = this.exchange(KIND.sums, n, sums.slice());
    const [a, b] = this.party === 0 ? [mine, other] : [other, mine];
    for (let k = 0; k < sums.length; k++) sums[k] = a.values[k] + b.values[k];
    return a.n + b.n;
  }

  private exchange(kind: number, n: number, values: Float64Array): { n: number; values: Float64Array }[] {
    if (values.length > this.capacity) {
      throw new Error(`SharedStatsReducer: ${values.length} values in one exchange, the buffer holds ${this.capacity} (make it with more channels)`);
    }
    const k = ++this.count;
    const me = this.party;
    const other = 1 - me;
    const slot = this.slots[me][k & 1];
    slot[0] = kind * 2 ** 20 + values.length;
    slot[1] = n;
    slot.set(values, HEADER_F64);
    Atomics.store(this.control, SEQ + me, k);
    Atomics.notify(this.control, SEQ + me);
    this.waitFor(other, k);
    const theirs = this.slots[other][k & 1];
    if (theirs[0] !== slot[0]) {
      this.abort();
      throw new BatchStatsSyncError(
        `batch-norm statistics out of step between the threads at exchange ${k} (${describe(slot[0])} here, ${describe(theirs[0])} in the other thread)`,
      );
    }
    return [
      { n, values },
      { n: theirs[1], values: theirs.slice(HEADER_F64, HEADER_F64 + values.length) },
    ];
  }

  private waitFor(other: number, k: number): void {
    const ctl = this.control;
    const t0 = this.now();
    for (let i = 0; i < this.spin; i++) {
      if (Atomics.load(ctl, SEQ + other) >= k) {
        this.waitedMs += this.now() - t0;
        return;
      }
      if (Atomics.load(ctl, ABORT)) this.failed();
    }
    // the time waited, without the gaps in which the process did not run
    let waited = this.now() - t0;
    let last = this.now();
    for (;;) {
      const seen = Atomics.load(ctl, SEQ + other);
      if (seen >= k) break;
      if (Atomics.load(ctl, ABORT)) this.failed();
      if (waited > this.timeoutMs) {
        this.abort();
        throw new BatchStatsSyncError(`the other training thread did not reach batch-norm exchange ${k} within ${this.timeoutMs} ms`);
      }
      Atomics.wait(ctl, SEQ + other, seen, 100);
      const t = this.now();
      if (t - last < SUSPENDED_MS) waited += t - last;
      last = t;
    }
    this.waitedMs += waited;
  }

  private failed(): never {
    throw new BatchStatsSyncError('the other training thread stopped during the step');
  }
}

function describe(tag: number): string {
  const kind = Math.floor(tag / 2 ** 20);
  return `${kind === KIND.moments ? 'forward' : kind === KIND.sums ? 'backward' : 'unknown'} of ${tag % 2 ** 20} values`;
}

/** A buffer for a {@link SharedStatsReducer} pair, large enough for batch norms of up to `channels` channels. */
export function createSharedStatsBuffer(channels = 4096): SharedArrayBuffer {
  const slotF64 = HEADER_F64 + 2 * channels;
  return new SharedArrayBuffer(CONTROL_BYTES + 4 * slotF64 * 8);
}
