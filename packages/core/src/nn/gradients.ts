import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers no gradients by itself; the union package registers them all (into the global
// registry that every tfjs-core copy shares). Its ESM-only `dist/register_all_gradients` entry cannot
// be imported from Node, so the union package it is.
import '@tensorflow/tfjs';

/**
 * Gradients tfjs does not ship that the network needs. Imported for its side effect by the network.
 *
 * DepthToSpace (the sub-pixel upsampling) is a pure permutation of values; its gradient is the inverse
 * permutation, space-to-depth, written as reshape + transpose:
 * `dy[b, h*s + i, w*s + j, c]` -> `dx[b, h, w, (i*s + j)*C + c]`.
 */
export function spaceToDepth(x: tf.Tensor4D, blockSize: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const s = blockSize;
  return tf.tidy(() => {
    const r = tf.reshape(x, [b * (h / s), s, w / s, s * c]);
    // [b*H, i, W, (j, c)] -> [b*H, W, i, (j, c)]
    const t = tf.transpose(r, [0, 2, 1, 3]);
    return tf.reshape(t, [b, h / s, w / s, s * s * c]);
  });
}

if (!tf.getGradient('DepthToSpace')) {
  tf.registerGradient({
    kernelName: 'DepthToSpace',
    gradFunc: (dy, _saved, attrs) => {
      const { blockSize, dataFormat } = attrs as unknown as { blockSize: number; dataFormat: string };
      if (dataFormat !== 'NHWC') throw new Error(`DepthToSpace gradient supports NHWC only, got ${dataFormat}`);
      return { x: () => spaceToDepth(dy as tf.Tensor4D, blockSize) };
    },
  });
}
