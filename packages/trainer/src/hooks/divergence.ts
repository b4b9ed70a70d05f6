import { TrainingDivergedError } from '../errors';
import type { TrainerHook } from '../types';

/**
 * Fails the run at the first step whose loss is not finite (the step was not applied). Installed after
 * the step log, which keeps the step's line, and before every other hook, which never see the step.
 */
export const divergenceGuard: TrainerHook = {
  afterStep(_trainer, record) {
    for (const [task, losses] of Object.entries(record.losses)) {
      if (!losses.every(Number.isFinite)) throw new TrainingDivergedError(record.step, task, losses);
    }
  },
};
