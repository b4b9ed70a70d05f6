import { describe, expect, it } from 'vitest';
import { mixSeed } from '@ifan/core';
import { batchesPerEpoch, learningRate, planLength, planSchedule, Sampler } from '../src/schedule';

const sources = [
  { name: 'helen', samples: 50, batchSize: 8 }, // 6 batches per epoch
  { name: 'mtfl', samples: 200, batchSize: 16 }, // 12
  { name: 'bnu', samples: 10, batchSize: 24 }, // smaller than a batch: 1
];

describe('Algorithm 1 plan', () => {
  const plan = planSchedule(sources, { pretrainEpochs: 2, rounds: 5 });

  it('stage 1 trains each data set in turn, E_P epochs each, whole data set per epoch', () => {
    const stage1 = plan.filter((u) => u.stage === 'pretrain');
    expect(stage1.map((u) => [u.steps[0], u.epoch, u.steps.length])).toEqual([
      [0, 0, 6],
      [0, 1, 6],
      [1, 0, 12],
      [1, 1, 12],
      [2, 0, 1],
      [2, 1, 1],
    ]);
    for (const u of stage1) {
      expect(new Set(u.steps).size).toBe(1);
      expect(u.restarts).toBe(u.steps[0]);
    }
  });

  it('stage 2 rounds give every data set one batch, in task order, whatever its size', () => {
    const rounds = plan.filter((u) => u.stage === 'finetune');
    expect(rounds).toHaveLength(5);
    for (const r of rounds) expect(r.steps).toEqual([0, 1, 2]);
    const perSource = [0, 0, 0];
    for (const r of rounds) for (const s of r.steps) perSource[s]++;
    expect(perSource).toEqual([5, 5, 5]);
  });

  it('numbers steps consecutively and counts them', () => {
    let next = 0;
    for (const u of plan) {
      expect(u.firstStep).toBe(next);
      next += u.steps.length;
    }
    expect(planLength(plan)).toBe(2 * (6 + 12 + 1) + 5 * 3);
  });

  it('learning-rate progress runs 0 -> 1 within each source\'s pre-training and within stage 2; a round shares one rate', () => {
    sources.forEach((s, i) => {
      const p1 = plan.filter((u) => u.stage === 'pretrain' && u.steps[0] === i).flatMap((u) => u.progress);
      const n = 2 * batchesPerEpoch(s.samples, s.batchSize);
      expect(p1).toHaveLength(n);
      // evenly spaced from 0 to 1 (a single step stays at 0): each task gets the whole stage-1 schedule
      p1.forEach((p, k) => expect(p).toBeCloseTo(n > 1 ? k / (n - 1) : 0, 12));
    });
    const rounds = plan.filter((u) => u.stage === 'finetune');
    expect(rounds.map((r) => r.progress[0])).toEqual([0, 0.25, 0.5, 0.75, 1]);
    for (const r of rounds) expect(new Set(r.progress).size).toBe(1);
  });

  it('batchesPerEpoch drops the remainder, keeps a set smaller than a batch', () => {
    expect(batchesPerEpoch(50, 8)).toBe(6);
    expect(batchesPerEpoch(48, 8)).toBe(6);
    expect(batchesPerEpoch(5, 8)).toBe(1);
  });
});

describe('learning-rate schedules', () => {
  it('paper: 1e-3 -> 1e-6 exponentially over stage 2', () => {
    const s = { type: 'exponential' as const, from: 1e-3, to: 1e-6 };
    expect(learningRate(s, 0)).toBeCloseTo(1e-3, 12);
    expect(learningRate(s, 0.5)).toBeCloseTo(Math.sqrt(1e-9), 12);
    expect(learningRate(s, 1)).toBeCloseTo(1e-6, 12);
  });
  it('linear, cosine and constant', () => {
    expect(learningRate({ type: 'linear', from: 1, to: 0 }, 0.25)).toBeCloseTo(0.75);
    expect(learningRate({ type: 'cosine', from: 1, to: 0 }, 0.5)).toBeCloseTo(0.5);
    expect(learningRate({ type: 'cosine', from: 1, to: 0 }, 1)).toBeCloseTo(0);
    expect(learningRate({ type: 'constant', from: 0.1 }, 0.9)).toBe(0.1);
  });
});

describe('Sampler', () => {
  it('draws every sample once per permutation, then reshuffles', () => {
    const s = new Sampler(10, 42);
    const first = [...s.next(4), ...s.next(4)];
    expect(new Set(first).size).toBe(8);
    const third = s.next(4); // only 2 left: a new permutation starts
    expect(s.getState()).toEqual({ epoch: 1, position: 4 });
    expect(third).toEqual(s.order(1).slice(0, 4));
    expect(s.order(0)).not.toEqual(s.order(1));
    expect([...s.order(1)].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  });
  it('is reproducible from its state', () => {
    const a = new Sampler(30, 7);
    a.next(8);
    a.next(8);
    const b = new Sampler(30, 7);
    b.setState(a.getState());
    expect(b.next(8)).toEqual(a.next(8));
    expect(b.next(8)).toEqual(a.next(8));
  });
  it('a set smaller than the batch gives all of it', () => {
    const s = new Sampler(3, 1);
    expect(s.next(8).sort()).toEqual([0, 1, 2]);
  });
  it('keeps the orders of earlier versions (a resumed run continues where it was)', () => {
    // printed when the seed hash came from @ifan/synthetic (bb58a8b); the trainer seeds source i with mixSeed(seed, i)
    const s = new Sampler(12, mixSeed(5, 1));
    expect(s.order(0)).toEqual([2, 3, 0, 5, 10, 9, 7, 4, 1, 8, 11, 6]);
    expect(s.order(3)).toEqual([5, 2, 1, 11, 4, 3, 10, 6, 9, 7, 0, 8]);
  });
});
