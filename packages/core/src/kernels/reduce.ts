import type * as tf from '@tensorflow/tfjs-core';
import { compositeKernel, type KernelScope } from './composite';

type TensorInfo = tf.TensorInfo;

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/** The largest pooling window handed to one AvgPool (XNNPACK rejects windows of 2^18). */
const MAX_WINDOW = 16384;

/**
 * Sum and Mean of an NHWC tensor over [0, 1, 2] (batch norm's statistics, bias gradients) or [1, 2]
 * (global average pooling), as an average pool over each image's whole H x W window followed by a
 * small reduction over the batch.
 *
 * The wasm backend reduces only over innermost axes, so for [0, 1, 2] it first transposes the whole
 * tensor to [C, B*H*W]; XNNPACK's average pooling reads the tensor once, in place, with SIMD over the
 * channels. Any other reduction goes to the backend's own kernel.
 */
function reduceSpatial(s: KernelScope, x: TensorInfo, a: ReduceAttrs, kind: 'Sum' | 'Mean'): TensorInfo {
  const stock = () => s.run(kind, { x }, a as unknown as Record<string, unknown>);
  if (x.dtype !== 'float32' || x.shape.length !== 4) return stock();
  const axes = (Array.isArray(a.axis) ? a.axis : [a.axis]).map((v) => (v < 0 ? v + 4 : v)).sort();
  const overBatch = axes.join() === '0,1,2';
  if (!overBatch && axes.join() !== '1,2') return stock();
  const [b, h, w, c] = x.shape;
  if (b * h * w === 0 || c === 0) return stock();
  // Split each image into f bands of h/f rows when the whole image is too large a window.
  let f = 1;
  while (f <= h && (h % f !== 0 || (h / f) * w > MAX_WINDOW)) f++;
  if (f > h) return stock();
  const bandH = h / f;
  const pooled = s.run(
    'AvgPool',
    { x: f === 1 ? x : s.reshape(x, [b * f, bandH, w, c]) },
    { filterSize: [bandH, w], strides: [bandH, w], pad: 'valid' },
  );
  let mean: TensorInfo;
  if (overBatch) mean = s.run('Mean', { x: s.reshape(pooled, [b * f, c]) }, { axis: 0, keepDims: false });
  else mean = f === 1 ? pooled : s.run('Mean', { x: s.reshape(pooled, [b, f, c]) }, { axis: 1, keepDims: false });
  const count = (overBatch ? b : 1) * h * w;
  const result = kind === 'Mean' ? mean : s.run('Multiply', { a: mean, b: s.scalar(count) });
  const outShape = a.keepDims ? [overBatch ? 1 : b, 1, 1, c] : overBatch ? [c] : [b, c];
  return s.reshape(result, outShape);
}

export function spatialSumKernel(backendName: string): tf.KernelConfig {
  return compositeKernel<ReduceAttrs>('Sum', backendName, (s, { x }, a) => reduceSpatial(s, x, a, 'Sum'));
}

export function spatialMeanKernel(backendName: string): tf.KernelConfig {
  return compositeKernel<ReduceAttrs>('Mean', backendName, (s, { x }, a) => reduceSpatial(s, x, a, 'Mean'));
}
