import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; the union package registers them all (into the global
// registry that every tfjs-core copy shares). Its ESM-only `dist/register_all_gradients` entry cannot
// be imported from Node, so the union package it is.
import '@tensorflow/tfjs';
import { RELU_GRAD } from '../kernels/relu_grad';

/**
 * Gradients for training the network, registered when this module is imported (the network imports
 * it): the one tfjs does not ship (DepthToSpace), leaner replacements for two it does (Tile, Relu),
 * and a wrapper that frees every intermediate gradient as soon as it has been used (see the end).
 *
 * DepthToSpace (the sub-pixel upsampling) is a pure permutation of values; its gradient is the inverse
 * permutation, space-to-depth, written as reshape + transpose:
 * `dy[b, h*s + i, w*s + j, c]` -> `dx[b, h, w, (i*s + j)*C + c]`.
 */
export function spaceToDepth(x: tf.Tensor4D, blockSize: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const s = blockSize;
  return tf.tidy(() => {
    const r = tf.reshape(x, [b * (h / s), s, w / s, s * c]);
    // [b*H, i, W, (j, c)] -> [b*H, W, i, (j, c)]
    const t = tf.transpose(r, [0, 2, 1, 3]);
    return tf.reshape(t, [b, h / s, w / s, s * s * c]);
  });
}

if (!tf.getGradient('DepthToSpace')) {
  tf.registerGradient({
    kernelName: 'DepthToSpace',
    gradFunc: (dy, _saved, attrs) => {
      const { blockSize, dataFormat } = attrs as unknown as { blockSize: number; dataFormat: string };
      if (dataFormat !== 'NHWC') throw new Error(`DepthToSpace gradient supports NHWC only, got ${dataFormat}`);
      return { x: () => spaceToDepth(dy as tf.Tensor4D, blockSize) };
    },
  });
}

/**
 * Gradient of Tile as one reduction: `dy` seen as `[r0, d0, r1, d1, ...]` (each axis of the tiled
 * tensor is `reps[i]` copies of the input's axis) summed over the copy axes. tfjs's own gradient adds
 * one slice of `dy` per copy: the emotion and landmark re-encoders tile `[b, 1, 1, c]` vectors to
 * every pyramid size, thousands of slice + add kernels per step, where this is one spatial sum.
 */
export function tileGrad(dy: tf.Tensor, xShape: readonly number[], reps: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    const dims: number[] = [];
    const axes: number[] = [];
    xShape.forEach((d, i) => {
      if (reps[i] > 1) {
        axes.push(dims.length);
        dims.push(reps[i]);
      }
      if (d > 1) dims.push(d);
    });
    if (axes.length === 0) return tf.reshape(dy, [...xShape]);
    return tf.reshape(tf.sum(tf.reshape(dy, dims), axes), [...xShape]);
  });
}

tf.registerGradient({
  kernelName: 'Tile',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { reps } = attrs as unknown as { reps: number[] };
    return { x: () => tileGrad(dy as tf.Tensor, x.shape, reps) };
  },
});

/**
 * Gradient of Relu from its output: `dy * step(y)` (y > 0 exactly where x > 0). tfjs's own gradient
 * keeps the input x alive for the backward pass; keeping the output instead lets x (a batch-norm
 * output in every pre-activation unit) be freed as soon as the ReLU has run, while y is kept anyway by
 * the convolution that reads it. One activation less per layer held for the backward pass. Where the
 * backend has the `IfanReluGrad` kernel (wasm) the product is one pass instead of Step + Multiply.
 */
tf.registerGradient({
  kernelName: 'Relu',
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [y] = saved;
    return {
      x: () =>
        tf.getKernel(RELU_GRAD, tf.getBackend())
          ? (tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, y }) as tf.Tensor)
          : tf.mul(dy as tf.Tensor, tf.step(y)),
    };
  },
});

/**
 * tfjs keeps the gradient of every intermediate tensor until the whole backward pass ends, so the
 * peak memory of a training step is all saved activations plus all their gradients. A gradient is
 * dead as soon as the op that produced its tensor has turned it into its inputs' gradients; the
 * wrapper below frees it then (after the op's last gradient function has run), which is what lets
 * the paper preset train at batch 8 within the wasm heap.
 *
 * It frees only what the backward pass itself made: not a `dy` a caller passed in, and nothing while
 * an outer tape records this backward pass (higher-order gradients), and never a tensor that one of
 * the op's gradient functions returned as is.
 */
const FREES_DY = Symbol('ifan.freesConsumedDy');

interface EngineInternals {
  state?: { gradientDepth?: number; scopeStack?: { name: string; track: tf.Tensor[] }[] };
}

/** True when `t` was made by the running backward pass and no outer tape can still need it. */
function madeByThisBackwardPass(t: tf.Tensor): boolean {
  const state = (tf.engine() as unknown as EngineInternals).state;
  if (!state || state.gradientDepth !== 0 || !state.scopeStack) return false;
  for (let i = state.scopeStack.length - 1; i >= 0; i--) {
    const scope = state.scopeStack[i];
    if (scope.name === 'backward') return scope.track.lastIndexOf(t) >= 0;
  }
  return false;
}

export function freeingConsumedGradients(config: tf.GradConfig): tf.GradConfig {
  if ((config as unknown as Record<symbol, boolean>)[FREES_DY]) return config;
  const wrapped: tf.GradConfig = {
    ...config,
    gradFunc: (dy, saved, attrs) => {
      const grads = config.gradFunc(dy, saved, attrs);
      const names = Object.keys(grads);
      const dys = (Array.isArray(dy) ? dy : [dy]).filter((d): d is tf.Tensor => d != null);
      const returned: tf.Tensor[] = [];
      const out: Record<string, () => tf.Tensor> = {};
      names.forEach((name, k) => {
        out[name] = () => {
          const r = grads[name]();
          returned.push(r);
          if (k === names.length - 1) {
            for (const d of dys) if (!returned.includes(d) && !d.isDisposed && madeByThisBackwardPass(d)) d.dispose();
          }
          return r;
        };
      });
      return out;
    },
  };
  (wrapped as unknown as Record<symbol, boolean>)[FREES_DY] = true;
  return wrapped;
}

/**
 * The kernels a training step of the network differentiates through. The engine calls an op's
 * gradient functions in the order of the op's inputs; the wrapper frees `dy` after the last one
 * declared, so only kernels whose gradients are declared in input order belong here (tfjs's
 * FusedBatchNorm, declared x, mean, variance, scale, offset, does not).
 */
const FREEING_KERNELS = [
  'Add', 'AddN', 'Sub', 'Multiply', 'RealDiv', 'Neg', 'Maximum', 'SquaredDifference', 'Square', 'Sqrt', 'Exp', 'Log',
  'Relu', 'Sigmoid', 'Step', 'Softmax', 'Cast', 'Identity', 'Reshape', 'Transpose', 'Concat', 'Slice', 'SplitV',
  'Pack', 'Tile', 'Sum', 'Mean', 'Max', 'Conv2D', 'DepthwiseConv2dNative', 'BatchMatMul', 'AvgPool', 'MaxPool',
  'DepthToSpace', 'ResizeBilinear',
];

/** Wraps the gradients of the kernels above (idempotent; call again after registering new ones). */
export function freeConsumedGradients(kernelNames: readonly string[] = FREEING_KERNELS): void {
  for (const name of kernelNames) {
    const config = tf.getGradient(name);
    if (config) tf.registerGradient(freeingConsumedGradients(config));
  }
}

freeConsumedGradients();
