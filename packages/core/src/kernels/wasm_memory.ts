import * as tf from '@tensorflow/tfjs-core';
import { stockKernel } from './composite';

/**
 * Data-movement kernels for the wasm backend, written in JavaScript on the wasm heap.
 *
 * tfjs-backend-wasm 4.22 implements Slice, SplitV and Concat in JavaScript with one `TypedArray.set`
 * per innermost row (and Slice first copies its whole input out of the heap), runs Tile and
 * DepthToSpace through generic per-element index arithmetic, and copies on Identity and on a Cast to
 * the same dtype. On a dense
 * block's [B, H, W, 16] tensors each of these costs several times a plain copy; the versions here run
 * at about memory speed. Anything they do not cover (string or complex tensors, NCHW, overlapping
 * pools, ...) goes to the backend's own kernel. (Sum and Mean over [0, 1, 2] were tried in JavaScript
 * too and lost to the stock transpose + native reduction.)
 */

type Heap = Int32Array | Uint8Array;

interface HeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  wasm: { HEAP32: Int32Array; HEAPU8: Uint8Array; HEAPF32: Float32Array };
}

type Args = { inputs: Record<string, tf.TensorInfo>; backend: HeapBackend; attrs: Record<string, unknown> };
type Impl = (args: Args) => tf.TensorInfo | tf.TensorInfo[] | null;

const HEAP_DTYPES = new Set(['float32', 'int32', 'bool']);

/**
 * Every tensor of the wasm backend lives in one heap, so a copy between tensors is a copyWithin on
 * one typed array (no view objects, one element type for the JIT): float32 and int32 move as 32-bit
 * words, bool as bytes. Read the heap only after the last allocation (growing it detaches the old one).
 */
function heapOf(backend: HeapBackend, dtype: tf.DataType): Heap {
  return dtype === 'bool' ? backend.wasm.HEAPU8 : backend.wasm.HEAP32;
}

/** Element offset of a tensor in {@link heapOf}. */
function offsetOf(backend: HeapBackend, x: tf.TensorInfo): number {
  const bytes = backend.dataIdMap.get(x.dataId).memoryOffset;
  return x.dtype === 'bool' ? bytes : bytes >>> 2;
}

/** A kernel that runs `impl`, or the backend's stock kernel when `impl` returns null. */
function heapKernel(kernelName: string, impl: Impl): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const out = impl(args as unknown as Args);
    if (out) return out;
    const stock = stockKernel(kernelName, 'wasm');
    if (!stock) throw new Error(`no stock wasm kernel ${kernelName} to fall back to`);
    return stock.kernelFunc(args);
  };
  return { kernelName, backendName: 'wasm', kernelFunc };
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** heap[d .. d+n) = heap[s .. s+n); a loop for short runs, where copyWithin's fixed cost dominates. */
function copyRun(heap: Heap, d: number, s: number, n: number): void {
  if (n >= 16) {
    heap.copyWithin(d, s, s + n);
    return;
  }
  for (let i = 0; i < n; i++) heap[d + i] = heap[s + i];
}

/** Copies the box `begin`/`sz` of the tensor at `src` (shape `shape`) to `dst`, in order. */
function sliceInto(heap: Heap, src: number, shape: readonly number[], begin: readonly number[], sz: readonly number[], dst: number): void {
  const rank = shape.length;
  if (rank === 0) {
    heap[dst] = heap[src];
    return;
  }
  const st = strides(shape);
  // Trailing axes taken whole merge into one contiguous run.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && sz[k] === shape[k]) k--;
  const run = sz[k] * st[k];
  const outer = size(sz.slice(0, k));
  const idx = new Array<number>(k).fill(0);
  let base = src;
  for (let a = 0; a < k; a++) base += begin[a] * st[a];
  base += begin[k] * st[k];
  let d = dst;
  for (let o = 0; o < outer; o++) {
    let s = base;
    for (let a = 0; a < k; a++) s += idx[a] * st[a];
    copyRun(heap, d, s, run);
    d += run;
    for (let a = k - 1; a >= 0; a--) {
      if (++idx[a] < sz[a]) break;
      idx[a] = 0;
    }
  }
}

/** Identity without a copy: tensors are immutable, so the output shares the input's buffer. */
const identity = heapKernel('Identity', ({ inputs: { x }, backend }) => {
  if (!HEAP_DTYPES.has(x.dtype)) return null;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
});

/** Cast to the dtype a tensor already has (moments casts its input to float32): shared like Identity. */
const cast = heapKernel('Cast', ({ inputs: { x }, backend, attrs }) => {
  if (attrs.dtype !== x.dtype || !HEAP_DTYPES.has(x.dtype)) return null;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
});

const slice = heapKernel('Slice', ({ inputs: { x }, backend, attrs }) => {
  if (!HEAP_DTYPES.has(x.dtype)) return null;
  const [begin, sz] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
  const out = backend.makeOutput(sz, x.dtype);
  if (size(sz) > 0) sliceInto(heapOf(backend, x.dtype), offsetOf(backend, x), x.shape, begin, sz, offsetOf(backend, out));
  return out;
});

