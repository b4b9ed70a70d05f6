/**
 * What the training thread and the batch worker (batch-worker.ts) say to each other. The training
 * thread decides everything that makes a run reproducible (which samples, the augmentation seed of
 * each batch); the worker only loads and prepares them with the same code (`loadBatch`).
 */
import type { DatasetRecipe, Recipe } from '@ifan/core';
import type { Batch } from './batches';
import type { AugmentConfig, CropConfig } from './types';

/** The worker's `workerData`: how to make the plugins and data sets again, and how batches are prepared. */
export interface WorkerSetup {
  inputSize: number;
  crop: CropConfig;
  augment: AugmentConfig;
  /** By task name, every task some data source trains. */
  plugins: Record<string, Recipe>;
  /** One per training data source, in training order. */
  sources: { name: string; dataset: DatasetRecipe; tasks: string[] }[];
}

/** One batch: the samples (indices into the source's data set) and the seed of its augmentation. */
export interface BatchRequest {
  type: 'batch';
  id: number;
  source: number;
  indices: number[];
  augmentSeed: number;
}

/** What the worker rebuilt, for the training thread to check against its own objects. */
export interface WorkerReady {
  type: 'ready';
  datasets: { samples: number; ids: number }[];
  /** By task name, {@link pluginIdentity} of the rebuilt plugin. */
  plugins: Record<string, string>;
}

export type WorkerMessage =
  | WorkerReady
  | { type: 'setup-failed'; what: string; error: SerializedError }
  | { type: 'batch'; id: number; batch: Batch }
  | { type: 'failed'; id: number; error: SerializedError };

/** An error as plain data: its class name, message, stack and own fields (`file`, `line`, ...). */
export interface SerializedError {
  name: string;
  /** Constructor name (`DatasetError`, `TypeError`, ...). */
  className: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
  cause?: SerializedError;
}

export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', className: 'Error', message: String(e), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    try {
      fields[k] = structuredClone(v);
    } catch {
      // a field that cannot cross threads is left out
    }
  }
  const cause = (e as { cause?: unknown }).cause;
  return {
    name: e.name,
    className: e.constructor?.name ?? 'Error',
    message: e.message,
    ...(e.stack !== undefined ? { stack: e.stack } : {}),
    fields,
    ...(cause !== undefined && depth < 4 ? { cause: serializeError(cause, depth + 1) } : {}),
  };
}

/** FNV-1a over the sample ids: the worker's data set must list the same samples in the same order. */
export function idsHash(ids: Iterable<string>): number {
  let h = 0x811c9dc5;
  for (const id of ids) {
    for (let i = 0; i < id.length; i++) {
      h ^= id.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x0a;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What must match between a plugin and its rebuilt copy. */
export function pluginIdentity(p: { name: string; bnKey: string; config: Record<string, unknown> }): string {
  return JSON.stringify({ name: p.name, bnKey: p.bnKey, config: p.config });
}
