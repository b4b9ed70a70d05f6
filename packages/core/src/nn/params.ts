import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';

// The generator lives in ../rng; re-exported for the modules that build a ParamStore with one.
export { Rng };

export type Initializer = 'he' | 'glorot' | 'zeros' | 'ones' | ((shape: number[]) => tf.Tensor);

/**
 * Owns the variables of one network under hierarchical names (`backbone/down0/layer1/conv/kernel`).
 * Names are the keys of the saved weights, so they must be stable.
 */
let storeCount = 0;

export class ParamStore {
  /** Logical name -> variable. */
  readonly variables = new Map<string, tf.Variable>();
  /**
   * Prefix of the tfjs variable names (`net3/backbone/...`): tfjs names are global, so two networks
   * in one process need distinct ones. Saved weights use the logical names, without it.
   */
  readonly tfPrefix: string;
  constructor(readonly rng: Rng) {
    this.tfPrefix = `ifan${++storeCount}/`;
  }

  /** The logical name of a variable of this store (its tfjs name without {@link tfPrefix}). */
  nameOf(v: tf.Variable | string): string {
    const n = typeof v === 'string' ? v : v.name;
    return n.startsWith(this.tfPrefix) ? n.slice(this.tfPrefix.length) : n;
  }

  scope(prefix: string): ParamScope {
    return new ParamScope(this, prefix);
  }

  /** Variables whose name starts with `prefix`. */
  under(prefix: string): tf.Variable[] {
    return [...this.variables.entries()].filter(([n]) => n.startsWith(prefix)).map(([, v]) => v);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}

export class ParamScope {
  constructor(
    readonly store: ParamStore,
    readonly prefix: string,
  ) {}

  child(name: string): ParamScope {
    return new ParamScope(this.store, `${this.prefix}/${name}`);
  }

  /**
   * Creates a variable `prefix/name`. `he` and `glorot` are normal initialisers scaled by fan-in
   * (He) or fan-in + fan-out (Glorot), fan-in being the product of all but the last dimension.
   */
  weight(name: string, shape: number[], init: Initializer, trainable = true): tf.Variable {
    const full = `${this.prefix}/${name}`;
    if (this.store.variables.has(full)) throw new Error(`parameter ${full} is created twice`);
    const value = tf.tidy(() => initialValue(shape, init, this.store.rng));
    const v = tf.variable(value, trainable, this.store.tfPrefix + full);
    value.dispose();
    this.store.variables.set(full, v);
    return v;
  }
}

function initialValue(shape: number[], init: Initializer, rng: Rng): tf.Tensor {
  if (typeof init === 'function') return init(shape);
  if (init === 'zeros') return tf.zeros(shape);
  if (init === 'ones') return tf.ones(shape);
  const fanOut = shape[shape.length - 1];
  const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const std = init === 'he' ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + fanOut));
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.normal() * std;
  return tf.tensor(values, shape);
}
