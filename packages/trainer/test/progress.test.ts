import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProgressReporter } from '../src/progress';
import type { StepRecord } from '../src/types';

const record = (step: number): StepRecord => ({
  stage: 'pretrain', step, epoch: 0, source: 's', tasks: ['t'], losses: { t: [1] }, total: 1, lr: 1e-3, batchSize: 8, imagesPerSec: 8, ms: 1000,
});

afterEach(() => vi.useRealTimers());

describe('ProgressReporter (issue 17, defect 5)', () => {
  it('an evaluation shows its progress, and its time neither slows the step rate nor makes the time left jump', () => {
    vi.useFakeTimers({ now: 0 });
    const lines: string[] = [];
    const p = new ProgressReporter({ stream: { write: (s: string) => lines.push(s) }, interval: 0 });
    p.begin('stage 1', 0, 100);
    for (let i = 1; i <= 10; i++) {
      vi.setSystemTime(i * 1000);
      p.update(i, 100, record(i));
    }
    expect(lines.at(-1)).toMatch(/stage 1 10\/100 .* left 1m30s/);
    // a 60 s validation
    p.evaluation('validation at step 10', 0, 400);
    vi.setSystemTime(40_000);
    p.evaluation('validation at step 10', 200, 400);
    expect(lines.at(-1)).toMatch(/validation at step 10 200\/400 images 6\.7 img\/s left 30s/);
    vi.setSystemTime(70_000);
    p.evaluation('validation at step 10', 400, 400);
    vi.setSystemTime(71_000);
    p.update(11, 100, record(11));
    // 89 steps at 1 s (the validation's minute left out) + 2 validations still to come at 60 s
    p.update(11, 100, record(11), 120);
    expect(lines.at(-2)).toMatch(/left 1m29s/);
    expect(lines.at(-1)).toMatch(/left 3m29s/);
    expect(lines.some((l) => l === 'validation at step 10: 0/400 images\n')).toBe(true);
  });
});
