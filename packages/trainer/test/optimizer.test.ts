import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_OPTIMIZER, Trainer, type TrainerOptions } from '../src/index';
import { OptimizerState } from '../src/optimizer';
import type { OptimizerConfig } from '../src/types';
import { tempDir, toyRun, useBackend } from './helpers';
import { expectOldRunResumes, recordFit } from './record-fit';

beforeAll(useBackend);

/** A kernel (rank 2, decayed) and a bias (rank 1, never decayed), with fixed values. */
function variables(tag: string): tf.Variable[] {
  return [tf.variable(tf.tensor2d([[1, -2]]), true, `${tag}/kernel`), tf.variable(tf.tensor1d([0.5]), true, `${tag}/bias`)];
}

const grads = (vars: tf.Variable[], k: number, b: number): tf.NamedTensorMap => ({
  [vars[0].name]: tf.tensor2d([[k, k]]),
  [vars[1].name]: tf.tensor1d([b]),
});

/** {@link toyRun} with checkpoints only at epoch ends and the end. */
const toyRunChecked = (): TrainerOptions => toyRun({ checkpoint: { everyRounds: 100, keep: 2 } });

let n = 0;
/** Runs `steps` updates with the gradients `g(step)` and returns the variables' values. */
function run(config: Partial<OptimizerConfig>, lr: number, steps: Array<[number, number]>): number[][] {
  const vars = variables(`opt${n++}`);
  const opt = new OptimizerState(vars, { ...DEFAULT_OPTIMIZER, ...config }, lr);
  for (const [k, b] of steps) {
    const g = grads(vars, k, b);
    opt.apply(g);
    tf.dispose(Object.values(g));
  }
  const out = vars.map((v) => Array.from(v.dataSync()));
  opt.dispose();
  tf.dispose(vars);
  return out;
}

