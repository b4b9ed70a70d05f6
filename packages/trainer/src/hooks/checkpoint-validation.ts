/**
 * Validation and checkpoints. At the end of every stage-1 epoch, of every `checkpoint.everyRounds`
 * stage-2 rounds and of the run, a checkpoint is written; before it the run validates (in stage 2, at
 * the end, and with `checkpoint.validateEpochs` after stage-1 epochs too), logs the figures to
 * `validation.jsonl`, tells every hook (`afterValidation`) and keeps the best checkpoint by them. A
 * stopped run writes the checkpoint of its last step, a completed one its model.
 *
 * At the end of each source's pre-training (its last stage-1 epoch) the model is also kept, in
 * `stage1/after-source-K/` with `stage-end.json` (step, seconds, CPU seconds), for Figure 7.
 *
 * The trainer installs this hook after the user's, so theirs see the end of an epoch or of the run
 * (and may still change the weights) before the checkpoint is written, and `afterRun` finds it written.
 */
import { appendFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoopState } from '../checkpoint';
import { EvaluationAborted, type EvaluateOptions } from '../evaluate';
import type { PlanUnit, SamplerState } from '../schedule';
import type { CheckpointConfig, EpochInfo, ResolvedTrainConfig, StageName, TrainerHook, TrainerView, ValidationReport } from '../types';
import type { FitSession } from './session';

export type BestCheckpoint = LoopState['best'];

/** What the trainer lends the hook. */
export interface CheckpointHost {
  readonly config: ResolvedTrainConfig;
  readonly plan: readonly PlanUnit[];
  readonly totalSteps: number;
  /** Some task has a validation set. */
  readonly validates: boolean;
  /** Files of the run directory; without one nothing is written (validations still run and pick the best). */
  readonly paths?: { checkpoints: string; validationLog: string; model: string; stageEnds: string };
  validate(iterations: number, options: Pick<EvaluateOptions, 'onProgress' | 'signal'>): Promise<ValidationReport | undefined>;
  /** Calls every hook's `afterValidation`, in order. */
  announce(report: ValidationReport, step: number): Promise<void>;
  /** Writes the checkpoint of the steps done (network, optimiser, loop state). */
  writeCheckpoint(samplers: SamplerState[], best: BestCheckpoint, validation: ValidationReport | undefined, isBest: boolean): Promise<void>;
  saveModel(dir: string): Promise<void>;
  /** Training and CPU seconds of the run so far, over all its sessions. */
  seconds(): { seconds: number; cpuSeconds: number };
}

export class Checkpoints implements TrainerHook {
  /** Best validation score so far and its step. */
  best: BestCheckpoint = null;
  /** The last validation figures (a resumed run's come from its checkpoint). */
  lastValidation?: ValidationReport;
  /** Seconds of the last validation, for the time left. */
  private validationSeconds = 0;
  /** Step at the last checkpoint this `fit` wrote (or would have written, without a run directory). */
  private checkpointed = 0;

  constructor(
    private readonly session: FitSession,
    private readonly host: CheckpointHost,
  ) {}

  /** Takes the best score and the last figures of the checkpoint a run resumes from. */
  resume(state: Pick<LoopState, 'best' | 'validation'>): void {
    this.best = state.best;
    this.lastValidation = state.validation;
  }

  beforeRun(trainer: TrainerView): void {
    this.checkpointed = trainer.step;
  }

  async afterEpoch(trainer: TrainerView, epoch: EpochInfo): Promise<void> {
    const due = unitEnd(this.host.config.checkpoint, epoch.stage, epoch.epoch, trainer.step === trainer.totalSteps);
    if (!due.checkpoint) return;
    const iterations = epoch.stage === 'pretrain' ? 0 : this.host.config.network.iterations;
    const validated = due.validate && !this.session.hurry.signal.aborted && (await this.validate(trainer.step, epoch.stage, iterations));
    // the end of a source's pre-training before its checkpoint: a run killed between the two redoes
    // the epoch on resume (exactly) and writes it again
    const { paths, config } = this.host;
    if (paths && epoch.stage === 'pretrain' && epoch.epoch === config.schedule.pretrainEpochs - 1) {
      const k = config.sources.findIndex((s) => s.name === epoch.sources[0]);
      const dir = join(paths.stageEnds, `after-source-${k}`);
      await this.host.saveModel(dir);
      await writeFile(join(dir, 'stage-end.json'), `${JSON.stringify({ step: trainer.step, source: epoch.sources[0], ...this.host.seconds() })}\n`);
    }
    await this.write(trainer.step, validated);
  }

