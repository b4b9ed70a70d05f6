import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerTrainingKernels, trainingKernels, unregisterTrainingKernels } from '../src/kernels/index';
import { missingWasmInternals, WASM_BACKEND_VERSION } from '../src/kernels/wasm_internals';
import { batchNormTraining } from '../src/kernels/batch_norm';
import { barWasmLoops, wasmLoops } from '../src/kernels/wasm_loops';
import { relErr } from './numeric';

/**
 * The start-up check of what the wasm training kernels use of tfjs-backend-wasm's private fields. A
 * backend lacking a field is simulated by an object that shows the real backend through its prototype
 * with one field hidden, put in the engine's registry in place of the real one only while
 * `registerTrainingKernels` looks (the engine keeps running on the real backend meanwhile); this file
 * runs in a process of its own, and every test leaves the registry and the kernels as it found them.
 */

type Backend = tf.KernelBackend & { wasm: Record<string, unknown>; dataIdMap: unknown; makeOutput: (...a: unknown[]) => tf.TensorInfo };

const real = () => tf.engine().findBackend('wasm') as Backend;

/** The real backend seen through a prototype, with `fields` replaced (`wasm` fields under `wasm`). */
function lacking(fields: Record<string, unknown>, wasmFields: Record<string, unknown> = {}): Backend {
  const be = real();
  const wasm = Object.assign(Object.create(be.wasm) as Record<string, unknown>, wasmFields);
  return Object.assign(Object.create(be) as Backend, { wasm }, fields);
}

/** Runs `f` with `fake` as the engine's registered wasm backend. */
function registeredAs<T>(fake: Backend, f: () => T): T {
  const registry = tf.engine().registry as Record<string, tf.KernelBackend>;
  const saved = registry.wasm;
  registry.wasm = fake;
  try {
    return f();
  } finally {
    registry.wasm = saved;
  }
}

/**
 * The gradients of a small training step on `backend`: a convolution, batch norm in training mode
 * (the fused kernel where registered), a ReLU.
 */
function gradients(backend: 'cpu' | 'wasm'): number[][] {
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const x = tf.randomUniform([2, 6, 6, 4], -1, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomUniform([3, 3, 4, 8], -1, 1, 'float32', 2) as tf.Tensor4D;
      const gamma = tf.randomUniform([8], 0.5, 1.5, 'float32', 3) as tf.Tensor1D;
      const beta = tf.zeros([8]) as tf.Tensor1D;
      const loss = (wt: tf.Tensor, g: tf.Tensor) => {
        const y = tf.conv2d(x, wt as tf.Tensor4D, 1, 'same');
        const fused = batchNormTraining(y, g as tf.Tensor1D, beta, 1e-3);
        const { mean, variance } = fused ?? tf.moments(y, [0, 1, 2]);
        const z = fused ? fused.y : tf.batchNorm(y, mean, variance, beta, g as tf.Tensor1D, 1e-3);
        return tf.sum(tf.mul(tf.relu(z), tf.linspace(-1, 1, z.size).reshape(z.shape)));
      };
      return tf.grads(loss)([w, gamma]).map((t) => Array.from(t.dataSync()));
    });
  } finally {
    tf.setBackend('wasm');
  }
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

afterEach(() => {
  vi.restoreAllMocks();
  unregisterTrainingKernels('wasm');
});