describe('OptimizerState: RMSprop, Adam and SGD, with L2 weight decay on kernels', () => {
  it('Adam: the first step moves each weight by lr (m / sqrt(v) = g / |g| after bias correction), the second by hand', () => {
    const [[w0, w1], [b]] = run({ type: 'adam', epsilon: 1e-8 }, 0.1, [[0.5, -4]]);
    expect(w0).toBeCloseTo(1 - 0.1, 5);
    expect(w1).toBeCloseTo(-2 - 0.1, 5);
    expect(b).toBeCloseTo(0.5 + 0.1, 5);
    // second step with g = 0.5 then 0.25: m = 0.9*0.05 + 0.025 = 0.07, v = 0.999*0.00025 + 0.0000625
    const [[w]] = run({ type: 'adam', epsilon: 1e-8 }, 0.1, [[0.5, 0], [0.25, 0]]);
    const m = 0.07 / (1 - 0.81);
    const v = (0.999 * 0.00025 + 0.0000625) / (1 - 0.999 ** 2);
    expect(w).toBeCloseTo(1 - 0.1 - (0.1 * m) / Math.sqrt(v), 5);
  });

  it('SGD with momentum, plain and Nesterov, by hand', () => {
    // plain: a = 0.9 a + g; w -= lr a. Steps g = 1, 1: a = 1, 1.9
    const [[w]] = run({ type: 'sgd', momentum: 0.9 }, 0.1, [[1, 0], [1, 0]]);
    expect(w).toBeCloseTo(1 - 0.1 * 1 - 0.1 * 1.9, 5);
    // Nesterov: w -= lr (g + 0.9 a_new). Steps: a = 1 -> w -= 0.1 * 1.9; a = 1.9 -> w -= 0.1 * (1 + 1.71)
    const [[wn]] = run({ type: 'sgd', momentum: 0.9, nesterov: true }, 0.1, [[1, 0], [1, 0]]);
    expect(wn).toBeCloseTo(1 - 0.1 * 1.9 - 0.1 * 2.71, 5);
  });

  it('RMSprop stays the default and the paper\'s: one step from a zero mean square by hand', () => {
    // ms = 0.1 g^2, w -= lr g / sqrt(ms + eps)
    const [[w], [b]] = run({}, 0.01, [[2, 0.5]]);
    expect(w).toBeCloseTo(1 - (0.01 * 2) / Math.sqrt(0.4 + 1e-7), 5);
    expect(b).toBeCloseTo(0.5 - (0.01 * 0.5) / Math.sqrt(0.025 + 1e-7), 5);
  });

  it('weight decay adds weightDecay * w to kernel gradients only', () => {
    // SGD without momentum: w -= lr (g + wd w). Kernel [1, -2], g 0: w = [1 - 0.1 * 0.5, -2 + 0.1 * 1]; bias untouched
    const [[w0, w1], [b]] = run({ type: 'sgd', momentum: 0, weightDecay: 0.5 }, 0.1, [[0, 0]]);
    expect(w0).toBeCloseTo(0.95, 6);
    expect(w1).toBeCloseTo(-1.9, 6);
    expect(b).toBe(0.5);
  });

  it('the rate set between steps is the one each optimiser steps by (SGD keeps it in a scalar)', () => {
    for (const type of ['sgd', 'adam', 'rmsprop'] as const) {
      const vars = variables(`lr${n++}`);
      const opt = new OptimizerState(vars, { ...DEFAULT_OPTIMIZER, type }, 0.1);
      const step = (lr: number) => {
        opt.learningRate = lr;
        const g = grads(vars, 1, 1);
        opt.apply(g);
        tf.dispose(Object.values(g));
        return vars[0].dataSync()[0];
      };
      expect(step(0), type).toBe(1);
      expect(step(0.05), type).toBeLessThan(1);
      expect(opt.learningRate).toBe(0.05);
      opt.dispose();
      tf.dispose(vars);
    }
  });

  it('leaves no tensors behind after its slots exist, and frees all of its own when disposed', () => {
    for (const type of ['adam', 'sgd', 'rmsprop'] as const) {
      const vars = variables(`leak${n++}`);
      const start = tf.memory().numTensors;
      const opt = new OptimizerState(vars, { ...DEFAULT_OPTIMIZER, type, momentum: 0.9, weightDecay: 1e-4 }, 0.01);
      const step = () => {
        opt.learningRate = opt.learningRate * 0.9;
        const g = grads(vars, 0.3, 0.1);
        opt.apply(g);
        tf.dispose(Object.values(g));
      };
      step();
      const before = tf.memory().numTensors;
      step();
      step();
      expect(tf.memory().numTensors, type).toBe(before);
      opt.dispose();
      expect(tf.memory().numTensors, type).toBe(start);
      tf.dispose(vars);
    }
  });

  it('save and load round-trip Adam\'s and SGD\'s slots: the next step is the same; another optimiser\'s state is refused', async () => {
    for (const config of [{ type: 'adam' as const }, { type: 'sgd' as const, momentum: 0.9 }]) {
      const varsA = variables(`rtA${n}`);
      const varsB = variables(`rtB${n++}`);
      varsB.forEach((v, i) => v.assign(varsA[i]));
      const a = new OptimizerState(varsA, { ...DEFAULT_OPTIMIZER, ...config }, 0.05);
      const b = new OptimizerState(varsB, { ...DEFAULT_OPTIMIZER, ...config }, 0.05);
      for (const [k, bias] of [[0.3, -0.2], [0.1, 0.4]]) {
        const g = grads(varsA, k, bias);
        a.apply(g);
        tf.dispose(Object.values(g));
      }
      varsB.forEach((v, i) => v.assign(varsA[i]));
      const saved = await a.save();
      await b.load(saved.specs, saved.data);
      for (const [opt, vars] of [[a, varsA], [b, varsB]] as const) {
        const g = grads(vars, -0.7, 0.9);
        opt.apply(g);
        tf.dispose(Object.values(g));
      }
      varsA.forEach((v, i) => expect(Array.from(varsB[i].dataSync())).toEqual(Array.from(v.dataSync())));
      const other = new OptimizerState(varsB, { ...DEFAULT_OPTIMIZER, type: config.type === 'adam' ? 'sgd' : 'adam' }, 0.05);
      await expect(other.load(saved.specs, saved.data)).rejects.toThrow(/the checkpoint belongs to another network or optimiser/);
      [a, b, other].forEach((o) => o.dispose());
      tf.dispose([...varsA, ...varsB]);
    }
  });

  it('a run with Adam and weight decay resumes exactly', async () => {
    const opts = { ...toyRunChecked(), optimizer: { type: 'adam' as const, weightDecay: 1e-3 }, schedule: { pretrainEpochs: 1, rounds: 4 } };
    const full = await recordFit({ ...opts, runDir: tempDir() });
    full.trainer.dispose();
    const dir = tempDir();
    // stopped after step 11: there the running product 0.9^12 differs from pow(0.9, 12) in float32, so
    // the resumed losses match only if Adam's beta powers were saved
    const first = await recordFit({ ...opts, runDir: dir }, 11);
    first.trainer.dispose();
    const rest = await recordFit({ ...opts, runDir: dir, resume: true });
    rest.trainer.dispose();
    expect([...first.steps, ...rest.steps].map((s) => s.losses)).toEqual(full.steps.map((s) => s.losses));
    // and the losses are Adam's, not RMSprop's
    const rms = await recordFit({ ...opts, optimizer: {}, runDir: tempDir() });
    rms.trainer.dispose();
    expect(rms.steps[3].losses).not.toEqual(full.steps[3].losses);
  });

  it('a run from before optimizer.type resumes as RMSprop; another optimiser is refused, naming the field', async () => {
    await expectOldRunResumes({ ...toyRunChecked(), runDir: tempDir() }, 'optimizer', 'type', 'rmsprop', { optimizer: { type: 'adam' } });
  });

  it('a setting the chosen optimiser does not read is refused, naming it and whose it is', () => {
    const opts = toyRunChecked();
    expect(() => new Trainer({ ...opts, optimizer: { nesterov: true } })).toThrow(/^optimizer\.nesterov: is not a setting of rmsprop \(the default optimiser\); it is sgd's: set optimizer\.type/);
    expect(() => new Trainer({ ...opts, optimizer: { type: 'adam', momentum: 0.9 } })).toThrow(/^optimizer\.momentum: is not a setting of adam; it is rmsprop and sgd's/);
    expect(() => new Trainer({ ...opts, optimizer: { type: 'sgd', beta2: 0.99 } })).toThrow(ConfigError);
  });
});
