/**
 * Ctrl-C during `fit` (option `handleSignals`). 1: finish the step, validate if due, write a checkpoint.
 * 2: stop now (a running validation is dropped), but still write the checkpoint of the last finished
 * step. 3: quit without one.
 */
import type { TrainerView } from '../types';
import type { BuiltInHook, FitSession } from './session';

export class SigintHandler implements BuiltInHook {
  private sigints = 0;
  private trainer: TrainerView | null = null;
  private readonly listener = () => this.received();

  constructor(private readonly session: FitSession) {}

  beforeRun(trainer: TrainerView): void {
    this.trainer = trainer;
    this.sigints = 0;
    process.on('SIGINT', this.listener);
  }

  close(): void {
    process.off('SIGINT', this.listener);
  }

  private received(): void {
    const { session } = this;
    const trainer = this.trainer!;
    const running = session.running;
    this.sigints++;
    if (this.sigints === 1) {
      session.interrupted = true;
      trainer.stop('interrupted (SIGINT)');
      const now = session.validating ? 'finishing the validation' : running !== null ? `finishing step ${running + 1}` : 'no further step';
      session.note(`SIGINT: ${now}, then writing a checkpoint (Ctrl-C again: stop sooner, without validation, still with a checkpoint)`);
    } else if (this.sigints === 2) {
      session.hurry.abort('a second SIGINT');
      const now = session.validating ? 'dropping the validation' : running !== null ? `finishing step ${running + 1} (a step cannot be cut short)` : 'no validation';
      const step = running !== null ? running + 1 : trainer.step;
      session.note(`second SIGINT: ${now}; writing the checkpoint of step ${step} now (Ctrl-C a third time quits WITHOUT a checkpoint)`);
    } else {
      const latest = session.lastCheckpointStep !== null ? `the latest is of step ${session.lastCheckpointStep}` : 'none was written in this session';
      session.note(`third SIGINT: quitting without a checkpoint; ${latest} (${trainer.step} steps done)`);
      process.exit(130);
    }
  }
}
