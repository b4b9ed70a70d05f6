/**
 * Cross-dataset hybrid training (paper 3.3, Algorithm 1).
 *
 * Stage 1, task-wise pre-training: each data source in turn trains `pretrainEpochs` epochs at
 * interaction iteration 0, updating the backbone (convolutions + its batch-norm key) and the decoders
 * of the tasks it labels. Stage 2, batch-wise alternating fine-tuning: in every round each source in
 * turn trains one batch, with the loss summed over iterations 0..ITER (eqn 6), updating the backbone,
 * its decoders, every re-encoder and the integrator. A source that runs out is reshuffled.
 *
 * The loop itself only trains; logging, progress and user callbacks are hooks, and the run directory
 * (config, log, checkpoints, final model) is what makes a run resumable and inspectable.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_FRAMING, IntegratedNetwork, Rng, mixSeed, saveNetwork, selectBackend, type Dataset, type TaskPlugin } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { disposeTargets, imageTensor, loadBatch, targetTensors, type Batch } from './batches';
import { BatchWorker, checkWorkersOption, cores, workerObstacle, type WorkerSetupError, type WorkersOption } from './batch-worker-client';
import { CheckpointStore, writeFileAtomic, type LoopState, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint';
import { TrainingDivergedError, ConfigError } from './errors';
import { evaluate, EvaluationAborted, type EvaluateOptions } from './evaluate';
import { checkThreadsOption, GradientThreads, threadsObstacle, type ThreadsOption } from './gradient-threads';
import { RmspropState } from './optimizer';
import { ProgressReporter } from './progress';
import { learningRate, planLength, planSchedule, Sampler, type PlanUnit, type SamplerState } from './schedule';
import { firstDifference, resolveTrainerOptions, type DataSource } from './trainer-config';
import type {
  EpochInfo,
  FitResult,
  ResolvedTrainConfig,
  StageName,
  StepRecord,
  TrainerHook,
  TrainerOptions,
  TrainerView,
  ValidationReport,
} from './types';

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
  /** One line per validation: step, training seconds and CPU seconds so far, every task's figures. */
  validationLog: 'validation.jsonl',
  model: 'model',
  checkpoints: 'checkpoints',
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
  private readonly optimizer: RmspropState;
  private readonly samplers: Sampler[];
  private readonly val: Record<string, Dataset>;
  private readonly hooks: TrainerHook[];
  private readonly store?: CheckpointStore;
  private stepsDone = 0;
  private stopReason: string | null = null;
  private interrupted = false;
  /** SIGINTs received by the running `fit`. */
  private sigints = 0;
  /** Aborted by a second SIGINT: a running validation stops, the loop writes its checkpoint and returns. */
  private hurry = new AbortController();
  /** A validation is running (for what Ctrl-C says). */
  private validating = false;
  /** Seconds of the last validation, for the time left. */
  private validationSeconds = 0;
  /** Step of the checkpoint the running `fit` wrote last. */
  private lastCheckpointStep: number | null = null;
  private best: { score: number; step: number } | null = null;
  private lastValidation?: ValidationReport;
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
    const { config, sources, val } = resolveTrainerOptions(options);
    this.config = config;
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
    this.optimizer = new RmspropState(trainable, config.optimizer, config.schedule.pretrainLr.from);
    this.samplers = sources.map((s, i) => new Sampler(s.dataset.samples.length, mixSeed(config.seed, i)));
    this.plan = planSchedule(
      sources.map((s) => ({ name: s.name, samples: s.dataset.samples.length, batchSize: s.batchSize })),
      config.schedule,
    );
    this.totalSteps = planLength(this.plan);
    this.hooks = [...(options.hooks ?? [])];
    if (this.runDir) this.store = new CheckpointStore(this.runDir, config.checkpoint.keep);
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
    const started = Date.now();
    const progress = this.options.progress ? new ProgressReporter() : null;
    // workers: 1 starts the worker (rebuilding the data sets) while the run directory is read or written
    const plan = this.workerPlan(progress);
    if (plan === 'now') this.worker = this.spawnWorker(progress);
    // the gradient worker builds its network while the run directory is read or written
    this.stepThreading = this.threadsPlan();
    if (this.stepThreading.threads === 2) this.gradientThreads = new GradientThreads(this.net);
    let sessionStartStep: number;
    try {
      sessionStartStep = this.options.resume ? await this.restore() : await this.startRun();
      // workers: 1 waits for the worker (and fails with it); 'auto' prepares batches here until it is ready
      if (this.workers === 1) await this.worker?.ready;
      // every step of a two-thread run runs on two threads: wait for the gradient worker
      await this.gradientThreadsReady(progress);
    } catch (e) {
      await this.stopWorker();
      throw e;
    }
    const logPath = this.runDir ? join(this.runDir, RUN_FILES.log) : null;
    const say = (line: string) => (progress ?? new ProgressReporter()).note(line);
    let stepRunning: number | null = null;
    // Ctrl-C 1: finish the step, validate if due, checkpoint. 2: stop now (a running validation is
    // dropped), but still write the checkpoint of the last finished step. 3: quit without one.
    const onSigint = () => {
      this.sigints++;
      const last = this.stepsDone;
      if (this.sigints === 1) {
        this.interrupted = true;
        this.stop('interrupted (SIGINT)');
        const now = this.validating ? 'finishing the validation' : stepRunning !== null ? `finishing step ${stepRunning + 1}` : 'no further step';
        say(`SIGINT: ${now}, then writing a checkpoint (Ctrl-C again: stop sooner, without validation, still with a checkpoint)`);
      } else if (this.sigints === 2) {
        this.hurry.abort('a second SIGINT');
        const now = this.validating ? 'dropping the validation' : stepRunning !== null ? `finishing step ${stepRunning + 1} (a step cannot be cut short)` : 'no validation';
        const step = stepRunning !== null ? stepRunning + 1 : last;
        say(`second SIGINT: ${now}; writing the checkpoint of step ${step} now (Ctrl-C a third time quits WITHOUT a checkpoint)`);
      } else {
        say(
          `third SIGINT: quitting without a checkpoint; ${this.lastCheckpointStep !== null ? `the latest is of step ${this.lastCheckpointStep}` : 'none was written in this session'} (${last} steps done)`,
        );
        process.exit(130);
      }
    };
    this.stopReason = null;
    this.interrupted = false;
    this.sigints = 0;
    this.hurry = new AbortController();
    this.lastCheckpointStep = null;
    if (this.options.handleSignals) process.on('SIGINT', onSigint);
    for (const h of this.hooks) await h.beforeRun?.(this);
    let lastCheckpointed = this.stepsDone;
    let stageShown: StageName | null = null;
    let stageBounds = { first: 0, total: 0 };
    const draws = this.draws(this.stepsDone);
    const prefetch = this.options.prefetch ?? true;
    let current = draws.next();
    let pending = current.done ? null : this.load(current.value);
    let lastDraw: Draw | null = null;
    try {
      while (!current.done && this.stopReason === null) {
        // a turn of the event loop between steps, so a signal is handled after this step at the latest
        // (a step may otherwise run synchronously from a prefetched batch to the next: no signal gets through)
        await new Promise<void>((r) => setImmediate(r));
        if (this.stopReason !== null) break;
        const d = current.value;
        const batchPromise = pending!;
        const following = draws.next();
        const unit = d.unit;
        const epochInfo: EpochInfo = {
          stage: unit.stage,
          epoch: unit.epoch,
          sources: [...new Set(unit.steps.map((s) => this.sources[s].name))],
          firstStep: unit.firstStep,
          steps: unit.steps.length,
        };
        if (d.index === 0 || d.step === sessionStartStep) {
          if (unit.stage !== stageShown) {
            stageShown = unit.stage;
            stageBounds = this.stageBounds(unit.stage);
            progress?.begin(stageTitle(unit.stage), d.step - stageBounds.first, stageBounds.total);
          }
          for (const h of this.hooks) await h.beforeEpoch?.(this, epochInfo);
        }
        const source = this.sources[d.source];
        for (const h of this.hooks) await h.beforeStep?.(this, { step: d.step, stage: unit.stage, source: source.name });
        const t0 = performance.now();
        // the next batch: in the worker, or here (its preparation then counts in this step's time)
        pending = prefetch && !following.done ? this.load(following.value) : null;
        const batch = await batchPromise;
        if (plan === 'after-first-batch' && d.step === sessionStartStep) this.maybeSpawnWorker(this.totalSteps - d.step - 1, progress);
        stepRunning = d.step;
        const record = await this.trainStep(d, batch).finally(() => (stepRunning = null));
        lastDraw = d;
        record.ms = performance.now() - t0;
        record.imagesPerSec = batch.size / Math.max(1e-6, record.ms / 1000);
        if (logPath) appendFileSync(logPath, `${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`);
        for (const [task, losses] of Object.entries(record.losses)) {
          if (!losses.every(Number.isFinite)) throw new TrainingDivergedError(d.step, task, losses);
        }
        this.stepsDone = d.step + 1;
        progress?.update(this.stepsDone - stageBounds.first, stageBounds.total, record, this.validationsAhead(unit.stage) * this.validationSeconds);
        for (const h of this.hooks) await h.afterStep?.(this, record);
        const unitEnds = d.index === unit.steps.length - 1;
        if (unitEnds) {
          for (const h of this.hooks) await h.afterEpoch?.(this, epochInfo);
          const last = this.stepsDone === this.totalSteps;
          const roundCheckpoint = unit.stage === 'finetune' && (unit.epoch + 1) % this.config.checkpoint.everyRounds === 0;
          if (last || roundCheckpoint || unit.stage === 'pretrain') {
            const validate = last || unit.stage === 'finetune' || this.config.checkpoint.validateEpochs === true;
            const validated = validate && !this.hurry.signal.aborted && (await this.runValidation(unit.stage === 'pretrain' ? 0 : this.config.network.iterations, progress, started));
            await this.writeCheckpoint(validated, started, d.samplers);
            lastCheckpointed = this.stepsDone;
          }
        }
        if (this.stopReason !== null) break;
        current = following;
        if (!pending && !current.done) pending = this.load(current.value);
      }
      if (this.stopReason !== null && lastDraw && lastCheckpointed !== this.stepsDone) await this.writeCheckpoint(false, started, lastDraw.samplers);
      if (this.interrupted && this.store) {
        say(
          this.lastCheckpointStep !== null
            ? `checkpoint of step ${this.lastCheckpointStep} written in ${join(this.runDir!, RUN_FILES.checkpoints)}`
            : `no checkpoint written in this session (the run stopped before its first step ended)`,
        );
      }
      // a stop that arrives after the last step (e.g. during the final checkpoint) does not undo the run
      const completed = this.stepsDone === this.totalSteps;
      if (completed && this.runDir) await this.saveModel(join(this.runDir, RUN_FILES.model));
      const result: FitResult = {
        status: completed ? 'completed' : this.interrupted ? 'interrupted' : 'stopped',
        steps: this.stepsDone,
        ...(this.stopReason !== null ? { reason: this.stopReason } : {}),
        ...(this.runDir ? { runDir: this.runDir } : {}),
        ...(this.lastValidation ? { validation: this.lastValidation } : {}),
        seconds: (Date.now() - started) / 1000,
      };
      for (const h of this.hooks) await h.afterRun?.(this, result);
      return result;
    } finally {
      progress?.finish();
      if (this.options.handleSignals) process.off('SIGINT', onSigint);
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
      const step = { bnKey: source.bnKey, iterations, variables: this.variablesFor(stage, d.source) };
      const { grads, total, losses } = this.gradientThreads
        ? await this.gradientThreads.computeGradients(x, targets, step)
        : this.net.computeGradients(x, targets, { ...step, training: true });
      try {
        if (Number.isFinite(total)) this.optimizer.apply(grads);
      } finally {
        tf.dispose(Object.values(grads));
      }
      return { stage, step: d.step, epoch: d.unit.epoch, source: source.name, tasks: source.tasks, losses, total, lr, batchSize: batch.size, imagesPerSec: 0, ms: 0 };
    } finally {
      x.dispose();
      disposeTargets(targets);
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
   * Whether this `fit` gets a batch worker: `'now'` (workers: 1), `'after-first-batch'` (`'auto'`:
   * decided by {@link maybeSpawnWorker}) or `'never'` (said once through `log` when a worker was wanted).
   */
  private workerPlan(progress: ProgressReporter | null): 'now' | 'after-first-batch' | 'never' {
    this.preparation = { thread: 'main' };
    this.firstPrepMs = null;
    if (this.workers === 0) return 'never';
    if (this.workers === 1) return 'now';
    let reason = workerObstacle(this.sources, (t) => this.net.plugin(t));
    if (reason === null && cores() < 2) reason = `this machine has ${cores()} core (the worker needs a second one)`;
    if (reason === null && !(this.options.prefetch ?? true)) reason = 'prefetch is off, so the worker would not overlap the step';
    if (reason === null) return 'after-first-batch';
    this.preparation = { thread: 'main', reason };
    this.notice(reason, progress);
    return 'never';
  }

  /**
   * `'auto'`, after the first batch (prepared here): a worker when the batches left would take long
   * enough to prepare here for one to pay for its start; batches are identical either way.
   */
  private maybeSpawnWorker(stepsLeft: number, progress: ProgressReporter | null): void {
    const estimate = (this.firstPrepMs ?? 0) * stepsLeft;
    if (estimate >= WORKER_PAYOFF_MS) {
      this.worker = this.spawnWorker(progress);
    } else {
      const ms = (this.firstPrepMs ?? 0).toFixed(1);
      this.preparation = { thread: 'main', reason: `the run is too short for a worker to pay off (${stepsLeft} batches left at ${ms} ms each)` };
    }
  }

  /**
   * Starts the batch worker; batches are prepared here until it is ready, and for good (saying why once)
   * if it cannot start under `'auto'`. With `workers: 1`, `fit` waits for it and fails with it.
   */
  private spawnWorker(progress: ProgressReporter | null): BatchWorker {
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
        this.notice(e.reason, progress);
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
  private async gradientThreadsReady(progress: ProgressReporter | null): Promise<void> {
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
      this.say(`ifan: computing gradients on one thread, not two: ${reason}`, progress);
    }
  }

  /** One line through `log` (or the progress display, or stderr). */
  private say(line: string, progress: ProgressReporter | null): void {
    if (this.options.log === false) return;
    if (this.options.log) this.options.log(line);
    else if (progress) progress.note(line);
    else console.error(line);
  }

  /** Why batches are prepared on the training thread, once per trainer. */
  private notice(reason: string, progress: ProgressReporter | null): void {
    if (this.noticeGiven) return;
    this.noticeGiven = true;
    const line = `ifan: preparing batches on the training thread, not in a worker thread: ${reason}`;
    if (this.options.log === false) return;
    if (this.options.log) this.options.log(line);
    else if (progress) progress.note(line);
    else console.error(line);
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

  private stageBounds(stage: StageName): { first: number; total: number } {
    const units = this.plan.filter((u) => u.stage === stage);
    const first = units[0]?.firstStep ?? 0;
    return { first, total: units.reduce((a, u) => a + u.steps.length, 0) };
  }

  /**
   * Validates (with progress), logs and calls the hooks; false when there is nothing to validate or a
   * second SIGINT stopped it.
   */
  private async runValidation(iterations: number, progress: ProgressReporter | null, sessionStarted: number): Promise<boolean> {
    if (Object.keys(this.val).length === 0) return false;
    const t0 = Date.now();
    let report: ValidationReport | undefined;
    this.validating = true;
    try {
      report = await this.validate(iterations, {
        signal: this.hurry.signal,
        onProgress: progress ? ({ done, total }) => progress.evaluation(`validation at step ${this.stepsDone}`, done, total) : undefined,
      });
    } catch (e) {
      progress?.endEvaluation();
      if (!(e instanceof EvaluationAborted)) throw e;
      this.say(`validation at step ${this.stepsDone} skipped (${(e as Error).message})`, progress);
      return false;
    } finally {
      this.validating = false;
    }
    this.validationSeconds = (Date.now() - t0) / 1000;
    if (!report) return false;
    this.lastValidation = report;
    if (this.runDir) {
      const line = { step: this.stepsDone, seconds: this.elapsedSeconds(sessionStarted), cpuSeconds: this.cpuSeconds(), iterations, report };
      appendFileSync(join(this.runDir, RUN_FILES.validationLog), `${JSON.stringify(line)}\n`);
    }
    progress?.note(
      `validation at step ${this.stepsDone}: ${Object.entries(report)
        .map(([t, r]) => `${t} ${r.primary.name} ${r.primary.value.toFixed(4)}`)
        .join(', ')}`,
    );
    for (const h of this.hooks) await h.afterValidation?.(this, report, this.stepsDone);
    return true;
  }

  /**
   * Validations still to come in `stage` after the steps done (the time left counts them): at the
   * end of each unit that writes a checkpoint and validates, as `fit` decides.
   */
  private validationsAhead(stage: StageName): number {
    if (Object.keys(this.val).length === 0) return 0;
    let n = 0;
    for (const u of this.plan) {
      if (u.stage !== stage || u.firstStep + u.steps.length <= this.stepsDone) continue;
      const last = u.firstStep + u.steps.length === this.totalSteps;
      const checkpoint = last || u.stage === 'pretrain' || (u.stage === 'finetune' && (u.epoch + 1) % this.config.checkpoint.everyRounds === 0);
      if (checkpoint && (last || u.stage === 'finetune' || this.config.checkpoint.validateEpochs === true)) n++;
    }
    return n;
  }

  /** Training seconds over all sessions of the run. */
  private elapsedSeconds(sessionStarted: number): number {
    return this.elapsedBefore + (Date.now() - sessionStarted) / 1000;
  }

  /** CPU seconds (user + system, all threads of this process) over all sessions of the run. */
  private cpuSeconds(): number {
    const u = process.cpuUsage(this.cpuAtStart);
    return this.cpuBefore + (u.user + u.system) / 1e6;
  }

  /** Mean over tasks of the primary figure, negated where lower is better: higher is better. */
  private score(report: ValidationReport): number {
    const v = Object.values(report).map((r) => (r.primary.higherIsBetter ? r.primary.value : -r.primary.value));
    return v.reduce((a, b) => a + b, 0) / v.length;
  }

  /** `samplers`: the samplers' state right after the last completed step drew its batch (prefetching has moved the live ones on). */
  private async writeCheckpoint(validated: boolean, sessionStarted: number, samplers: SamplerState[]): Promise<void> {
    let isBest = false;
    if (validated && this.lastValidation) {
      const score = this.score(this.lastValidation);
      if (Number.isFinite(score) && (this.best === null || score > this.best.score)) {
        this.best = { score, step: this.stepsDone };
        isBest = true;
      }
    }
    if (!this.store) return;
    const state: LoopState = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: this.stepsDone,
      samplers,
      networkRng: networkRng(this.net)?.getState() ?? null,
      best: this.best,
      ...(validated && this.lastValidation ? { validation: this.lastValidation } : {}),
      elapsed: this.elapsedSeconds(sessionStarted),
      cpuSeconds: this.cpuSeconds(),
    };
    await this.store.write(this.net, this.optimizer, state, isBest);
    this.lastCheckpointStep = this.stepsDone;
  }

  /** A fresh run: refuses a directory that already holds one, writes `config.json`. */
  private async startRun(): Promise<number> {
    this.stepsDone = 0;
    if (!this.runDir) return 0;
    if (this.store && (await this.store.latest())) {
      throw new Error(`run directory ${this.runDir} already holds a run: resume it (resume: true, ifan train --resume) or choose another directory`);
    }
    await mkdir(this.runDir, { recursive: true });
    await writeFileAtomic(join(this.runDir, RUN_FILES.config), JSON.stringify(this.config, null, 2));
    writeFileSync(join(this.runDir, RUN_FILES.log), '');
    return 0;
  }

  /** Restores the latest checkpoint of `runDir`; returns the step to continue from. */
  private async restore(): Promise<number> {
    const dir = this.runDir!;
    const configPath = join(dir, RUN_FILES.config);
    let saved: ResolvedTrainConfig;
    try {
      saved = JSON.parse(await readFile(configPath, 'utf8')) as ResolvedTrainConfig;
    } catch {
      throw new ConfigError('resume', `${configPath} is missing or unreadable: ${dir} is not a run directory`);
    }
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
    this.stepsDone = state.step;
    this.best = state.best;
    this.lastValidation = state.validation;
    this.elapsedBefore = state.elapsed;
    this.cpuBefore = state.cpuSeconds ?? 0;
    // the log keeps what the checkpoint has: later lines belong to the lost part of the run
    const logPath = join(dir, RUN_FILES.log);
    if (existsSync(logPath)) {
      const kept = readFileSync(logPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && (JSON.parse(l) as StepRecord).step < state.step);
      await writeFile(logPath, kept.map((l) => `${l}\n`).join(''));
    }
    return state.step;
  }
}

/** The network's dropout generator (its state is part of an exact resume). */
function networkRng(net: IntegratedNetwork): Rng | undefined {
  return net.rng;
}

function stageTitle(stage: StageName): string {
  return stage === 'pretrain' ? 'stage 1 (task-wise pre-training)' : 'stage 2 (batch-wise fine-tuning)';
}
