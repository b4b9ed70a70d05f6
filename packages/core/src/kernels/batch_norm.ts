import * as tf from '@tensorflow/tfjs-core';
import { batchStatsReducer } from '../nn/batch-sync';
import { freeingConsumedGradients } from '../nn/gradients';
import { compositeKernel, type KernelScope } from './composite';
import { wasmLoops, type WasmLoops } from './wasm_loops';

type TensorInfo = tf.TensorInfo;

/**
 * Training-mode batch normalisation as one kernel with a closed-form gradient.
 *
 * tfjs has no such kernel: `tf.moments` + `tf.batchNorm` run five kernels forward, and their
 * gradients about twenty more per layer, most of them full passes over the activation (and on wasm
 * the FusedBatchNorm kernel itself is a scalar loop, several times slower than a copy). Here the
 * forward pass is a mean, a mean of squared differences and one per-channel affine map; the backward
 * pass is
 *
 *   xhat = (x - mean) * rstd,  dbeta = sum(dy),  dgamma = sum(dy * xhat),
 *   dx = gamma * rstd / N * (N * dy - dbeta - xhat * dgamma)
 *
 * (sums over every axis but the last, N values per channel).
 *
 * On wasm, with a multiple of 4 channels (every backbone layer), each direction is two passes over
 * the activation in the WebAssembly loops (wasm_loops.ts): the sums (float32 within blocks of 256
 * pixels, float64 across), then the per-channel affine map, y = a*x + b forward and
 * dx = k*dy + m*(x - mean) + c backward. Otherwise the same arithmetic runs on the backend's kernels:
 * sums as Mean/Sum (average pools on wasm, reduce.ts), affine maps as 1x1 depthwise convolutions with
 * a bias on wasm and Multiply + Add elsewhere.
 */
export const BATCH_NORM_TRAINING = 'IfanBatchNormTraining';
/** Inputs dy, x, mean, variance, scale; outputs dx, dScale, dOffset. */
export const BATCH_NORM_TRAINING_GRAD = 'IfanBatchNormTrainingGrad';

export interface BatchNormTrainingAttrs {
  varianceEpsilon: number;
}

const ALL_BUT_CHANNELS = [0, 1, 2];

/** `x` as `[n, 1, 1, c]` (any rank, channels last), or itself when it is rank 4. */
function as4d(s: KernelScope, x: TensorInfo): TensorInfo {
  if (x.shape.length === 4) return x;
  const c = x.shape[x.shape.length - 1];
  const n = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return s.reshape(x, [n, 1, 1, c]);
}

/** Per-channel `x * a + b` of a rank-4 tensor (`b` may be omitted). */
function affine(s: KernelScope, x: TensorInfo, a: TensorInfo, b?: TensorInfo): TensorInfo {
  const c = x.shape[3];
  if (s.backendName === 'wasm') {
    const inputs: Record<string, TensorInfo> = { x, filter: s.reshape(a, [1, 1, c, 1]) };
    if (b) inputs.bias = b;
    return s.run('FusedDepthwiseConv2D', inputs, {
      strides: [1, 1],
      pad: 'valid',
      dilations: [1, 1],
      dataFormat: 'NHWC',
      activation: 'linear',
    });
  }
  const ax = s.run('Multiply', { a: x, b: a });
  return b ? s.run('Add', { a: ax, b }) : ax;
}

const channelMean = (s: KernelScope, x: TensorInfo) => s.run('Mean', { x }, { axis: ALL_BUT_CHANNELS, keepDims: false });
const channelSum = (s: KernelScope, x: TensorInfo) => s.run('Sum', { x }, { axis: ALL_BUT_CHANNELS, keepDims: false });
const rsqrtPlus = (s: KernelScope, v: TensorInfo, eps: number) => s.run('Rsqrt', { x: s.run('Add', { a: v, b: s.scalar(eps) }) });

// ---- wasm: one pass for the statistics, one for the affine map, in the WebAssembly loops ----

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  wasm: { HEAPF32: Float32Array; HEAPU8: Uint8Array };
}

