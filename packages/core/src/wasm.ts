/**
 * `@ifan/core/wasm`: a minimal WebAssembly assembler for the project's hand-written loops (the wasm
 * backend's memory kernels in core, the synthetic generator's image passes). A function is a list of
 * bytes built from {@link op} and the loop helpers below; {@link assemble} wraps functions into a
 * module that imports one memory as `env.memory`. No tfjs, no file system: safe to import anywhere.
 *
 * Locals are numbered as WebAssembly numbers them: the parameters first, then the extra locals in
 * the order given. Every address and length is in bytes.
 */

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';

/** One exported function: parameters, extra locals and its body (without the final `end`). */
export interface WasmFunction {
  name: string;
  params: ValType[];
  locals?: ValType[];
  body: number[];
}

const TYPE_CODE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec([...s].map((ch) => [ch.charCodeAt(0)]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const simd = (code: number) => [0xfd, ...uleb(code)];
/** A memory access's immediate: alignment hint (log2) and constant byte offset. */
const memarg = (align: number, offset: number) => [align, ...uleb(offset)];

/** Instructions (a byte list each, or a function of the immediate). */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  const: (n: number) => [0x41, ...sleb(n)],
  load: [0x28, 0x02, 0x00], // i32.load align=4 offset=0
  store: [0x36, 0x02, 0x00], // i32.store align=4 offset=0
  f32load: [0x2a, 0x02, 0x00],
  f32store: [0x38, 0x02, 0x00],
  /** f32.load / f32.store at a constant byte offset from the address on the stack. */
  f32loadAt: (offset: number) => [0x2a, ...memarg(2, offset)],
  f32storeAt: (offset: number) => [0x38, ...memarg(2, offset)],
  f32zero: [0x43, 0, 0, 0, 0],
  f64load: [0x2b, 0x03, 0x00],
  f64store: [0x39, 0x03, 0x00],
  f64add: [0xa0],
  f64promote: [0xbb],
  eqz: [0x45],
  geU: [0x4f],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  memoryCopy: [0xfc, 0x0a, 0x00, 0x00],
  vload: [...simd(0x00), 0x00, 0x00], // v128.load align=1 offset=0
  vstore: [...simd(0x0b), 0x00, 0x00],
  /** v128.load / v128.store at a constant byte offset from the address on the stack (unaligned). */
  vloadAt: (offset: number) => [...simd(0x00), ...memarg(0, offset)],
  vstoreAt: (offset: number) => [...simd(0x0b), ...memarg(0, offset)],
  vzero: [...simd(0x0c), ...new Array<number>(16).fill(0)],
  vand: simd(0x4e),
  vor: simd(0x50),
  vandnot: simd(0x4f),
  vnot: simd(0x4d),
  fsplat: simd(0x13),
  feq: simd(0x41),
  fgt: simd(0x44),
  fmax: simd(0xe9),
  fadd: simd(0xe4),
  fsub: simd(0xe5),
  fmul: simd(0xe6),
  /** f32x4 round to nearest, ties to even. */
  fnearest: simd(0x6a),
  /** i32x4.trunc_sat_f32x4_s */
  ftoi: simd(0xf8),
  /** i16x8.narrow_i32x4_s: two i32x4 into one i16x8, saturating. */
  narrow32: simd(0x85),
  /** i8x16.narrow_i16x8_u: two i16x8 into one u8x16, saturating to 0..255. */
  narrow16u: simd(0x66),
};

/** `local[i] += local[j]` */
export const addTo = (i: number, j: number) => [...op.get(i), ...op.get(j), ...op.add, ...op.set(i)];
/** `local[i] += n` */
export const addConst = (i: number, n: number) => [...op.get(i), ...op.const(n), ...op.add, ...op.set(i)];
/** `local[i] -= 1` */
export const dec = (i: number) => [...op.get(i), ...op.const(1), ...op.sub, ...op.set(i)];
/** `while (local[n] != 0) { body; local[n]-- }` */
export const countDown = (n: number, body: number[]) => [
  ...op.block, ...op.loop, ...op.get(n), ...op.eqz, ...op.brIf(1), ...body, ...dec(n), ...op.br(0), ...op.end, ...op.end,
];
/** `for (local[i] = 0; local[i] < local[limit]; local[i] += step) body` (unsigned compare) */
export const forUp = (i: number, limit: number, step: number, body: number[]) => [
  ...op.const(0), ...op.set(i),
  ...op.block, ...op.loop,
  ...op.get(i), ...op.get(limit), ...op.geU, ...op.brIf(1),
  ...body,
  ...addConst(i, step), ...op.br(0),
  ...op.end, ...op.end,
];
/** the address `local[base] + local[off]` */
export const addr = (base: number, off: number) => [...op.get(base), ...op.get(off), ...op.add];
/** v128 at `local[base] + local[off]` (+ a constant byte offset) */
export const vAt = (base: number, off: number, offset = 0) => [...addr(base, off), ...op.vloadAt(offset)];

/** A module of `fns` (exported by name, no results) importing its memory as `env.memory`. */
export function assemble(fns: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((t) => [TYPE_CODE[t]])), ...vec([])]);
  const imports = [[...str('env'), ...str('memory'), 0x02, 0x00, ...uleb(0)]];
  const exports = fns.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]);
  const codes = fns.map((f) => {
    // runs of equal types, in order
    const groups: number[][] = [];
    let last: ValType | null = null;
    for (const t of f.locals ?? []) {
      if (t === last) groups[groups.length - 1][0]++;
      else groups.push([1, TYPE_CODE[t]]);
      last = t;
    }
    const body = [...vec(groups.map(([count, code]) => [...uleb(count), code])), ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(codes)),
  ]);
}
