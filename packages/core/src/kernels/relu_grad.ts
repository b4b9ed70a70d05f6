import * as tf from '@tensorflow/tfjs-core';
import { stockKernel } from './composite';
import { wasmLoops } from './wasm_loops';

/**
 * Gradient of Relu from its output, `y > 0 ? dy : 0`, as one kernel: tfjs runs Step and Multiply
 * (two passes and a temporary). Used by the Relu gradient in nn/gradients.ts where registered.
 */
export const RELU_GRAD = 'IfanReluGrad';

interface HeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  wasm: { HEAPF32: Float32Array };
}

/** wasm: four floats at a time in the WebAssembly loops, the last `size % 4` in JavaScript. */
export const reluGradKernel: tf.KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend }) => {
    const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
    const be = backend as HeapBackend;
    const loops = wasmLoops(be);
    if (!loops || dy.dtype !== 'float32' || y.dtype !== 'float32' || !tf.util.arraysEqual(dy.shape, y.shape)) {
      // the tfjs formula, on the backend's own kernels
      const step = stockKernel('Step', 'wasm') ?? tf.getKernel('Step', 'wasm')!;
      const mul = stockKernel('Multiply', 'wasm') ?? tf.getKernel('Multiply', 'wasm')!;
      const s = step.kernelFunc({ inputs: { x: y }, backend, attrs: { alpha: 0 } }) as tf.TensorInfo;
      const out = mul.kernelFunc({ inputs: { a: dy, b: s }, backend, attrs: {} }) as tf.TensorInfo;
      be.disposeData(s.dataId);
      return out;
    }
    const out = be.makeOutput([...dy.shape], 'float32');
    const size = tf.util.sizeFromShape(dy.shape);
    const at = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
    const [o, d, v] = [at(out), at(dy), at(y)];
    const whole = size - (size % 4);
    loops.reluGrad(o, d, v, whole * 4);
    const f32 = be.wasm.HEAPF32;
    for (let i = whole; i < size; i++) f32[(o >>> 2) + i] = f32[(v >>> 2) + i] > 0 ? f32[(d >>> 2) + i] : 0;
    return out;
  },
};

/** Its own gradient (for higher-order gradients): the same mask on the incoming gradient; none for y. */
tf.registerGradient({
  kernelName: RELU_GRAD,
  inputsToSave: ['y'],
  gradFunc: (ddx, saved) => {
    const [y] = saved;
    const g = ddx as tf.Tensor;
    return {
      dy: () => (tf.getKernel(RELU_GRAD, tf.getBackend()) ? (tf.engine().runKernel(RELU_GRAD, { dy: g, y }) as tf.Tensor) : tf.mul(g, tf.step(y))),
      y: () => tf.zerosLike(y),
    };
  },
});
