/**
 * Cross-dataset hybrid training (paper 3.3, Algorithm 1).
 *
 * Stage 1, task-wise pre-training: each data source in turn trains `pretrainEpochs` epochs at
 * interaction iteration 0, updating the backbone (convolutions + its batch-norm key) and the decoders
 * of the tasks it labels. Stage 2, batch-wise alternating fine-tuning: in every round each source in
 * turn trains one batch, with the loss summed over iterations 0..ITER (eqn 6), updating the backbone,
 * its decoders, every re-encoder and the integrator. A source that runs out is reshuffled. Each loss
 * term (task, iteration) is weighted by the run's loss weighting first: every weight 1, the paper's
 * sum, by default (core's loss-weighting.ts).
 *
 * The loop itself only trains and calls the hooks. What a run does besides (Ctrl-C, `log.jsonl`, the
 * divergence check, the progress display, validation and checkpoints) are built-in hooks in ./hooks,
 * installed from the options; the run directory (config, log, checkpoints, final model) is what makes
 * a run resumable and inspectable.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  DEFAULT_FRAMING,
  DEFAULT_NETWORK_CONFIG,
  IntegratedNetwork,
  Rng,
  checkLossWeights,
  mixSeed,
  saveNetwork,
  selectBackend,
  type Dataset,
  type LossWeighting,
  type LossWeights,
  type TaskPlugin,
} from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { disposeTargets, imageTensor, loadBatch, targetTensors, type Batch } from './batches';
import { BatchWorker, checkWorkersOption, cores, workerObstacle, type WorkerSetupError, type WorkersOption } from './batch-worker-client';
import { CheckpointStore, writeFileAtomic, type LoopState, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint';
import { TrainingDivergedError, ConfigError } from './errors';
import { evaluate, type EvaluateOptions } from './evaluate';
import { checkThreadsOption, GradientThreads, threadsObstacle, type ThreadsOption } from './gradient-threads';
import { DEFAULT_OPTIMIZER } from './defaults';
import { OptimizerState } from './optimizer';
import { ProgressReporter } from './progress';
import { learningRate, planLength, planSchedule, Sampler, type PlanUnit, type SamplerState } from './schedule';
import { firstDifference, resolveLossWeighting, resolveTrainerOptions, type DataSource } from './trainer-config';
import { Checkpoints, type BestCheckpoint } from './hooks/checkpoint-validation';
import { divergenceGuard } from './hooks/divergence';
import { StepLog } from './hooks/log';
import { ProgressDisplay } from './hooks/progress';
import { FitSession, type BuiltInHook } from './hooks/session';
import { SigintHandler } from './hooks/signals';
import type { EpochInfo, FitResult, ResolvedTrainConfig, StageName, StepRecord, TrainerHook, TrainerOptions, TrainerView, ValidationReport } from './types';

/** One planned step with the samples it draws, and every sampler's state after drawing them. */
interface Draw {
  step: number;
  unit: PlanUnit;
  /** Position of the step in its unit. */
  index: number;
  source: number;
  indices: number[];
  samplers: SamplerState[];
  augmentSeed: number;
}

/** Whether a `fit` gets a batch worker (see `Trainer.workerPlan`). */
type WorkerPlan = 'now' | 'after-first-batch' | 'never';

/** The arguments of a hook event after the trainer. */
type HookArgs<E extends keyof TrainerHook> = NonNullable<TrainerHook[E]> extends (trainer: TrainerView, ...args: infer A) => unknown ? A : never;

/**
 * `workers: 'auto'` starts a worker when preparing the run's remaining batches on the training thread
 * would take at least this long (estimated from the first batch): a worker takes about a second to start.
 */
const WORKER_PAYOFF_MS = 5000;

/**
 * `threads: 'auto'` uses two gradient threads for a run of at least this many FLOPs (steps x batch x
 * 3 x forward FLOPs per image): about 15 s of one core at the wasm kernels' 14 GFLOP/s, against the
 * gradient worker's start of 1-2 s. A rule on the plan, not on a measured time, so a resumed run
 * decides as the uninterrupted one did.
 */
const THREADS_MIN_FLOPS = 200e9;

