import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LossWeighting, LossWeightingContext, LossWeights } from '@ifan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Trainer, type ResolvedTrainConfig, type StepRecord, type TrainerOptions } from '../src/index';
import { buildRun, checkRunConfig } from '../src/run-config';
import { tempDir, toyRun, useBackend } from './helpers';
import { recordFit } from './record-fit';

/**
 * The trainer's `lossWeighting`: the default is the paper's plain sum (and logs as before), fixed
 * weights and a user's method weigh each step's losses, config.json records the weighting, and a
 * resumed run weighs its steps as the uninterrupted one.
 */

beforeAll(useBackend);

/** maps: 3 stage-1 steps, vectors: 5, then 2 rounds of [maps, vectors]: 12 steps. */
const base = (extra: Partial<TrainerOptions> = {}): TrainerOptions => toyRun({ threads: 1, workers: 0, log: false, ...extra });

async function records(options: TrainerOptions, stopAfter?: number): Promise<StepRecord[]> {
  const { trainer, steps } = await recordFit(options, stopAfter);
  trainer.dispose();
  return steps;
}

const readConfig = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ResolvedTrainConfig;
const readLog = (dir: string) =>
  readFileSync(join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as StepRecord);
const lossesOf = (steps: StepRecord[]) => steps.map((s) => ({ step: s.step, losses: s.losses, total: s.total }));

/** The weighted sum of a record's losses. */
function weightedSum(r: StepRecord): number {
  let sum = 0;
  for (const [task, ls] of Object.entries(r.losses)) {
    const w = r.weights?.[task] ?? 1;
    ls.forEach((l, i) => (sum += (typeof w === 'number' ? w : w[i]) * l));
  }
  return sum;
}

