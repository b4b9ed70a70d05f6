/**
 * The generator's whole-image passes in WebAssembly SIMD, four floats at a time: the final camera
 * pass of `develop` (last blur pass, lighting, gains, noise, rounding to bytes) and the backdrop's
 * bilinear upsampling (rows interpolated across, then mixed down). In JavaScript these cost 15-25 ns
 * per pixel, a quarter of a 128 px face.
 *
 * The module owns one memory. The colour canvas of the face being drawn and its half-resolution
 * backdrop live in it ({@link PixelHeap.canvas}, {@link PixelHeap.backdrop}), so the passes read them
 * in place; the rest is scratch laid out behind them. Where WebAssembly SIMD is missing,
 * {@link pixelHeap} is null and the callers keep their JavaScript loops (the same arithmetic, partly
 * in float64 instead of float32).
 */
import { type WasmFunction, addConst, addr, assemble, forUp, op } from '@ifan/core/wasm';
import { NOISE_RGB } from './rng';

// ---- the loops ----

const [SRC, UP, DOWN, DST, VB, KC, KX, NZ, BYTES, C, W, BASE, OFF, NOISE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const [K, D, END, VC, VW, VBASE, VOFF, VNOISE] = [14, 15, 16, 17, 18, 19, 20, 21];

/** Four output floats `q` (0..3) of a 64-byte step, as i32: see {@link finishRow}. */
const finishQuad = (q: number) => [
  // horizontal 3 taps over the vertical sums: c * V[k] + w * (V[k-3] + V[k+3])
  ...addr(VB, K), ...op.vloadAt(12 + 16 * q), ...op.get(VC), ...op.fmul,
  ...addr(VB, K), ...op.vloadAt(16 * q), ...addr(VB, K), ...op.vloadAt(24 + 16 * q), ...op.fadd, ...op.get(VW), ...op.fmul,
  ...op.fadd,
  // times gain x light (kc * base + kx), plus offset and noise
  ...addr(KC, K), ...op.vloadAt(16 * q), ...op.get(VBASE), ...op.fmul, ...addr(KX, K), ...op.vloadAt(16 * q), ...op.fadd,
  ...op.fmul,
  ...op.get(VOFF), ...op.fadd,
  ...addr(NZ, K), ...op.vloadAt(16 * q), ...op.get(VNOISE), ...op.fmul, ...op.fadd,
  ...op.fnearest, ...op.ftoi,
];

/**
 * finishRow(src, up, down, dst, vb, kc, kx, nz, bytes, c, w, base, off, noise): one row of `bytes / 4`
 * colour floats at `src` (its neighbour rows at `up`, `down`) to bytes at `dst`:
 * `V = c*src + w*(up + down)` into `vb + 12` with the edge values repeated once at either end, then
 * `dst = sat_u8(nearest((c*V[k] + w*(V[k-3] + V[k+3])) * (kc*base + kx) + off + nz*noise))`.
 * Works in steps of 16 bytes (vertical) and 16 floats (output): buffers need 64 bytes of slack.
 */
const finishRow: WasmFunction = {
  name: 'finishRow',
  params: ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'f32', 'f32', 'f32', 'f32', 'f32'],
  locals: ['i32', 'i32', 'i32', 'v128', 'v128', 'v128', 'v128', 'v128'],
  body: [
    ...op.get(C), ...op.fsplat, ...op.set(VC),
    ...op.get(W), ...op.fsplat, ...op.set(VW),
    ...op.get(BASE), ...op.fsplat, ...op.set(VBASE),
    ...op.get(OFF), ...op.fsplat, ...op.set(VOFF),
    ...op.get(NOISE), ...op.fsplat, ...op.set(VNOISE),
    // vertical sums
    ...forUp(K, BYTES, 16, [
      ...addr(VB, K),
      ...addr(SRC, K), ...op.vload, ...op.get(VC), ...op.fmul,
      ...addr(UP, K), ...op.vload, ...addr(DOWN, K), ...op.vload, ...op.fadd, ...op.get(VW), ...op.fmul,
      ...op.fadd,
      ...op.vstoreAt(12),
    ]),
    // clamped edges: V[-3..-1] = V[0..2], V[n..n+2] = V[n-3..n-1]
    ...[0, 4, 8].flatMap((o) => [...op.get(VB), ...op.get(VB), ...op.f32loadAt(12 + o), ...op.f32storeAt(o)]),
    ...addr(VB, BYTES), ...op.set(END),
    ...[0, 4, 8].flatMap((o) => [...op.get(END), ...op.get(END), ...op.f32loadAt(o), ...op.f32storeAt(12 + o)]),
    // 16 floats to 16 bytes per step
    ...op.get(DST), ...op.set(D),
    ...forUp(K, BYTES, 64, [
      ...op.get(D),
      ...finishQuad(0), ...finishQuad(1), ...op.narrow32,
      ...finishQuad(2), ...finishQuad(3), ...op.narrow32,
      ...op.narrow16u,
      ...op.vstore,
      ...addConst(D, 16),
    ]),
  ],
};

