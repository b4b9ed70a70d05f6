/**
 * Batch preparation as a training run does it (packages/trainer/src/batches.ts): draw synthetic faces
 * of one task's domain, face crop, random geometry and colour augmentation, labels moved with the
 * image by the task's plugin, pixels to floats in [0, 1]. Plain arrays only, so it can run in a
 * worker thread and hand its buffers over without copying.
 */
import { augmentTransform, colorJitter, DEFAULT_AUGMENT, faceCrop, prepareSample, type TaskPlugin } from '@ifan/core';
import { syntheticDataset, type SyntheticDataset } from '@ifan/synthetic';
import { parsingTask } from '@ifan/task-parsing';
import { landmarkTask } from '@ifan/task-landmarks';
import { emotionTask } from '@ifan/task-emotion';
import { lcg, type TaskName } from './train-setup';

export interface PreparedBatch {
  task: TaskName;
  size: number;
  /** `[size, S, S, 3]` floats in [0, 1]. */
  images: Float32Array;
  /** The task's labels in network-input coordinates. */
  labels: unknown[];
}

const PLUGINS: Record<TaskName, () => TaskPlugin> = {
  parsing: () => parsingTask() as TaskPlugin,
  landmarks: () => landmarkTask() as TaskPlugin,
  emotion: () => emotionTask() as TaskPlugin,
};

export class BatchMaker {
  private readonly datasets = new Map<TaskName, SyntheticDataset>();
  private readonly plugins = new Map<TaskName, TaskPlugin>();
  private readonly rng: { next(): number };
  private cursor = 0;

  constructor(
    readonly inputSize: number,
    readonly batch: number,
    seed = 1,
  ) {
    const next = lcg(seed);
    this.rng = { next };
  }

  private dataset(task: TaskName): SyntheticDataset {
    let d = this.datasets.get(task);
    if (!d) this.datasets.set(task, (d = syntheticDataset({ count: 100_000, domain: task, seed: 7 })));
    return d;
  }

  private plugin(task: TaskName): TaskPlugin {
    let p = this.plugins.get(task);
    if (!p) this.plugins.set(task, (p = PLUGINS[task]()));
    return p;
  }

  async next(task: TaskName): Promise<PreparedBatch> {
    const S = this.inputSize;
    const n = S * S * 3;
    const samples = this.dataset(task).samples;
    const plugin = this.plugin(task);
    const images = new Float32Array(this.batch * n);
    const labels: unknown[] = [];
    for (let i = 0; i < this.batch; i++) {
      const li = await samples[this.cursor++ % samples.length].load();
      let t = faceCrop([li.image.width, li.image.height], li.faceBox, { size: S, margin: 0.2 });
      t = augmentTransform(t, this.rng, DEFAULT_AUGMENT);
      const prepared = prepareSample(li, t, [plugin]);
      const image = colorJitter(prepared.image, this.rng, { brightness: 0.2, contrast: 0.2, saturation: 0.2 });
      const px = image.data;
      const base = i * n;
      for (let k = 0; k < n; k++) images[base + k] = px[k] / 255;
      labels.push(prepared.labels[task]);
    }
    return { task, size: this.batch, images, labels };
  }
}
