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

/** What {@link KernelScope.view} needs of the wasm backend's internals. */
interface WasmBackendInternals {
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number }; delete(dataId: tf.DataId): boolean };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): TensorInfo;
  wasm: { tfjs: { disposeData(id: number): void } };
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
  private readonly views: TensorInfo[] = [];
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

  /** Takes ownership of a tensor made outside {@link run} (freed with the other intermediates). */
  adopt(info: TensorInfo): TensorInfo {
    this.temps.push(info);
    return info;
  }

  /** A float32 scalar. */
  scalar(value: number): TensorInfo {
    const info: TensorInfo = { dataId: this.backend.write(Float32Array.of(value), [], 'float32'), shape: [], dtype: 'float32' };
    this.temps.push(info);
    return info;
  }

  /**
   * wasm only: a tensor of `shape` over the buffer of `x` from element `offset` on, sharing it (no
   * copy). Kernels may read past the view's end (up to the end of `x`'s buffer) as far as their
   * arithmetic needs; a view never leaves the scope: it is unregistered, never freed, at the end.
   */
  view(x: TensorInfo, offset: number, shape: number[]): TensorInfo {
    if (this.backendName !== 'wasm') throw new Error(`KernelScope.view needs the wasm backend, not ${this.backendName}`);
    const b = this.backend as unknown as WasmBackendInternals;
    const bytes = tf.util.bytesPerElement(x.dtype);
    const info = b.makeOutput(shape, x.dtype, b.dataIdMap.get(x.dataId).memoryOffset + offset * bytes);
    this.views.push(info);
    return info;
  }

  private dropViews(): void {
    const b = this.backend as unknown as WasmBackendInternals;
    for (const v of this.views) {
      // Unregister (which also drops operators cached under its id) without freeing the memory.
      b.wasm.tfjs.disposeData(b.dataIdMap.get(v.dataId).id);
      b.dataIdMap.delete(v.dataId);
    }
    this.views.length = 0;
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
   * Frees every intermediate except the results, each of which must be one of them or an input (an
   * input, or a result listed twice, is returned through Identity, so the engine gets a reference of
   * its own for each output).
   */
  finish(result: TensorInfo): TensorInfo;
  finish(results: TensorInfo[]): TensorInfo[];
  finish(result: TensorInfo | TensorInfo[]): TensorInfo | TensorInfo[] {
    const wanted = Array.isArray(result) ? result : [result];
    if (wanted.some((r) => this.views.includes(r))) throw new Error('a composite kernel returned a view of another tensor');
    this.dropViews();
    const kept = new Set<TensorInfo>();
    const outs = wanted.map((r) => {
      const out = kept.has(r) || !this.temps.includes(r) ? this.run('Identity', { x: r }) : r;
      kept.add(out);
      return out;
    });
    for (const t of this.temps) if (!kept.has(t)) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
    return Array.isArray(result) ? outs : outs[0];
  }

  /** Frees every intermediate (after an error). */
  abandon(): void {
    this.dropViews();
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

export type CompositeBody<A> = (scope: KernelScope, inputs: Record<string, TensorInfo>, attrs: A) => TensorInfo | TensorInfo[];

/** Wraps a body written with {@link KernelScope} as a kernel config for one backend. */
export function compositeKernel<A>(kernelName: string, backendName: string, body: CompositeBody<A>): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    let names = running.get(backendName);
    if (!names) running.set(backendName, (names = new Set()));
    const outer = names.has(kernelName);
    names.add(kernelName);
    const scope = new KernelScope(backend as tf.KernelBackend, backendName);
    try {
      const result = body(scope, inputs as Record<string, TensorInfo>, attrs as unknown as A);
      return Array.isArray(result) ? scope.finish(result) : scope.finish(result);
    } catch (e) {
      scope.abandon();
      throw e;
    } finally {
      if (!outer) names.delete(kernelName);
    }
  };
  return { kernelName, backendName, kernelFunc };
}
