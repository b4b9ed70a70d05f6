import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generatedModule, generatedPath, WAT_SOURCES } from '../scripts/compile-wat';
import { wasmLoops, type WasmLoops } from '../src/kernels/wasm_loops';

/**
 * The WebAssembly loops of the wasm kernels: the committed binary is what wabt makes of the .wat
 * source, and the loops do what wasm_loops.ts says on a memory of their own (the kernels' tests run
 * them on the backend's heap).
 */

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('the generated WebAssembly modules', () => {
  for (const rel of WAT_SOURCES) {
    it(`${generatedPath(rel)} is ${rel} compiled (else run: pnpm --filter @ifan/core wat)`, async () => {
      const wat = join(PACKAGE_DIR, rel);
      expect(readFileSync(generatedPath(wat), 'utf8')).toBe(await generatedModule(wat));
    });
  }
});

describe('the wasm kernels loops', () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const loops = wasmLoops({ wasm: { asm: { memory } } }) as WasmLoops;
  const words = new Int32Array(memory.buffer);
  const floats = new Float32Array(memory.buffer);

  it('are there, one instance per memory', () => {
    expect(Object.keys(loops).sort()).toEqual(
      ['channelAffine', 'channelAffine2', 'channelDotSums', 'channelSums', 'copyRuns', 'flush', 'maxPoolGradRow', 'reluGrad', 'transpose32'],
    );
    expect(wasmLoops({ wasm: { asm: { memory } } })).toBe(loops);
  });

  it('copyRuns copies strided runs and transpose32 transposes into a wider matrix', () => {
    words.fill(0, 0, 64);
    words.set([1, 2, 3, 4, 5, 6], 0); // [2, 3]
    // runs of 2 words, source stride 3 words, destination stride 4 words
    loops.copyRuns(4 * 16, 0, 8, 2, 16, 12);
    expect([...words.subarray(16, 24)]).toEqual([1, 2, 0, 0, 4, 5, 0, 0]);
    // [2, 3] -> [3, 2] with destination rows 4 words apart
    loops.transpose32(4 * 32, 0, 2, 3, 16);
    expect([...words.subarray(32, 44)]).toEqual([1, 4, 0, 0, 2, 5, 0, 0, 3, 6, 0, 0]);
  });

  it('flush adds float32 accumulators into float64 ones and clears them', () => {
    floats.set([0.1, -2.5], 0);
    const acc64 = new Float64Array(memory.buffer, 64, 2);
    acc64.set([1, 1e10]);
    loops.flush(0, 64, 2);
    expect([...acc64]).toEqual([1 + Math.fround(0.1), 1e10 - 2.5]);
    expect([...floats.subarray(0, 2)]).toEqual([0, 0]);
  });
});
