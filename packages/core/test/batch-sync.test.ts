import { describe, expect, it } from 'vitest';
import { batchStatsReducer, combineMoments, createSharedStatsBuffer, setBatchStatsReducer, SharedStatsReducer } from '../src/index';

const moments = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { n: xs.length, mean, m2: xs.reduce((a, x) => a + (x - mean) ** 2, 0) };
};

describe('batch statistics of a batch split between threads', () => {
  it("combineMoments gives the whole batch's count, mean and sum of squared deviations", () => {
    const a = [1.5, 2, 7, -3, 100.25];
    const b = [4, 4.5, -8];
    const whole = moments([...a, ...b]);
    const [ma, mb] = [moments(a), moments(b)];
    const mean = Float64Array.of(ma.mean, 0);
    const m2 = Float64Array.of(ma.m2, 0);
    const n = combineMoments(ma.n, mean, m2, mb.n, [mb.mean, 0], [mb.m2, 0]);
    expect(n).toBe(8);
    expect(mean[0]).toBeCloseTo(whole.mean, 12);
    expect(m2[0]).toBeCloseTo(whole.m2, 9);
    // an empty part changes nothing, on either side
    const m = Float64Array.of(3);
    const s = Float64Array.of(2);
    expect(combineMoments(4, m, s, 0, [9], [9])).toBe(4);
    expect([m[0], s[0]]).toEqual([3, 2]);
    expect(combineMoments(0, m, s, 4, [9], [5])).toBe(4);
    expect([m[0], s[0]]).toEqual([9, 5]);
  });

  it("the time a suspended process did not run does not count towards the wait's timeout; waiting does", () => {
    // the other thread never comes: the clock moves 100 ms per wait, but jumps an hour during one (SIGSTOP, a
    // machine asleep), as it did when a 30-minute pause killed a two-thread run
    const clock = (jumpAt: number | null) => {
      let t = 0;
      let calls = 0;
      return {
        now: () => {
          calls++;
          t += calls === jumpAt ? 3_600_000 : 100;
          return t;
        },
        calls: () => calls,
      };
    };
    const paused = clock(5);
    const r = new SharedStatsReducer(createSharedStatsBuffer(4), 0, { timeoutMs: 500, spin: 0, now: paused.now });
    r.reset();
    expect(() => r.sums(1, Float64Array.of(1, 2))).toThrow(/did not reach batch-norm exchange 1 within 500 ms/);
    // it went on waiting after the jump until 500 ms of real waiting had passed
    const steady = clock(null);
    const r2 = new SharedStatsReducer(createSharedStatsBuffer(4), 0, { timeoutMs: 500, spin: 0, now: steady.now });
    r2.reset();
    expect(() => r2.sums(1, Float64Array.of(1, 2))).toThrow(/within 500 ms/);
    expect(paused.calls()).toBe(steady.calls() + 1);
    expect(steady.calls()).toBeGreaterThanOrEqual(6);
  });

  it('no reducer is set unless one is asked for (the kernels then run as on one thread)', () => {
    expect(batchStatsReducer()).toBeNull();
    const r = { moments: () => 0, sums: () => 0 };
    expect(setBatchStatsReducer(r)).toBeNull();
    expect(batchStatsReducer()).toBe(r);
    expect(setBatchStatsReducer(null)).toBe(r);
  });
});