const [TOP, BOTTOM, OUT, MBYTES, TY] = [0, 1, 2, 3, 4];
const [MK, VTY, VT] = [5, 6, 7];

/** mixRows(top, bottom, out, bytes, ty): `out = top + (bottom - top) * ty` over `bytes` of floats, 16 at a time. */
const mixRows: WasmFunction = {
  name: 'mixRows',
  params: ['i32', 'i32', 'i32', 'i32', 'f32'],
  locals: ['i32', 'v128', 'v128'],
  body: [
    ...op.get(TY), ...op.fsplat, ...op.set(VTY),
    ...forUp(MK, MBYTES, 16, [
      ...addr(OUT, MK),
      ...addr(TOP, MK), ...op.vload, ...op.tee(VT),
      ...addr(BOTTOM, MK), ...op.vload, ...op.get(VT), ...op.fsub, ...op.get(VTY), ...op.fmul,
      ...op.fadd,
      ...op.vstore,
    ]),
  ],
};

const [ISRC, IOUT, XOFF, XW, COUNT] = [0, 1, 2, 3, 4];
const [IX, IA, VA] = [5, 6, 7];

/**
 * interpolateRow(src, out, xoff, xw, count): `count` pixels of a row interpolated across from a
 * source row at `src`: pixel x = `P + (Q - P) * xw[x]` for the source pixel P at byte `src + xoff[x]`
 * and the one after it, Q (`xw[x]` is 0 where there is none). Four floats a pixel (the fourth is the
 * next pixel's first, rewritten by the next step): rows need 16 bytes of slack.
 */
const interpolateRow: WasmFunction = {
  name: 'interpolateRow',
  params: ['i32', 'i32', 'i32', 'i32', 'i32'],
  locals: ['i32', 'i32', 'v128'],
  body: [
    ...forUp(IX, COUNT, 1, [
      ...op.get(XOFF), ...op.get(IX), ...op.const(4), ...op.mul, ...op.add, ...op.load,
      ...op.get(ISRC), ...op.add, ...op.set(IA),
      ...op.get(IA), ...op.vload, ...op.set(VA),
      ...op.get(IOUT),
      ...op.get(VA),
      ...op.get(IA), ...op.vloadAt(12), ...op.get(VA), ...op.fsub,
      ...op.get(XW), ...op.get(IX), ...op.const(4), ...op.mul, ...op.add, ...op.f32load, ...op.fsplat,
      ...op.fmul, ...op.fadd,
      ...op.vstore,
      ...addConst(IOUT, 12),
    ]),
  ],
};

interface PixelExports {
  finishRow(src: number, up: number, down: number, dst: number, vb: number, kc: number, kx: number, nz: number, bytes: number, c: number, w: number, base: number, off: number, noise: number): void;
  mixRows(top: number, bottom: number, out: number, bytes: number, ty: number): void;
  interpolateRow(src: number, out: number, xoff: number, xw: number, count: number): void;
}