describe('loss weighting in the trainer', () => {
  it('the default is fixed weights of 1, the paper\'s sum: recorded in config.json, logged without weights, the same steps as every weight 1 given', async () => {
    const dir = tempDir();
    const plain = await records(base({ runDir: dir }));
    expect(readConfig(dir).lossWeighting).toEqual({ type: 'fixed', tasks: { map: 1, vector: 1 }, iterations: [1, 1] });
    expect(plain.every((r) => r.weights === undefined)).toBe(true);
    for (const r of plain) expect(r.total).toBeCloseTo(weightedSum(r), 5);
    const ones = await records(base({ lossWeighting: { type: 'fixed', tasks: { map: 1 }, iterations: [1, 1] } }));
    expect(lossesOf(ones)).toEqual(lossesOf(plain));
  });

  it('fixed weights weigh each step: the first step is the default one scaled, and the run goes elsewhere', async () => {
    const dir = tempDir();
    const plain = await records(base());
    const weighted = await records(base({ runDir: dir, lossWeighting: { type: 'fixed', tasks: { map: 2 }, iterations: [0.5, 1] } }));
    expect(readConfig(dir).lossWeighting).toEqual({ type: 'fixed', tasks: { map: 2, vector: 1 }, iterations: [0.5, 1] });
    // pre-training: the task weight alone; fine-tuning: task x iteration weights
    expect(weighted.map((r) => r.weights)).toEqual([
      ...Array(3).fill({ map: 2 }),
      ...Array(5).fill(undefined),
      ...Array(2).fill([{ map: [1, 2] }, { vector: [0.5, 1] }]).flat(),
    ]);
    expect(readLog(dir).map((r) => r.weights)).toEqual(weighted.map((r) => r.weights));
    // the same first batch and weights: the same losses, the objective twice theirs
    expect(weighted[0].losses).toEqual(plain[0].losses);
    expect(weighted[0].total).toBeCloseTo(2 * plain[0].total, 5);
    for (const r of weighted) expect(r.total).toBeCloseTo(weightedSum(r), 5);
    expect(weighted[1].losses).not.toEqual(plain[1].losses);
  });

  it("a method of yours is asked before every step, with what is known then, and its weights are the step's", async () => {
    const contexts: LossWeightingContext[] = [];
    const mine: LossWeighting = {
      name: 'halve-vector',
      weights(context) {
        contexts.push(context);
        return { map: 2, vector: context.stage === 'pretrain' ? 0.5 : [0.5, 0.5] };
      },
    };
    const dir = tempDir();
    const custom = await records(base({ runDir: dir, lossWeighting: mine }));
    expect(readConfig(dir).lossWeighting).toEqual({ type: 'custom', name: 'halve-vector' });
    expect(contexts.map((c) => [c.step, c.stage, c.source, c.tasks, c.iterations])).toEqual(
      custom.map((r) => [r.step, r.stage, r.source, r.tasks, r.stage === 'pretrain' ? 0 : 1]),
    );
    // told each task's losses at the last step that trained it
    const latest: Record<string, number[]> = {};
    custom.forEach((r, i) => {
      expect(contexts[i].losses, `step ${i}`).toEqual(latest);
      Object.assign(latest, r.losses);
    });
    // the same weights as fixed ones give the same steps
    const fixed = await records(base({ lossWeighting: { type: 'fixed', tasks: { map: 2, vector: 0.5 } } }));
    expect(lossesOf(custom)).toEqual(lossesOf(fixed));
    expect(custom[0].weights).toEqual({ map: 2, vector: 0.5 });
  });

  it('a method that gives a bad weight fails the step naming the method, the step and the weight', async () => {
    const bad: LossWeighting = { name: 'broken', weights: ({ step }) => ({ map: step === 2 ? NaN : 1 }) };
    await expect(records(base({ lossWeighting: bad }))).rejects.toThrow(/^loss weighting "broken" at step 2: weights\.map must be a finite number >= 0, got NaN$/);
    const typo: LossWeighting = { name: 'typo', weights: () => ({ mapp: 1 }) };
    await expect(records(base({ lossWeighting: typo }))).rejects.toThrow(/^loss weighting "typo" at step 0: weights\.mapp: no task "mapp" in this network; it has map, vector$/);
  });

  it('resume weighs as the uninterrupted run: fixed weights, and a method that remembers (its state saved with each checkpoint)', async () => {
    /** Weighs each task by the inverse of its mean loss at its last step, smoothed over steps (state). */
    const smoothing = (): LossWeighting & { restored: unknown[] } => {
      let mean: Record<string, number> = {};
      const restored: unknown[] = [];
      return {
        name: 'inverse-loss',
        restored,
        weights({ tasks, losses }) {
          for (const [t, ls] of Object.entries(losses)) mean[t] = 0.5 * (mean[t] ?? ls[0]) + 0.5 * (ls.reduce((a, b) => a + b, 0) / ls.length);
          return Object.fromEntries(tasks.map((t) => [t, mean[t] ? 1 / mean[t] : 1])) as LossWeights;
        },
        getState: () => ({ mean }),
        setState(state) {
          restored.push(state);
          mean = { ...(state as { mean: Record<string, number> }).mean };
        },
      };
    };
    const opts = (extra: Partial<TrainerOptions>) => base({ checkpoint: { everyRounds: 100, keep: 2 }, ...extra });
    for (const make of [() => ({ type: 'fixed' as const, tasks: { vector: 3 }, iterations: [0.25, 1] }), smoothing]) {
      const whole = await records(opts({ lossWeighting: make() }));
      const dir = tempDir();
      // stop in stage 2 (after step 9 of 12), then resume in a new trainer
      const first = await records(opts({ runDir: dir, lossWeighting: make() }), 10);
      const again = make();
      const second = await records(opts({ runDir: dir, resume: true, lossWeighting: again }));
      expect(lossesOf([...first, ...second])).toEqual(lossesOf(whole));
      expect([...first, ...second].map((r) => r.weights)).toEqual(whole.map((r) => r.weights));
      if ('restored' in again) expect(again.restored).toHaveLength(1);
    }
  });

  it('resume refuses another weighting, naming the field; a run from before loss weighting resumes with the default', async () => {
    const dir = tempDir();
    await records(base({ runDir: dir, lossWeighting: { type: 'fixed', tasks: { vector: 2 } } }), 9);
    const resume = (lossWeighting?: TrainerOptions['lossWeighting']) => records(base({ runDir: dir, resume: true, lossWeighting }));
    await expect(resume()).rejects.toThrow(/^lossWeighting\.tasks\.vector: differs from the run being resumed/);
    await expect(resume({ name: 'mine', weights: () => ({}) })).rejects.toThrow(/^lossWeighting\.type: differs from the run being resumed/);

    // a run directory written before: no lossWeighting in config.json nor in the checkpoint
    const whole = await records(base());
    const old = tempDir();
    await records(base({ runDir: old }), 9);
    const config = readConfig(old) as Partial<ResolvedTrainConfig>;
    delete config.lossWeighting;
    writeFileSync(join(old, 'config.json'), JSON.stringify(config));
    const state = join(old, 'checkpoints', 'step-00000009', 'state.json');
    const { lossWeighting: _, ...before } = JSON.parse(readFileSync(state, 'utf8')) as Record<string, unknown>;
    writeFileSync(state, JSON.stringify(before));
    await expect(records(base({ runDir: old, resume: true, lossWeighting: { type: 'fixed', iterations: [1, 2] } }))).rejects.toThrow(/^lossWeighting\.iterations: differs/);
    const rest = await records(base({ runDir: old, resume: true }));
    expect(lossesOf(readLog(old))).toEqual(lossesOf(whole));
    expect(rest.length).toBe(3);
  });
});

describe('loss-weighting settings are checked, naming the field', () => {
  const cases: [string, TrainerOptions['lossWeighting'], RegExp][] = [
    ['unknown type', { type: 'sum' } as never, /^lossWeighting\.type: must be "fixed", got "sum"/],
    ['no type', { tasks: { map: 2 } } as never, /^lossWeighting\.type: is missing: give "fixed"/],
    ['unknown task', { type: 'fixed', tasks: { mapp: 2 } }, /^lossWeighting\.tasks\.mapp: unknown task "mapp": the tasks are map, vector/],
    ['negative weight', { type: 'fixed', tasks: { map: -1 } }, /^lossWeighting\.tasks\.map: must be a finite number >= 0, got -1/],
    ['iteration weights for another ITER', { type: 'fixed', iterations: [1, 1, 1] }, /^lossWeighting\.iterations: has 3 weights, but network\.iterations is 1: give 2, one per iteration 0\.\.1/],
    ['a method without a name', { name: '', weights: () => ({}) }, /^lossWeighting\.name: must name your method/],
  ];
  it.each(cases)('%s', (_name, lossWeighting, message) => {
    let error: unknown;
    try {
      new Trainer(base({ lossWeighting })).dispose();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });

  it('a run-configuration file passes its lossWeighting to the trainer', async () => {
    const config = checkRunConfig({ tasks: { emotion: { train: 'synthetic:4' } }, valFraction: 0, testFraction: 0, lossWeighting: { type: 'fixed', tasks: { emotion: 0.5 } } });
    const built = await buildRun(config);
    expect(built.options.lossWeighting).toEqual({ type: 'fixed', tasks: { emotion: 0.5 } });
  });
});
