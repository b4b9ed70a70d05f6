import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { missingNativeLibrary, resetBackendSelection, selectBackend } from '../src/backend';

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

  // issue 17, defect 7: the wasm module's process listeners rethrew every uncaught error from inside
  // themselves, so Node printed the module's 40 KB minified line above the error (exit code 7)
  it.each([
    ['an uncaught error', "throw new Error('the useful message');"],
    ['an unhandled rejection', "Promise.reject(new Error('the useful message'));"],
  ])('after the wasm backend starts, %s is reported by Node as usual, without the module source', (_what, code) => {
    const r = spawnSync(
      process.execPath,
      ['--conditions=@ifan/source', '--import', 'tsx', '--input-type=module', '-e', `import { selectBackend } from '@ifan/core'; await selectBackend({ backend: 'wasm', log: false }); ${code}`],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toContain('Error: the useful message');
    expect(r.stderr).not.toContain('WasmBackendModule');
    expect(r.stderr.length).toBeLessThan(4000);
    expect(r.status).toBe(1);
  });

  // issue 17, defect 8: pnpm-workspace.yaml keeps tfjs-node's download script from running, so the
  // package can be installed without its library; importing it then printed ~150 kernel warnings
  it('finds a native package installed without its library before importing it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ifan-backend-'));
    try {
      const pkg = join(root, 'node_modules', '@tensorflow', 'tfjs-node');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node', main: 'index.js' }));
      const from = pathToFileURL(join(root, 'app.js')).href;
      expect(await missingNativeLibrary('@tensorflow/tfjs-node', from)).toMatch(/installed without its native library \(its install script, which downloads libtensorflow, did not run\)/);
      mkdirSync(join(pkg, 'lib', 'napi-v8'), { recursive: true });
      writeFileSync(join(pkg, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
      expect(await missingNativeLibrary('@tensorflow/tfjs-node', from)).toBeNull();
      // not installed at all: left to the import, which says so (a name no NODE_PATH can hold: pnpm's
      // scripts put the workspace's hoisted packages, tfjs-node-gpu among them, on NODE_PATH)
      expect(await missingNativeLibrary('@ifan-test/not-installed-anywhere', from)).toBeNull();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