// ---- the memory ----

/** Slack after every buffer, for the loops' whole steps past the end. */
const SLACK = 64;
const PAGE = 65536;
const align = (n: number) => (n + 15) & ~15;

/**
 * The module and its memory: the noise table at 0, then the canvas of the face being drawn, the
 * output bytes, the backdrop and row scratch. A layout that does not fit gets a new, larger memory
 * and instance rather than growing the old memory: growing detaches the old buffer, and the first
 * detached ArrayBuffer in a thread turns off V8's assumption that none ever is, so that every
 * typed-array access in every optimised loop checks for it from then on (9% more instructions per
 * 128 px face).
 */
export class PixelHeap {
  fn!: PixelExports;
  private memory!: WebAssembly.Memory;
  /** Byte offset of the noise table ({@link NOISE_RGB}). */
  readonly noise = 0;
  private readonly canvasAt = align(NOISE_RGB.byteLength + SLACK);
  private width = 0;
  private height = 0;
  /** Byte offsets of this size's buffers (see {@link layout}). */
  out = 0;
  rowV = 0;
  rowKc = 0;
  rowKx = 0;
  rowA = 0;
  rowB = 0;
  /** The upsampling's taps across: byte offset of the source pixel (i32) and weight of the next (f32), per column. */
  tapOffsets = 0;
  tapWeights = 0;
  private backdropAt = 0;
  private bw = 0;
  private bh = 0;
  private f32 = new Float32Array(0);
  private u8 = new Uint8Array(0);

  constructor(private readonly module: WebAssembly.Module) {
    this.instantiate(this.canvasAt + PAGE);
  }

  /**
   * Lays the buffers out for a `width` x `height` colour image and its {@link backdropSize} backdrop
   * (with room for a 256 px image at least); views taken before a layout that needed more memory no
   * longer see the heap.
   */
  layout(width: number, height: number): void {
    if (width === this.width && height === this.height) return;
    const floats = width * height * 3;
    const [bw, bh] = backdropSize(width, height);
    const row = align(width * 3 * 4 + 24 + SLACK);
    this.out = align(this.canvasAt + floats * 4 + SLACK);
    this.backdropAt = align(this.out + floats + SLACK);
    this.rowV = align(this.backdropAt + bw * bh * 12 + SLACK);
    this.rowKc = this.rowV + row;
    this.rowKx = this.rowKc + row;
    this.rowA = this.rowKx + row;
    this.rowB = this.rowA + row;
    this.tapOffsets = this.rowB + row;
    this.tapWeights = this.tapOffsets + align(width * 4 + SLACK);
    const end = this.tapWeights + align(width * 4 + SLACK);
    if (end > this.memory.buffer.byteLength) this.instantiate(Math.max(end, this.canvasAt + 256 * 256 * 20 + 8 * 4096));
    // interpolateRow reads the (zero-weighted) pixel after the backdrop's last: zeros, not whatever
    // another layout left there (0 * NaN would be NaN)
    this.f32.fill(0, (this.backdropAt + bw * bh * 12) / 4, (this.backdropAt + bw * bh * 12) / 4 + 4);
    this.width = width;
    this.height = height;
    this.bw = bw;
    this.bh = bh;
  }

  /** The colour canvas (`width * height * 3` floats) of the current layout, at byte {@link canvasOffset}. */
  canvas(): Float32Array {
    return this.floats(this.canvasAt, this.width * this.height * 3);
  }

  get canvasOffset(): number {
    return this.canvasAt;
  }

  /** The backdrop canvas's colours (see {@link backdropSize}), at byte {@link backdropOffset}. */
  backdrop(): Float32Array {
    return this.floats(this.backdropAt, this.bw * this.bh * 3);
  }

  get backdropOffset(): number {
    return this.backdropAt;
  }

