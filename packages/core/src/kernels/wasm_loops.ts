/**
 * Memory loops for the wasm backend: a tiny WebAssembly module, written as WebAssembly text in
 * wasm_loops.wat, that imports the backend's own memory, so the loops run over its tensors in place.
 * wabt compiles the text into wasm_loops.generated.ts (`pnpm --filter @ifan/core wat`); this file
 * is the TypeScript side: the loops' signatures, and one instance per backend memory.
 *
 * The backend's data-movement kernels are JavaScript over the heap (wasm_memory.ts): a JavaScript
 * loop moves a float in a few nanoseconds and `copyWithin` costs tens of nanoseconds per call, so a
 * channel concatenation of a dense block (one short run per pixel) ran at a fraction of memory speed.
 * Inside WebAssembly, `memory.copy` of a short run costs a few nanoseconds and a scalar load/store
 * loop about one.
 *
 * Every address and length is in bytes; strides may exceed the run (gaps are skipped).
 */

import { WASM_LOOPS_BASE64 } from './wasm_loops.generated';

export interface WasmLoops {
  /** `dst = y > 0 ? dy : 0` over `bytes` (a multiple of 16) of floats. */
  reluGrad(dst: number, dy: number, y: number, bytes: number): void;
  /**
   * Per-channel loops over `n` pixels of `c16` bytes each (channels x 4, a multiple of 16); `a`,
   * `b`, `k`, `shift`, `mean` are per-channel vectors of the same length, `acc` two of them.
   */
  /** `dst = x * a + b` */
  channelAffine(dst: number, x: number, n: number, c16: number, a: number, b: number): void;
  /** `dst = u * a + (v - m) * b + k` */
  channelAffine2(dst: number, u: number, v: number, n: number, c16: number, a: number, m: number, b: number, k: number): void;
  /** `acc[0] += x - shift; acc[1] += (x - shift)^2` (float32 accumulators) */
  channelSums(x: number, n: number, c16: number, shift: number, acc: number): void;
  /** `acc[0] += dy; acc[1] += dy * (x - mean)` (float32 accumulators) */
  channelDotSums(dy: number, x: number, n: number, c16: number, mean: number, acc: number): void;
  /**
   * One output row of the gradient of a 2x2, stride-2 max pool over `ow` windows: `x` and `dx` point
   * at the window row's first input row (`rowBytes` apart), `dy` at the output row.
   */
  maxPoolGradRow(dx: number, dy: number, x: number, ow: number, c16: number, rowBytes: number): void;
  /** `acc64[i] += acc32[i]` in float64 and `acc32[i] = 0`, for `count` values. */
  flush(acc32: number, acc64: number, count: number): void;
  /** `count` times: copy `bytes` from `src` to `dst`, then advance `dst` by `dstStride` and `src` by `srcStride`. */
  copyRuns(dst: number, src: number, bytes: number, count: number, dstStride: number, srcStride: number): void;
  /**
   * Transposes a `[rows, cols]` matrix of 32-bit words at `src` (rows contiguous) into `cols` rows of
   * `rows` words at `dst`, `dst + dstStride`, ... (so the destination can be a window of a larger,
   * padded matrix).
   */
  transpose32(dst: number, src: number, rows: number, cols: number, dstStride: number): void;
}

const instances = new WeakMap<WebAssembly.Memory, WasmLoops>();
let module: WebAssembly.Module | null = null;
const barred = new WeakSet<object>();

/**
 * Keeps the loops, and with them every kernel's path over the heap, away from a backend whose
 * internals failed the start-up check (wasm_internals.ts); `false` lifts the bar.
 */
export function barWasmLoops(backend: object, bar = true): void {
  if (bar) barred.add(backend);
  else barred.delete(backend);
}

/** The loops over a wasm backend's memory (`backend.wasm.asm.memory`); null if it cannot be reached or is barred. */
export function wasmLoops(backend: unknown): WasmLoops | null {
  if (barred.has(backend as object)) return null;
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  let loops = instances.get(memory);
  if (!loops) {
    module ??= new WebAssembly.Module(Uint8Array.from(atob(WASM_LOOPS_BASE64), (ch) => ch.charCodeAt(0)));
    loops = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmLoops;
    instances.set(memory, loops);
  }
  return loops;
}
