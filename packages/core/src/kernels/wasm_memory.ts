import * as tf from '@tensorflow/tfjs-core';
import { stockKernel } from './composite';
import { wasmLoops } from './wasm_loops';

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
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
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

/**
 * Copies within the heap, in elements of one dtype: `runs` copies `count` runs of `n` elements,
 * advancing the destination by `dStride` and the source by `sStride` after each. With the
 * WebAssembly loops (wasm_loops.ts) a run costs a `memory.copy`; without them, JavaScript.
 */
interface Mover {
  runs(d: number, s: number, n: number, count: number, dStride: number, sStride: number): void;
}

function moverOf(backend: HeapBackend, dtype: tf.DataType): Mover {
  const loops = wasmLoops(backend);
  const bytes = dtype === 'bool' ? 1 : 4;
  if (loops) {
    return {
      runs: (d, s, n, count, dStride, sStride) => {
        if (n > 0 && count > 0) loops.copyRuns(d * bytes, s * bytes, n * bytes, count, dStride * bytes, sStride * bytes);
      },
    };
  }
  const heap = heapOf(backend, dtype);
  return {
    runs: (d, s, n, count, dStride, sStride) => {
      for (let k = 0; k < count; k++, d += dStride, s += sStride) copyRun(heap, d, s, n);
    },
  };
}

