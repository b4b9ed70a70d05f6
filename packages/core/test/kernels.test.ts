import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '../src/nn/gradients'; // DepthToSpace's gradient
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTrainingKernels, trainingKernels, unregisterTrainingKernels } from '../src/kernels/index';
import { relErr } from './numeric';

/**
 * Every training kernel against the stock cpu backend's kernel and, for the convolution gradients,
 * against finite differences of a float64 forward convolution written here. Kernels run on wasm with
 * this library's kernels registered; the reference runs on cpu.
 */

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Shape4 = [number, number, number, number];

interface Result {
  shape: number[];
  dtype: string;
  values: number[];
}

function wasmBackend(): tf.KernelBackend {
  return tf.engine().findBackend('wasm');
}

/** Runs f on a backend and returns its outputs as plain arrays; the inputs are made inside f. */
function runOn(backend: 'cpu' | 'wasm', f: () => tf.Tensor | tf.Tensor[]): Result[] {
  tf.setBackend(backend);
  const out = tf.tidy(() => {
    const r = f();
    return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }));
  });
  tf.setBackend('wasm');
  return out;
}

function expectSame(f: () => tf.Tensor | tf.Tensor[], tol = 1e-5): void {
  const want = runOn('cpu', f);
  const got = runOn('wasm', f);
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => {
    expect(got[i].shape).toEqual(w.shape);
    expect(got[i].dtype).toBe(w.dtype);
    expect(got[i].values.length).toBe(w.values.length);
    expect(relErr(w.values, got[i].values)).toBeLessThanOrEqual(tol);
  });
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

function values(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

// ---- float64 reference convolution (NHWC) and finite differences ----

interface ConvCase {
  x: Shape4;
  f: Shape4;
  strides: number | [number, number];
  pad: Pad;
  dilations?: number;
}

function convInfo(c: ConvCase) {
  return tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, c.dilations ?? 1, c.pad as 'same');
}

function convRef(c: ConvCase, x: Float64Array, w: Float64Array): Float64Array {
  const i = convInfo(c);
  const [b, h, wd, ci] = c.x;
  const y = new Float64Array(i.outShape.reduce((a, v) => a * v, 1));
  for (let n = 0; n < b; n++)
    for (let oy = 0; oy < i.outHeight; oy++)
      for (let ox = 0; ox < i.outWidth; ox++)
        for (let ky = 0; ky < i.filterHeight; ky++) {
          const iy = oy * i.strideHeight + ky * i.dilationHeight - i.padInfo.top;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < i.filterWidth; kx++) {
            const ix = ox * i.strideWidth + kx * i.dilationWidth - i.padInfo.left;
            if (ix < 0 || ix >= wd) continue;
            for (let c0 = 0; c0 < ci; c0++) {
              const xv = x[((n * h + iy) * wd + ix) * ci + c0];
              for (let o = 0; o < i.outChannels; o++) {
                y[((n * i.outHeight + oy) * i.outWidth + ox) * i.outChannels + o] += xv * w[((ky * i.filterWidth + kx) * ci + c0) * i.outChannels + o];
              }
            }
          }
        }
  return y;
}

/** Central differences of L = sum(conv(x, w) * dy) with respect to `which`, at a sample of indices. */
function finiteDifferences(c: ConvCase, x: Float64Array, w: Float64Array, dy: Float64Array, which: 'x' | 'w', samples: number[]): number[] {
  const loss = (xx: Float64Array, ww: Float64Array) => convRef(c, xx, ww).reduce((a, v, k) => a + v * dy[k], 0);
  const h = 0.5;
  return samples.map((k) => {
    const v = (which === 'x' ? x : w).slice();
    v[k] += h;
    const up = which === 'x' ? loss(v, w) : loss(x, v);
    v[k] -= 2 * h;
    const down = which === 'x' ? loss(v, w) : loss(x, v);
    return (up - down) / (2 * h);
  });
}

