/**
 * Checks a user's trainer options and fills in the defaults (the settings' schema: config-schema.ts).
 * Every refusal is a {@link ConfigError} naming the field, raised before any training.
 */
import { DEFAULT_NETWORK_CONFIG, fixedLossWeighting, type Dataset, type LossWeighting } from '@ifan/core';
import { batchSizeSchema, lossWeightingSchema, parseConfig, trainerSettingsSchema } from './config-schema';
import {
  DEFAULT_AUGMENT_CONFIG,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CHECKPOINT,
  DEFAULT_CROP,
  DEFAULT_OPTIMIZER,
  DEFAULT_SCHEDULE,
} from './defaults';
import { ConfigError } from './errors';
import type { OptimizerConfig, OptimizerType, ResolvedLossWeighting, ResolvedTrainConfig, TaskData, TrainerOptions } from './types';

/** One training data source: a data set and the tasks its batches train. */
export interface DataSource {
  name: string;
  dataset: Dataset;
  /** Tasks trained by every batch of this source (the network's tasks it labels), network order. */
  tasks: string[];
  bnKey: string;
  batchSize: number;
}

export function isTaskData(d: Dataset | TaskData): d is TaskData {
  return (d as TaskData).train !== undefined && (d as Dataset).samples === undefined;
}

/**
 * Validates `options` and returns the resolved configuration, the data sources in training order and
 * the loss weighting.
 */
export function resolveTrainerOptions(options: TrainerOptions): { config: ResolvedTrainConfig; sources: DataSource[]; val: Record<string, Dataset>; weighting: LossWeighting } {
  const plugins = options.plugins;
  if (!Array.isArray(plugins) || plugins.length === 0) throw new ConfigError('plugins', 'give at least one task plugin');
  const names = plugins.map((p) => p.name);
  const datasets = options.datasets ?? {};
  for (const key of Object.keys(datasets)) {
    if (!names.includes(key)) throw new ConfigError(`datasets.${key}`, `unknown task "${key}": the tasks are ${names.join(', ')}`);
  }
  const batchSizeOf = (task: string): number => {
    const b = options.batchSize;
    if (b === undefined) return DEFAULT_BATCH_SIZE;
    if (typeof b === 'number') return parseConfig(batchSizeSchema, b, 'batchSize');
    for (const key of Object.keys(b)) if (!names.includes(key)) throw new ConfigError(`batchSize.${key}`, `unknown task "${key}": the tasks are ${names.join(', ')}`);
    return b[task] === undefined ? DEFAULT_BATCH_SIZE : parseConfig(batchSizeSchema, b[task], `batchSize.${task}`);
  };
  const sources: DataSource[] = [];
  const val: Record<string, Dataset> = {};
  for (const p of plugins) {
    const d = datasets[p.name];
    if (!d) throw new ConfigError(`datasets.${p.name}`, `no data for task "${p.name}": give a data set or { train, val?, test? }`);
    const data: TaskData = isTaskData(d) ? d : { train: d };
    for (const split of ['train', 'val', 'test'] as const) {
      const ds = data[split];
      if (ds === undefined) continue;
      const field = `datasets.${p.name}${isTaskData(d) ? `.${split}` : ''}`;
      if (!ds || !Array.isArray(ds.samples)) throw new ConfigError(field, 'is not a data set ({ name, tasks, samples })');
      if (ds.samples.length === 0) throw new ConfigError(field, `data set "${ds.name}" has no samples`);
      if (Array.isArray(ds.tasks) && !ds.tasks.includes(p.name)) {
        throw new ConfigError(field, `data set "${ds.name}" labels [${ds.tasks.join(', ')}], not ${p.name}`);
      }
    }
    if (data.val) val[p.name] = data.val;
    const existing = sources.find((s) => s.dataset === data.train);
    if (existing) {
      if (!existing.tasks.includes(p.name)) existing.tasks.push(p.name);
      continue;
    }
    const labelled = names.filter((n) => n === p.name || data.train.tasks?.includes(n));
    sources.push({ name: data.train.name, dataset: data.train, tasks: labelled, bnKey: p.bnKey, batchSize: batchSizeOf(p.name) });
  }
  const usedNames = new Set<string>();
  for (const s of sources) {
    let n = s.name;
    for (let k = 2; usedNames.has(n); k++) n = `${s.name}#${k}`;
    s.name = n;
    usedNames.add(n);
  }

  checkOptimizerSettings(options.optimizer);
  const settings = parseConfig(trainerSettingsSchema, {
    network: { ...DEFAULT_NETWORK_CONFIG, ...options.network },
    schedule: { ...DEFAULT_SCHEDULE, ...options.schedule },
    optimizer: { ...DEFAULT_OPTIMIZER, ...options.optimizer },
    augment: options.augment === false ? { geometry: false, color: false } : { ...DEFAULT_AUGMENT_CONFIG, ...options.augment },
    crop: { ...DEFAULT_CROP, ...options.crop },
    checkpoint: { ...DEFAULT_CHECKPOINT, ...options.checkpoint },
    seed: options.seed ?? 1,
    evalBatchSize: options.evalBatchSize,
  });
  const lossWeighting = resolveLossWeighting(options.lossWeighting, names, settings.network.iterations);
  // a colour per batch-norm key names keys the network has (the schema cannot know them)
  const colour = settings.network.colour;
  if (typeof colour === 'object') {
    const bnKeys = [...new Set(plugins.map((p) => p.bnKey))];
    for (const key of Object.keys(colour)) {
      if (!bnKeys.includes(key)) throw new ConfigError(`network.colour.${key}`, `unknown batch-norm key "${key}": the network's keys are ${bnKeys.join(', ')}`);
    }
  }

  const config: ResolvedTrainConfig = {
    tasks: plugins.map((p) => ({ name: p.name, bnKey: p.bnKey, config: p.config })),
    sources: sources.map((s) => ({
      name: s.name,
      tasks: s.tasks,
      bnKey: s.bnKey,
      batchSize: s.batchSize,
      samples: s.dataset.samples.length,
    })),
    network: settings.network,
    schedule: settings.schedule,
    optimizer: settings.optimizer,
    augment: settings.augment,
    crop: settings.crop,
    checkpoint: settings.checkpoint,
    seed: settings.seed,
    lossWeighting: lossWeighting.config,
    ...(options.meta ? { meta: options.meta } : {}),
  };
  return { config, sources, val, weighting: lossWeighting.weighting };
}