/** Files of a run directory. */
export const RUN_FILES = {
  config: 'config.json',
  log: 'log.jsonl',
  /** One line per validation: step, stage, training seconds and CPU seconds so far, ITER, every task's figures. */
  validationLog: 'validation.jsonl',
  model: 'model',
  checkpoints: 'checkpoints',
  /**
   * The model at the end of each source's task-wise pre-training, in `stage1/after-source-K/` (K counts
   * the sources in training order), with `stage-end.json`: the step and the seconds so far (Figure 7).
   */
  stageEnds: 'stage1',
} as const;

export class Trainer implements TrainerView {
  readonly config: ResolvedTrainConfig;
  readonly net: IntegratedNetwork;
  /** Training data sources, in training order. */
  readonly sources: readonly DataSource[];
  /** Algorithm 1 as a list of epochs / rounds. */
  readonly plan: readonly PlanUnit[];
  readonly totalSteps: number;
  readonly runDir?: string;
  private readonly plugins: readonly TaskPlugin[];
  private readonly optimizer: OptimizerState;
  /** How each step weighs its losses (`lossWeighting`), asked on this thread before every step. */
  private readonly weighting: LossWeighting;
  /** Each task's unweighted losses at the last step that trained it: what the weighting is told. */
  private lastLosses: Record<string, number[]> = {};
  private readonly samplers: Sampler[];
  private readonly val: Record<string, Dataset>;
  private readonly store?: CheckpointStore;
  /** What the running `fit` shares with the built-in hooks. */
  private readonly session: FitSession;
  private readonly checkpoints: Checkpoints;
  /**
   * The hooks the trainer installs from its options, before the user's: Ctrl-C (`handleSignals`),
   * `log.jsonl` (`runDir`), the divergence check and the progress display (`progress`).
   */
  private readonly builtIns: BuiltInHook[];
  /** Every hook in the order each event reaches them: the built-in ones, the user's, then `checkpoints`. */
  private readonly hooks: TrainerHook[];
  private stepsDone = 0;
  private stopReason: string | null = null;
  private elapsedBefore = 0;
  private cpuBefore = 0;
  private readonly cpuAtStart = process.cpuUsage();
  private readonly selections = new Map<string, tf.Variable[]>();
  private disposed = false;
  private readonly workers: WorkersOption;
  /** The batch worker of the running `fit`, if it has one. */
  private worker: BatchWorker | null = null;
  private noticeGiven = false;
  /** Wall time of this `fit`'s first batch prepared on the training thread. */
  private firstPrepMs: number | null = null;
  private preparation: { thread: 'worker' | 'main'; reason?: string } = { thread: 'main' };
  private readonly threads: ThreadsOption;
  /** The gradient worker of the running `fit`, when its steps run on two threads. */
  private gradientThreads: GradientThreads | null = null;
  private stepThreading: { threads: 1 | 2; reason?: string } = { threads: 1 };