function sampleIndices(n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, k) => k);
  return Array.from({ length: count }, (_, k) => Math.floor((k * (n - 1)) / (count - 1)));
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 7, 9], f: [3, 3, 9, 4], strides: 1, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 7, 7, 10], f: [3, 3, 10, 4], strides: 2, pad: 'same' },
  { x: [2, 8, 9, 3], f: [3, 1, 3, 4], strides: [2, 1], pad: 'valid' },
  { x: [2, 7, 6, 9], f: [3, 2, 9, 4], strides: 1, pad: 'valid' },
  { x: [1, 9, 9, 1], f: [7, 7, 1, 2], strides: 1, pad: 'same' },
  { x: [1, 9, 9, 1], f: [7, 7, 1, 2], strides: 2, pad: 'valid' },
  { x: [1, 12, 12, 3], f: [7, 7, 3, 8], strides: 1, pad: 'same' },
  { x: [3, 10, 6, 2], f: [2, 3, 2, 5], strides: [1, 2], pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  { x: [2, 7, 7, 9], f: [3, 3, 9, 4], strides: 1, pad: [[0, 0], [3, 0], [1, 2], [0, 0]] },
  { x: [2, 5, 5, 8], f: [1, 1, 8, 3], strides: 1, pad: 'valid' },
  { x: [2, 5, 6, 4], f: [1, 1, 4, 12], strides: 1, pad: 'same' },
  { x: [2, 5, 5, 2], f: [1, 1, 2, 3], strides: 2, pad: 'same' },
  { x: [2, 6, 6, 10], f: [3, 3, 10, 3], strides: 1, pad: 4 },
  { x: [2, 6, 6, 2], f: [3, 3, 2, 3], strides: 3, pad: 'same' },
  { x: [1, 5, 5, 8], f: [5, 5, 8, 2], strides: 1, pad: 'same' },
];

const DILATED_CASES: ConvCase[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same', dilations: 2 },
  { x: [2, 9, 8, 9], f: [3, 2, 9, 2], strides: 1, pad: 'valid', dilations: 2 },
  { x: [1, 10, 10, 1], f: [3, 3, 1, 2], strides: 1, pad: [[0, 0], [1, 3], [2, 0], [0, 0]], dilations: 2 },
];

function label(c: ConvCase): string {
  return `x${JSON.stringify(c.x)} f${JSON.stringify(c.f)} s${JSON.stringify(c.strides)} ${JSON.stringify(c.pad)}${c.dilations ? ` d${c.dilations}` : ''}`;
}

function filterGrad(c: ConvCase, x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f, ...(c.dilations ? { dilations: c.dilations } : {}) };
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

function inputGrad(c: ConvCase, dy: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x, ...(c.dilations ? { dilations: c.dilations } : {}) };
  return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
  await tf.ready();
  registerTrainingKernels('wasm');
});

afterAll(() => {
  tf.setBackend('wasm');
});

