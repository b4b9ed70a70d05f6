/**
 * The pure part of Algorithm 1: which data source trains at every step, in which order its samples
 * come, and the learning rate. Nothing here touches tensors, so the schedule is testable on its own
 * and a resumed run can recompute exactly where it was.
 */
import { Rng, mixSeed } from '@ifan/core';
import { shuffle } from '@ifan/core/node';
import type { LrSchedule, StageName } from './types';

/** Learning rate of `schedule` at stage progress `p` in [0, 1]. */
export function learningRate(schedule: LrSchedule, p: number): number {
  const from = schedule.from;
  const to = schedule.to ?? from;
  const t = Math.min(1, Math.max(0, p));
  switch (schedule.type) {
    case 'constant':
      return from;
    case 'linear':
      return from + (to - from) * t;
    case 'exponential':
      return from * (to / from) ** t;
    case 'cosine':
      return to + ((from - to) * (1 + Math.cos(Math.PI * t))) / 2;
  }
}

/**
 * Batches in one stage-1 epoch: full batches only (the remainder sits this epoch out; the next epoch
 * reshuffles), or one batch of everything when the set is smaller than a batch.
 */
export function batchesPerEpoch(samples: number, batchSize: number): number {
  return samples >= batchSize ? Math.floor(samples / batchSize) : 1;
}

export interface PlanSource {
  name: string;
  samples: number;
  batchSize: number;
}

/** A run of consecutive steps the epoch hooks see as one: a stage-1 epoch of one source, or a stage-2 round. */
export interface PlanUnit {
  stage: StageName;
  /** Stage-1 epoch of the source (0..E_P-1), or the round (0..R-1). */
  epoch: number;
  /** Global step of the first step. */
  firstStep: number;
  /** Source index of each step, in order. */
  steps: number[];
  /** Stage 1: the source whose sampler starts a fresh permutation when the unit starts. */
  restarts?: number;
  /** Learning-rate progress of each step, in [0, 1]: within its source's pre-training in stage 1, within stage 2. */
  progress: number[];
}

/**
 * Algorithm 1's order. Stage 1 (task-wise pre-training): for each source in turn, `pretrainEpochs`
 * epochs over its own data, with the stage-1 rate schedule run from start to end for each source (so
 * every task is pre-trained as its single-task network would be, whatever its place in the order). Stage 2 (batch-wise alternating fine-tuning): `rounds` rounds, in each of
 * which every source in turn trains one batch, so each gets the same number of updates whatever the
 * size of its data set.
 */
export function planSchedule(sources: readonly PlanSource[], opts: { pretrainEpochs: number; rounds: number }): PlanUnit[] {
  const units: PlanUnit[] = [];
  let step = 0;
  sources.forEach((s, i) => {
    const n = batchesPerEpoch(s.samples, s.batchSize);
    // each source's pre-training runs the whole stage-1 rate schedule, as its single-task network would
    const sourceSteps = opts.pretrainEpochs * n;
    let k = 0;
    const p1 = () => (sourceSteps > 1 ? k++ / (sourceSteps - 1) : (k++, 0));
    for (let e = 0; e < opts.pretrainEpochs; e++) {
      const steps = new Array<number>(n).fill(i);
      units.push({ stage: 'pretrain', epoch: e, firstStep: step, steps, restarts: i, progress: steps.map(p1) });
      step += n;
    }
  });
  for (let r = 0; r < opts.rounds; r++) {
    const p = opts.rounds > 1 ? r / (opts.rounds - 1) : 0;
    units.push({ stage: 'finetune', epoch: r, firstStep: step, steps: sources.map((_, i) => i), progress: sources.map(() => p) });
    step += sources.length;
  }
  return units;
}

/** Total steps of a plan. */
export function planLength(units: readonly PlanUnit[]): number {
  const last = units[units.length - 1];
  return last ? last.firstStep + last.steps.length : 0;
}

/** Where a sampler is: permutation number `epoch` (-1 before the first) and the next position in it. */
export interface SamplerState {
  epoch: number;
  position: number;
}

/**
 * The order in which one data source's samples are drawn: permutation `e` is a Fisher-Yates shuffle
 * seeded by `(seed, e)`, so the whole order follows from the state `{epoch, position}`. Batches never
 * straddle two permutations; a permutation that cannot fill another batch is left and the next begins.
 */
export class Sampler {
  private state: SamplerState = { epoch: -1, position: 0 };
  private cached: { epoch: number; order: number[] } | null = null;

  constructor(
    readonly size: number,
    readonly seed: number,
  ) {
    if (!(size > 0)) throw new Error('Sampler: the data set is empty');
  }

  getState(): SamplerState {
    return { ...this.state };
  }

  setState(state: SamplerState): void {
    if (!Number.isInteger(state.epoch) || !Number.isInteger(state.position) || state.position < 0 || state.position > this.size) {
      throw new Error(`Sampler: bad state ${JSON.stringify(state)} for ${this.size} samples`);
    }
    this.state = { ...state };
  }

  /** Starts the next permutation. */
  restart(): void {
    this.state = { epoch: this.state.epoch + 1, position: 0 };
  }

  /** The next `batchSize` sample indices (all of them when the set is smaller), restarting when the permutation cannot fill the batch. */
  next(batchSize: number): number[] {
    const b = Math.min(batchSize, this.size);
    if (this.state.epoch < 0 || this.state.position + b > this.size) this.restart();
    const order = this.order(this.state.epoch);
    const out = order.slice(this.state.position, this.state.position + b);
    this.state.position += b;
    return out;
  }

  /** Permutation number `epoch`. */
  order(epoch: number): readonly number[] {
    if (this.cached?.epoch === epoch) return this.cached.order;
    const order = shuffle(Array.from({ length: this.size }, (_, i) => i), new Rng(mixSeed(this.seed, epoch)));
    this.cached = { epoch, order };
    return order;
  }
}
