import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLossWeights, discardMovingStatUpdates, fixedLossWeighting, IntegratedNetwork, selectBackend, type LossWeights } from '../src/index';
import { mapTask, vectorTask } from './dummy-plugins';

/**
 * The loss weighting of `computeGradients` (src/loss-weighting.ts): no weights, or weights of 1, are
 * the paper's plain sum bit for bit; other weights scale each task's and iteration's contribution to
 * the gradients; bad weights are refused naming the entry.
 */

type Targets = Record<string, { target: tf.Tensor; mask: tf.Tensor1D }>;

let net: IntegratedNetwork;
let x: tf.Tensor4D;
let targets: Targets;
let variables: tf.Variable[];

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: false });
  net = new IntegratedNetwork([mapTask('map', 3), vectorTask('vector', 4)], { backbone: 'tiny', iterations: 1, seed: 3 });
  x = tf.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  targets = {
    map: net.plugin('map').encodeTargets([0, 2, 1], 32),
    // one sample without a label: the masked mean
    vector: net.plugin('vector').encodeTargets([3, undefined, 1], 32),
  };
  variables = net.variables({ backbone: true, bnKey: 'map', decoders: ['map', 'vector'], reencoders: ['map', 'vector'] });
});

afterAll(() => {
  tf.dispose([x, ...Object.values(targets).flatMap((t) => [t.target, t.mask])]);
  net.dispose();
});

const values = (m: tf.NamedTensorMap) => Object.fromEntries(Object.entries(m).map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));

/** `computeGradients` from the same dropout state each time (training-mode batch norm reads the batch alone). */
function gradients(opts: { lossWeights?: LossWeights; lossScale?: Record<string, number> } = {}) {
  const rng = net.rng.getState();
  const r = net.computeGradients(x, targets, { bnKey: 'map', variables, ...opts });
  net.rng.setState(rng);
  const grads = values(r.grads);
  tf.dispose(Object.values(r.grads));
  return { grads, total: r.total, losses: r.losses };
}