/** Copies the box `begin`/`sz` of the tensor at `src` (shape `shape`) to `dst`, in order. */
function sliceInto(mover: Mover, src: number, shape: readonly number[], begin: readonly number[], sz: readonly number[], dst: number): void {
  const rank = shape.length;
  if (rank === 0) {
    mover.runs(dst, src, 1, 1, 0, 0);
    return;
  }
  const st = strides(shape);
  // Trailing axes taken whole merge into one contiguous run.
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && sz[k] === shape[k]) k--;
  const run = sz[k] * st[k];
  let base = src;
  for (let a = 0; a <= k; a++) base += begin[a] * st[a];
  if (k === 0) {
    mover.runs(dst, base, run, 1, run, 0);
    return;
  }
  // Axis k-1 is looped inside one call; the axes before it here.
  const inner = sz[k - 1];
  const outer = size(sz.slice(0, k - 1));
  const idx = new Array<number>(k - 1).fill(0);
  let d = dst;
  for (let o = 0; o < outer; o++) {
    let s = base;
    for (let a = 0; a < k - 1; a++) s += idx[a] * st[a];
    mover.runs(d, s, run, inner, run, st[k - 1]);
    d += run * inner;
    for (let a = k - 2; a >= 0; a--) {
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
  if (size(sz) > 0) sliceInto(moverOf(backend, x.dtype), offsetOf(backend, x), x.shape, begin, sz, offsetOf(backend, out));
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
  const mover = moverOf(backend, x.dtype);
  const src = offsetOf(backend, x);
  const begin = new Array<number>(x.shape.length).fill(0);
  outs.forEach((out) => {
    if (size(out.shape) > 0) sliceInto(mover, src, x.shape, begin, out.shape, offsetOf(backend, out));
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
  const mover = moverOf(backend, out.dtype);
  const dst = offsetOf(backend, out);
  const outer = size(outShape.slice(0, axis));
  const parts = xs.filter((t) => size(t.shape) > 0).map((t) => ({ src: offsetOf(backend, t), inner: size(t.shape.slice(axis)) }));
  const total = parts.reduce((a, p) => a + p.inner, 0);
  let base = dst;
  for (const { src, inner } of parts) {
    mover.runs(base, src, inner, outer, total, inner);
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
  const mover = moverOf(backend, x.dtype);
  const src = offsetOf(backend, x);
  let d = offsetOf(backend, out);
  // Output row (n, y*s + i) is, for each input column, the i-th run of s*co channels.
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < h; y++) {
      for (let i = 0; i < s; i++) {
        mover.runs(d, src + (n * h + y) * w * c + i * s * co, s * co, w, s * co, c);
        d += w * s * co;
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
  const k = 1 / (fh * fw);
  const loops = wasmLoops(backend);
  const multiply = stockKernel('Multiply', 'wasm') ?? tf.getKernel('Multiply', 'wasm');
  if (loops && multiply) {
    // dy / (fh*fw) once, natively, then each value copied to its fh*fw window positions.
    const kId = backend.write(Float32Array.of(k), [], 'float32');
    const scaled = multiply.kernelFunc({ inputs: { a: dy, b: { dataId: kId, shape: [], dtype: 'float32' } }, backend, attrs: {} }) as tf.TensorInfo;
    backend.disposeData(kId);
    const out = backend.makeOutput([b, h, w, c], 'float32');
    const mover = moverOf(backend, 'float32');
    const src = offsetOf(backend, scaled);
    const dst = offsetOf(backend, out);
    if (oh * fh < h || ow * fw < w) backend.wasm.HEAPF32.fill(0, dst, dst + b * h * w * c);
    for (let n = 0; n < b; n++) {
      for (let y = 0; y < oh; y++) {
        const s = src + (n * oh + y) * ow * c;
        for (let i = 0; i < fh; i++) {
          const d = dst + (n * h + y * fh + i) * w * c;
          for (let j = 0; j < fw; j++) mover.runs(d + j * c, s, c, ow, fw * c, c);
        }
      }
    }
    backend.disposeData(scaled.dataId);
    return out;
  }
  const out = backend.makeOutput([b, h, w, c], 'float32');
  const heap = backend.wasm.HEAPF32;
  const src = offsetOf(backend, dy);
  const dst = offsetOf(backend, out);
  heap.fill(0, dst, dst + b * h * w * c);
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

/**
 * Gradient of a 2x2, stride-2, unpadded max pool over an even-sized float32 input with a multiple of
 * 4 channels (the parsing re-encoder's pools), four channels at a time in the WebAssembly loops; each
 * dy goes to the first maximum of its window, as on the cpu backend. Anything else: the stock kernel.
 */
const maxPoolGrad = heapKernel('MaxPoolGrad', ({ inputs: { dy, input }, backend, attrs }) => {
  const loops = wasmLoops(backend);
  if (!loops || input.dtype !== 'float32' || dy.dtype !== 'float32' || input.shape.length !== 4) return null;
  const [b, h, w, c] = input.shape;
  const fs = attrs.filterSize as number | number[];
  const st = attrs.strides as number | number[];
  const two = (v: number | number[]) => (Array.isArray(v) ? v.every((e) => e === 2) : v === 2);
  const valid = attrs.pad === 'valid' || (attrs.pad === 'same' && h % 2 === 0 && w % 2 === 0);
  if (!two(fs) || !two(st) || !valid || h % 2 !== 0 || w % 2 !== 0 || c % 4 !== 0) return null;
  const [oh, ow] = [h / 2, w / 2];
  if (!tf.util.arraysEqual(dy.shape, [b, oh, ow, c])) return null;
  const out = backend.makeOutput([b, h, w, c], 'float32');
  const [dx0, dy0, x0] = [offsetOf(backend, out) * 4, offsetOf(backend, dy) * 4, offsetOf(backend, input) * 4];
  const c16 = c * 4;
  const rowBytes = w * c16;
  for (let r = 0; r < b * oh; r++) loops.maxPoolGradRow(dx0 + 2 * r * rowBytes, dy0 + r * ow * c16, x0 + 2 * r * rowBytes, ow, c16, rowBytes);
  return out;
});

export const WASM_MEMORY_KERNELS: tf.KernelConfig[] = [
  maxPoolGrad,
  identity,
  cast,
  slice,
  splitV,
  concat,
  tile,
  depthToSpace,
  avgPoolGrad,
];

/**
 * `x` [b, h, w, c] (float32 or int32) transposed to channel-major and zero-padded: the result is
 * `[c + extraRows, b, hp, wp]`, image n's values at rows `top..top+h-1` and columns
 * `left..left+w-1` of its hp x wp cell, zeros elsewhere (and in the extra rows). One pass, each
 * [w, c] row of the input transposed in cache by the WebAssembly loops. Null without them.
 */
export function channelMajorPadded(
  backend: tf.KernelBackend,
  x: tf.TensorInfo,
  hp: number,
  wp: number,
  top: number,
  left: number,
  extraRows: number,
): tf.TensorInfo | null {
  const be = backend as HeapBackend;
  const loops = wasmLoops(be);
  if (!loops || x.shape.length !== 4 || x.dtype === 'bool' || x.dtype === 'complex64' || x.dtype === 'string') return null;
  const [b, h, w, c] = x.shape;
  if (top < 0 || left < 0 || top + h > hp || left + w > wp) return null;
  const out = be.makeOutput([c + extraRows, b, hp, wp], x.dtype);
  const dst = offsetOf(be, out);
  const src = offsetOf(be, x);
  const q = b * hp * wp;
  be.wasm.HEAP32.fill(0, dst, dst + (c + extraRows) * q);
  for (let n = 0; n < b; n++) {
    for (let y = 0; y < h; y++) {
      loops.transpose32((dst + (n * hp + y + top) * wp + left) * 4, (src + (n * h + y) * w * c) * 4, w, c, q * 4);
    }
  }
  return out;
}

/**
 * `x` [b, h, w, c] zero-padded at the bottom and right to [b, hp, wp, c] (each image's rows copied
 * whole into the top-left of its hp x wp cell). Null without the WebAssembly loops.
 */
export function padBottomRight(backend: tf.KernelBackend, x: tf.TensorInfo, hp: number, wp: number): tf.TensorInfo | null {
  const be = backend as HeapBackend;
  const loops = wasmLoops(be);
  if (!loops || x.shape.length !== 4 || !HEAP_DTYPES.has(x.dtype) || x.dtype === 'bool') return null;
  const [b, h, w, c] = x.shape;
  if (h > hp || w > wp) return null;
  const out = be.makeOutput([b, hp, wp, c], x.dtype);
  const dst = offsetOf(be, out);
  const src = offsetOf(be, x);
  be.wasm.HEAP32.fill(0, dst, dst + b * hp * wp * c);
  for (let n = 0; n < b; n++) loops.copyRuns((dst + n * hp * wp * c) * 4, (src + n * h * w * c) * 4, w * c * 4, h, wp * c * 4, w * c * 4);
  return out;
}

/**
 * A convolution filter [kh, kw, ci, co] rotated by 180 degrees with its channel axes swapped,
 * [kh, kw, co, ci] (what the input gradient convolves with), in one JavaScript pass over the (small)
 * filter: tfjs-backend-wasm's Reverse alone costs about a millisecond per filter.
 */
export function rotatedFilter(backend: tf.KernelBackend, filter: tf.TensorInfo): tf.TensorInfo | null {
  const be = backend as HeapBackend;
  if (filter.shape.length !== 4 || filter.dtype !== 'float32') return null;
  const [kh, kw, ci, co] = filter.shape;
  const out = be.makeOutput([kh, kw, co, ci], 'float32');
  const heap = be.wasm.HEAPF32;
  const src = offsetOf(be, filter);
  let d = offsetOf(be, out);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const s = src + ((kh - 1 - i) * kw + (kw - 1 - j)) * ci * co;
      for (let o = 0; o < co; o++) for (let c = 0; c < ci; c++) heap[d++] = heap[s + c * co + o];
    }
  }
  return out;
}