  async afterTrain(trainer: TrainerView): Promise<void> {
    // stopped between checkpoints: the checkpoint of the last step
    if (this.checkpointed !== trainer.step) await this.write(trainer.step, false);
    const { paths } = this.host;
    if (this.session.interrupted && paths) {
      const step = this.session.lastCheckpointStep;
      this.session.note(
        step !== null ? `checkpoint of step ${step} written in ${paths.checkpoints}` : `no checkpoint written in this session (the run stopped before its first step ended)`,
      );
    }
    // a stop that arrives after the last step (e.g. during the final checkpoint) does not undo the run
    if (trainer.step === trainer.totalSteps && paths) await this.host.saveModel(paths.model);
  }

  /** Seconds of the validations still to come in `stage` after `step` (the time left counts them). */
  secondsAhead(stage: StageName, step: number): number {
    if (!this.host.validates) return 0;
    let n = 0;
    for (const u of this.host.plan) {
      const end = u.firstStep + u.steps.length;
      if (u.stage === stage && end > step && unitEnd(this.host.config.checkpoint, u.stage, u.epoch, end === this.host.totalSteps).validate) n++;
    }
    return n * this.validationSeconds;
  }

  /** Validates, logs and tells the hooks; false when there is nothing to validate or a second SIGINT stopped it. */
  private async validate(step: number, stage: StageName, iterations: number): Promise<boolean> {
    if (!this.host.validates) return false;
    const { session } = this;
    const progress = session.progress;
    const t0 = Date.now();
    let report: ValidationReport | undefined;
    session.validating = true;
    try {
      report = await this.host.validate(iterations, {
        signal: session.hurry.signal,
        onProgress: progress ? ({ done, total }) => progress.evaluation(`validation at step ${step}`, done, total) : undefined,
      });
    } catch (e) {
      progress?.endEvaluation();
      if (!(e instanceof EvaluationAborted)) throw e;
      session.say(`validation at step ${step} skipped (${e.message})`);
      return false;
    } finally {
      session.validating = false;
    }
    this.validationSeconds = (Date.now() - t0) / 1000;
    if (!report) return false;
    this.lastValidation = report;
    const { paths } = this.host;
    if (paths) appendFileSync(paths.validationLog, `${JSON.stringify({ step, stage, ...this.host.seconds(), iterations, report })}\n`);
    await this.host.announce(report, step);
    return true;
  }

  /** Keeps the best score, then writes the checkpoint of `step` (with the figures when it was just validated). */
  private async write(step: number, validated: boolean): Promise<void> {
    let isBest = false;
    if (validated && this.lastValidation) {
      const score = meanScore(this.lastValidation);
      if (Number.isFinite(score) && (this.best === null || score > this.best.score)) {
        this.best = { score, step };
        isBest = true;
      }
    }
    if (this.host.paths) {
      await this.host.writeCheckpoint(this.session.samplers!, this.best, validated ? this.lastValidation : undefined, isBest);
      this.session.lastCheckpointStep = step;
    }
    this.checkpointed = step;
  }
}

/** What the end of a unit (a stage-1 epoch or a stage-2 round) writes: a checkpoint, after a validation? */
function unitEnd(c: CheckpointConfig, stage: StageName, epoch: number, last: boolean): { checkpoint: boolean; validate: boolean } {
  const checkpoint = last || stage === 'pretrain' || (stage === 'finetune' && (epoch + 1) % c.everyRounds === 0);
  return { checkpoint, validate: checkpoint && (last || stage === 'finetune' || c.validateEpochs === true) };
}

/** Mean over tasks of the primary figure, negated where lower is better: higher is better. */
function meanScore(report: ValidationReport): number {
  const v = Object.values(report).map((r) => (r.primary.higherIsBetter ? r.primary.value : -r.primary.value));
  return v.reduce((a, b) => a + b, 0) / v.length;
}