  constructor(private readonly options: TrainerOptions) {
    const { config, sources, val, weighting } = resolveTrainerOptions(options);
    this.config = config;
    this.weighting = weighting;
    this.sources = sources;
    this.val = val;
    this.plugins = options.plugins;
    this.runDir = options.runDir ? resolve(options.runDir) : undefined;
    if (options.resume && !this.runDir) throw new ConfigError('resume', 'needs runDir, the directory of the run to continue');
    this.workers = checkWorkersOption(options.workers);
    if (this.workers === 1) {
      const obstacle = workerObstacle(sources, (t) => options.plugins.find((p) => p.name === t)!);
      if (obstacle) throw new ConfigError('workers', `is 1, but ${obstacle}`);
    }
    this.threads = checkThreadsOption(options.threads);
    if (this.threads === 2) {
      const obstacle = threadsObstacle(options.plugins);
      if (obstacle) throw new ConfigError('threads', `is 2, but ${obstacle}`);
    }
    this.net = new IntegratedNetwork(options.plugins, config.network);
    // saved with every checkpoint and model: how training framed the faces
    this.net.framing = { ...DEFAULT_FRAMING, margin: config.crop.margin };
    const trainable = [...this.net.params.variables.values()].filter((v) => v.trainable);
    this.optimizer = new OptimizerState(trainable, config.optimizer, config.schedule.pretrainLr.from);
    this.samplers = sources.map((s, i) => new Sampler(s.dataset.samples.length, mixSeed(config.seed, i)));
    this.plan = planSchedule(
      sources.map((s) => ({ name: s.name, samples: s.dataset.samples.length, batchSize: s.batchSize })),
      config.schedule,
    );
    this.totalSteps = planLength(this.plan);
    if (this.runDir) this.store = new CheckpointStore(this.runDir, config.checkpoint.keep);
    this.session = new FitSession(options.log);
    this.checkpoints = this.checkpointHook(Object.keys(val).length > 0);
    this.builtIns = [
      ...(options.handleSignals ? [new SigintHandler(this.session)] : []),
      ...(this.runDir ? [new StepLog(join(this.runDir, RUN_FILES.log))] : []),
      divergenceGuard,
      ...(options.progress ? [new ProgressDisplay(this.session, this.plan, (stage, step) => this.checkpoints.secondsAhead(stage, step))] : []),
    ];
    // validation and checkpoints last: the user's afterEpoch and afterTrain come before the checkpoint
    this.hooks = [...this.builtIns, ...(options.hooks ?? []), this.checkpoints];
  }

  /**
   * Activates the best available tfjs backend (core's `selectBackend`: native, else wasm with the
   * project's training kernels, else cpu), then creates the trainer. `new Trainer` uses whatever
   * backend is active.
   */
  static async create(options: TrainerOptions): Promise<Trainer> {
    await selectBackend();
    return new Trainer(options);
  }

  /** Steps completed so far. */
  get step(): number {
    return this.stepsDone;
  }

  stop(reason = 'stopped by a hook'): void {
    this.stopReason ??= reason;
  }

  /**
   * Where the last (or running) `fit` prepares its batches: in a worker thread beside the training
   * thread, or on the training thread itself (with the reason when a worker was wanted but not used).
   */
  get batchPreparation(): { thread: 'worker' | 'main'; reason?: string } {
    return { ...this.preparation };
  }

  /**
   * How many threads compute the steps' gradients in the last (or running) `fit`, with the reason
   * when `threads: 'auto'` chose one.
   */
  get gradientThreading(): { threads: 1 | 2; reason?: string } {
    return { ...this.stepThreading };
  }

  /** Runs (or, with `resume`, continues) Algorithm 1 to the end of the plan or until stopped. */
  async fit(): Promise<FitResult> {
    if (this.disposed) throw new Error('this Trainer was disposed');
    this.session.begin(this.options.progress ? new ProgressReporter() : null);
    const workerPlan = await this.setUp();
    const first = this.stepsDone;
    this.stopReason = null;
    try {
      await this.emit('beforeRun');
      const draws = this.draws(first);
      const prefetch = this.options.prefetch ?? true;
      let current = draws.next();
      let pending = current.done ? null : this.load(current.value);
      while (!current.done && this.stopReason === null) {
        // a turn of the event loop between steps, so a signal is handled after this step at the latest
        // (a step may otherwise run synchronously from a prefetched batch to the next: no signal gets through)
        await new Promise<void>((r) => setImmediate(r));
        if (this.stopReason !== null) break;
        const d = current.value;
        const loading = pending!;
        const following = draws.next();
        const epoch = this.epochInfo(d.unit);
        if (d.index === 0 || d.step === first) await this.emit('beforeEpoch', epoch);
        await this.emit('beforeStep', { step: d.step, stage: d.unit.stage, source: this.sources[d.source].name });
        const t0 = performance.now();
        // the next batch: in the worker, or here (its preparation then counts in this step's time)
        pending = prefetch && !following.done ? this.load(following.value) : null;
        const batch = await loading;
        if (workerPlan === 'after-first-batch' && d.step === first) this.maybeSpawnWorker(this.totalSteps - d.step - 1);
        this.session.running = d.step;
        const record = await this.trainStep(d, batch).finally(() => (this.session.running = null));
        this.session.samplers = d.samplers;
        record.ms = performance.now() - t0;
        record.imagesPerSec = batch.size / Math.max(1e-6, record.ms / 1000);
        this.stepsDone = d.step + 1;
        await this.emit('afterStep', record);
        if (d.index === d.unit.steps.length - 1) await this.emit('afterEpoch', epoch);
        if (this.stopReason !== null) break;
        current = following;
        if (!pending && !current.done) pending = this.load(current.value);
      }
      await this.emit('afterTrain');
      const result = this.result();
      await this.emit('afterRun', result);
      return result;
    } catch (e) {
      // (the divergence guard fails the step after it was counted, but a step whose loss is not finite is not applied)
      if (e instanceof TrainingDivergedError) this.stepsDone = e.step;
      throw e;
    } finally {
      for (const hook of this.builtIns) hook.close?.();
      this.session.progress?.finish();
      await this.stopWorker();
    }
  }

