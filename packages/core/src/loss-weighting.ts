/**
 * Loss weighting, an axis of its own (as in LibMTL): how a training step combines its loss terms into
 * the objective it differentiates. A step has one term for each task with a target and each
 * interaction iteration 0..I; the paper sums them (eqns 5 and 6). A weighting first multiplies each
 * term by a weight:
 *
 *     total = sum over tasks t, iterations i of  w[t][i] * loss[t][i]
 *
 * so weights that are all 1 are the paper's sum. A weighting decides a step's weights before the step
 * runs, from what is known then (step, stage, the tasks and iterations of the step, each task's latest
 * losses): the weights are plain numbers, the same on every thread a step is split between, and a
 * user's method needs nothing of the network.
 */

/**
 * The weights of one step's loss terms, by task name: one weight for every iteration of the task, or
 * one per iteration 0..I. A task not named weighs 1. Weights are finite and >= 0.
 */
export type LossWeights = Record<string, number | readonly number[]>;

/** What a {@link LossWeighting} knows when it weighs a step. */
export interface LossWeightingContext {
  /** Global step, from 0. */
  step: number;
  /** Algorithm 1's stage: task-wise pre-training (iteration 0 alone) or alternating fine-tuning (0..ITER). */
  stage: 'pretrain' | 'finetune';
  /** Name of the data source of the step's batch. */
  source: string;
  /** Tasks with a target in the step (network order): the tasks to weigh. */
  tasks: readonly string[];
  /** The step runs iterations 0..`iterations`: one loss per task for each. */
  iterations: number;
  /**
   * Each task's losses at iterations 0..I at the last step that trained it, unweighted (a task not
   * trained yet is absent). Restored with a resumed run.
   */
  losses: Readonly<Record<string, readonly number[]>>;
}

/**
 * A loss-weighting method. The built-in one is {@link fixedLossWeighting}; a method of your own is an
 * object with a `name` and `weights`, passed to the trainer as it is (`lossWeighting`).
 */
export interface LossWeighting {
  /** Names the method in `config.json`; resuming a run needs a method of the same name. */
  readonly name: string;
  /** The weights of the step described by `context` (called once per step, before it runs). */
  weights(context: LossWeightingContext): LossWeights;
  /**
   * For a method that remembers (a running average of the losses, ...): its state as JSON, saved with
   * every checkpoint and handed back to {@link setState} when the run is resumed, so that the resumed
   * run weighs its steps as the uninterrupted one would.
   */
  getState?(): unknown;
  setState?(state: unknown): void;
}

/** Settings of the built-in `fixed` weighting. */
export interface FixedLossWeightingOptions {
  /** Weight of each task's losses, by task name. Default 1 for every task. */
  tasks?: Readonly<Record<string, number>>;
  /**
   * Weight of the losses at each interaction iteration 0..ITER in the fine-tuning stage (eqn 6), e.g.
   * `[0.5, 0.75, 1]` to weigh later predictions more; multiplied by the task weight. Pre-training runs
   * iteration 0 alone and weighs it by the task weight alone. Default 1 for every iteration.
   */
  iterations?: readonly number[];
}

/**
 * Fixed weights: a weight per task and, in fine-tuning, per iteration, the same at every step. The
 * defaults (all 1) are the paper's plain sum over tasks and iterations (eqns 5 and 6).
 */
export function fixedLossWeighting(options: FixedLossWeightingOptions = {}): LossWeighting {
  const tasks = { ...options.tasks };
  const its = options.iterations ? [...options.iterations] : undefined;
  checkLossWeights(tasks, null, null, 'fixedLossWeighting tasks');
  its?.forEach((x, i) => checkWeight(`fixedLossWeighting iterations[${i}]`, x));
  return {
    name: 'fixed',
    weights(context) {
      const perIteration = context.stage === 'finetune' ? its : undefined;
      if (perIteration && perIteration.length !== context.iterations + 1) {
        throw new Error(`fixed loss weighting: ${perIteration.length} iteration weights, but the step runs iterations 0..${context.iterations}: give ${context.iterations + 1}`);
      }
      return Object.fromEntries(
        context.tasks.map((t) => {
          const w = tasks[t] ?? 1;
          return [t, perIteration ? perIteration.map((x) => w * x) : w];
        }),
      );
    },
  };
}

/**
 * Checks `weights` (throws an Error naming the first bad entry as `<what>.<task>[i]`): every weight a
 * finite number >= 0; with `tasks`, only those task names; with `iterations`, a list has one weight per
 * iteration 0..`iterations`.
 */
export function checkLossWeights(weights: unknown, tasks: readonly string[] | null, iterations: number | null, what = 'lossWeights'): asserts weights is LossWeights {
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) {
    throw new Error(`${what} must be an object of weights by task name, got ${JSON.stringify(weights) ?? String(weights)}`);
  }
  for (const [task, w] of Object.entries(weights as Record<string, unknown>)) {
    const field = `${what}.${task}`;
    if (tasks && !tasks.includes(task)) throw new Error(`${field}: no task "${task}" in this network; it has ${tasks.join(', ')}`);
    if (Array.isArray(w)) {
      if (iterations !== null && w.length !== iterations + 1) throw new Error(`${field} has ${w.length} weights: give one per iteration 0..${iterations} (${iterations + 1}), or one number`);
      w.forEach((x, i) => checkWeight(`${field}[${i}]`, x));
    } else {
      checkWeight(field, w);
    }
  }
}

function checkWeight(field: string, w: unknown): void {
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
    throw new Error(`${field} must be a finite number >= 0, got ${typeof w === 'number' ? String(w) : (JSON.stringify(w) ?? String(w))}`);
  }
}
