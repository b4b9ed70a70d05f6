import { describe, expect, it } from 'vitest';
import { type WasmFunction, assemble, op, sleb, uleb } from '../src/wasm';

describe('the WebAssembly assembler', () => {
  it('encodes LEB128 integers', () => {
    expect(uleb(0)).toEqual([0x00]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });

  it('assembles f32 parameters, mixed locals and the rounding and narrowing SIMD ops', () => {
    // bytes(dst, src, k): 16 floats at src times k, rounded half to even, saturated to 0..255
    // locals (after the 3 params): i32 3, v128 4, i32 5 -- three groups, out of order on purpose
    const quad = (q: number) => [...op.get(1), ...op.vloadAt(16 * q), ...op.get(4), ...op.fmul, ...op.fnearest, ...op.ftoi];
    const bytes: WasmFunction = {
      name: 'bytes',
      params: ['i32', 'i32', 'f32'],
      locals: ['i32', 'v128', 'i32'],
      body: [
        ...op.get(2), ...op.fsplat, ...op.set(4),
        ...op.const(7), ...op.set(3), ...op.get(3), ...op.set(5),
        ...op.get(0),
        ...quad(0), ...quad(1), ...op.narrow32, ...quad(2), ...quad(3), ...op.narrow32, ...op.narrow16u,
        ...op.vstore,
      ],
    };
    const module = assemble([bytes]);
    expect(WebAssembly.validate(module)).toBe(true);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(module), { env: { memory } });
    const src = new Float32Array(memory.buffer, 64, 16);
    src.set([-3, 0.5, 1.5, 2.5, 254.5, 255.4, 256, 1e9, -0.4, 0.49, 100.5, 101.5, 7, 8, 9, Number.NaN]);
    (exports.bytes as (dst: number, src: number, k: number) => void)(0, 64, 1);
    const expected = [0, 0, 2, 2, 254, 255, 255, 255, 0, 0, 100, 102, 7, 8, 9, 0];
    expect([...new Uint8Array(memory.buffer, 0, 16)]).toEqual(expected);
    // the same as a Uint8ClampedArray store, which the JavaScript passes rely on
    expect([...Uint8ClampedArray.from(src)]).toEqual(expected);
  });
});