function isLossWeighting(w: unknown): w is LossWeighting {
  return typeof w === 'object' && w !== null && typeof (w as LossWeighting).weights === 'function';
}

/**
 * The `lossWeighting` option: your method as it is (recorded by name), or a built-in's settings checked
 * against the run's tasks and iterations and filled in (the default is every weight 1, the paper's sum).
 */
export function resolveLossWeighting(
  option: TrainerOptions['lossWeighting'],
  tasks: readonly string[],
  iterations: number,
): { config: ResolvedLossWeighting; weighting: LossWeighting } {
  if (isLossWeighting(option)) {
    if (typeof option.name !== 'string' || option.name === '') {
      throw new ConfigError('lossWeighting.name', `must name your method (a non-empty string; config.json records it, and a resumed run must use the same), got ${JSON.stringify(option.name) ?? String(option.name)}`);
    }
    return { config: { type: 'custom', name: option.name }, weighting: option };
  }
  const c = parseConfig(lossWeightingSchema, option ?? { type: 'fixed' }, 'lossWeighting');
  for (const task of Object.keys(c.tasks ?? {})) {
    if (!tasks.includes(task)) throw new ConfigError(`lossWeighting.tasks.${task}`, `unknown task "${task}": the tasks are ${tasks.join(', ')}`);
  }
  if (c.iterations && c.iterations.length !== iterations + 1) {
    throw new ConfigError('lossWeighting.iterations', `has ${c.iterations.length} weights, but network.iterations is ${iterations}: give ${iterations + 1}, one per iteration 0..${iterations}`);
  }
  const config = {
    type: c.type,
    tasks: Object.fromEntries(tasks.map((t) => [t, c.tasks?.[t] ?? 1])),
    iterations: c.iterations ?? Array.from({ length: iterations + 1 }, () => 1),
  };
  return { config, weighting: fixedLossWeighting(config) };
}

/** The first path at which two JSON values differ (`schedule.rounds`), or null; the order of an object's keys does not count. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return path || '(root)';
}

/** The settings each optimiser reads (`weightDecay` is every optimiser's). */
const OPTIMIZER_SETTINGS: Record<OptimizerType, readonly string[]> = {
  rmsprop: ['decay', 'momentum', 'epsilon'],
  adam: ['beta1', 'beta2', 'epsilon'],
  sgd: ['momentum', 'nesterov'],
};

/** A setting the chosen optimiser does not read (`nesterov` under RMSprop, ...) is an error, not ignored. */
function checkOptimizerSettings(optimizer: Partial<OptimizerConfig> | undefined): void {
  if (!optimizer) return;
  const type = optimizer.type ?? 'rmsprop';
  for (const key of Object.keys(optimizer)) {
    if (key === 'type' || key === 'weightDecay' || !(type in OPTIMIZER_SETTINGS) || OPTIMIZER_SETTINGS[type].includes(key)) continue;
    const owners = (Object.keys(OPTIMIZER_SETTINGS) as OptimizerType[]).filter((t) => OPTIMIZER_SETTINGS[t].includes(key));
    throw new ConfigError(`optimizer.${key}`, `is not a setting of ${type}${optimizer.type ? '' : ' (the default optimiser)'}${owners.length ? `; it is ${owners.join(' and ')}'s: set optimizer.type` : ''}`);
  }
}
