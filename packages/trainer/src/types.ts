import type { AugmentOptions, ColorJitterOptions, Dataset, IntegratedNetwork, LossWeighting, LossWeights, MetricReport, NetworkConfig, TaskPlugin } from '@ifan/core';

/** A task's data: the training set and, optionally, the validation and test sets. */
export interface TaskData {
  train: Dataset;
  /** Picks the best checkpoint (primary metric) when given. */
  val?: Dataset;
  /** Used by {@link evaluate}; the trainer itself never reads it. */
  test?: Dataset;
}

/**
 * A learning-rate schedule over one stage, evaluated at the stage's progress `p` in [0, 1] (first step
 * 0, last step 1): `constant` is `from`; `linear` goes from `from` to `to`; `exponential` is
 * `from * (to / from) ^ p`; `cosine` is `to + (from - to) * (1 + cos(pi p)) / 2`.
 */
export interface LrSchedule {
  type: 'constant' | 'linear' | 'exponential' | 'cosine';
  from: number;
  /** Final rate (ignored by `constant`). */
  to?: number;
}

/** Algorithm 1's two stages. */
export interface ScheduleConfig {
  /** E_P: epochs of task-wise pre-training per data set (stage 1). Paper: 30. Default 2. */
  pretrainEpochs: number;
  /**
   * Rounds of batch-wise alternating fine-tuning (stage 2); in a round every data set in turn trains
   * one batch. Default 20.
   */
  rounds: number;
  /** Stage-1 rate, run from start to end for each source's pre-training in turn. Default constant 1e-3 (paper 4.1.2). */
  pretrainLr: LrSchedule;
  /** Stage-2 rate. Default exponential from 1e-3 to 1e-6 (paper 4.1.2). */
  finetuneLr: LrSchedule;
}

/** The optimiser and its hyper-parameters. */
export interface OptimizerConfig {
  /**
   * `'rmsprop'` (the paper's, the default; tf.train.rmsprop), `'adam'` (tf.train.adam) or `'sgd'`
   * (tf.train.momentum, with `momentum` and `nesterov`). Absent in runs written before it existed: RMSprop.
   */
  type?: OptimizerType;
  /** RMSprop's decay of the mean square. Default 0.9. */
  decay: number;
  /** RMSprop's and SGD's momentum. Default 0. */
  momentum: number;
  /** RMSprop's and Adam's epsilon. Default 1e-7. */
  epsilon: number;
  /** Adam's decay of the first moment. Default 0.9. */
  beta1?: number;
  /** Adam's decay of the second moment. Default 0.999. */
  beta2?: number;
  /** SGD: Nesterov momentum. Default false. */
  nesterov?: boolean;
  /**
   * L2 weight decay of every optimiser: `weightDecay * w` is added to the gradient of each
   * convolution and dense kernel (batch-norm parameters and biases are left alone). Default 0.
   */
  weightDecay?: number;
}

export type OptimizerType = 'rmsprop' | 'adam' | 'sgd';

/** Random augmentation of training batches; never applied in evaluation or prediction. */
export interface AugmentConfig {
  /** Random scale, rotation, shift and flip composed onto the face crop (core's `augmentTransform`). */
  geometry: AugmentOptions | false;
  /** Random brightness, contrast and saturation (core's `colorJitter`). */
  color: ColorJitterOptions | false;
}

/** The face crop (core's `faceCrop`), used identically in training, evaluation and prediction. */
export interface CropConfig {
  /** Context added on each side of the face box, as a fraction of its side. Default 0. */
  margin: number;
}

export interface CheckpointConfig {
  /** Write a checkpoint every this many stage-2 rounds (and at the end of every stage-1 epoch). Default 10. */
  everyRounds: number;
  /** Checkpoints kept besides the best one. Default 2. */
  keep: number;
  /**
   * Validate after every stage-1 epoch too (not only in stage 2 and at the end), for a learning curve
   * and a best checkpoint in single-task runs. Default false.
   */
  validateEpochs?: boolean;
}

/**
 * A built-in loss weighting by name and settings (what a run-configuration file can hold): `fixed`
 * weighs each task's loss and, in fine-tuning, each iteration's by a constant (core's
 * `fixedLossWeighting`). Its defaults, every weight 1, are the paper's plain sum (eqns 5 and 6).
 */
export interface LossWeightingConfig {
  type: 'fixed';
  /** Weight of each task's losses, by task name. Default 1. */
  tasks?: Record<string, number>;
  /**
   * Weight of the losses at each interaction iteration 0..ITER in fine-tuning (`network.iterations` + 1
   * of them), multiplied by the task weight; pre-training runs iteration 0 alone at the task weight.
   * Default 1 for every iteration.
   */
  iterations?: number[];
}