/** Pixels summed in float32 before the sums move to float64 (bounds the rounding of long sums). */
const BLOCK = 256;

/** The WebAssembly loops when they apply: wasm, float32, channels a multiple of 4. */
function heapLoops(s: KernelScope, x: TensorInfo): WasmLoops | null {
  if (s.backendName !== 'wasm' || x.dtype !== 'float32') return null;
  const c = x.shape[x.shape.length - 1];
  if (!c || c % 4 !== 0 || x.shape.reduce((p, d) => p * d, 1) === 0) return null;
  return wasmLoops(s.backend);
}

/** Per-channel sums of `n` pixels in blocks: `accumulate(pixel, count)` adds into acc32, flushed to float64. */
function blockSums(loops: WasmLoops, pixels: number, acc32: number, acc64: number, count: number, accumulate: (p: number, n: number) => void): void {
  for (let p = 0; p < pixels; p += BLOCK) {
    accumulate(p, Math.min(BLOCK, pixels - p));
    loops.flush(acc32, acc64, count);
  }
}

/**
 * The whole batch's per-channel mean and variance from this part's sums of `x - shift` and their
 * squares over `n` values, through the active reducer.
 */
function wholeBatchMoments(n: number, sums: Float64Array, shift: ArrayLike<number>): { mean: Float64Array; variance: Float64Array } {
  const c = shift.length;
  const mean = new Float64Array(c);
  const m2 = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    const m = sums[k] / n;
    mean[k] = shift[k] + m;
    m2[k] = Math.max(0, sums[c + k] - sums[k] * m);
  }
  const total = batchStatsReducer()!.moments(n, mean, m2);
  return { mean, variance: m2.map((v) => Math.max(0, v / total)) };
}

/** Generic path: the whole batch's mean and variance from this part's (float32 tensors `[c]`). */
function wholeBatchMomentsOf(s: KernelScope, n: number, mean: TensorInfo, m2: TensorInfo): [TensorInfo, TensorInfo] {
  const read = (t: TensorInfo) => Float64Array.from(s.backend.readSync(t.dataId) as Float32Array);
  const [mu, sq] = [read(mean), read(m2)];
  const total = batchStatsReducer()!.moments(n, mu, sq);
  return [vector(s, mu), vector(s, sq.map((v) => Math.max(0, v / total)))];
}

/** A float32 `[c]` tensor owned by the scope. */
function vector(s: KernelScope, values: Float64Array): TensorInfo {
  return s.adopt({ dataId: s.backend.write(Float32Array.from(values), [values.length], 'float32'), shape: [values.length], dtype: 'float32' });
}