describe('registration', () => {
  it('is idempotent, reports what it registered, and restores the stock kernels', () => {
    const names = registerTrainingKernels('wasm');
    expect(registerTrainingKernels('wasm')).toEqual(names);
    expect(names).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Concat', 'Sum']));
    const mine = tf.getKernel('Conv2DBackpropInput', 'wasm');
    expect(unregisterTrainingKernels('wasm')).toEqual(names);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).not.toBe(mine);
    expect(trainingKernels('wasm')).toEqual([]);
    expect(registerTrainingKernels('wasm')).toEqual(names);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('registers Conv2DBackpropFilter and the batch-norm kernels for cpu, and the former matches the stock cpu kernel', () => {
    const cases = CONV_CASES.filter((c) => c.x[3] >= 8 || c.strides !== 1).slice(0, 4);
    const run = (c: ConvCase) => runOn('cpu', () => filterGrad(c, rand(c.x, 1), rand(convInfo(c).outShape, 3)))[0];
    const stock = cases.map(run);
    try {
      expect(registerTrainingKernels('cpu')).toEqual(['Conv2DBackpropFilter', 'IfanBatchNormTraining', 'IfanBatchNormTrainingGrad']);
      cases.forEach((c, k) => {
        const ours = run(c);
        expect(ours.shape).toEqual(stock[k].shape);
        expect(relErr(stock[k].values, ours.values)).toBeLessThan(2e-5);
      });
    } finally {
      unregisterTrainingKernels('cpu');
    }
    expect(trainingKernels('cpu')).toEqual([]);
  });

  it('explains an unknown backend', () => {
    expect(() => registerTrainingKernels('webgl' as 'cpu')).toThrow(/no training kernels for backend "webgl"/);
  });
});

describe('Conv2DBackpropFilter / Conv2DBackpropInput', () => {
  for (const c of CONV_CASES) {
    it(`match the cpu kernels: ${label(c)}`, () => {
      const info = convInfo(c);
      expectSame(() => filterGrad(c, rand(c.x, 1), rand(info.outShape, 3)), 2e-5);
      expectSame(() => inputGrad(c, rand(info.outShape, 3), rand(c.f, 2)), 2e-5);
    });
  }

  for (const c of [...CONV_CASES.filter((_, k) => k % 3 === 0), ...DILATED_CASES]) {
    it(`match finite differences of the forward convolution: ${label(c)}`, () => {
      const info = convInfo(c);
      const n = (s: number[]) => s.reduce((a, v) => a * v, 1);
      const x = values(n(c.x), 11);
      const w = values(n(c.f), 12);
      const dy = values(n(info.outShape), 13);
      const [dw] = runOn('wasm', () => filterGrad(c, tf.tensor(Float32Array.from(x), c.x), tf.tensor(Float32Array.from(dy), info.outShape)));
      const [dx] = runOn('wasm', () => inputGrad(c, tf.tensor(Float32Array.from(dy), info.outShape), tf.tensor(Float32Array.from(w), c.f)));
      expect(dw.shape).toEqual(c.f);
      expect(dx.shape).toEqual(c.x);
      const ws = sampleIndices(w.length, 12);
      const xs = sampleIndices(x.length, 12);
      const fdW = finiteDifferences(c, x, w, dy, 'w', ws);
      const fdX = finiteDifferences(c, x, w, dy, 'x', xs);
      expect(relErr(fdW, ws.map((k) => dw.values[k]))).toBeLessThan(1e-5);
      expect(relErr(fdX, xs.map((k) => dx.values[k]))).toBeLessThan(1e-5);
    });
  }

  it('support NCHW', () => {
    const c: ConvCase = { x: [2, 9, 7, 7], f: [3, 3, 9, 4], strides: 1, pad: 'same' };
    const dy: Shape4 = [2, 4, 7, 7];
    const a = { strides: 1, pad: 'same', dataFormat: 'NCHW' };
    expectSame(() => tf.engine().runKernel('Conv2DBackpropFilter', { x: rand(c.x, 1), dy: rand(dy, 2) }, { ...a, filterShape: c.f }) as tf.Tensor);
    expectSame(() => tf.engine().runKernel('Conv2DBackpropInput', { dy: rand(dy, 2), filter: rand(c.f, 3) }, { ...a, inputShape: c.x }) as tf.Tensor);
  });

  it('give tf.grad of conv2d, and leave no tensor or wasm buffer behind', () => {
    const x = rand([2, 8, 8, 9], 1) as tf.Tensor4D;
    const w = rand([3, 3, 9, 5], 2) as tf.Tensor4D;
    const stem = rand([7, 7, 5, 4], 3) as tf.Tensor4D;
    const f = (...[xx, ww]: tf.Tensor[]) => tf.sum(tf.square(tf.conv2d(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'), stem, 2, 'same')));
    const grads = tf.grads(f);
    const tensors = tf.memory().numTensors;
    const buffers = wasmBackend().numDataIds();
    const [dx, dw] = grads([x, w]);
    expect(tf.memory().numTensors).toBe(tensors + 2);
    expect(wasmBackend().numDataIds()).toBe(buffers + 2);
    const want = runOn('cpu', () => tf.grads(f)([tf.tensor(x.dataSync(), x.shape) as tf.Tensor4D, tf.tensor(w.dataSync(), w.shape) as tf.Tensor4D]));
    expect(relErr(want[0].values, dx.dataSync())).toBeLessThan(2e-5);
    expect(relErr(want[1].values, dw.dataSync())).toBeLessThan(2e-5);
    tf.dispose([dx, dw, x, w, stem]);
    expect(tf.memory().numTensors).toBe(tensors - 3);
    expect(wasmBackend().numDataIds()).toBe(buffers - 3);
  });

  it('say which input has the wrong shape', () => {
    const x = tf.zeros([1, 5, 5, 2]);
    const dy = tf.zeros([1, 4, 5, 3]);
    expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] })).toThrow(
      /Conv2DBackpropFilter dy has shape \[1,4,5,3\] but the convolution needs \[1,5,5,3\]/,
    );
    tf.dispose([x, dy]);
  });
});

