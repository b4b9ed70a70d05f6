/**
 * Memory loops for the wasm backend, hand-assembled as a tiny WebAssembly module that imports the
 * backend's own memory, so they run over its tensors in place.
 *
 * The backend's data-movement kernels are JavaScript over the heap (wasm_memory.ts): a JavaScript
 * loop moves a float in a few nanoseconds and `copyWithin` costs tens of nanoseconds per call, so a
 * channel concatenation of a dense block (one short run per pixel) ran at a fraction of memory speed.
 * Inside WebAssembly, `memory.copy` of a short run costs a few nanoseconds and a scalar load/store
 * loop about one.
 *
 * Every address and length is in bytes; strides may exceed the run (gaps are skipped).
 */

import { type WasmFunction, addConst, addTo, addr, assemble as assembleModule, countDown, forUp, op, vAt } from '../wasm';

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

interface Fn {
  name: string;
  params: number;
  /** Extra locals: i32 count, then v128 count (numbered after the params, i32 first). */
  locals: [number, number];
  body: number[];
}

// copyRuns(dst 0, src 1, bytes 2, count 3, dstStride 4, srcStride 5)
const copyRuns: Fn = {
  name: 'copyRuns',
  params: 6,
  locals: [0, 0],
  body: countDown(3, [...op.get(0), ...op.get(1), ...op.get(2), ...op.memoryCopy, ...addTo(0, 4), ...addTo(1, 5)]),
};

// transpose32(dst 0, src 1, rows 2, cols 3, dstStride 4); locals: c 5, r 6, s 7, d 8, srcRow 9
const transpose32: Fn = {
  name: 'transpose32',
  params: 5,
  locals: [5, 0],
  body: [
    ...op.get(3), ...op.const(4), ...op.mul, ...op.set(9),
    ...forUp(5, 3, 1, [
      // s = src + 4c, d = dst + c * dstStride, r = rows
      ...op.get(1), ...op.get(5), ...op.const(4), ...op.mul, ...op.add, ...op.set(7),
      ...op.get(0), ...op.get(5), ...op.get(4), ...op.mul, ...op.add, ...op.set(8),
      ...op.get(2), ...op.set(6),
      ...countDown(6, [...op.get(8), ...op.get(7), ...op.load, ...op.store, ...addTo(7, 9), ...addConst(8, 4)]),
    ]),
  ],
};

// reluGrad(dst 0, dy 1, y 2, bytes 3): dst = y > 0 ? dy : 0, 4 floats at a time; local i 4
const reluGrad: Fn = {
  name: 'reluGrad',
  params: 4,
  locals: [1, 0],
  body: forUp(4, 3, 16, [...addr(0, 4), ...vAt(1, 4), ...vAt(2, 4), ...op.vzero, ...op.fgt, ...op.vand, ...op.vstore]),
};

// Per-channel loops over `n` pixels of `c16` bytes (channels x 4, a multiple of 16).

// channelAffine(dst 0, x 1, n 2, c16 3, a 4, b 5): dst = x * a + b; local c 6
const channelAffine: Fn = {
  name: 'channelAffine',
  params: 6,
  locals: [1, 0],
  body: countDown(2, [
    ...forUp(6, 3, 16, [...addr(0, 6), ...vAt(1, 6), ...vAt(4, 6), ...op.fmul, ...vAt(5, 6), ...op.fadd, ...op.vstore]),
    ...addTo(0, 3), ...addTo(1, 3),
  ]),
};

// channelAffine2(dst 0, u 1, v 2, n 3, c16 4, a 5, m 6, b 7, k 8): dst = u * a + (v - m) * b + k; local c 9
const channelAffine2: Fn = {
  name: 'channelAffine2',
  params: 9,
  locals: [1, 0],
  body: countDown(3, [
    ...forUp(9, 4, 16, [
      ...addr(0, 9),
      ...vAt(1, 9), ...vAt(5, 9), ...op.fmul,
      ...vAt(2, 9), ...vAt(6, 9), ...op.fsub, ...vAt(7, 9), ...op.fmul, ...op.fadd,
      ...vAt(8, 9), ...op.fadd,
      ...op.vstore,
    ]),
    ...addTo(0, 4), ...addTo(1, 4), ...addTo(2, 4),
  ]),
};

// channelSums(x 0, n 1, c16 2, shift 3, acc 4): acc[c] += x - shift, acc[C + c] += (x - shift)^2
// locals: c 5, accHi 6, v 7 (v128)
const channelSums: Fn = {
  name: 'channelSums',
  params: 5,
  locals: [2, 1],
  body: [
    ...op.get(4), ...op.get(2), ...op.add, ...op.set(6),
    ...countDown(1, [
      ...forUp(5, 2, 16, [
        ...vAt(0, 5), ...vAt(3, 5), ...op.fsub, ...op.set(7),
        ...addr(4, 5), ...vAt(4, 5), ...op.get(7), ...op.fadd, ...op.vstore,
        ...addr(6, 5), ...vAt(6, 5), ...op.get(7), ...op.get(7), ...op.fmul, ...op.fadd, ...op.vstore,
      ]),
      ...addTo(0, 2),
    ]),
  ],
};

