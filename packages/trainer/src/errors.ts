/**
 * A configuration refused before training; `field` names the offending setting (`schedule.rounds`),
 * `reason` says what is wrong with it and how to fix it.
 */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** A loss became NaN or infinite; the weights of that step were not applied. */
export class TrainingDivergedError extends Error {
  constructor(
    readonly step: number,
    readonly task: string,
    readonly losses: number[],
  ) {
    super(
      `loss of task "${task}" is not finite at step ${step} (per iteration: ${losses.join(', ')}); ` +
        'the step was not applied and the last good checkpoint is kept: lower the learning rate or check the data',
    );
    this.name = 'TrainingDivergedError';
  }
}