  /** Validation figures of every task with a `val` set at iteration `iterations` (undefined when none has one). */
  async validate(
    iterations = this.config.network.iterations,
    options: Pick<EvaluateOptions, 'onProgress' | 'signal'> = {},
  ): Promise<ValidationReport | undefined> {
    if (Object.keys(this.val).length === 0) return undefined;
    const r = await evaluate(this.net, this.val, { iterations, batchSize: this.options.evalBatchSize ?? 16, crop: this.config.crop, ...options });
    return Object.fromEntries(Object.entries(r.tasks).map(([task, e]) => [task, e.reports[iterations]]));
  }

  /** Saves the network, its plugins' recipes and its framing to `dir` (what `loadModel`, `ifan eval` and `ifan predict` load). */
  async saveModel(dir: string): Promise<void> {
    await saveNetwork(this.net, fileSystemHandler(dir));
  }

  /** Frees the network and the optimiser state (and stops the workers, should a `fit` still run). */
  dispose(): void {
    if (this.disposed) return;
    void this.stopWorker();
    this.optimizer.dispose();
    this.net.dispose();
    this.disposed = true;
  }

  // -------------------------------------------------------------------------------------------------

  /** The variables a step of `stage` on `source` updates (Algorithm 1, lines 5 and 13). */
  variablesFor(stage: StageName, source: number): tf.Variable[] {
    const key = `${stage}:${source}`;
    let vars = this.selections.get(key);
    if (!vars) {
      const s = this.sources[source];
      const feedback = stage === 'finetune' && (this.config.network.iterations > 0 || this.config.network.initialFeedback === 'prior');
      vars = this.net.variables({
        backbone: true,
        bnKey: s.bnKey,
        decoders: s.tasks,
        reencoders: feedback ? this.plugins.map((p) => p.name) : [],
      });
      this.selections.set(key, vars);
    }
    return vars;
  }

  private async trainStep(d: Draw, batch: Batch): Promise<StepRecord> {
    const source = this.sources[d.source];
    const stage = d.unit.stage;
    const schedule = stage === 'pretrain' ? this.config.schedule.pretrainLr : this.config.schedule.finetuneLr;
    const lr = learningRate(schedule, d.unit.progress[d.index]);
    this.optimizer.learningRate = lr;
    const iterations = stage === 'pretrain' ? 0 : this.config.network.iterations;
    const S = this.net.inputSize;
    const plugins = source.tasks.map((t) => this.net.plugin(t));
    const x = imageTensor(batch, S);
    let targets: ReturnType<typeof targetTensors> = {};
    try {
      targets = targetTensors(batch, plugins, S);
      const lossWeights = this.stepWeights(d, iterations);
      const step = { bnKey: source.bnKey, iterations, variables: this.variablesFor(stage, d.source), lossWeights };
      const { grads, total, losses } = this.gradientThreads
        ? await this.gradientThreads.computeGradients(x, targets, step)
        : this.net.computeGradients(x, targets, { ...step, training: true });
      try {
        if (Number.isFinite(total)) this.optimizer.apply(grads);
      } finally {
        tf.dispose(Object.values(grads));
      }
      for (const task of source.tasks) this.lastLosses[task] = losses[task];
      const weights = allOnes(lossWeights) ? {} : { weights: lossWeights };
      return { stage, step: d.step, epoch: d.unit.epoch, source: source.name, tasks: source.tasks, losses, total, ...weights, lr, batchSize: batch.size, imagesPerSec: 0, ms: 0 };
    } finally {
      x.dispose();
      disposeTargets(targets);
    }
  }