function forwardOnHeap(s: KernelScope, loops: WasmLoops, x: TensorInfo, scale: TensorInfo, offset: TensorInfo, eps: number): TensorInfo[] {
  const be = s.backend as unknown as HeapBackend;
  const c = x.shape[x.shape.length - 1];
  const pixels = x.shape.reduce((p, d) => p * d, 1) / c;
  const c16 = c * 4;
  const y = s.adopt(be.makeOutput([...x.shape], 'float32'));
  const mean = s.adopt(be.makeOutput([c], 'float32'));
  const variance = s.adopt(be.makeOutput([c], 'float32'));
  // scratch: float32 sums [2c], float64 sums [2c], affine coefficients [2c]
  const scratch = s.adopt(be.makeOutput([8 * c], 'float32'));
  const at = (t: TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
  const [xo, yo, acc32] = [at(x), at(y), at(scratch)];
  const acc64 = acc32 + 8 * c;
  const coef = acc64 + 16 * c;
  const f32 = be.wasm.HEAPF32;
  f32.fill(0, acc32 >>> 2, (acc32 >>> 2) + 6 * c);
  // Sums of x - x[pixel 0] (a shift near the mean keeps the variance free of cancellation).
  blockSums(loops, pixels, acc32, acc64, 2 * c, (p, n) => loops.channelSums(xo + p * c16, n, c16, xo, acc32));
  const sums = new Float64Array(be.wasm.HEAPU8.buffer, acc64, 2 * c);
  const g = at(scale) >>> 2;
  const b = at(offset) >>> 2;
  // another thread holds the rest of the batch: the whole batch's mean and variance (batch-sync.ts)
  const whole = batchStatsReducer() ? wholeBatchMoments(pixels, sums, f32.subarray(xo >>> 2, (xo >>> 2) + c)) : null;
  for (let k = 0; k < c; k++) {
    const m = sums[k] / pixels;
    const v = whole ? whole.variance[k] : Math.max(0, sums[c + k] / pixels - m * m);
    const mu = whole ? whole.mean[k] : f32[(xo >>> 2) + k] + m;
    f32[(at(mean) >>> 2) + k] = mu;
    f32[(at(variance) >>> 2) + k] = v;
    const ak = f32[g + k] / Math.sqrt(v + eps);
    f32[(coef >>> 2) + k] = ak;
    f32[(coef >>> 2) + c + k] = f32[b + k] - mu * ak;
  }
  loops.channelAffine(yo, xo, pixels, c16, coef, coef + c16);
  return [y, mean, variance];
}

function backwardOnHeap(
  s: KernelScope,
  loops: WasmLoops,
  { dy, x, mean, variance, scale }: Record<string, TensorInfo>,
  eps: number,
): TensorInfo[] {
  const be = s.backend as unknown as HeapBackend;
  const c = x.shape[x.shape.length - 1];
  const pixels = x.shape.reduce((p, d) => p * d, 1) / c;
  const c16 = c * 4;
  const dx = s.adopt(be.makeOutput([...x.shape], 'float32'));
  const dScale = s.adopt(be.makeOutput([c], 'float32'));
  const dOffset = s.adopt(be.makeOutput([c], 'float32'));
  // scratch: float32 sums [2c], float64 sums [2c], coefficients k, m, constant [3c]
  const scratch = s.adopt(be.makeOutput([9 * c], 'float32'));
  const at = (t: TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
  const [dyo, xo, mo, acc32] = [at(dy), at(x), at(mean), at(scratch)];
  const acc64 = acc32 + 8 * c;
  const coef = acc64 + 16 * c;
  const f32 = be.wasm.HEAPF32;
  f32.fill(0, acc32 >>> 2, (acc32 >>> 2) + 6 * c);
  // sum(dy) and sum(dy * (x - mean)), one pass
  blockSums(loops, pixels, acc32, acc64, 2 * c, (p, n) => loops.channelDotSums(dyo + p * c16, xo + p * c16, n, c16, mo, acc32));
  const sums = new Float64Array(be.wasm.HEAPU8.buffer, acc64, 2 * c);
  // Another thread holds the rest of the batch (batch-sync.ts): dx needs the whole batch's sums and
  // count, while dScale and dOffset stay this part's (the threads' gradients are added up).
  const reducer = batchStatsReducer();
  const own = reducer ? sums.slice() : sums;
  const count = reducer ? reducer.sums(pixels, sums) : pixels;
  const [v, g, ds, dof, co] = [at(variance) >>> 2, at(scale) >>> 2, at(dScale) >>> 2, at(dOffset) >>> 2, coef >>> 2];
  for (let k = 0; k < c; k++) {
    const rstd = 1 / Math.sqrt(f32[v + k] + eps);
    const dgamma = sums[c + k] * rstd;
    const dbeta = sums[k];
    f32[ds + k] = reducer ? own[c + k] * rstd : dgamma;
    f32[dof + k] = reducer ? own[k] : dbeta;
    // dx = kk * dy - (kk / n) * (dbeta + xhat * dgamma),  xhat = (x - mean) * rstd,  kk = gamma * rstd
    const kk = f32[g + k] * rstd;
    f32[co + k] = kk;
    f32[co + c + k] = (-kk / count) * dgamma * rstd;
    f32[co + 2 * c + k] = (-kk / count) * dbeta;
  }
  loops.channelAffine2(at(dx), dyo, xo, pixels, c16, coef, mo, coef + c16, coef + 2 * c16);
  return [dx, dScale, dOffset];
}

/** x, scale (gamma), offset (beta) -> y, batch mean, batch variance (biased, as tf.moments). */
function forward(s: KernelScope, { x, scale, offset }: Record<string, TensorInfo>, a: BatchNormTrainingAttrs): TensorInfo[] {
  if (x.dtype !== 'float32') throw new Error(`${BATCH_NORM_TRAINING}: x must be float32, got ${x.dtype}`);
  const loops = heapLoops(s, x);
  if (loops) return forwardOnHeap(s, loops, x, scale, offset, a.varianceEpsilon);
  const x4 = as4d(s, x);
  let mean = channelMean(s, x4);
  let variance: TensorInfo;
  if (batchStatsReducer()) {
    const [b, h, w] = x4.shape;
    [mean, variance] = wholeBatchMomentsOf(s, b * h * w, mean, channelSum(s, s.run('SquaredDifference', { a: x4, b: mean })));
  } else {
    variance = channelMean(s, s.run('SquaredDifference', { a: x4, b: mean }));
  }
  const k = s.run('Multiply', { a: scale, b: rsqrtPlus(s, variance, a.varianceEpsilon) });
  const shift = s.run('Sub', { a: offset, b: s.run('Multiply', { a: mean, b: k }) });
  const y = s.reshape(affine(s, x4, k, shift), x.shape);
  return [y, mean, variance];
}

/** dy, x, mean, variance, scale -> dx, dScale, dOffset. */
function backward(s: KernelScope, inputs: Record<string, TensorInfo>, a: BatchNormTrainingAttrs): TensorInfo[] {
  const { dy, x, mean, variance, scale } = inputs;
  const loops = heapLoops(s, x);
  if (loops && dy.dtype === 'float32') return backwardOnHeap(s, loops, inputs, a.varianceEpsilon);
  const x4 = as4d(s, x);
  const dy4 = as4d(s, dy);
  const [b, h, w] = x4.shape;
  let n = b * h * w;
  const rstd = rsqrtPlus(s, variance, a.varianceEpsilon);
  const xhat = affine(s, x4, rstd, s.run('Neg', { x: s.run('Multiply', { a: mean, b: rstd }) }));
  const dOffset = channelSum(s, dy4);
  const dScale = channelSum(s, s.run('Multiply', { a: dy4, b: xhat }));
  // Another thread holds the rest of the batch (batch-sync.ts): dx needs the whole batch's sums and
  // count, while dScale and dOffset stay this part's (the threads' gradients are added up).
  let [sumDy, sumDyXhat] = [dOffset, dScale];
  const reducer = batchStatsReducer();
  if (reducer) {
    const c = dOffset.shape[0];
    const sums = new Float64Array(2 * c);
    sums.set(s.backend.readSync(dOffset.dataId) as Float32Array);
    sums.set(s.backend.readSync(dScale.dataId) as Float32Array, c);
    n = reducer.sums(n, sums);
    [sumDy, sumDyXhat] = [vector(s, sums.subarray(0, c)), vector(s, sums.subarray(c))];
  }
  // dx = k * dy - (k / n) * (dOffset + xhat * dScale),  k = gamma * rstd (whole-batch sums and n)
  const k = s.run('Multiply', { a: scale, b: rstd });
  const kn = s.run('Multiply', { a: k, b: s.scalar(-1 / n) });
  const fromXhat = affine(s, xhat, s.run('Multiply', { a: kn, b: sumDyXhat }), s.run('Multiply', { a: kn, b: sumDy }));
  const dx = s.run('Add', { a: affine(s, dy4, k), b: fromXhat });
  return [s.reshape(dx, x.shape), dScale, dOffset];
}

export function batchNormTrainingKernel(backendName: string): tf.KernelConfig {
  return compositeKernel<BatchNormTrainingAttrs>(BATCH_NORM_TRAINING, backendName, forward);
}

export function batchNormTrainingGradKernel(backendName: string): tf.KernelConfig {
  return compositeKernel<BatchNormTrainingAttrs>(BATCH_NORM_TRAINING_GRAD, backendName, backward);
}

if (!tf.getGradient(BATCH_NORM_TRAINING)) {
  tf.registerGradient(freeingConsumedGradients({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dMean, dVariance] = dys as (tf.Tensor | null)[];
      const [x, scale, mean, variance] = saved;
      const backendName = tf.getBackend();
      if (!tf.getKernel(BATCH_NORM_TRAINING_GRAD, backendName)) {
        throw new Error(
          `${BATCH_NORM_TRAINING_GRAD} is not registered for backend ${backendName}: ` +
            `call registerTrainingKernels('${backendName}') before training, or train on the backend the forward pass ran on`,
        );
      }
      const [dx, dScale, dOffset] = (
        dy
          ? tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { dy, x, mean, variance, scale }, attrs)
          : [tf.zerosLike(x), tf.zerosLike(scale), tf.zerosLike(scale)]
      ) as tf.Tensor[];
      // The batch statistics are outputs too. They normally feed only the moving averages, and then
      // tfjs hands this function zeros for them (a [c] vector each, cheap to test); a caller may
      // still differentiate through them.
      const n = x.size / x.shape[x.shape.length - 1];
      const nonZero = (t: tf.Tensor | null) => t !== null && (t.dataSync() as Float32Array).some((v) => v !== 0);
      const dxAll = () => {
        let g = dx;
        if (nonZero(dMean)) g = tf.add(g, tf.div(dMean!, n));
        if (nonZero(dVariance)) g = tf.add(g, tf.mul(tf.mul(dVariance!, 2 / n), tf.sub(x, mean)));
        return g;
      };
      return { x: dxAll, scale: () => dScale, offset: () => dOffset };
    },
  }));
}

