import * as tf from '@tensorflow/tfjs-core';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/**
 * Kernels of a backend that this library replaced, kept so a composite kernel can still reach the
 * backend's own implementation (and so `unregisterTrainingKernels` can put it back).
 */
const stockKernels = new Map<string, Map<string, tf.KernelConfig>>();

export function saveStock(config: tf.KernelConfig): void {
  let byName = stockKernels.get(config.backendName);
  if (!byName) stockKernels.set(config.backendName, (byName = new Map()));
  if (!byName.has(config.kernelName)) byName.set(config.kernelName, config);
}

export function takeStock(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  const config = stockKernels.get(backendName)?.get(kernelName);
  stockKernels.get(backendName)?.delete(kernelName);
  return config;
}

export function stockKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  return stockKernels.get(backendName)?.get(kernelName);
}

/** Names of the composite kernels running right now, per backend (guards against recursion). */
const running = new Map<string, Set<string>>();

/**
 * Runs kernels of one backend directly (not through the engine: nothing is recorded on the tape or
 * counted by `tf.memory()`), owns every intermediate it made and frees them all but the result.
 *
 * A kernel is looked up in the registry at call time, so one composite can use another (a fast
 * Transpose, say); a composite that reaches its own name gets the backend's stock kernel instead.
 */
export class KernelScope {
  private readonly temps: TensorInfo[] = [];
  constructor(
    readonly backend: tf.KernelBackend,
    readonly backendName: string,
  ) {}

  /** Runs a kernel; `stock` asks for the backend's own implementation even where this library replaced it. */
  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: Attrs = {}, stock = false): TensorInfo {
    const reentered = running.get(this.backendName)?.has(kernelName);
    const config =
      stock || reentered
        ? (stockKernel(kernelName, this.backendName) ?? (reentered ? undefined : tf.getKernel(kernelName, this.backendName)))
        : tf.getKernel(kernelName, this.backendName);
    if (!config) {
      throw new Error(`kernel ${kernelName} is not registered for backend ${this.backendName} (needed by a training kernel)`);
    }
    const out = config.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend: this.backend });
    const outs = Array.isArray(out) ? out : [out];
    this.temps.push(...outs);
    return outs[0];
  }

  /**
   * A copy with a buffer of its own (the backend's stock Identity copies; this library's wasm Identity
   * shares the buffer).
   */
  copy(x: TensorInfo): TensorInfo {
    return this.run('Identity', { x }, {}, true);
  }

  /** A float32 scalar. */
  scalar(value: number): TensorInfo {
    const info: TensorInfo = { dataId: this.backend.write(Float32Array.of(value), [], 'float32'), shape: [], dtype: 'float32' };
    this.temps.push(info);
    return info;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    if (perm.every((p, i) => p === i)) return x;
    // Axes of size 1 can move freely: a transpose that keeps the order of the others is a reshape.
    const kept = perm.filter((p) => x.shape[p] !== 1);
    if (kept.every((p, i) => i === 0 || p > kept[i - 1])) return this.reshape(x, perm.map((p) => x.shape[p]));
    return this.run('Transpose', { x }, { perm });
  }

  /** Zero padding; `pads` is [before, after] per axis. Returns `x` when there is none. */
  pad(x: TensorInfo, pads: Array<[number, number]>): TensorInfo {
    if (pads.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.run('PadV2', { x }, { paddings: pads, constantValue: 0 });
  }

  /** Returns `x` when the slice is the whole tensor. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.run('Slice', { x }, { begin, size });
  }

  /**
   * Frees every intermediate except `result`, which must be one of them or an input (an input is
   * returned through Identity, so the engine gets a reference of its own).
   */
  finish(result: TensorInfo): TensorInfo {
    let out = result;
    if (!this.temps.includes(result)) out = this.run('Identity', { x: result });
    let spared = false;
    for (const t of this.temps) {
      if (t === out && !spared) {
        spared = true;
        continue;
      }
      this.backend.disposeData(t.dataId);
    }
    this.temps.length = 0;
    return out;
  }

  /** Frees every intermediate (after an error). */
  abandon(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

export type CompositeBody<A> = (scope: KernelScope, inputs: Record<string, TensorInfo>, attrs: A) => TensorInfo;

/** Wraps a body written with {@link KernelScope} as a kernel config for one backend. */
export function compositeKernel<A>(kernelName: string, backendName: string, body: CompositeBody<A>): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    let names = running.get(backendName);
    if (!names) running.set(backendName, (names = new Set()));
    const outer = names.has(kernelName);
    names.add(kernelName);
    const scope = new KernelScope(backend as tf.KernelBackend, backendName);
    try {
      return scope.finish(body(scope, inputs as Record<string, TensorInfo>, attrs as unknown as A));
    } catch (e) {
      scope.abandon();
      throw e;
    } finally {
      if (!outer) names.delete(kernelName);
    }
  };
  return { kernelName, backendName, kernelFunc };
}
