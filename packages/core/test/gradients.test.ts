import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegratedNetwork, selectBackend } from '../src/index';
import {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  batchNormTraining,
  batchNormTrainingGradKernel,
  batchNormTrainingKernel,
} from '../src/kernels/batch_norm';
import { registerTrainingKernels, unregisterTrainingKernels } from '../src/kernels/index';
import { tileGrad } from '../src/nn/gradients';
import { mapTask, vectorTask } from './dummy-plugins';
import { expectFiniteDifferences, relErr } from './numeric';

/**
 * The fused training-mode batch norm (kernels/batch_norm.ts) against tfjs's tf.moments + tf.batchNorm,
 * and the gradients this library registers (nn/gradients.ts) against their definitions: values within
 * 1e-4 relative, on wasm and on cpu, op by op and for a whole network's training step.
 */

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: false });
  await tf.setBackend('cpu');
  registerTrainingKernels('cpu');
  await tf.setBackend('wasm');
});

afterAll(() => {
  unregisterTrainingKernels('cpu');
});

const EPS = 1e-3;

/** The reference: what BatchNorm did before the fused kernel. */
function reference(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D) {
  const { mean, variance } = tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
  return { y: tf.batchNorm(x, mean, variance, beta, gamma, EPS), mean, variance };
}

function fused(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D) {
  const r = batchNormTraining(x, gamma, beta, EPS);
  if (!r) throw new Error(`${BATCH_NORM_TRAINING} is not registered for ${tf.getBackend()}`);
  return r;
}

type Bn = typeof reference;

/**
 * Values and gradients of a loss through batch norm: `sum(y * w)` plus, when `throughStats`, terms in
 * the batch mean and variance (which the network never differentiates, but the op must get right).
 */