/** The loss weighting of a run as `config.json` records it: a built-in's settings in full, or your method's name. */
export type ResolvedLossWeighting = Required<LossWeightingConfig> | { type: 'custom'; name: string };

/** Everything that decides what a run computes, as resolved by the trainer (written to `config.json`). */
export interface ResolvedTrainConfig {
  tasks: { name: string; bnKey: string; config: Record<string, unknown> }[];
  /** One entry per training data source, in training order. */
  sources: { name: string; tasks: string[]; bnKey: string; batchSize: number; samples: number }[];
  network: NetworkConfig;
  schedule: ScheduleConfig;
  optimizer: OptimizerConfig;
  augment: AugmentConfig;
  crop: CropConfig;
  checkpoint: CheckpointConfig;
  seed: number;
  /** How each step weighs its losses (absent in runs written before it existed: the paper's sum). */
  lossWeighting: ResolvedLossWeighting;
  /** Free-form data stored with the run (the CLI keeps its data-set specs here, for `--resume`). */
  meta?: Record<string, unknown>;
}

export type StageName = 'pretrain' | 'finetune';

/** What one training step did; one line of `log.jsonl`. */
export interface StepRecord {
  stage: StageName;
  /** Global step number, from 0. */
  step: number;
  /** Stage-1 epoch (of `source`) or stage-2 round, from 0. */
  epoch: number;
  /** Training data source (data set name). */
  source: string;
  tasks: string[];
  /** Loss of each task at each interaction iteration 0..I. */
  losses: Record<string, number[]>;
  /** The optimised objective: the sum of the losses, each weighted as `weights` says. */
  total: number;
  /** The step's loss weights by task (a number, or one per iteration), when any is not 1. */
  weights?: LossWeights;
  lr: number;
  batchSize: number;
  imagesPerSec: number;
  /**
   * Wall time of the step in ms: waiting for its batch, the training step and, when batches are
   * prepared on the training thread, preparing the next one.
   */
  ms: number;
}

/** The unit the epoch hooks see: a stage-1 epoch over one data set, or a stage-2 round. */
export interface EpochInfo {
  stage: StageName;
  /** Stage-1 epoch of this source, or stage-2 round. */
  epoch: number;
  /** Data source of a stage-1 epoch; every source in a round. */
  sources: string[];
  /** Global step of the unit's first step. */
  firstStep: number;
  steps: number;
}

/** Validation figures of every task with a `val` set. */
export type ValidationReport = Record<string, MetricReport>;

/**
 * Lifecycle hooks (mmengine / detectron2 style): logging, schedules and early stopping live here,
 * outside the training loop. Every method is optional and may be async; each event reaches the hooks
 * in turn. The trainer's own hooks come first (Ctrl-C, `log.jsonl`, the divergence check, the progress
 * display), then the user's, and last validation and checkpoints: a user's `afterEpoch` and
 * `afterTrain` run before the checkpoint they end with.
 */
export interface TrainerHook {
  beforeRun?(trainer: TrainerView): void | Promise<void>;
  /**
   * The last step is done or the run was stopped (not after an error): a stopped run's checkpoint and
   * a completed run's model are written now, after the user's `afterTrain`, before `afterRun`.
   */
  afterTrain?(trainer: TrainerView): void | Promise<void>;
  afterRun?(trainer: TrainerView, result: FitResult): void | Promise<void>;
  beforeEpoch?(trainer: TrainerView, epoch: EpochInfo): void | Promise<void>;
  afterEpoch?(trainer: TrainerView, epoch: EpochInfo): void | Promise<void>;
  beforeStep?(trainer: TrainerView, step: { step: number; stage: StageName; source: string }): void | Promise<void>;
  afterStep?(trainer: TrainerView, record: StepRecord): void | Promise<void>;
  afterValidation?(trainer: TrainerView, report: ValidationReport, step: number): void | Promise<void>;
}

/** What hooks can see and do. */
export interface TrainerView {
  readonly config: ResolvedTrainConfig;
  /** Steps completed so far. */
  readonly step: number;
  readonly totalSteps: number;
  /** Ends the run after the current step (a checkpoint is written when the run has a directory). */
  stop(reason?: string): void;
}

export interface FitResult {
  status: 'completed' | 'stopped' | 'interrupted';
  /** Steps completed (the whole run, resumed part included). */
  steps: number;
  /** Why the run stopped early. */
  reason?: string;
  runDir?: string;
  /** Last validation figures, when any task has a `val` set. */
  validation?: ValidationReport;
  /** Wall time of this call, in seconds. */
  seconds: number;
}

