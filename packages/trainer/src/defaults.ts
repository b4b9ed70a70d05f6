import { DEFAULT_AUGMENT } from '@ifan/core';
import type { AugmentConfig, CheckpointConfig, CropConfig, OptimizerConfig, ScheduleConfig } from './types';

/**
 * Defaults sized for a CPU. The paper's (4.1.2) are in {@link PAPER_SCHEDULE}: 30 pre-training epochs,
 * 200 fine-tuning epochs, rate 1e-3 then 1e-3 -> 1e-6.
 */
export const DEFAULT_SCHEDULE: ScheduleConfig = {
  pretrainEpochs: 2,
  rounds: 20,
  pretrainLr: { type: 'constant', from: 1e-3 },
  finetuneLr: { type: 'exponential', from: 1e-3, to: 1e-6 },
};

/** Paper 4.1.2, except `rounds`, which depends on the data-set sizes: see {@link roundsForEpochs}. */
export const PAPER_SCHEDULE: Omit<ScheduleConfig, 'rounds'> = {
  pretrainEpochs: 30,
  pretrainLr: { type: 'constant', from: 1e-3 },
  finetuneLr: { type: 'exponential', from: 1e-3, to: 1e-6 },
};

/**
 * Stage-2 rounds that make `epochs` passes over the largest data set (in batches of its own size):
 * the paper's "200 epochs" of fine-tuning.
 */
export function roundsForEpochs(epochs: number, sources: readonly { samples: number; batchSize: number }[]): number {
  return Math.ceil(epochs * Math.max(...sources.map((s) => s.samples / s.batchSize)));
}

/** tfjs's RMSprop defaults. */
export const DEFAULT_OPTIMIZER: OptimizerConfig = { type: 'rmsprop', decay: 0.9, momentum: 0, epsilon: 1e-7 };

/** Default batch size of every task; the paper's are 24 (parsing), 64 (landmarks), 96 (emotion). */
export const DEFAULT_BATCH_SIZE = 16;

export const DEFAULT_AUGMENT_CONFIG: AugmentConfig = {
  geometry: DEFAULT_AUGMENT,
  color: { brightness: 0.2, contrast: 0.2, saturation: 0.2 },
};

export const DEFAULT_CROP: CropConfig = { margin: 0 };

export const DEFAULT_CHECKPOINT: CheckpointConfig = { everyRounds: 10, keep: 2 };