  /** Whether the current layout's backdrop is `bw` x `bh`. */
  backdropFits(bw: number, bh: number): boolean {
    return bw === this.bw && bh === this.bh;
  }

  /** Whether `a` is this heap's current backdrop view. */
  holdsBackdrop(a: Float32Array): boolean {
    return this.isView(a, this.backdropAt, this.bw * this.bh * 3);
  }

  /** An int view of `length` 32-bit words at byte `offset`. */
  ints(offset: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, offset, length);
  }

  /** Whether `a` is this heap's current canvas view. */
  holds(a: Float32Array): boolean {
    return this.isView(a, this.canvasAt, this.width * this.height * 3);
  }

  /** A float view of `length` floats at byte `offset`. */
  floats(offset: number, length: number): Float32Array {
    return this.f32.subarray(offset / 4, offset / 4 + length);
  }

  /** A copy of `length` bytes at byte `offset`. */
  copyBytes(offset: number, length: number): Uint8Array {
    return this.u8.slice(offset, offset + length);
  }

  /** Whether `a` is the view of `length` floats at byte `offset` of the current memory. */
  private isView(a: Float32Array, offset: number, length: number): boolean {
    return a.buffer === this.memory.buffer && a.byteOffset === offset && a.length === length;
  }

  /** A fresh memory of at least `bytes` with the noise table in place, and an instance over it. */
  private instantiate(bytes: number): void {
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE) });
    this.fn = new WebAssembly.Instance(this.module, { env: { memory: this.memory } }).exports as unknown as PixelExports;
    this.f32 = new Float32Array(this.memory.buffer);
    this.u8 = new Uint8Array(this.memory.buffer);
    this.f32.set(NOISE_RGB, this.noise / 4);
  }
}

/** The size of the backdrop drawn behind a `width` x `height` face: half resolution, at least 16 px. */
export function backdropSize(width: number, height: number): [number, number] {
  return [Math.max(16, Math.ceil(width / 2)), Math.max(16, Math.ceil(height / 2))];
}

let heap: PixelHeap | null | undefined;
/** The choice of {@link setImagePasses}, or from `IFAN_SYNTHETIC_WASM` at the first face. */
let mode: 'auto' | 'js' | undefined;

/** The shared heap, or null where WebAssembly SIMD is unavailable or the JavaScript passes were chosen. */
export function pixelHeap(): PixelHeap | null {
  mode ??= typeof process !== 'undefined' && process.env?.IFAN_SYNTHETIC_WASM === '0' ? 'js' : 'auto';
  if (mode === 'js') return null;
  if (heap === undefined) {
    heap = null;
    try {
      const bytes = assemble([finishRow, mixRows, interpolateRow]);
      if (typeof WebAssembly !== 'undefined' && WebAssembly.validate(bytes)) heap = new PixelHeap(new WebAssembly.Module(bytes));
    } catch {
      heap = null;
    }
  }
  return heap;
}

/** For tests: forget the heap and the choice, so that the next face reads the environment again. */
export function resetPixelHeap(): void {
  heap = undefined;
  mode = undefined;
}

/**
 * Where the generator's whole-image passes run: `'wasm-simd'`, or `'js'` where WebAssembly SIMD is
 * missing, the environment sets `IFAN_SYNTHETIC_WASM=0` (read at the first face) or
 * {@link setImagePasses} chose them.
 */
export function imagePasses(): 'wasm-simd' | 'js' {
  return pixelHeap() ? 'wasm-simd' : 'js';
}

/**
 * Chooses where the whole-image passes run from the next face on: `'auto'` in WebAssembly SIMD where
 * there is any (the default), `'js'` in JavaScript, e.g. for images identical to a machine's without
 * SIMD (the two differ by one level in about one byte in 10^5; labels never differ).
 */
export function setImagePasses(choice: 'auto' | 'js'): void {
  if (choice !== 'auto' && choice !== 'js') throw new Error(`setImagePasses: expected 'auto' or 'js', got ${JSON.stringify(choice)}`);
  mode = choice;
}
