/** Fitting a trainer while recording its steps, for the tests that compare runs. */
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, type FitResult, type StepRecord, type TrainerOptions } from '../src/index';

/**
 * Fits a trainer made with `options`, recording every step and the number of tensors after it, and
 * stops it after `stopAfter` steps when given. The caller disposes the trainer (disposed here if the
 * fit fails).
 */
export async function recordFit(options: TrainerOptions, stopAfter?: number): Promise<{ trainer: Trainer; steps: StepRecord[]; counts: number[]; result: FitResult }> {
  const steps: StepRecord[] = [];
  const counts: number[] = [];
  const trainer = new Trainer({
    ...options,
    hooks: [
      ...(options.hooks ?? []),
      {
        afterStep(t, r) {
          steps.push(r);
          counts.push(tf.memory().numTensors);
          if (stopAfter !== undefined && steps.length >= stopAfter) t.stop('test');
        },
      },
    ],
  });
  try {
    return { trainer, steps, counts, result: await trainer.fit() };
  } catch (e) {
    trainer.dispose();
    throw e;
  }
}

/** What two runs that train alike share, step by step: the source, the losses and their total. */
export const stepLosses = (steps: StepRecord[]) => steps.map((s) => ({ step: s.step, source: s.source, losses: s.losses, total: s.total }));