  /** Step `d`'s loss weights from the run's loss weighting, checked; an error names the method and the step. */
  private stepWeights(d: Draw, iterations: number): LossWeights {
    const source = this.sources[d.source];
    try {
      const weights = this.weighting.weights({
        step: d.step,
        stage: d.unit.stage,
        source: source.name,
        tasks: [...source.tasks],
        iterations,
        losses: structuredClone(this.lastLosses),
      });
      checkLossWeights(weights, this.plugins.map((p) => p.name), iterations, 'weights');
      return weights;
    } catch (e) {
      throw new Error(`loss weighting "${this.weighting.name}" at step ${d.step}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The planned steps from `from` on, drawing each one's samples in order (restarts included). */
  private *draws(from: number): Generator<Draw> {
    for (const unit of this.plan) {
      if (unit.firstStep + unit.steps.length <= from) continue;
      if (unit.restarts !== undefined && unit.firstStep >= from) this.samplers[unit.restarts].restart();
      for (let index = 0; index < unit.steps.length; index++) {
        const step = unit.firstStep + index;
        if (step < from) continue;
        const source = unit.steps[index];
        const sampler = this.samplers[source];
        const indices = sampler.next(this.sources[source].batchSize);
        const after = sampler.getState();
        yield {
          step,
          unit,
          index,
          source,
          indices,
          samplers: this.samplers.map((s) => s.getState()),
          augmentSeed: mixSeed(this.config.seed, 0x617567, source, after.epoch, after.position),
        };
      }
    }
  }

  /**
   * Before the first step: starts the batch worker (with `workers: 1`; it rebuilds the data sets while
   * the run directory is read or written) and the gradient worker, restores or starts the run, and
   * waits for the workers the run cannot go without.
   */
  private async setUp(): Promise<WorkerPlan> {
    const plan = this.workerPlan();
    if (plan === 'now') this.worker = this.spawnWorker();
    // the gradient worker builds its network while the run directory is read or written
    this.stepThreading = this.threadsPlan();
    if (this.stepThreading.threads === 2) this.gradientThreads = new GradientThreads(this.net);
    try {
      await (this.options.resume ? this.restore() : this.startRun());
      // workers: 1 waits for the worker (and fails with it); 'auto' prepares batches here until it is ready
      if (this.workers === 1) await this.worker?.ready;
      // every step of a two-thread run runs on two threads: wait for the gradient worker
      await this.gradientThreadsReady();
    } catch (e) {
      await this.stopWorker();
      throw e;
    }
    return plan;
  }

  /** Calls `event` of every hook in order, awaiting each. */
  private async emit<E extends keyof TrainerHook>(event: E, ...args: HookArgs<E>): Promise<void> {
    for (const hook of this.hooks) {
      const method = hook[event] as ((trainer: TrainerView, ...a: HookArgs<E>) => void | Promise<void>) | undefined;
      await method?.call(hook, this, ...args);
    }
  }

  /** What the epoch hooks see of `unit`. */
  private epochInfo(unit: PlanUnit): EpochInfo {
    return {
      stage: unit.stage,
      epoch: unit.epoch,
      sources: [...new Set(unit.steps.map((s) => this.sources[s].name))],
      firstStep: unit.firstStep,
      steps: unit.steps.length,
    };
  }

  private result(): FitResult {
    const completed = this.stepsDone === this.totalSteps;
    return {
      status: completed ? 'completed' : this.session.interrupted ? 'interrupted' : 'stopped',
      steps: this.stepsDone,
      ...(this.stopReason !== null ? { reason: this.stopReason } : {}),
      ...(this.runDir ? { runDir: this.runDir } : {}),
      ...(this.checkpoints.lastValidation ? { validation: this.checkpoints.lastValidation } : {}),
      seconds: (Date.now() - this.session.started) / 1000,
    };
  }

  /** The validation and checkpoint hook, with what it needs of the trainer. */
  private checkpointHook(validates: boolean): Checkpoints {
    const dir = this.runDir;
    return new Checkpoints(this.session, {
      config: this.config,
      plan: this.plan,
      totalSteps: this.totalSteps,
      validates,
      paths: dir
        ? { checkpoints: join(dir, RUN_FILES.checkpoints), validationLog: join(dir, RUN_FILES.validationLog), model: join(dir, RUN_FILES.model), stageEnds: join(dir, RUN_FILES.stageEnds) }
        : undefined,
      validate: (iterations, options) => this.validate(iterations, options),
      announce: (report, step) => this.emit('afterValidation', report, step),
      writeCheckpoint: (samplers, best, validation, isBest) => this.writeCheckpoint(samplers, best, validation, isBest),
      saveModel: (to) => this.saveModel(to),
      seconds: () => ({ seconds: this.elapsedSeconds(), cpuSeconds: this.cpuSeconds() }),
    });
  }

  /**
   * Whether this `fit` gets a batch worker: `'now'` (workers: 1), `'after-first-batch'` (`'auto'`:
   * decided by {@link maybeSpawnWorker}) or `'never'` (said once through `log` when a worker was wanted).
   */
  private workerPlan(): WorkerPlan {
    this.preparation = { thread: 'main' };
    this.firstPrepMs = null;
    if (this.workers === 0) return 'never';
    if (this.workers === 1) return 'now';
    let reason = workerObstacle(this.sources, (t) => this.net.plugin(t));
    if (reason === null && cores() < 2) reason = `this machine has ${cores()} core (the worker needs a second one)`;
    if (reason === null && !(this.options.prefetch ?? true)) reason = 'prefetch is off, so the worker would not overlap the step';
    if (reason === null) return 'after-first-batch';
    this.preparation = { thread: 'main', reason };
    this.notice(reason);
    return 'never';
  }

  /**
   * `'auto'`, after the first batch (prepared here): a worker when the batches left would take long
   * enough to prepare here for one to pay for its start; batches are identical either way.
   */
  private maybeSpawnWorker(stepsLeft: number): void {
    const estimate = (this.firstPrepMs ?? 0) * stepsLeft;
    if (estimate >= WORKER_PAYOFF_MS) {
      this.worker = this.spawnWorker();
    } else {
      const ms = (this.firstPrepMs ?? 0).toFixed(1);
      this.preparation = { thread: 'main', reason: `the run is too short for a worker to pay off (${stepsLeft} batches left at ${ms} ms each)` };
    }
  }

  /**
   * Starts the batch worker; batches are prepared here until it is ready, and for good (saying why once)
   * if it cannot start under `'auto'`. With `workers: 1`, `fit` waits for it and fails with it.
   */
  private spawnWorker(): BatchWorker {
    const worker = new BatchWorker(this.sources, (t) => this.net.plugin(t), {
      inputSize: this.net.inputSize,
      crop: this.config.crop,
      augment: this.config.augment,
    });
    worker.ready.then(
      () => {
        if (this.worker === worker) this.preparation = { thread: 'worker' };
      },
      (e: WorkerSetupError) => {
        if (this.worker !== worker || this.workers === 1) return;
        this.preparation = { thread: 'main', reason: e.reason };
        this.notice(e.reason);
      },
    );
    return worker;
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    const threads = this.gradientThreads;
    this.worker = null;
    this.gradientThreads = null;
    await Promise.all([worker?.terminate(), threads?.terminate()]);
  }

  /** 1 or 2 gradient threads for this `fit` (see `TrainerOptions.threads`). */
  private threadsPlan(): { threads: 1 | 2; reason?: string } {
    if (this.threads !== 'auto') return { threads: this.threads };
    const obstacle = threadsObstacle(this.plugins);
    if (obstacle) return { threads: 1, reason: obstacle };
    if (cores() < 2) return { threads: 1, reason: `this machine has ${cores()} core` };
    if (tf.getBackend() !== 'wasm') return { threads: 1, reason: `the ${tf.getBackend()} backend is not worth two threads` };
    const images = this.plan.reduce((a, u) => a + u.steps.reduce((b, s) => b + this.sources[s].batchSize, 0), 0);
    const flops = images * 3 * this.net.flops(this.config.network.iterations);
    if (flops < THREADS_MIN_FLOPS) return { threads: 1, reason: `the run is too short for a second gradient thread to pay off (${(flops / 1e9).toFixed(0)} GFLOP)` };
    return { threads: 2 };
  }

  /**
   * Waits for the gradient worker. Under `threads: 2` its failure fails the run; under `'auto'` the
   * run continues on one thread and says why once.
   */
  private async gradientThreadsReady(): Promise<void> {
    const threads = this.gradientThreads;
    if (!threads) return;
    try {
      await threads.ready;
    } catch (e) {
      this.gradientThreads = null;
      await threads.terminate();
      if (this.threads === 2) throw e;
      const reason = (e as Error).message;
      this.stepThreading = { threads: 1, reason };
      this.session.say(`ifan: computing gradients on one thread, not two: ${reason}`);
    }
  }

  /** Why batches are prepared on the training thread, once per trainer. */
  private notice(reason: string): void {
    if (this.noticeGiven) return;
    this.noticeGiven = true;
    this.session.say(`ifan: preparing batches on the training thread, not in a worker thread: ${reason}`);
  }

  private load(d: Draw): Promise<Batch> {
    if (this.worker?.serving) {
      const p = this.worker.request(d.source, d.indices, d.augmentSeed);
      p.catch(() => undefined);
      return p;
    }
    const src = this.sources[d.source];
    const a = this.config.augment;
    const t0 = performance.now();
    const p = loadBatch(
      d.indices.map((i) => src.dataset.samples[i]),
      {
        inputSize: this.net.inputSize,
        crop: this.config.crop,
        plugins: src.tasks.map((t) => this.net.plugin(t)),
        augment: a.geometry || a.color ? { config: a, rng: new Rng(d.augmentSeed) } : undefined,
      },
    );
    // (the first one's time decides whether a worker is worth starting)
    if (this.firstPrepMs === null) p.then(() => (this.firstPrepMs ??= performance.now() - t0), () => undefined);
    // a prefetched batch may be dropped unawaited when the run stops; its error then goes nowhere
    p.catch(() => undefined);
    return p;
  }

  /** Training seconds over all sessions of the run. */
  private elapsedSeconds(): number {
    return this.elapsedBefore + (Date.now() - this.session.started) / 1000;
  }

  /** CPU seconds (user + system, all threads of this process) over all sessions of the run. */
  private cpuSeconds(): number {
    const u = process.cpuUsage(this.cpuAtStart);
    return this.cpuBefore + (u.user + u.system) / 1e6;
  }

  /** `samplers`: the samplers' state right after the last completed step drew its batch (prefetching has moved the live ones on). */
  private async writeCheckpoint(samplers: SamplerState[], best: BestCheckpoint, validation: ValidationReport | undefined, isBest: boolean): Promise<void> {
    const state: LoopState = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: this.stepsDone,
      samplers,
      networkRng: networkRng(this.net)?.getState() ?? null,
      best,
      ...(validation ? { validation } : {}),
      elapsed: this.elapsedSeconds(),
      cpuSeconds: this.cpuSeconds(),
      lossWeighting: { losses: structuredClone(this.lastLosses), ...(this.weighting.getState ? { state: this.weighting.getState() } : {}) },
    };
    await this.store!.write(this.net, this.optimizer, state, isBest);
  }

  /**
   * A fresh run: refuses a directory that already holds one, starts from `init`'s weights when given,
   * writes `config.json` (the step log starts `log.jsonl`).
   */
  private async startRun(): Promise<void> {
    this.stepsDone = 0;
    if (this.runDir && this.store && (await this.store.latest())) {
      throw new Error(`run directory ${this.runDir} already holds a run: resume it (resume: true, ifan train --resume) or choose another directory`);
    }
    if (this.options.init !== undefined) await this.initialise(this.options.init);
    if (!this.runDir) return;
    await mkdir(this.runDir, { recursive: true });
    await writeFileAtomic(join(this.runDir, RUN_FILES.config), JSON.stringify(this.config, null, 2));
  }

  /** Copies every weight of `init` (a network, or a model `resolveModel` finds) into the run's network, by name. */
  private async initialise(init: string | IntegratedNetwork): Promise<void> {
    // (imported here: model.ts imports this module)
    let from: IntegratedNetwork;
    try {
      from = typeof init === 'string' ? (await (await import('./model')).resolveModel(init)).net : init;
    } catch (e) {
      throw new ConfigError('init', (e as Error).message);
    }
    const what = typeof init === 'string' ? `the model ${init}` : 'the init network';
    try {
      const theirs = from.params.variables;
      const mine = this.net.params.variables;
      for (const [name, v] of mine) {
        const t = theirs.get(name);
        if (!t) throw new ConfigError('init', `${what} lacks the weight "${name}": its tasks, their options or its backbone differ from this run's`);
        if (t.shape.join('x') !== v.shape.join('x')) throw new ConfigError('init', `weight "${name}" is [${t.shape}] in ${what} but [${v.shape}] in this run's network`);
      }
      const extra = [...theirs.keys()].filter((name) => !mine.has(name));
      if (extra.length) throw new ConfigError('init', `${what} has weights this run's network lacks (${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', ...' : ''}): its tasks differ from this run's`);
      for (const [name, v] of mine) v.assign(theirs.get(name)!);
    } finally {
      if (typeof init === 'string') from.dispose();
    }
  }