describe('data-movement kernels', () => {
  const int = (shape: number[]) => tf.reshape(tf.range(0, shape.reduce((a, v) => a * v, 1), 1, 'int32'), shape);
  const cases: Array<[string, () => tf.Tensor | tf.Tensor[]]> = [
    ['Slice 4d', () => tf.slice(rand([2, 5, 6, 7], 1), [1, 1, 2, 3], [1, 3, 3, 4])],
    ['Slice whole trailing axes', () => tf.slice(rand([2, 5, 6, 7], 1), [0, 1, 0, 0], [2, 3, 6, 7])],
    ['Slice 1d', () => tf.slice(rand([20], 1), [3], [5])],
    ['Slice 5d int32', () => tf.slice(int([2, 3, 4, 5, 6]), [1, 0, 1, 2, 0], [1, 3, 2, 2, 6])],
    ['Slice empty', () => tf.slice(rand([3, 4], 1), [1, 0], [0, 4])],
    ['SplitV channels', () => tf.split(rand([2, 4, 4, 10], 1), [3, 5, 2], 3)],
    ['SplitV axis 1', () => tf.split(rand([2, 4, 4, 10], 1), 2, 1)],
    ['Concat channels', () => tf.concat([rand([2, 3, 3, 4], 1), rand([2, 3, 3, 5], 2), rand([2, 3, 3, 1], 3)], 3)],
    ['Concat axis 0', () => tf.concat([rand([2, 3], 1), rand([1, 3], 2)], 0)],
    ['Concat long rows', () => tf.concat([rand([2, 100], 1), rand([2, 60], 2)], 1)],
    ['Concat bool', () => tf.concat([tf.greater(rand([2, 3], 1), 0), tf.greater(rand([2, 2], 2), 0)], 1)],
    ['Concat one', () => tf.concat([rand([2, 3], 1)], 1)],
    ['Tile batch-norm broadcast', () => tf.tile(rand([1, 1, 1, 5], 1), [2, 3, 4, 1])],
    ['Tile general', () => tf.tile(rand([2, 3, 4], 1), [3, 1, 2])],
    ['Tile int32', () => tf.tile(tf.tensor1d([1, 2, 3], 'int32'), [4])],
    ['DepthToSpace 2', () => tf.depthToSpace(rand([2, 3, 4, 8], 1) as tf.Tensor4D, 2)],
    ['DepthToSpace 3', () => tf.depthToSpace(rand([1, 2, 3, 18], 1) as tf.Tensor4D, 3)],
    ['Identity', () => tf.clone(rand([3, 3], 1))],
    ['Cast to the same dtype', () => tf.cast(rand([3, 3], 1), 'float32')],
    ['Cast to another dtype', () => tf.cast(rand([3, 3], 1), 'int32')],
  ];
  for (const [name, f] of cases) it(`${name} matches cpu`, () => expectSame(f, 0));

  const reductions: Array<[number[], number[], boolean]> = [
    [[4, 5, 6, 7], [0, 1, 2], false],
    [[4, 5, 6, 7], [0, 1, 2], true],
    [[4, 5, 6, 7], [1, 2], false],
    [[4, 5, 6, 7], [2, 1], true],
    [[2, 256, 100, 3], [0, 1, 2], false],
    [[2, 256, 100, 3], [1, 2], true],
    [[3, 4, 5, 6], [-3, -2, -1], false],
    [[4, 5, 6, 7], [0, 2], false],
    [[4, 5, 6, 7], [3], false],
  ];
  for (const [shape, axes, keep] of reductions) {
    it(`Sum and Mean over ${axes} of [${shape}]${keep ? ' keepDims' : ''} match cpu`, () => {
      expectSame(() => tf.sum(rand(shape, 1), axes, keep), 5e-6);
      expectSame(() => tf.mean(rand(shape, 1), axes, keep), 5e-6);
    });
  }
  it('moments match cpu', () =>
    expectSame(() => {
      const m = tf.moments(rand([8, 16, 16, 12], 1), [0, 1, 2]);
      return [m.mean, m.variance];
    }, 1e-6));
  it('Sum of int32 matches cpu', () => expectSame(() => tf.sum(int([2, 3, 4, 5]), [0, 1, 2])));

  const pools: Array<[Shape4, number, number, 'same' | 'valid']> = [
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[2, 7, 6, 3], 2, 2, 'valid'],
    [[2, 7, 6, 3], 3, 3, 'valid'],
    [[2, 7, 6, 3], 3, 2, 'same'],
  ];
  for (const [shape, size, stride, pad] of pools) {
    it(`AvgPoolGrad ${size}x${size}/${stride} ${pad} of [${shape}] matches cpu`, () => {
      const info = tf.backend_util.computePool2DInfo(shape, size, stride, 1, pad);
      expectSame(() => tf.engine().runKernel('AvgPoolGrad', { dy: rand(info.outShape, 2), input: rand(shape, 1) }, { filterSize: size, strides: stride, pad }) as tf.Tensor, 1e-6);
    });
  }

  const maxPools: Array<[string, () => tf.Tensor4D, number, number, 'valid' | 'same']> = [
    ['2x2/2 valid, random values', () => rand([2, 6, 8, 8], 1) as tf.Tensor4D, 2, 2, 'valid'],
    ['2x2/2 same, ties (ReLU zeros)', () => tf.relu(rand([2, 4, 6, 4], 2)) as tf.Tensor4D, 2, 2, 'same'],
    ['2x2/2 all-equal windows', () => tf.ones([1, 4, 4, 4]) as tf.Tensor4D, 2, 2, 'valid'],
    // (the stock wasm kernel sends nothing back from a window whose values are all <= 0, where cpu
    // picks the first; positive inputs for the cases it still handles)
    ['2x2/2, 3 channels (stock)', () => tf.add(rand([2, 4, 4, 3], 1), 2) as tf.Tensor4D, 2, 2, 'valid'],
    ['3x3/2 (stock)', () => tf.add(rand([2, 7, 7, 4], 1), 2) as tf.Tensor4D, 3, 2, 'valid'],
  ];
  for (const [name, input, size, stride, pad] of maxPools) {
    it(`MaxPoolGrad ${name} matches cpu`, () =>
      expectSame(() => {
        const x = input();
        const f = (xx: tf.Tensor) => {
          const p = tf.maxPool(xx as tf.Tensor4D, size, stride, pad);
          return tf.sum(tf.mul(p, rand(p.shape, 3)));
        };
        return tf.grad(f)(x);
      }, 0));
  }

  it('leave no wasm buffer behind', () => {
    const buffers = wasmBackend().numDataIds();
    tf.tidy(() => {
      const x = rand([4, 6, 6, 10], 1);
      tf.split(x, [4, 6], 3);
      tf.concat([x, x], 3);
      tf.sum(x, [0, 1, 2]);
      tf.mean(x, [1, 2], true);
      tf.tile(tf.slice(x, [0, 0, 0, 0], [1, 1, 1, 10]), [4, 6, 6, 1]);
      tf.depthToSpace(tf.slice(x, [0, 0, 0, 0], [4, 6, 6, 8]) as tf.Tensor4D, 2);
    });
    expect(wasmBackend().numDataIds()).toBe(buffers);
  });
});

