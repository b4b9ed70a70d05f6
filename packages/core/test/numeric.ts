/** Numeric checks shared by the kernel, gradient and network tests. */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** Max |a-b| / (1 + max |a|). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return err / (1 + scale);
}

/**
 * Checks the analytic gradient of `lossFn` with respect to each of `vars` against central finite
 * differences at `perVariable` indices, visited `stride` apart (a stride of `length / strideDivisor`).
 * ReLU makes the loss piecewise smooth: an index whose one-sided differences disagree sits on a kink,
 * where no finite difference is meaningful, and is passed over for the next one (fewer than 10 kinks
 * in all). `nameOf` names a variable in failure messages.
 */
export function expectFiniteDifferences(
  lossFn: () => tf.Scalar,
  vars: tf.Variable[],
  options: { perVariable: number; strideDivisor: number; nameOf: (v: tf.Variable) => string },
): void {
  const { grads } = tf.variableGrads(lossFn, vars);
  const eps = 1e-3;
  let kinks = 0;
  for (const v of vars) {
    const g = grads[v.name].dataSync();
    const values = v.dataSync().slice() as Float32Array;
    const set = (w: Float32Array) => {
      const t = tf.tensor(w, v.shape);
      v.assign(t);
      t.dispose();
    };
    const at = (i: number, delta: number) => {
      const w = values.slice();
      w[i] += delta;
      set(w);
      return tf.tidy(() => lossFn().dataSync()[0]);
    };
    let checked = 0;
    for (let i = 0; i < values.length && checked < options.perVariable; i += Math.max(1, Math.floor(values.length / options.strideDivisor))) {
      const f0 = at(i, 0);
      const right = (at(i, eps) - f0) / eps;
      const left = (f0 - at(i, -eps)) / eps;
      set(values);
      if (Math.abs(right - left) > (0.02 * Math.abs(right + left)) / 2 + 1e-3) {
        kinks++;
        continue;
      }
      const numeric = (right + left) / 2;
      expect(Math.abs(numeric - g[i]), `${options.nameOf(v)}[${i}]: numeric ${numeric} analytic ${g[i]}`).toBeLessThan(1e-3 + 0.02 * Math.abs(g[i]));
      checked++;
    }
    expect(checked, `${options.nameOf(v)}: too many kinks`).toBe(options.perVariable);
  }
  expect(kinks).toBeLessThan(10);
  tf.dispose(Object.values(grads));
}
