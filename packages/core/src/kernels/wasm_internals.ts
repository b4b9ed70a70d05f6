import * as tf from '@tensorflow/tfjs-core';
import { wasmLoops } from './wasm_loops';

/**
 * What the wasm training kernels use of `@tensorflow/tfjs-backend-wasm` beyond its public API, and a
 * check, run once before they are registered, that all of it is there.
 *
 * The kernels work on the backend's heap directly: they find a tensor's bytes through its private
 * `dataIdMap` (`memoryOffset`, `id`), allocate outputs and views with `makeOutput(shape, dtype,
 * memoryOffset?)`, read and write `wasm.HEAP32` / `HEAPU8` / `HEAPF32`, drop views with
 * `wasm.tfjs.disposeData`, and run their WebAssembly loops over `wasm.asm.memory` (wasm_loops.ts).
 * None of this is promised by tfjs, so the package is pinned (4.22.0, {@link WASM_BACKEND_VERSION});
 * another version, or a runtime without WebAssembly SIMD, may lack a piece. Then the kernels are not
 * registered at all and the backend trains with its own (slower) kernels, rather than failing inside a
 * training step or quietly taking the kernels' slow paths.
 *
 * The stock kernels the training kernels call, or hand a case they do not cover to, are checked too.
 */

/** The tfjs-backend-wasm version the kernels were written and measured against. */
export const WASM_BACKEND_VERSION = '4.22.0';

/** The wasm backend's stock kernels that the training kernels run or fall back to. */
export const WASM_STOCK_KERNELS_USED = [
  'Add',
  'AvgPool',
  'AvgPoolGrad',
  'BatchMatMul',
  'Cast',
  'Concat',
  'Conv2D',
  'DepthToSpace',
  'FusedBatchNorm',
  'FusedDepthwiseConv2D',
  'Identity',
  'MaxPoolGrad',
  'Mean',
  'Multiply',
  'Neg',
  'PadV2',
  'Reshape',
  'Reverse',
  'Rsqrt',
  'Slice',
  'SplitV',
  'SquaredDifference',
  'Step',
  'Sub',
  'Sum',
  'Tile',
  'Transpose',
] as const;

/** The backend as the kernels see it (every field optional here, since that is what is checked). */
interface Internals {
  write(values: Float32Array, shape: number[], dtype: tf.DataType): tf.DataId;
  disposeData(dataId: tf.DataId): boolean;
  makeOutput?: (shape: number[], dtype: tf.DataType, memoryOffset?: number) => tf.TensorInfo;
  dataIdMap?: { get?: (dataId: tf.DataId) => { id?: unknown; memoryOffset?: unknown } | undefined; delete?: (dataId: tf.DataId) => boolean };
  wasm?: {
    HEAP32?: unknown;
    HEAPU8?: unknown;
    HEAPF32?: unknown;
    asm?: { memory?: unknown };
    tfjs?: { disposeData?: unknown };
  };
}

/** The same, once the fields are known to be there. */
interface Checked {
  write(values: Float32Array, shape: number[], dtype: tf.DataType): tf.DataId;
  disposeData(dataId: tf.DataId): boolean;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { id?: unknown; memoryOffset?: unknown } | undefined; delete(dataId: tf.DataId): boolean };
  wasm: { HEAPF32: Float32Array; tfjs: { disposeData(id: unknown): void } };
}

const HEAPS = [
  ['HEAP32', Int32Array],
  ['HEAPU8', Uint8Array],
  ['HEAPF32', Float32Array],
] as const;

/**
 * What the wasm training kernels need and `backend` (an initialised tfjs-backend-wasm instance) lacks,
 * one short description each; empty when everything is there. Besides looking for the fields, it
 * stores a value and reads it back through them, and makes and drops a view as the kernels do, so a
 * field that is there but means something else is caught too. Leaves the backend as it was.
 */
export function missingWasmInternals(backend: unknown): string[] {
  const be = backend as Internals | null | undefined;
  if (!be || typeof be !== 'object') return ['the backend instance'];
  const missing: string[] = [];
  const isFunction = (v: unknown) => typeof v === 'function';
  if (!isFunction(be.makeOutput)) missing.push('backend.makeOutput');
  if (!isFunction(be.dataIdMap?.get) || !isFunction(be.dataIdMap?.delete)) missing.push('backend.dataIdMap');
  const wasm = be.wasm;
  for (const [name, type] of HEAPS) if (!(wasm?.[name] instanceof type)) missing.push(`backend.wasm.${name}`);
  const memory = wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) missing.push('backend.wasm.asm.memory');
  else if ((wasm?.HEAPU8 as Uint8Array | undefined)?.buffer !== memory.buffer) missing.push('backend.wasm.HEAPU8 over backend.wasm.asm.memory');
  if (!isFunction(wasm?.tfjs?.disposeData)) missing.push('backend.wasm.tfjs.disposeData');
  if (missing.length === 0) {
    const wrong = probeHeap(be as unknown as Checked);
    if (wrong) missing.push(wrong);
    else {
      try {
        if (!wasmLoops(be)) missing.push('the WebAssembly loops over backend.wasm.asm.memory');
      } catch (e) {
        missing.push(`WebAssembly SIMD for the kernels' loops (${firstLine(e)})`);
      }
    }
  }
  for (const name of WASM_STOCK_KERNELS_USED) if (!tf.getKernel(name, 'wasm')) missing.push(`the stock kernel ${name}`);
  return missing;
}

/**
 * Stores a float through the public API, finds it at `dataIdMap`'s `memoryOffset` in `HEAPF32`, and
 * makes a view on it with `makeOutput` and drops it as `KernelScope.view` does. Null when all that
 * works, else what did not.
 */
function probeHeap(be: Checked): string | null {
  const value = 1.625;
  let dataId: tf.DataId | null = null;
  try {
    dataId = be.write(Float32Array.of(value), [1], 'float32');
    const entry = be.dataIdMap.get(dataId);
    const offset = entry?.memoryOffset;
    if (typeof offset !== 'number' || !Number.isInteger(offset) || !Number.isInteger(entry?.id)) return 'backend.dataIdMap entries with id and memoryOffset';
    if (be.wasm.HEAPF32[offset >>> 2] !== value) return "a tensor's value at its memoryOffset in backend.wasm.HEAPF32";
    const view = be.makeOutput([1], 'float32', offset);
    const viewEntry = be.dataIdMap.get(view.dataId);
    const shared = viewEntry?.memoryOffset === offset;
    if (shared) {
      be.wasm.tfjs.disposeData(viewEntry.id);
      be.dataIdMap.delete(view.dataId);
    } else be.disposeData(view.dataId);
    return shared ? null : 'backend.makeOutput at a given memoryOffset';
  } catch (e) {
    return `the backend's heap as the kernels use it (${firstLine(e)})`;
  } finally {
    try {
      if (dataId !== null) be.disposeData(dataId);
    } catch {
      // what broke has been reported by the return above
    }
  }
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