/**
 * Training-mode batch normalisation over every axis but the last, with the fused kernel when the
 * active backend has it (see `registerTrainingKernels`); null when it does not, so the caller can
 * fall back to `tf.moments` + `tf.batchNorm`.
 */
export function batchNormTraining<T extends tf.Tensor>(
  x: T,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  varianceEpsilon: number,
): { y: T; mean: tf.Tensor1D; variance: tf.Tensor1D } | null {
  if (!tf.getKernel(BATCH_NORM_TRAINING, tf.getBackend())) return null;
  const attrs: BatchNormTrainingAttrs = { varianceEpsilon };
  const [y, mean, variance] = tf.engine().runKernel(
    BATCH_NORM_TRAINING,
    { x, scale, offset } as unknown as tf.NamedTensorMap,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  return { y: y as T, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}

interface FusedBatchNormAttrs {
  varianceEpsilon: number;
}

/**
 * Inference batch norm (moving statistics) on wasm: the stock FusedBatchNorm kernel is a scalar loop;
 * this folds the four parameter vectors into a scale and a shift and runs one 1x1 depthwise
 * convolution. Parameters that are not plain `[c]` vectors go to the stock kernel.
 */
export function fusedBatchNormKernel(backendName: string): tf.KernelConfig {
  return compositeKernel<FusedBatchNormAttrs>('FusedBatchNorm', backendName, (s, inputs, a) => {
    const { x, mean, variance, offset, scale } = inputs;
    const c = x.shape[x.shape.length - 1];
    const vector = (t: TensorInfo | undefined) => !t || (t.shape.length === 1 && t.shape[0] === c);
    if (x.dtype !== 'float32' || x.shape.length < 1 || ![mean, variance, offset, scale].every(vector)) {
      return s.run('FusedBatchNorm', inputs, a as unknown as Record<string, unknown>, true);
    }
    const rstd = rsqrtPlus(s, variance, a.varianceEpsilon);
    const k = scale ? s.run('Multiply', { a: scale, b: rstd }) : rstd;
    const mk = s.run('Multiply', { a: mean, b: k });
    const shift = offset ? s.run('Sub', { a: offset, b: mk }) : s.run('Neg', { x: mk });
    return s.reshape(affine(s, as4d(s, x), k, shift), x.shape);
  });
}
