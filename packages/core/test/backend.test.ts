import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { resetBackendSelection, selectBackend } from '../src/backend';

/** Simulates a machine where only some backend packages can be imported. */
function importer(available: string[]) {
  return async (name: string) => {
    if (name === '@tensorflow/tfjs-node' && available.includes('broken-node')) {
      throw new Error("The specified module could not be found. \\?\\tfjs_binding.node");
    }
    if (!available.includes(name)) {
      const e = new Error(`Cannot find package '${name}' imported from x`) as Error & { code: string };
      e.code = 'ERR_MODULE_NOT_FOUND';
      throw e;
    }
    return import(name);
  };
}

describe('selectBackend', () => {
  it('falls back past missing native packages to wasm and says why, in one line', async () => {
    resetBackendSelection();
    const lines: string[] = [];
    const choice = await selectBackend({ importModule: importer(['@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-cpu']), log: (l) => lines.push(l) });
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.skipped).toEqual({ 'tfjs-node-gpu': 'not installed', 'tfjs-node': 'not installed' });
    expect(lines).toEqual(['ifan: backend wasm (tfjs-node-gpu: not installed; tfjs-node: not installed)']);
    // reported once: a second call returns the same choice silently
    await selectBackend({ log: (l) => lines.push(l) });
    expect(lines.length).toBe(1);
  });

  it('falls back to cpu when wasm is missing too, and reports a broken native install', async () => {
    resetBackendSelection();
    const lines: string[] = [];
    const choice = await selectBackend({ importModule: importer(['broken-node', '@tensorflow/tfjs-backend-cpu']), log: (l) => lines.push(l) });
    expect(choice.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(choice.skipped['tfjs-node']).toMatch(/^installed without its native library/);
    expect(choice.skipped.wasm).toBe('not installed');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/^ifan: backend cpu \(tfjs-node-gpu: not installed; tfjs-node: installed without its native library .*; wasm: not installed\)$/);
  });

  it('a forced backend that is missing is an error naming it and the reason', async () => {
    await expect(selectBackend({ backend: 'tfjs-node', importModule: importer([]), log: false })).rejects.toThrow(
      /backend tfjs-node is not available \(tfjs-node: not installed\)/,
    );
    await expect(selectBackend({ backend: 'tfjs-node', importModule: importer(['broken-node']), log: false })).rejects.toThrow(
      /installed without its native library/,
    );
  });

  it('IFAN_BACKEND forces a backend and a bad value is refused', async () => {
    process.env.IFAN_BACKEND = 'cpu';
    try {
      expect((await selectBackend({ log: false })).name).toBe('cpu');
      process.env.IFAN_BACKEND = 'gpu';
      await expect(selectBackend({ log: false })).rejects.toThrow(/IFAN_BACKEND="gpu" is not a backend/);
    } finally {
      delete process.env.IFAN_BACKEND;
    }
  });
});