/** computeGradients as it was before loss weighting: every loss added in task, then iteration order. */
function beforeWeighting(lossScale?: Record<string, number>) {
  const rng = net.rng.getState();
  const ctx = net.context({ bnKey: 'map', training: true });
  const { value, grads } = tf.variableGrads(() => {
    const r = net.forward(x, ctx, 1);
    let total: tf.Scalar = tf.scalar(0);
    for (const [task, t] of Object.entries(targets)) {
      const scale = lossScale?.[task];
      const ls = r.raw.map((raw) => {
        const l = net.plugin(task).loss(raw[task], t.target, t.mask);
        return scale === undefined ? l : tf.mul(l, scale);
      });
      for (const l of ls) total = tf.add(total, l);
    }
    return total;
  }, variables);
  discardMovingStatUpdates(ctx);
  net.rng.setState(rng);
  const out = { grads: values(grads), total: value.dataSync()[0] };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('loss weighting in computeGradients', () => {
  it('no weights, and weights of 1, give the plain sum of before bit for bit (with a split batch\'s lossScale too)', () => {
    for (const lossScale of [undefined, { map: 0.5, vector: 0.25 }]) {
      const old = beforeWeighting(lossScale);
      const now = gradients({ lossScale });
      const ones = gradients({ lossScale, lossWeights: { map: 1, vector: [1, 1] } });
      for (const r of [now, ones]) {
        expect(r.total).toBe(old.total);
        expect(Object.keys(r.grads).sort()).toEqual(Object.keys(old.grads).sort());
        for (const [k, g] of Object.entries(old.grads)) expect(r.grads[k], k).toEqual(g);
      }
    }
  });

  it('weights scale each task\'s and iteration\'s contribution: the gradient is the weighted sum of each term\'s own', () => {
    const terms = [
      ['map', 0],
      ['map', 1],
      ['vector', 0],
      ['vector', 1],
    ] as const;
    // each term alone: weight 1 on it, 0 on the others
    const alone = terms.map(([task, i]) => {
      const w: LossWeights = { map: [0, 0], vector: [0, 0] };
      (w[task] as number[])[i] = 1;
      return gradients({ lossWeights: w });
    });
    const weighted = { map: 2.5, vector: [0.25, 3] };
    const r = gradients({ lossWeights: weighted });
    const plain = gradients();
    // the losses are reported unweighted; the total is the weighted sum
    expect(r.losses).toEqual(plain.losses);
    const w = [2.5, 2.5, 0.25, 3];
    const expectedTotal = terms.reduce((a, [task, i], k) => a + w[k] * plain.losses[task][i], 0);
    expect(r.total).toBeCloseTo(expectedTotal, 5);
    // relative to each variable's largest value; a variable whose gradient is rounding noise (a
    // convolution's bias just before a batch norm: exactly 0) relative to the largest of all, G
    const expected = Object.fromEntries(Object.keys(r.grads).map((name) => [name, r.grads[name].map((_, j) => alone.reduce((a, t, k) => a + w[k] * t.grads[name][j], 0))]));
    const G = Math.max(...Object.values(expected).map((e) => Math.max(...e.map(Math.abs))));
    let worst = 0;
    let noise = 0;
    for (const [name, g] of Object.entries(r.grads)) {
      const scale = Math.max(...expected[name].map(Math.abs));
      const diff = Math.max(...g.map((v, j) => Math.abs(v - expected[name][j])));
      if (scale >= 1e-4 * G) worst = Math.max(worst, diff / scale);
      else noise = Math.max(noise, diff / G);
    }
    expect(worst).toBeLessThan(1e-4);
    expect(noise).toBeLessThan(1e-6);
  });

  it('refuses bad weights naming the entry', () => {
    expect(() => gradients({ lossWeights: { map: -1 } })).toThrow(/^lossWeights\.map must be a finite number >= 0, got -1$/);
    expect(() => gradients({ lossWeights: { vector: [1, NaN] } })).toThrow(/^lossWeights\.vector\[1\] must be a finite number >= 0, got NaN$/);
    expect(() => gradients({ lossWeights: { vector: [1, 1, 1] } })).toThrow(/lossWeights\.vector has 3 weights: give one per iteration 0\.\.1 \(2\), or one number/);
    expect(() => gradients({ lossWeights: { mapp: 1 } })).toThrow(/lossWeights\.mapp: no task "mapp" in this network; it has map, vector/);
    expect(() => checkLossWeights([1, 2], null, null)).toThrow(/lossWeights must be an object of weights by task name, got \[1,2\]/);
  });
});

describe('fixedLossWeighting', () => {
  const context = { step: 0, source: 's', tasks: ['map', 'vector'], losses: {} };
  it('defaults to 1 for every task: the paper\'s sum', () => {
    expect(fixedLossWeighting().weights({ ...context, stage: 'finetune', iterations: 2 })).toEqual({ map: 1, vector: 1 });
  });

  it('multiplies task and iteration weights in fine-tuning; pre-training weighs iteration 0 by the task weight alone', () => {
    const w = fixedLossWeighting({ tasks: { vector: 2 }, iterations: [0.5, 1] });
    expect(w.name).toBe('fixed');
    expect(w.weights({ ...context, stage: 'finetune', iterations: 1 })).toEqual({ map: [0.5, 1], vector: [1, 2] });
    expect(w.weights({ ...context, stage: 'pretrain', iterations: 0 })).toEqual({ map: 1, vector: 2 });
    expect(w.weights({ ...context, tasks: ['map'], stage: 'pretrain', iterations: 0 })).toEqual({ map: 1 });
    expect(() => w.weights({ ...context, stage: 'finetune', iterations: 2 })).toThrow(/2 iteration weights, but the step runs iterations 0\.\.2: give 3/);
  });

  it('refuses a bad weight when made', () => {
    expect(() => fixedLossWeighting({ tasks: { map: -2 } })).toThrow(/fixedLossWeighting tasks\.map must be a finite number >= 0, got -2/);
    expect(() => fixedLossWeighting({ iterations: [1, Infinity] })).toThrow(/fixedLossWeighting iterations\[1\] must be a finite number >= 0, got Infinity/);
  });
});
