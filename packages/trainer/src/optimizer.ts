import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerConfig } from './types';

/**
 * RMSprop (paper 4.1.2) over every trainable variable of a network, in one fixed order.
 *
 * tfjs optimisers keep their slots by POSITION in the gradient list, not by variable: handing them a
 * different set of variables per step (stage 1 for task A, then task B, ...) would pair one
 * variable's gradient with another's accumulator. So every step passes the full list, in the same
 * order, with no gradient for the variables the step does not update (tfjs skips those), and each
 * variable keeps its own accumulator for the whole run, which is also what makes the state
 * saveable with `getWeights()` and restorable with `setWeights()`.
 */
export class RmspropState {
  readonly optimizer: tf.RMSPropOptimizer;

  constructor(
    readonly variables: readonly tf.Variable[],
    readonly config: OptimizerConfig,
    lr = 1e-3,
  ) {
    this.optimizer = tf.train.rmsprop(lr, config.decay, config.momentum, config.epsilon);
  }

  set learningRate(lr: number) {
    // read by applyGradients at every step; tfjs has no setter for it
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
  }

  get learningRate(): number {
    return (this.optimizer as unknown as { learningRate: number }).learningRate;
  }

  /** Applies `grads` (keyed by tfjs variable name); variables without a gradient are left as they are. */
  apply(grads: tf.NamedTensorMap): void {
    const list = this.variables.map((v) => ({ name: v.name, tensor: grads[v.name] }));
    this.optimizer.applyGradients(list as Parameters<tf.Optimizer["applyGradients"]>[0]);
  }

  /** Slots and step count, encoded as a tfjs weights manifest + bytes. */
  async save(): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
    const weights = await this.optimizer.getWeights();
    try {
      const { data, specs } = await tf.io.encodeWeights(weights);
      return { specs, data: data as ArrayBuffer };
    } finally {
      // the first entry (`iter`) is a fresh tensor; the rest are the live slots
      weights[0].tensor.dispose();
    }
  }

  /** Restores what {@link save} wrote for the same variable list. */
  async load(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): Promise<void> {
    const expected = 1 + 2 * this.variables.length;
    if (specs.length !== 1 && specs.length !== expected) {
      throw new Error(`optimizer state has ${specs.length} entries, this network needs ${expected}: the checkpoint belongs to another network`);
    }
    const decoded = tf.io.decodeWeights(data, specs);
    try {
      const list = specs.map((s) => ({ name: s.name, tensor: decoded[s.name] }));
      list.slice(1).forEach((w, i) => {
        const v = this.variables[i % this.variables.length];
        if (w.tensor.shape.join('x') !== v.shape.join('x')) {
          throw new Error(`optimizer slot ${w.name} is [${w.tensor.shape}] but variable ${v.name} is [${v.shape}]: the checkpoint belongs to another network`);
        }
      });
      await this.optimizer.setWeights(list);
    } finally {
      tf.dispose(Object.values(decoded));
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