  /** Restores the latest checkpoint of `runDir` (the step log then drops the lines after it). */
  private async restore(): Promise<void> {
    const dir = this.runDir!;
    const configPath = join(dir, RUN_FILES.config);
    let saved: ResolvedTrainConfig;
    try {
      saved = JSON.parse(await readFile(configPath, 'utf8')) as ResolvedTrainConfig;
    } catch {
      throw new ConfigError('resume', `${configPath} is missing or unreadable: ${dir} is not a run directory`);
    }
    // a run from before loss weighting summed its losses: the default weighting
    saved.lossWeighting ??= resolveLossWeighting(undefined, this.config.tasks.map((t) => t.name), this.config.network.iterations).config;
    // network settings added since the run started take their defaults (a run from before `colour` saw rgb)
    saved.network = { ...DEFAULT_NETWORK_CONFIG, ...saved.network };
    // and a run from before the optimiser's `type` used RMSprop
    saved.optimizer = { ...DEFAULT_OPTIMIZER, ...saved.optimizer };
    const strip = (c: ResolvedTrainConfig) => ({ ...c, checkpoint: undefined, meta: undefined });
    const diff = firstDifference(strip(saved), strip(JSON.parse(JSON.stringify(this.config)) as ResolvedTrainConfig));
    if (diff) throw new ConfigError(diff, `differs from the run being resumed in ${dir}: resume with the same configuration`);
    const latest = await this.store!.latest();
    if (!latest) throw new ConfigError('resume', `${dir} has no checkpoint to resume from`);
    const { net, state, restoreOptimizer } = await CheckpointStore.read(latest.dir, this.plugins);
    try {
      for (const [name, v] of this.net.params.variables) v.assign(net.params.variables.get(name)!);
    } finally {
      net.dispose();
    }
    await restoreOptimizer(this.optimizer);
    state.samplers.forEach((s, i) => this.samplers[i].setState(s));
    if (state.networkRng !== null) networkRng(this.net)?.setState(state.networkRng);
    this.lastLosses = state.lossWeighting?.losses ?? {};
    if (state.lossWeighting && 'state' in state.lossWeighting) this.weighting.setState?.(state.lossWeighting.state);
    this.stepsDone = state.step;
    this.checkpoints.resume(state);
    this.elapsedBefore = state.elapsed;
    this.cpuBefore = state.cpuSeconds ?? 0;
  }
}

/** Whether every weight is 1 (the paper's sum, logged without weights). */
function allOnes(weights: LossWeights): boolean {
  return Object.values(weights).every((w) => (typeof w === 'number' ? w === 1 : w.every((x) => x === 1)));
}

/** The network's dropout generator (its state is part of an exact resume). */
function networkRng(net: IntegratedNetwork): Rng | undefined {
  return net.rng;
}
