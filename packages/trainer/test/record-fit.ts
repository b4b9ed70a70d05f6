/** Fitting a trainer while recording its steps, for the tests that compare runs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
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

/**
 * Checks that a run saved before the config key `section.key` existed still resumes: stops a run of
 * `options` (in the empty `runDir`) after 5 steps, checks its config.json recorded `section.key` as
 * `recorded`, deletes the key as an older trainer would have written it, then checks that resuming with
 * `options` changed by `other` (a different value of the key) is refused naming the key, and that
 * resuming with `options` trains on.
 */
export async function expectOldRunResumes(
  options: TrainerOptions & { runDir: string },
  section: string,
  key: string,
  recorded: unknown,
  other: Partial<TrainerOptions>,
): Promise<void> {
  (await recordFit(options, 5)).trainer.dispose();
  const configPath = join(options.runDir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, Record<string, unknown>>;
  expect(config[section][key]).toEqual(recorded);
  delete config[section][key];
  writeFileSync(configPath, JSON.stringify(config));
  const field = `${section}.${key}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await expect(recordFit({ ...options, ...other, resume: true })).rejects.toThrow(new RegExp(`^${field}: differs from the run being resumed`));
  const rest = await recordFit({ ...options, resume: true });
  expect(rest.steps.length).toBeGreaterThan(0);
  rest.trainer.dispose();
}