describe('the pinned tfjs-backend-wasm', () => {
  it('is the version the kernels were written for, and has everything they use', () => {
    expect(version_wasm).toBe(WASM_BACKEND_VERSION);
    const before = real().numDataIds();
    expect(missingWasmInternals(real())).toEqual([]);
    expect(real().numDataIds()).toBe(before); // the probe frees what it made
  });

  it('gets the project kernels registered, without a warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const names = registerTrainingKernels('wasm');
    expect(names).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'IfanBatchNormTraining', 'IfanReluGrad', 'Concat', 'Slice', 'Sum']));
    expect(trainingKernels('wasm')).toEqual(names);
    expect(wasmLoops(real())).not.toBeNull();
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('a backend without a piece the kernels use', () => {
  it('is told apart from the real one, piece by piece', () => {
    expect(missingWasmInternals(lacking({}, { asm: undefined }))).toEqual(['backend.wasm.asm.memory']);
    expect(missingWasmInternals(lacking({ dataIdMap: undefined }))).toEqual(['backend.dataIdMap']);
    expect(missingWasmInternals(lacking({}, { HEAPF32: undefined }))).toEqual(['backend.wasm.HEAPF32']);
    expect(missingWasmInternals(lacking({}, { tfjs: {} }))).toEqual(['backend.wasm.tfjs.disposeData']);
    expect(missingWasmInternals(lacking({ makeOutput: undefined }))).toEqual(['backend.makeOutput']);
    expect(missingWasmInternals(null)).toEqual(['the backend instance']);
  });

  it('is caught when a field is there but means something else, and the probe leaks nothing', () => {
    const be = real();
    const before = be.numDataIds();
    // a makeOutput that ignores the memory offset (allocates instead of sharing)
    const ignoresOffset = lacking({ makeOutput: (shape: number[], dtype: tf.DataType) => be.makeOutput(shape, dtype) });
    expect(missingWasmInternals(ignoresOffset)).toEqual(['backend.makeOutput at a given memoryOffset']);
    // entries without a memory offset
    const map = be.dataIdMap as { get(id: tf.DataId): object; delete(id: tf.DataId): boolean };
    const noOffsets = lacking({
      dataIdMap: new Proxy(map, {
        get: (target, key) => {
          if (key === 'get') return (id: tf.DataId) => ({ ...target.get(id), memoryOffset: undefined });
          const v = Reflect.get(target, key);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }),
    });
    expect(missingWasmInternals(noOffsets)).toEqual(['backend.dataIdMap entries with id and memoryOffset']);
    expect(be.numDataIds()).toBe(before);
  });

  it('is caught when a stock kernel the kernels call is not registered', () => {
    const reverse = tf.getKernel('Reverse', 'wasm')!;
    tf.unregisterKernel('Reverse', 'wasm');
    try {
      expect(missingWasmInternals(real())).toEqual(['the stock kernel Reverse']);
    } finally {
      tf.registerKernel(reverse);
    }
  });

  it('trains on the stock kernels (and the ones composed of them), after one line of warning', () => {
    const stock = ['Conv2DBackpropInput', 'Concat', 'Slice', 'Sum', 'FusedBatchNorm'].map((k) => tf.getKernel(k, 'wasm'));
    // the stock wasm backend cannot train a convolution: it has no Conv2DBackpropFilter
    expect(() => gradients('wasm')).toThrow(/Conv2DBackpropFilter/);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const names = registeredAs(lacking({}, { asm: undefined }), () => {
      const first = registerTrainingKernels('wasm');
      expect(registerTrainingKernels('wasm')).toEqual(first); // idempotent: checked and reported once
      return first;
    });
    expect(names).toEqual(['Conv2DBackpropFilter', 'IfanBatchNormTraining', 'IfanBatchNormTrainingGrad']);
    expect(warn).toHaveBeenCalledTimes(1);
    const line = String(warn.mock.calls[0][0]);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/tfjs-backend-wasm lacks what the training kernels use \(backend\.wasm\.asm\.memory\)/);
    expect(line).toMatch(/stock kernels/);
    expect(line).toContain(WASM_BACKEND_VERSION);
    // the wasm-specific kernels stay the backend's own
    expect(['Conv2DBackpropInput', 'Concat', 'Slice', 'Sum', 'FusedBatchNorm'].map((k) => tf.getKernel(k, 'wasm'))).toEqual(stock);
    expect(tf.getKernel('IfanReluGrad', 'wasm')).toBeUndefined();
    // and a training step runs, off the heap (as on a backend that failed the check), to the cpu's figures
    const want = gradients('cpu');
    barWasmLoops(real());
    try {
      const got = gradients('wasm');
      want.forEach((w, i) => expect(relErr(w, got[i])).toBeLessThan(1e-4));
    } finally {
      barWasmLoops(real(), false);
    }
  });

  it('keeps the kernels off the heap of the backend that failed the check', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const fake = lacking({ dataIdMap: undefined });
    registeredAs(fake, () => registerTrainingKernels('wasm'));
    expect(wasmLoops(fake)).toBeNull();
    unregisterTrainingKernels('wasm');
    // the real backend passes again and gets everything
    expect(registerTrainingKernels('wasm')).toContain('IfanReluGrad');
    expect(wasmLoops(real())).not.toBeNull();
  });

  it('asks for the backend to be initialised first', () => {
    const registry = tf.engine().registry as Record<string, tf.KernelBackend | undefined>;
    const saved = registry.wasm;
    delete registry.wasm;
    try {
      expect(() => registerTrainingKernels('wasm')).toThrow(/wasm backend is not initialised; await tf.setBackend\('wasm'\)/);
    } finally {
      registry.wasm = saved;
    }
  });
});