describe('a training step', () => {
  it('has the same gradients on wasm with these kernels as on cpu', () => {
    const step = () => {
      const x = rand([4, 16, 16, 3], 1) as tf.Tensor4D;
      const stem = rand([7, 7, 3, 8], 2) as tf.Tensor4D;
      const k1 = rand([3, 3, 8, 8], 3) as tf.Tensor4D;
      const k2 = rand([1, 1, 16, 16], 4) as tf.Tensor4D;
      const k3 = rand([3, 3, 4, 5], 5) as tf.Tensor4D;
      const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 4], 'int32'), 5);
      const f = (...[a, b, c, d]: tf.Tensor[]) => {
        const h = tf.conv2d(x, a as tf.Tensor4D, 1, 'same');
        const { mean, variance } = tf.moments(h, [0, 1, 2]);
        // (tfjs's batchNorm gradient needs scale and offset tensors.)
        const y = tf.conv2d(tf.relu(tf.batchNorm(h, mean, variance, tf.zeros([8]), tf.ones([8]))) as tf.Tensor4D, b as tf.Tensor4D, 1, 'same');
        const dense = tf.avgPool(tf.concat([h, y], 3), 2, 2, 'valid') as tf.Tensor4D;
        const up = tf.depthToSpace(tf.conv2d(dense, c as tf.Tensor4D, 1, 'same'), 2);
        const logits = tf.mean(tf.conv2d(tf.image.resizeBilinear(up, [8, 8]), d as tf.Tensor4D, 1, 'same'), [1, 2]);
        return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
      };
      return tf.grads(f)([stem, k1, k2, k3]);
    };
    expectSame(step, 1e-4);
  });
});
