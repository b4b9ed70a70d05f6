/**
 * The progress display of a run (option `progress`): a bar or periodic lines per stage, the time left
 * (the validations still to come included), and each validation's figures.
 */
import type { PlanUnit } from '../schedule';
import type { EpochInfo, StageName, StepRecord, TrainerHook, TrainerView, ValidationReport } from '../types';
import type { FitSession } from './session';

export class ProgressDisplay implements TrainerHook {
  private stage: StageName | null = null;
  /** First step and steps of the stage shown. */
  private bounds = { first: 0, total: 0 };

  /** `secondsAhead`: seconds of the validations still to come in a stage after a step (see `Checkpoints`). */
  constructor(
    private readonly session: FitSession,
    private readonly plan: readonly PlanUnit[],
    private readonly secondsAhead: (stage: StageName, step: number) => number,
  ) {}

  beforeRun(): void {
    this.stage = null;
  }

  beforeEpoch(trainer: TrainerView, epoch: EpochInfo): void {
    if (epoch.stage === this.stage) return;
    this.stage = epoch.stage;
    const units = this.plan.filter((u) => u.stage === epoch.stage);
    this.bounds = { first: units[0]?.firstStep ?? 0, total: units.reduce((a, u) => a + u.steps.length, 0) };
    this.session.progress?.begin(stageTitle(epoch.stage), trainer.step - this.bounds.first, this.bounds.total);
  }

  afterStep(trainer: TrainerView, record: StepRecord): void {
    const { first, total } = this.bounds;
    this.session.progress?.update(trainer.step - first, total, record, this.secondsAhead(record.stage, trainer.step));
  }

  afterValidation(_trainer: TrainerView, report: ValidationReport, step: number): void {
    const figures = Object.entries(report).map(([t, r]) => `${t} ${r.primary.name} ${r.primary.value.toFixed(4)}`);
    this.session.progress?.note(`validation at step ${step}: ${figures.join(', ')}`);
  }
}

function stageTitle(stage: StageName): string {
  return stage === 'pretrain' ? 'stage 1 (task-wise pre-training)' : 'stage 2 (batch-wise fine-tuning)';
}
