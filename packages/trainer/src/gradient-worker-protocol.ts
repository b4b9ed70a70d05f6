/**
 * What the training thread and the gradient worker (gradient-worker.ts) say to each other. The
 * training thread keeps the one network that counts (weights, optimiser, moving statistics, dropout
 * generator); the worker holds a copy that receives every weight and the generator's state with each
 * step, computes the gradients of its part of the batch and sends them back.
 */
import type { LossWeights, NetworkConfig, Recipe } from '@ifan/core';
import type { SerializedError } from './batch-worker-protocol';

/** The worker's `workerData`. */
export interface GradientWorkerSetup {
  /** tfjs backend name of the training thread (`wasm` or `cpu`): the worker selects the same one. */
  backend: 'wasm' | 'cpu';
  network: NetworkConfig;
  /** The network's plugins, in order. */
  plugins: Recipe[];
  /** Shared with the training thread for the batch-norm statistics (core's SharedStatsReducer, party 1). */
  stats: SharedArrayBuffer;
}

/** The worker's part of one step. Arrays are transferred, not copied. */
export interface GradientRequest {
  type: 'step';
  id: number;
  /** Every variable of the network, in `net.params.variables` order, one after another. */
  weights: Float32Array;
  /** State of the network's dropout generator before the step. */
  rng: number;
  /** `[b, S, S, 3]`. */
  images: Float32Array;
  shape: [number, number, number, number];
  targets: Record<string, { target: Float32Array; shape: number[]; mask: Float32Array }>;
  bnKey: string;
  iterations: number;
  /** Names of the variables to differentiate, in the order the gradients come back. */
  variables: string[];
  lossScale: Record<string, number>;
  /** Weights of the step's losses, decided on the training thread (default 1 each). */
  lossWeights?: LossWeights;
  batchSlice: { offset: number; total: number };
}

export type GradientWorkerMessage =
  | { type: 'ready'; plugins: string[]; variables: string[] }
  | { type: 'setup-failed'; error: SerializedError }
  | {
      type: 'grads';
      id: number;
      /** The gradients of `variables`, one after another (zeros where a variable got none). */
      grads: Float32Array;
      /** Which of `variables` got a gradient. */
      present: boolean[];
      total: number;
      losses: Record<string, number[]>;
      /** Time the worker waited for the training thread at batch-norm exchanges. */
      waitedMs: number;
      /** When (ms on the process's monotonic clock, `process.hrtime`) the worker got the request, started and ended its gradients. */
      clock: { received: number; started: number; ended: number };
    }
  | { type: 'failed'; id: number; error: SerializedError };
