import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, selectBackend, type Dataset, type RawImage, type TaskPlugin } from '@ifan/core';
import type { TrainerOptions } from '../src/index';
import { mapTask, vectorTask } from './dummy-plugins';

/** The project's backend choice (wasm with core's training kernels where available), quietly. */
export async function useBackend(): Promise<void> {
  await selectBackend({ log: false });
}

const tempDirs: string[] = [];

/** Removes the folders {@link tempDir} made (test/setup.ts, after each test file). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A new folder in the system temp folder, removed after the test file's tests. */
export function tempDir(prefix = 'ifan-trainer-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * A small data set for the dummy plugins: `size`-pixel images whose colour encodes the class, so a
 * network can learn it; labels for `task` are class indices.
 */
export function toyDataset(name: string, task: string, count: number, classes: number, seed: number, size = 40): Dataset {
  return {
    name,
    tasks: [task],
    samples: Array.from({ length: count }, (_, i) => {
      const cls = i % classes;
      return {
        id: `${name}/${i}`,
        load: async () => {
          const rng = new Rng(seed * 1000 + i);
          const data = new Uint8Array(size * size * 3);
          for (let p = 0; p < size * size; p++) {
            data[3 * p] = Math.min(255, (cls * 255) / Math.max(1, classes - 1) * 0.8 + rng.next() * 50);
            data[3 * p + 1] = Math.min(255, 128 + rng.next() * 40);
            data[3 * p + 2] = Math.min(255, 255 - (cls * 200) / classes + rng.next() * 30);
          }
          const image: RawImage = { width: size, height: size, channels: 3, data };
          return { image, labels: { [task]: cls } };
        },
      };
    }),
  };
}

/** Two tasks on two data sets of different sizes (the paper's setting in miniature). */
export function toySetup(): { plugins: TaskPlugin[]; datasets: Record<string, Dataset> } {
  return {
    plugins: [mapTask('map', 3), vectorTask('vector', 4)],
    datasets: { map: toyDataset('maps', 'map', 12, 3, 1), vector: toyDataset('vectors', 'vector', 20, 4, 2) },
  };
}

/**
 * A two-task toy run on {@link toySetup}: tiny network, batches of 4, no augmentation, 1 pre-training
 * epoch (maps: 3 steps, vectors: 5) and 2 rounds, changed by `extra`.
 */
export function toyRun(extra: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    ...toySetup(),
    network: { backbone: 'tiny', iterations: 1, seed: 3 },
    batchSize: 4,
    augment: false,
    schedule: { pretrainEpochs: 1, rounds: 2 },
    ...extra,
  };
}

/** Logical name -> values of every variable. */
export function snapshot(vars: Map<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...vars].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
}

/** Names whose values differ between two snapshots. */
export function changedNames(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  return [...a.keys()].filter((k) => a.get(k)!.some((x, i) => x !== b.get(k)![i]));
}
