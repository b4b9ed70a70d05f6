import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerConfig, OptimizerType } from './types';

/**
 * The optimiser (RMSprop by default, paper 4.1.2; or Adam, or SGD with momentum) over every trainable
 * variable of a network, in one fixed order.
 *
 * tfjs optimisers keep their slots by POSITION in the gradient list, not by variable: handing them a
 * different set of variables per step (stage 1 for task A, then task B, ...) would pair one
 * variable's gradient with another's accumulator. So every step passes the full list, in the same
 * order, with no gradient for the variables the step does not update (tfjs skips those), and each
 * variable keeps its own accumulator for the whole run, which is also what makes the state
 * saveable with `getWeights()` and restorable with `setWeights()`.
 *
 * tfjs's Adam corrects its moments' bias by one step count for all variables (PyTorch keeps one per
 * variable): in a multi-source run, a head or batch-norm key that starts training when a later source
 * pre-trains gets a first step of about 3x the rate, falling back towards 1x over a few hundred steps.
 * Single-source runs are unaffected.
 */
const ADAM_POWERS = ['adam/beta1-power', 'adam/beta2-power'];

export class OptimizerState {
  readonly optimizer: tf.Optimizer;
  /** Slots per variable: RMSprop and Adam keep two, SGD with momentum one. */
  private readonly slotsPerVariable: number;
  /** `config.type` with its default. */
  private readonly type: OptimizerType;

  constructor(
    readonly variables: readonly tf.Variable[],
    readonly config: OptimizerConfig,
    lr = 1e-3,
  ) {
    const type = (this.type = config.type ?? 'rmsprop');
    if (type === 'adam') {
      this.optimizer = tf.train.adam(lr, config.beta1 ?? 0.9, config.beta2 ?? 0.999, config.epsilon);
      this.slotsPerVariable = 2;
    } else if (type === 'sgd') {
      this.optimizer = tf.train.momentum(lr, config.momentum, config.nesterov ?? false);
      this.slotsPerVariable = 1;
    } else {
      this.optimizer = tf.train.rmsprop(lr, config.decay, config.momentum, config.epsilon);
      this.slotsPerVariable = 2;
    }
  }

  set learningRate(lr: number) {
    if (this.type === 'sgd') {
      // SGD (and momentum) step by a scalar made from the rate, remade only by setLearningRate
      if (lr !== this.learningRate) (this.optimizer as tf.SGDOptimizer).setLearningRate(lr);
      return;
    }
    // RMSprop and Adam read it at every step; tfjs has no setter for them
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
  }

  get learningRate(): number {
    return (this.optimizer as unknown as { learningRate: number }).learningRate;
  }

  /** Applies `grads` (keyed by tfjs variable name); variables without a gradient are left as they are. */
  apply(grads: tf.NamedTensorMap): void {
    const decay = this.config.weightDecay ?? 0;
    tf.tidy(() => {
      const list = this.variables.map((v) => {
        const g = grads[v.name];
        // L2 on kernels only (rank >= 2: convolutions and dense layers), not on batch norm or biases
        return { name: v.name, tensor: g && decay > 0 && v.rank >= 2 ? tf.add(g, tf.mul(v, decay)) : g };
      });
      this.optimizer.applyGradients(list as Parameters<tf.Optimizer['applyGradients']>[0]);
    });
  }

  /**
   * Adam's running powers of beta1 and beta2. tfjs's `setWeights` recomputes them as powers of the step
   * count, which differs from the running products in the last bits; saving them keeps resume exact.
   */
  private adamPowers(): Array<{ name: string; tensor: tf.Variable }> {
    // (not `instanceof`: tfjs makes every optimiser an instance of every optimiser class)
    if (this.type !== 'adam') return [];
    const o = this.optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
    return [
      { name: ADAM_POWERS[0], tensor: o.accBeta1 },
      { name: ADAM_POWERS[1], tensor: o.accBeta2 },
    ];
  }

  /** Slots and step count, encoded as a tfjs weights manifest + bytes. */
  async save(): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
    const weights = await this.optimizer.getWeights();
    try {
      const { data, specs } = await tf.io.encodeWeights([...weights, ...this.adamPowers()]);
      return { specs, data: data as ArrayBuffer };
    } finally {
      // the first entry (`iter`) is a fresh tensor; the rest are the live slots
      weights[0].tensor.dispose();
    }
  }

  /** Restores what {@link save} wrote for the same variable list. */
  async load(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): Promise<void> {
    const powers = this.adamPowers();
    const slots = specs.filter((s) => !ADAM_POWERS.includes(s.name));
    const expected = 1 + this.slotsPerVariable * this.variables.length;
    if ((slots.length !== 1 && slots.length !== expected) || specs.length - slots.length !== powers.length) {
      throw new Error(`optimizer state has ${specs.length} entries, this network's ${this.type} needs ${expected + powers.length}: the checkpoint belongs to another network or optimiser`);
    }
    const decoded = tf.io.decodeWeights(data, specs);
    try {
      const list = slots.map((s) => ({ name: s.name, tensor: decoded[s.name] }));
      list.slice(1).forEach((w, i) => {
        const v = this.variables[i % this.variables.length];
        if (w.tensor.shape.join('x') !== v.shape.join('x')) {
          throw new Error(`optimizer slot ${w.name} is [${w.tensor.shape}] but variable ${v.name} is [${v.shape}]: the checkpoint belongs to another network`);
        }
      });
      await this.optimizer.setWeights(list);
      for (const p of powers) p.tensor.assign(decoded[p.name]);
    } finally {
      tf.dispose(Object.values(decoded));
    }
  }

  dispose(): void {
    this.optimizer.dispose();
    // tfjs's momentum optimiser frees its momentum, not the rate scalar of the SGD it extends
    if (this.type === 'sgd') (this.optimizer as unknown as { c: tf.Scalar }).c.dispose();
  }
}