function run(bn: Bn, shape: number[], seed: number, throughStats: boolean, center = 3): Float32Array[] {
  return tf.tidy(() => {
    const c = shape[shape.length - 1];
    const x = tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), 2), center);
    const gamma = tf.randomUniform([c], 0.5, 1.5, 'float32', seed + 1) as tf.Tensor1D;
    const beta = tf.randomNormal([c], 0, 1, 'float32', seed + 2) as tf.Tensor1D;
    const w = tf.randomNormal(shape, 0, 1, 'float32', seed + 3);
    const wm = tf.randomNormal([c], 0, 1, 'float32', seed + 4);
    const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const r = bn(xx, g as tf.Tensor1D, b as tf.Tensor1D);
      let loss = tf.sum(tf.mul(r.y, w));
      if (throughStats) loss = tf.add(loss, tf.sum(tf.mul(tf.add(r.mean, tf.sqrt(r.variance)), wm)));
      return loss as tf.Scalar;
    };
    const { y, mean, variance } = bn(x, gamma, beta);
    const grads = tf.grads(f)([x, gamma, beta]);
    return [y, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

describe('fused training-mode batch norm', () => {
  // Channels a multiple of 4 take the WebAssembly loops on wasm (in blocks of 256 pixels); others the
  // composite of backend kernels.
  const cases: Array<[string, number[], number]> = [
    ['NHWC, 7 channels', [4, 6, 5, 7], 3],
    ['a dense-block activation', [8, 16, 16, 24], 3],
    ['pixels not a multiple of the block', [2, 9, 7, 8], 3],
    ['far from zero (mean 40 std 2)', [4, 10, 10, 12], 40],
    ['rank 2, 5 features', [16, 5], 3],
    ['rank 2, 12 features, 300 rows', [300, 12], 3],
  ];
  for (const backend of ['wasm', 'cpu']) {
    for (const [name, shape, center] of cases) {
      for (const throughStats of [false, true]) {
        it(`matches tf.moments + tf.batchNorm on ${backend}: ${name}${throughStats ? ', differentiated through the statistics' : ''}`, async () => {
          await tf.setBackend(backend);
          try {
            const want = run(reference, shape, 11, throughStats, center);
            const got = run(fused, shape, 11, throughStats, center);
            const names = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];
            want.forEach((w, i) => expect(relErr(w, got[i]), names[i]).toBeLessThan(1e-4));
          } finally {
            await tf.setBackend('wasm');
          }
        });
      }
    }
  }

  it('returns null where the kernel is not registered, so BatchNorm falls back to tfjs', () => {
    tf.unregisterKernel(BATCH_NORM_TRAINING, 'wasm');
    try {
      expect(batchNormTraining(tf.ones([2, 3]), tf.ones([3]), tf.zeros([3]), EPS)).toBeNull();
    } finally {
      tf.registerKernel(batchNormTrainingKernel('wasm'));
    }
  });

  it('leaves no tensor and no wasm buffer behind', () => {
    const x = tf.randomNormal([4, 8, 8, 6]);
    const g = tf.ones([6]) as tf.Tensor1D;
    const b = tf.zeros([6]) as tf.Tensor1D;
    const tensors = tf.memory().numTensors;
    const buffers = tf.engine().backend.numDataIds();
    tf.tidy(() => {
      tf.grads((xx: tf.Tensor) => tf.sum(fused(xx, g, b).y))([x]);
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
    tf.dispose([x, g, b]);
  });
});

describe('inference batch norm (FusedBatchNorm on wasm)', () => {
  it('matches the cpu kernel, with and without scale and offset', () => {
    const make = () => {
      const x = tf.randomNormal([3, 5, 4, 6], 1, 2, 'float32', 1);
      const mean = tf.randomNormal([6], 0, 1, 'float32', 2);
      const variance = tf.randomUniform([6], 0.5, 2, 'float32', 3);
      const scale = tf.randomUniform([6], 0.5, 1.5, 'float32', 4);
      const offset = tf.randomNormal([6], 0, 1, 'float32', 5);
      return [tf.batchNorm(x, mean, variance, offset, scale, EPS), tf.batchNorm(x, mean, variance), tf.batchNorm(tf.reshape(x, [60, 6]), mean, variance, offset)];
    };
    const onCpu = async () => {
      await tf.setBackend('cpu');
      const r = tf.tidy(() => make().map((t) => t.dataSync() as Float32Array));
      await tf.setBackend('wasm');
      return r;
    };
    return onCpu().then((want) => {
      const got = tf.tidy(() => make().map((t) => t.dataSync() as Float32Array));
      want.forEach((w, i) => expect(relErr(w, got[i])).toBeLessThan(1e-5));
    });
  });
});

describe('a training step of a network', () => {
  /** Every gradient and the moving statistics after one step, with the fused kernels or without. */
  function step(fusedKernels: boolean): Record<string, Float32Array> {
    const names = [BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD];
    if (!fusedKernels) for (const n of names) tf.unregisterKernel(n, 'wasm');
    try {
      const net = new IntegratedNetwork([mapTask('m', 3), vectorTask('v', 4)], { backbone: 'tiny', iterations: 1, seed: 9 });
      const x = tf.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      const t = {
        m: net.plugin('m').encodeTargets([0, 1, 2], 32),
        v: net.plugin('v').encodeTargets([3, 0, 1], 32),
      };
      const variables = net.variables({ backbone: true, bnKey: 'm', decoders: ['m', 'v'], reencoders: ['m', 'v'] });
      expect(tf.tidy(() => batchNormTraining(x, tf.ones([3]), tf.zeros([3]), EPS) !== null)).toBe(fusedKernels);
      const { grads, total } = net.computeGradients(x, t, { bnKey: 'm', variables });
      const out: Record<string, Float32Array> = { total: Float32Array.of(total) };
      for (const v of variables) out[net.params.nameOf(v)] = grads[v.name].dataSync() as Float32Array;
      for (const [name, v] of net.params.variables) if (/moving_(mean|variance)$/.test(name)) out[name] = v.dataSync() as Float32Array;
      tf.dispose([x, t.m.target, t.m.mask, t.v.target, t.v.mask]);
      net.dispose();
      return out;
    } finally {
      if (!fusedKernels) {
        tf.registerKernel(batchNormTrainingKernel('wasm'));
        tf.registerKernel(batchNormTrainingGradKernel('wasm'));
      }
    }
  }

  it('has the same loss, gradients and moving statistics with the fused batch norm as with tfjs ops', () => {
    const want = step(false);
    const got = step(true);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) expect(relErr(want[k], got[k]), k).toBeLessThan(1e-4);
  });

  it('matches central finite differences of the training-mode loss', () => {
    const net = new IntegratedNetwork([mapTask('m', 2), vectorTask('v', 3)], {
      backbone: { inputSize: 8, blocks: 1, layersPerBlock: 1, growthRate: 2, stemChannels: 2 },
      iterations: 1,
      seed: 5,
    });
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const t = { m: net.plugin('m').encodeTargets([0, 1, 1, 0], 8), v: net.plugin('v').encodeTargets([2, 0, 1, 1], 8) };
    // training mode: batch statistics, so the gradient runs through the fused batch norm's backward
    const lossFn = () => {
      const r = net.forward(x, net.context({ training: true, bnKey: 'm' }));
      let total = tf.scalar(0);
      for (const raw of r.raw) {
        total = tf.add(total, net.plugin('m').loss(raw.m, t.m.target, t.m.mask));
        total = tf.add(total, net.plugin('v').loss(raw.v, t.v.target, t.v.mask));
      }
      return total as tf.Scalar;
    };
    const names = ['backbone/stem/kernel', 'backbone/down0/layer0/bn/m/gamma', 'backbone/down0/layer0/bn/m/beta', 'backbone/down0/layer0/conv/kernel'];
    const vars = names.map((n) => net.params.variables.get(n)!);
    expectFiniteDifferences(lossFn, vars, { perVariable: 2, strideDivisor: 7, nameOf: (v) => net.params.nameOf(v) });
    tf.dispose([x, t.m.target, t.m.mask, t.v.target, t.v.mask]);
    net.dispose();
  });
});

describe('registered gradients', () => {
  it('Tile: one reduction, equal to summing every copy', () => {
    const cases: Array<[number[], number[]]> = [
      [[2, 1, 1, 3], [1, 4, 5, 1]],
      [[2, 3, 4], [3, 1, 2]],
      [[3], [4]],
      [[2, 2], [1, 1]],
    ];
    for (const [shape, reps] of cases) {
      tf.tidy(() => {
        const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
        const outShape = shape.map((d, i) => d * reps[i]);
        const dy = tf.randomNormal(outShape, 0, 1, 'float32', 2);
        const [got] = tf.grads((xx: tf.Tensor) => tf.sum(tf.mul(tf.tile(xx, reps), dy)))([x]);
        // reference: the gradient entry of x[i] sums dy over every copy of x[i]
        const want = new Float32Array(x.size);
        const idx = (flat: number) => {
          const out: number[] = [];
          for (let a = outShape.length - 1; a >= 0; a--) {
            out.unshift(flat % outShape[a]);
            flat = Math.floor(flat / outShape[a]);
          }
          return out;
        };
        const dyFlat = dy.dataSync();
        for (let f = 0; f < dy.size; f++) {
          const at = idx(f).map((v, a) => v % shape[a]);
          const xi = at.reduce((acc, v, a) => acc * shape[a] + v, 0);
          want[xi] += dyFlat[f];
        }
        expect(relErr(want, got.dataSync())).toBeLessThan(1e-5);
        expect(tileGrad(dy, shape, reps).shape).toEqual(shape);
      });
    }
  });

  it('Relu: dy where x > 0, zero elsewhere (zero included)', () => {
    tf.tidy(() => {
      const x = tf.tensor1d([-2, -0, 0, 1e-6, 3]);
      const dy = tf.tensor1d([1, 2, 3, 4, 5]);
      const [g] = tf.grads((xx: tf.Tensor) => tf.sum(tf.mul(tf.relu(xx), dy)))([x]);
      expect(Array.from(g.dataSync())).toEqual([0, 0, 0, 4, 5]);
    });
  });

  it('free gradients the backward pass made, but not a dy the caller passed in', () => {
    const x = tf.randomNormal([3, 4]);
    const dy = tf.randomNormal([3, 4]);
    const tensors = tf.memory().numTensors;
    const g = tf.grad((xx: tf.Tensor) => tf.relu(tf.add(tf.mul(xx, 2), 1)))(x, dy);
    expect(dy.isDisposed).toBe(false);
    const want = tf.tidy(() => tf.mul(tf.mul(dy, 2), tf.step(tf.add(tf.mul(x, 2), 1))));
    expect(relErr(want.dataSync(), g.dataSync())).toBe(0);
    tf.dispose([g, want]);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([x, dy]);
  });

  it('still give higher-order gradients', () => {
    const x = tf.tensor1d([1, 2, -3]);
    // d2/dx2 of x^3 + relu(x) * x = 6x + 2 * step(x)
    const f = (xx: tf.Tensor) => tf.sum(tf.add(tf.mul(tf.mul(xx, xx), xx), tf.mul(tf.relu(xx), xx)));
    const g2 = tf.grad((xx: tf.Tensor) => tf.sum(tf.grad(f)(xx)))(x);
    expect(Array.from(g2.dataSync())).toEqual([8, 14, -18]);
    tf.dispose([x, g2]);
  });
});
