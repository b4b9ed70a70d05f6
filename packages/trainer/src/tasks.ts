/**
 * The task registry of the `ifan` command (transformers.js's SUPPORTED_TASKS, mmengine's registries):
 * a task is one entry, and adding one touches no other. The trainer itself never names a task.
 */
import type { TaskPlugin } from '@ifan/core';
import type { EmotionTaskOptions } from '@ifan/task-emotion';
import { emotionTask } from '@ifan/task-emotion/node';
import type { LandmarkTaskOptions } from '@ifan/task-landmarks';
import { landmarkTask } from '@ifan/task-landmarks/node';
import type { ParsingTaskOptions } from '@ifan/task-parsing';
import { formatLabelSet, HELEN_11, parsingTask } from '@ifan/task-parsing/node';
import { ConfigError } from './errors';

/** One data set of a task in a run: where it is used (`train`, `val`, `test`) and its format. */
export interface TaskDataUse {
  split: string;
  format: string;
}

export interface TaskEntry {
  /** The plugin with the given options (the task package's factory). */
  create(options?: Record<string, unknown>): TaskPlugin;
  /** Default batch size on a CPU, and the paper's (4.1.2). */
  batchSize: { default: number; paper: number };
  /** The `@ifan/synthetic` domain whose faces are labelled for this task (`synthetic:N` data). */
  syntheticDomain?: 'parsing' | 'landmarks' | 'emotion';
  /**
   * The options with what the run's data imply filled in where the run leaves them unset (parsing:
   * the label set of the mask format), so that `--task parsing=fasseg:DIR` needs no options. Throws
   * an Error saying how to set them when the data cannot decide.
   */
  optionsForData?(options: Record<string, unknown>, data: readonly TaskDataUse[]): Record<string, unknown>;
  /**
   * The factory's option names: a run's `options` naming any other is refused, naming the field (a
   * misspelt or misplaced option would otherwise be ignored). Absent: any names pass.
   */
  optionNames?: readonly string[];
}

/** `names` when it lists every key of `T` (checked when compiling), else a type error. */
type EveryKey<T, N extends readonly (keyof T)[]> = [Exclude<keyof T, N[number]>] extends [never] ? N : never;
const optionNames = <T>() => <const N extends readonly (keyof T & string)[]>(names: EveryKey<T, N>): readonly string[] => names;

/**
 * Parsing's label set from its data: the set the mask formats are drawn in (`helen` and synthetic
 * faces helen-11, `fasseg` fasseg-6; `celebamask-hq` celebamask-19 unless another format fixes the
 * set, as its part masks merge into any set). `indexed` masks do not name their classes.
 */
function parsingOptionsForData(options: Record<string, unknown>, data: readonly TaskDataUse[]): Record<string, unknown> {
  if (options.labelSet !== undefined) return options;
  const fixed = data.flatMap((d) => {
    const set = d.format === 'synthetic' ? HELEN_11 : d.format === 'celebamask-hq' ? undefined : formatLabelSet(d.format);
    return set ? [{ ...d, set: set.name }] : [];
  });
  const names = [...new Set(fixed.map((d) => d.set))];
  if (names.length > 1) {
    throw new Error(
      `the data are drawn in different label sets (${fixed.map((d) => `${d.split} ${d.format}: ${d.set}`).join(', ')}) and one network predicts one: ` +
        'use data of one label set, or convert the masks to one set and load them as indexed with options.labelSet',
    );
  }
  if (names.length === 1) return { ...options, labelSet: names[0] };
  if (data.some((d) => d.format === 'celebamask-hq')) return { ...options, labelSet: formatLabelSet('celebamask-hq')!.name };
  const indexed = data.find((d) => d.format === 'indexed');
  if (indexed) {
    throw new Error(
      'indexed masks hold class indices but do not name the classes: give the label set, on the command line ' +
        '--option parsing.labelSet=helen-11 (or fasseg-6, celebamask-19) or --option \'parsing.labelSet=["background","skin","hair"]\' ' +
        '(class names in mask-value order, background first); in a config file "tasks": { "parsing": { "options": { "labelSet": ... } } }',
    );
  }
  return options;
}

const registry = new Map<string, TaskEntry>([
  [
    'parsing',
    {
      create: (o) => parsingTask(o) as TaskPlugin,
      batchSize: { default: 8, paper: 24 },
      syntheticDomain: 'parsing',
      optionsForData: parsingOptionsForData,
      optionNames: optionNames<ParsingTaskOptions>()(['name', 'bnKey', 'labelSet', 'decodeFrom', 'feedbackChannels', 'prior', 'classWeights', 'decisionWeights']),
    },
  ],
  [
    'landmarks',
    {
      create: (o) => landmarkTask(o) as TaskPlugin,
      batchSize: { default: 16, paper: 64 },
      syntheticDomain: 'landmarks',
      optionNames: optionNames<LandmarkTaskOptions>()(['name', 'bnKey', 'landmarkSet', 'decodeFrom', 'meanShape', 'heatmapRadius', 'feedbackChannels', 'hiddenUnits', 'dropout']),
    },
  ],
  [
    'emotion',
    {
      create: (o) => emotionTask(o) as TaskPlugin,
      batchSize: { default: 24, paper: 96 },
      syntheticDomain: 'emotion',
      optionNames: optionNames<EmotionTaskOptions>()(['name', 'bnKey', 'labelSet', 'decodeFrom', 'dropout', 'hiddenUnits', 'feedbackChannels', 'prior', 'labelSmoothing']),
    },
  ],
]);

/** Adds (or replaces) a task of the `ifan` command. */
export function registerTask(name: string, entry: TaskEntry): void {
  registry.set(name, entry);
}

/** Names of the registered tasks. */
export function taskNames(): string[] {
  return [...registry.keys()];
}

/** The entry of a task; an error listing the known tasks when there is none. */
export function taskEntry(name: string, field = 'task'): TaskEntry {
  const e = registry.get(name);
  if (!e) throw new ConfigError(field, `unknown task "${name}": known tasks are ${taskNames().join(', ')}`);
  return e;
}