// channelDotSums(dy 0, x 1, n 2, c16 3, mean 4, acc 5): acc[c] += dy, acc[C + c] += dy * (x - mean)
// locals: c 6, accHi 7, d 8 (v128)
const channelDotSums: Fn = {
  name: 'channelDotSums',
  params: 6,
  locals: [2, 1],
  body: [
    ...op.get(5), ...op.get(3), ...op.add, ...op.set(7),
    ...countDown(2, [
      ...forUp(6, 3, 16, [
        ...vAt(0, 6), ...op.set(8),
        ...addr(5, 6), ...vAt(5, 6), ...op.get(8), ...op.fadd, ...op.vstore,
        ...addr(7, 6), ...vAt(7, 6), ...op.get(8), ...vAt(1, 6), ...vAt(4, 6), ...op.fsub, ...op.fmul, ...op.fadd, ...op.vstore,
      ]),
      ...addTo(0, 3), ...addTo(1, 3),
    ]),
  ],
};

// flush(acc32 0, acc64 1, count 2): acc64[i] += acc32[i] (in float64), acc32[i] = 0
const flush: Fn = {
  name: 'flush',
  params: 3,
  locals: [0, 0],
  body: countDown(2, [
    ...op.get(1), ...op.get(1), ...op.f64load, ...op.get(0), ...op.f32load, ...op.f64promote, ...op.f64add, ...op.f64store,
    ...op.get(0), ...op.f32zero, ...op.f32store,
    ...addConst(0, 4), ...addConst(1, 8),
  ]),
};

// maxPoolGradRow(dx 0, dy 1, x 2, ow 3, c16 4, rowBytes 5): one output row of a 2x2/2 max pool's
// gradient; each dy goes to the first maximum of its window in row-major order (the cpu backend's
// choice), the other three get 0. i32 locals: c 6, xb 7, xc 8, xd 9, db 10, dc 11, dd 12;
// v128 locals: a 13, b 14, cc 15, d 16, m 17, sa 18, sb 19, sc 20, g 21
const maxPoolGradRow: Fn = {
  name: 'maxPoolGradRow',
  params: 6,
  locals: [7, 9],
  body: countDown(3, [
    ...op.get(2), ...op.get(4), ...op.add, ...op.set(7),
    ...op.get(2), ...op.get(5), ...op.add, ...op.set(8),
    ...op.get(8), ...op.get(4), ...op.add, ...op.set(9),
    ...op.get(0), ...op.get(4), ...op.add, ...op.set(10),
    ...op.get(0), ...op.get(5), ...op.add, ...op.set(11),
    ...op.get(11), ...op.get(4), ...op.add, ...op.set(12),
    ...forUp(6, 4, 16, [
      ...vAt(2, 6), ...op.set(13),
      ...vAt(7, 6), ...op.set(14),
      ...vAt(8, 6), ...op.set(15),
      ...vAt(9, 6), ...op.set(16),
      ...op.get(13), ...op.get(14), ...op.fmax, ...op.get(15), ...op.get(16), ...op.fmax, ...op.fmax, ...op.set(17),
      ...op.get(13), ...op.get(17), ...op.feq, ...op.set(18),
      ...op.get(14), ...op.get(17), ...op.feq, ...op.get(18), ...op.vandnot, ...op.set(19),
      ...op.get(15), ...op.get(17), ...op.feq, ...op.get(18), ...op.get(19), ...op.vor, ...op.vandnot, ...op.set(20),
      ...vAt(1, 6), ...op.set(21),
      ...addr(0, 6), ...op.get(21), ...op.get(18), ...op.vand, ...op.vstore,
      ...addr(10, 6), ...op.get(21), ...op.get(19), ...op.vand, ...op.vstore,
      ...addr(11, 6), ...op.get(21), ...op.get(20), ...op.vand, ...op.vstore,
      ...addr(12, 6), ...op.get(21), ...op.get(18), ...op.get(19), ...op.vor, ...op.get(20), ...op.vor, ...op.vandnot, ...op.vstore,
    ]),
    // next window: x and dx move two pixels, dy one
    ...op.get(2), ...op.get(4), ...op.get(4), ...op.add, ...op.add, ...op.set(2),
    ...op.get(0), ...op.get(4), ...op.get(4), ...op.add, ...op.add, ...op.set(0),
    ...addTo(1, 4),
  ]),
};

const FUNCTIONS = [copyRuns, transpose32, reluGrad, channelAffine, channelAffine2, channelSums, channelDotSums, flush, maxPoolGradRow];

/** The loops as a module: all parameters i32, the extra locals i32 then v128. */
function assemble(fns: Fn[]): Uint8Array<ArrayBuffer> {
  const i32 = (n: number): WasmFunction['params'] => new Array(n).fill('i32');
  return assembleModule(
    fns.map((f) => ({ name: f.name, params: i32(f.params), locals: [...i32(f.locals[0]), ...new Array(f.locals[1]).fill('v128')], body: f.body })),
  );
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
    module ??= new WebAssembly.Module(assemble(FUNCTIONS));
    loops = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmLoops;
    instances.set(memory, loops);
  }
  return loops;
}
