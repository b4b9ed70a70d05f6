/**
 * Shared by train-step.ts and profile-step.ts: the 3-task network, random batches with every task's
 * targets, and one stage-2 training step (paper Algorithm 1: backbone + one key's batch norm, the
 * task's decoder, every re-encoder and the integrator).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { IntegratedNetwork, type BackbonePresetName } from '@ifan/core';
import { parsingTask } from '@ifan/task-parsing';
import { landmarkTask } from '@ifan/task-landmarks';
import { emotionTask } from '@ifan/task-emotion';

/** Loads the cpu and wasm backend packages from @ifan/core's dependencies (one tfjs-core instance). */
export async function loadBackends(): Promise<void> {
  const coreRequire = createRequire(new URL('../packages/core/package.json', import.meta.url));
  for (const pkg of ['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm']) {
    await import(pathToFileURL(coreRequire.resolve(pkg)).href);
  }
}

export const TASKS = ['parsing', 'landmarks', 'emotion'] as const;
export type TaskName = (typeof TASKS)[number];

export function buildNetwork(backbone: BackbonePresetName, iterations: number, seed = 1): IntegratedNetwork {
  return new IntegratedNetwork([parsingTask(), landmarkTask(), emotionTask()], { backbone, iterations, seed });
}

/** Deterministic pseudo-random numbers in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random labels of one task for `b` images of side `S`. */
export function randomLabels(task: TaskName, b: number, S: number, rnd: () => number): unknown[] {
  return Array.from({ length: b }, () => {
    if (task === 'parsing') {
      const data = new Uint8Array(S * S);
      for (let i = 0; i < data.length; i++) data[i] = Math.floor(rnd() * 11);
      return { mask: { width: S, height: S, data } };
    }
    if (task === 'landmarks') return { points: Array.from({ length: 5 }, () => [rnd() * S, rnd() * S]) };
    return { classIndex: Math.floor(rnd() * 7) };
  });
}

export interface Batch {
  images: tf.Tensor4D;
  task: TaskName;
  targets: Record<string, { target: tf.Tensor; mask: tf.Tensor1D }>;
}

export function randomBatch(net: IntegratedNetwork, task: TaskName, b: number, seed: number): Batch {
  const S = net.inputSize;
  const rnd = lcg(seed);
  const px = new Float32Array(b * S * S * 3);
  for (let i = 0; i < px.length; i++) px[i] = rnd();
  const images = tf.tensor4d(px, [b, S, S, 3]);
  const targets = { [task]: net.plugin(task).encodeTargets(randomLabels(task, b, S, rnd), S) } as Batch['targets'];
  return { images, task, targets };
}

export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  for (const t of Object.values(batch.targets)) tf.dispose([t.target, t.mask]);
}

/** Stage-2 variable selection for one task's step. */
export function stageTwoVariables(net: IntegratedNetwork, task: TaskName): tf.Variable[] {
  const bnKey = net.plugin(task).bnKey;
  return net.variables({ backbone: true, bnKey, decoders: [task], reencoders: [...TASKS] });
}

/**
 * RMSProp over every trainable variable in one fixed order. tfjs optimisers keep their slots by
 * position in the gradient list, so each step passes the whole list (no gradient for the variables
 * the step does not update; tfjs skips those), as packages/trainer does.
 */
export class Rmsprop {
  readonly optimizer = tf.train.rmsprop(1e-3);
  readonly all: tf.Variable[];
  constructor(net: IntegratedNetwork) {
    this.all = [...net.params.variables.values()].filter((v) => v.trainable);
  }
  apply(grads: tf.NamedTensorMap): void {
    const list = this.all.map((v) => ({ name: v.name, tensor: grads[v.name] }));
    this.optimizer.applyGradients(list as Parameters<tf.Optimizer['applyGradients']>[0]);
  }
}

/** One training step: gradients of the batch's task loss over iterations 0..I, RMSProp update. */
export function trainStep(net: IntegratedNetwork, opt: Rmsprop, batch: Batch, iterations: number): number {
  const bnKey = net.plugin(batch.task).bnKey;
  const variables = stageTwoVariables(net, batch.task);
  const { grads, total } = net.computeGradients(batch.images, batch.targets, { bnKey, variables, iterations });
  opt.apply(grads);
  tf.dispose(Object.values(grads));
  return total;
}

/** Bytes of the wasm backend's heap (it grows and never shrinks: the peak), or null off wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
  return b.wasm.HEAPU8.buffer.byteLength;
}