/** Options of {@link Trainer}. Only `plugins` and `datasets` are required. */
export interface TrainerOptions {
  plugins: readonly TaskPlugin[];
  /** Keyed by task name: a data set, or `{ train, val?, test? }`. */
  datasets: Record<string, Dataset | TaskData>;
  network?: Partial<NetworkConfig>;
  schedule?: Partial<ScheduleConfig>;
  /** Batch size of every data source, or per task (a source takes its first task's). Default 16. */
  batchSize?: number | Record<string, number>;
  optimizer?: Partial<OptimizerConfig>;
  /** `false` turns augmentation off. Default: core's DEFAULT_AUGMENT geometry and a mild colour jitter. */
  augment?: Partial<AugmentConfig> | false;
  crop?: Partial<CropConfig>;
  checkpoint?: Partial<CheckpointConfig>;
  /**
   * How each step weighs its loss terms (one per task and interaction iteration) before summing them.
   * Default `{ type: 'fixed' }`, every weight 1: the paper's plain sum. Your own method is an object
   * implementing core's `LossWeighting` (`name`, `weights(context)`, optionally `getState`/`setState`
   * for an exact resume): the trainer asks it for each step's weights on the training thread, so it
   * works with two gradient threads as well. `config.json` records it by name.
   */
  lossWeighting?: LossWeightingConfig | LossWeighting;
  /** Seed of data order and augmentation; the network's own seed is `network.seed`. Default 1. */
  seed?: number;
  /**
   * Run directory: `config.json`, `log.jsonl`, `checkpoints/`, `model/`. Without it nothing is written
   * and nothing can be resumed.
   */
  runDir?: string;
  /** Continue the run in `runDir` from its latest checkpoint. */
  resume?: boolean;
  /**
   * Weights a fresh run starts from instead of a random initialisation (fine-tuning): a network, or a
   * model as `ifan` names one (a model folder, a run directory, or a shipped model's name such as
   * `ifan-3t`). Every weight of this run's network (batch-norm statistics included) is copied by name;
   * names and shapes must match, so the tasks, their options that shape weights and the backbone must be
   * the model's. A network given here stays the caller's to dispose. A resumed run ignores it (its
   * checkpoint holds the weights).
   */
  init?: string | IntegratedNetwork;
  hooks?: TrainerHook[];
  /** Progress on stderr: a bar on a TTY, periodic lines otherwise. Default false. */
  progress?: boolean;
  /** On SIGINT, finish the step, write a checkpoint and return `interrupted`. Default false. */
  handleSignals?: boolean;
  /** Load the next batch while the current step runs. Default true. */
  prefetch?: boolean;
  /**
   * Threads that prepare batches (load or draw, crop, augmentation, floats) beside the training
   * thread. `'auto'` (default): one worker thread when the machine has 2 or more cores and every
   * training data set and task plugin has a `recipe` (the built-in loaders, `syntheticDataset` and
   * task factories set one), else the training thread, saying why once through `log`. `1` insists
   * (a missing recipe is a {@link ConfigError}); `0` never uses a worker. Batches, losses and resume
   * are the same either way: the training thread picks the samples and the augmentation seeds.
   */
  workers?: 'auto' | 0 | 1;
  /**
   * Threads that compute each step's gradients. `2`: the training thread computes the first half of
   * the batch and a worker thread the second, with batch-norm statistics shared between them (the
   * whole batch's, not each half's) and the two gradients added: the step of one thread up to float
   * rounding (about 1e-5 relative), so a run is reproducible (and resumes exactly) with the same
   * `threads`, not bit for bit across values. Needs the wasm (or cpu) backend and a `recipe` on every
   * task plugin (the built-in factories set one), and relies on each plugin's `loss` being the masked
   * mean over samples that `TaskPlugin.loss` asks for. `'auto'` (default): 2 when the machine has 2 or
   * more cores, the backend is wasm, every plugin has a recipe and the run is long enough to repay the
   * worker's start (a rule on the planned FLOPs, so a resumed run decides the same), else 1, saying
   * why once through `log` when a plugin lacks a recipe. `1`: the training thread alone.
   */
  threads?: 'auto' | 1 | 2;
  /** Where the trainer's one-line notices go (why batches are not prepared in a worker); `false` for silence. Default `console.error`. */
  log?: ((line: string) => void) | false;
  /** Batch size of validation. Default 16. */
  evalBatchSize?: number;
  /** Stored in `config.json` (e.g. how to rebuild the data sets). */
  meta?: Record<string, unknown>;
}