const splitV = heapKernel('SplitV', ({ inputs: { x }, backend, attrs }) => {
  if (!HEAP_DTYPES.has(x.dtype)) return null;
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits as number | number[], axis);
  const outs = sizes.map((s) => {
    const shape = [...x.shape];
    shape[axis] = s;
    return backend.makeOutput(shape, x.dtype);
  });
  const heap = heapOf(backend, x.dtype);
  const src = offsetOf(backend, x);
  const begin = new Array<number>(x.shape.length).fill(0);
  outs.forEach((out) => {
    if (size(out.shape) > 0) sliceInto(heap, src, x.shape, begin, out.shape, offsetOf(backend, out));
    begin[axis] += out.shape[axis];
  });
  return outs;
});

const concat = heapKernel('Concat', ({ inputs, backend, attrs }) => {
  const xs = Object.keys(inputs)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => inputs[k]);
  if (xs.length === 0 || !xs.every((t) => HEAP_DTYPES.has(t.dtype) && t.dtype === xs[0].dtype)) return null;
  const axis = tf.util.parseAxisParam(attrs.axis as number, xs[0].shape)[0];
  const shapes = xs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const out = backend.makeOutput(outShape, xs[0].dtype);
  if (size(outShape) === 0) return out;
  const heap = heapOf(backend, out.dtype);
  const dst = offsetOf(backend, out);
  const outer = size(outShape.slice(0, axis));
  const parts = xs.filter((t) => size(t.shape) > 0).map((t) => ({ src: offsetOf(backend, t), inner: size(t.shape.slice(axis)) }));
  const total = parts.reduce((a, p) => a + p.inner, 0);
  let base = dst;
  for (const { src, inner } of parts) {
    for (let o = 0; o < outer; o++) copyRun(heap, base + o * total, src + o * inner, inner);
    base += inner;
  }
  return out;
});

/** Tile: each block is written once and then doubled with copyWithin. */
const tile = heapKernel('Tile', ({ inputs: { x }, backend, attrs }) => {
  if (!HEAP_DTYPES.has(x.dtype) || x.shape.length === 0) return null;
  const reps = attrs.reps as number[];
  const shape = x.shape;
  const rank = shape.length;
  const outShape = shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (size(outShape) === 0) return out;
  const heap = heapOf(backend, x.dtype);
  const inSt = strides(shape);
  const outSt = strides(outShape);
  const write = (axis: number, inOff: number, outOff: number): void => {
    const d = shape[axis];
    if (axis === rank - 1) copyRun(heap, outOff, inOff, d);
    else for (let i = 0; i < d; i++) write(axis + 1, inOff + i * inSt[axis], outOff + i * outSt[axis]);
    const span = d * outSt[axis];
    const whole = span * reps[axis];
    for (let filled = span; filled < whole; ) {
      const n = Math.min(filled, whole - filled);
      heap.copyWithin(outOff + filled, outOff, outOff + n);
      filled += n;
    }
  };
  write(0, offsetOf(backend, x), offsetOf(backend, out));
  return out;
});

const depthToSpace = heapKernel('DepthToSpace', ({ inputs: { x }, backend, attrs }) => {
  if (attrs.dataFormat !== 'NHWC' || !HEAP_DTYPES.has(x.dtype)) return null;
  const s = attrs.blockSize as number;
  const [b, h, w, c] = x.shape;
  const co = c / (s * s);
  const out = backend.makeOutput([b, h * s, w * s, co], x.dtype);
  const heap = heapOf(backend, x.dtype);
  const src = offsetOf(backend, x);
  let d = offsetOf(backend, out);
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < h; y++) {
      for (let i = 0; i < s; i++) {
        for (let xx = 0; xx < w; xx++) {
          const base = src + ((n * h + y) * w + xx) * c + i * s * co;
          copyRun(heap, d, base, s * co);
          d += s * co;
        }
      }
    }
  }
  return out;
});

/** Gradient of a non-overlapping average pool (filter = stride, no padding): dy/(fh*fw) spread over each window. */
const avgPoolGrad = heapKernel('AvgPoolGrad', ({ inputs: { dy, input }, backend, attrs }) => {
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, padInfo } = info;
  if (fh !== sh || fw !== sw || padInfo.top !== 0 || padInfo.left !== 0 || dy.dtype !== 'float32') return null;
  const [b, h, w, c] = input.shape;
  const { outHeight: oh, outWidth: ow } = info;
  const out = backend.makeOutput([b, h, w, c], 'float32');
  const heap = backend.wasm.HEAPF32;
  const src = offsetOf(backend, dy);
  const dst = offsetOf(backend, out);
  heap.fill(0, dst, dst + b * h * w * c);
  const k = 1 / (fh * fw);
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < oh; y++) {
      for (let i = 0; i < fh; i++) {
        let d = dst + (n * h + y * fh + i) * w * c;
        for (let xx = 0; xx < ow; xx++) {
          const s = src + ((n * oh + y) * ow + xx) * c;
          for (let j = 0; j < fw; j++) {
            for (let ch = 0; ch < c; ch++) heap[d + ch] = heap[s + ch] * k;
            d += c;
          }
        }
      }
    }
  }
  return out;
});

export const WASM_MEMORY_KERNELS: tf.KernelConfig[] = [
  identity,
  cast,
  slice,
  splitV,
  concat,
  tile,
  depthToSpace,
  avgPoolGrad,
];
