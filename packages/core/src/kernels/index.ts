import * as tf from '@tensorflow/tfjs-core';
import { batchNormTrainingGradKernel, batchNormTrainingKernel, fusedBatchNormKernel } from './batch_norm';
import { saveStock, takeStock } from './composite';
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel } from './conv2d_backprop';
import { reluGradKernel } from './relu_grad';
import { spatialMeanKernel, spatialSumKernel } from './reduce';
import { missingWasmInternals, WASM_BACKEND_VERSION } from './wasm_internals';
import { barWasmLoops } from './wasm_loops';
import { WASM_MEMORY_KERNELS } from './wasm_memory';

export type TrainingKernelBackend = 'wasm' | 'cpu';

/**
 * The kernels this library supplies per backend, each chosen because it measured faster than the
 * backend's own (or the backend has none); `bench/kernels.ts` prints the numbers.
 *
 * wasm: Conv2DBackpropFilter is missing from tfjs-backend-wasm 4.22 and its Conv2DBackpropInput is a
 * naive loop; both become XNNPACK convolutions or matrix products. Sum and Mean over [0, 1, 2] become
 * average pools; Identity, Cast, Slice, SplitV, Concat, Tile, DepthToSpace, AvgPoolGrad and 2x2
 * MaxPoolGrad become copies or loops on the wasm heap (wasm_memory.ts, wasm_loops.ts). Training-mode
 * batch norm is one kernel each way (IfanBatchNormTraining[Grad], batch_norm.ts), inference batch norm
 * (FusedBatchNorm) one depthwise pass, and the ReLU gradient one pass (IfanReluGrad, relu_grad.ts).
 *
 * cpu: the stock Conv2DBackpropFilter runs at under 0.01 GFLOP/s; as one forward convolution it runs
 * at 0.1-0.5. Conv2DBackpropInput as a convolution measured no faster than the stock one, so it stays.
 * Training-mode batch norm is the same fused kernel, composed of the backend's own kernels.
 */
const KERNELS: Record<TrainingKernelBackend, Array<(backendName: string) => tf.KernelConfig>> = {
  wasm: [
    batchNormTrainingKernel,
    batchNormTrainingGradKernel,
    fusedBatchNormKernel,
    () => reluGradKernel,
    conv2dBackpropFilterKernel,
    conv2dBackpropInputKernel,
    spatialSumKernel,
    spatialMeanKernel,
    ...WASM_MEMORY_KERNELS.map((k) => () => k),
  ],
  cpu: [(backendName) => conv2dBackpropFilterKernel(backendName, 'conv'), batchNormTrainingKernel, batchNormTrainingGradKernel],
};

/**
 * wasm when the backend lacks what the kernels above use: the cpu set, composed of the backend's own
 * kernels only (its heap barred to them), because tfjs-backend-wasm has no Conv2DBackpropFilter of its
 * own, so a convolution could not be trained at all, and the batch-norm kernel is what keeps the
 * statistics of a batch split over two gradient threads those of the whole batch.
 */
const WASM_WITHOUT_INTERNALS = KERNELS.cpu;

const registered = new Map<string, string[]>();

/**
 * Registers this library's training kernels for a backend (the backend's package must already be
 * imported, so its own kernels are in the registry). Idempotent. Returns the names of the kernels
 * registered for the backend.
 *
 * wasm: the backend must be initialised (`await tf.setBackend('wasm')`, or `selectBackend`), as the
 * kernels use its private fields and these are checked first (`missingWasmInternals`). Where one is
 * missing, one line (`console.warn`) says what, and the backend trains on its own kernels, with only
 * the kernels composed of them that cpu gets too (Conv2DBackpropFilter, which it lacks, and batch norm).
 */
export function registerTrainingKernels(backendName: TrainingKernelBackend): string[] {
  const done = registered.get(backendName);
  if (done) return [...done];
  const factories = KERNELS[backendName];
  if (!factories) throw new Error(`no training kernels for backend "${String(backendName)}": use one of ${Object.keys(KERNELS).join(', ')}`);
  if (!tf.getKernel('Conv2D', backendName)) {
    throw new Error(
      `backend "${backendName}" has no kernels registered: import '@tensorflow/tfjs-backend-${backendName}' before registerTrainingKernels`,
    );
  }
  let chosen = factories;
  if (backendName === 'wasm') {
    const instance = (tf.engine().registry as Record<string, tf.KernelBackend | undefined>)[backendName];
    if (!instance) {
      throw new Error("registerTrainingKernels('wasm'): the wasm backend is not initialised; await tf.setBackend('wasm') (or selectBackend) first");
    }
    barWasmLoops(instance, false); // a check that failed before is made again
    const missing = missingWasmInternals(instance);
    barWasmLoops(instance, missing.length > 0);
    if (missing.length > 0) {
      chosen = WASM_WITHOUT_INTERNALS;
      console.warn(
        `ifan: @tensorflow/tfjs-backend-wasm lacks what the training kernels use (${missing.join('; ')}): ` +
          `training on its stock kernels, slower, plus Conv2DBackpropFilter and batch norm composed of them; ` +
          `the kernels need version ${WASM_BACKEND_VERSION}`,
      );
    }
  }
  const names: string[] = [];
  for (const make of chosen) {
    const config = make(backendName);
    const stock = tf.getKernel(config.kernelName, backendName);
    if (stock) {
      saveStock(stock);
      tf.unregisterKernel(config.kernelName, backendName);
    }
    tf.registerKernel(config);
    names.push(config.kernelName);
  }
  registered.set(backendName, names);
  return [...names];
}

/** Puts the backend's own kernels back (for benchmarks and tests). Returns the names restored. */
export function unregisterTrainingKernels(backendName: TrainingKernelBackend): string[] {
  const names = registered.get(backendName) ?? [];
  const instance = (tf.engine().registry as Record<string, tf.KernelBackend | undefined>)[backendName];
  for (const name of names) {
    tf.unregisterKernel(name, backendName);
    const stock = takeStock(name, backendName);
    if (stock) {
      tf.registerKernel(stock);
      // A backend initialised while the stock kernel was unregistered never ran its setup.
      if (instance && stock.setupFunc) stock.setupFunc(instance);
    }
  }
  registered.delete(backendName);
  return names;
}

/** Names of the kernels currently registered by {@link registerTrainingKernels} for a backend. */
export function trainingKernels(backendName: TrainingKernelBackend): string[] {
  return [...(registered.get(backendName) ?? [])];
}

export type { Conv2DBackpropFilterAttrs, Conv2DBackpropInputAttrs } from './conv2d_backprop';
