/**
 * Checks a user's trainer options and fills in the defaults. Every refusal is a {@link ConfigError}
 * naming the field, raised before any training.
 */
import { DEFAULT_NETWORK_CONFIG, resolveBackboneConfig, type Dataset, type NetworkConfig } from '@ifan/core';
import {
  DEFAULT_AUGMENT_CONFIG,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CHECKPOINT,
  DEFAULT_CROP,
  DEFAULT_OPTIMIZER,
  DEFAULT_SCHEDULE,
} from './defaults';
import { ConfigError } from './errors';
import type { AugmentConfig, LrSchedule, ResolvedTrainConfig, TaskData, TrainerOptions } from './types';

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

export function checkInteger(field: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function checkNumber(field: string, v: unknown, opts: { min?: number; greaterThan?: number; max?: number } = {}): number {
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (opts.min === undefined || v >= opts.min) &&
    (opts.greaterThan === undefined || v > opts.greaterThan) &&
    (opts.max === undefined || v <= opts.max);
  if (!ok) {
    const range = [
      opts.min !== undefined ? `>= ${opts.min}` : '',
      opts.greaterThan !== undefined ? `> ${opts.greaterThan}` : '',
      opts.max !== undefined ? `<= ${opts.max}` : '',
    ].filter(Boolean);
    throw new ConfigError(field, `must be a finite number${range.length ? ` ${range.join(' and ')}` : ''}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

function checkLr(field: string, s: unknown): LrSchedule {
  if (typeof s !== 'object' || s === null) throw new ConfigError(field, `must be { type, from, to? }, got ${JSON.stringify(s)}`);
  const { type, from, to } = s as LrSchedule;
  const types = ['constant', 'linear', 'exponential', 'cosine'];
  if (!types.includes(type)) throw new ConfigError(`${field}.type`, `must be one of ${types.join(', ')}, got ${JSON.stringify(type)}`);
  checkNumber(`${field}.from`, from, { greaterThan: 0 });
  if (type !== 'constant') checkNumber(`${field}.to`, to, type === 'exponential' ? { greaterThan: 0 } : { min: 0 });
  return type === 'constant' ? { type, from } : { type, from, to };
}

function checkAugment(a: TrainerOptions['augment']): AugmentConfig {
  if (a === false) return { geometry: false, color: false };
  const out: AugmentConfig = { ...DEFAULT_AUGMENT_CONFIG, ...a };
  if (out.geometry) {
    const g = out.geometry;
    if (g.scale !== undefined) {
      if (!Array.isArray(g.scale) || g.scale.length !== 2) throw new ConfigError('augment.geometry.scale', `must be [min, max], got ${JSON.stringify(g.scale)}`);
      checkNumber('augment.geometry.scale[0]', g.scale[0], { greaterThan: 0 });
      checkNumber('augment.geometry.scale[1]', g.scale[1], { min: g.scale[0] });
    }
    if (g.shift !== undefined) checkNumber('augment.geometry.shift', g.shift, { min: 0, max: 1 });
    if (g.rotationDeg !== undefined) checkNumber('augment.geometry.rotationDeg', g.rotationDeg, { min: 0, max: 180 });
    if (g.flip !== undefined && typeof g.flip !== 'boolean') checkNumber('augment.geometry.flip', g.flip, { min: 0, max: 1 });
  }
  if (out.color) {
    for (const k of ['brightness', 'contrast', 'saturation'] as const) {
      if (out.color[k] !== undefined) checkNumber(`augment.color.${k}`, out.color[k], { min: 0 });
    }
  }
  return out;
}

/** Validates `options` and returns the resolved configuration and the data sources in training order. */
export function resolveTrainerOptions(options: TrainerOptions): { config: ResolvedTrainConfig; sources: DataSource[]; val: Record<string, Dataset> } {
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
    if (typeof b === 'number') return checkInteger('batchSize', b, 1);
    for (const key of Object.keys(b)) if (!names.includes(key)) throw new ConfigError(`batchSize.${key}`, `unknown task "${key}": the tasks are ${names.join(', ')}`);
    return b[task] === undefined ? DEFAULT_BATCH_SIZE : checkInteger(`batchSize.${task}`, b[task], 1);
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

  const network = resolveNetwork(options.network ?? {});
  const schedule = { ...DEFAULT_SCHEDULE, ...options.schedule };
  checkInteger('schedule.pretrainEpochs', schedule.pretrainEpochs, 0);
  checkInteger('schedule.rounds', schedule.rounds, 0);
  schedule.pretrainLr = checkLr('schedule.pretrainLr', schedule.pretrainLr);
  schedule.finetuneLr = checkLr('schedule.finetuneLr', schedule.finetuneLr);
  if (schedule.pretrainEpochs === 0 && schedule.rounds === 0) throw new ConfigError('schedule', 'pretrainEpochs and rounds are both 0: nothing to train');
  const optimizer = { ...DEFAULT_OPTIMIZER, ...options.optimizer };
  checkNumber('optimizer.decay', optimizer.decay, { min: 0, max: 1 });
  checkNumber('optimizer.momentum', optimizer.momentum, { min: 0, max: 1 });
  checkNumber('optimizer.epsilon', optimizer.epsilon, { greaterThan: 0 });
  const crop = { ...DEFAULT_CROP, ...options.crop };
  checkNumber('crop.margin', crop.margin, { greaterThan: -0.5 });
  const checkpoint = { ...DEFAULT_CHECKPOINT, ...options.checkpoint };
  checkInteger('checkpoint.everyRounds', checkpoint.everyRounds, 1);
  checkInteger('checkpoint.keep', checkpoint.keep, 1);
  const seed = checkInteger('seed', options.seed ?? 1, 0, 0xffffffff);
  if (options.evalBatchSize !== undefined) checkInteger('evalBatchSize', options.evalBatchSize, 1);

  const config: ResolvedTrainConfig = {
    tasks: plugins.map((p) => ({ name: p.name, bnKey: p.bnKey, config: p.config })),
    sources: sources.map((s) => ({
      name: s.name,
      tasks: s.tasks,
      bnKey: s.bnKey,
      batchSize: s.batchSize,
      samples: s.dataset.samples.length,
    })),
    network,
    schedule,
    optimizer,
    augment: checkAugment(options.augment),
    crop,
    checkpoint,
    seed,
    ...(options.meta ? { meta: options.meta } : {}),
  };
  return { config, sources, val };
}

function resolveNetwork(n: Partial<NetworkConfig>): NetworkConfig {
  const net = { ...DEFAULT_NETWORK_CONFIG, ...n };
  try {
    resolveBackboneConfig(net.backbone);
  } catch (e) {
    throw new ConfigError('network.backbone', (e as Error).message);
  }
  checkInteger('network.iterations', net.iterations, 0, 16);
  if (net.reencoder !== 'learned' && net.reencoder !== 'resize') throw new ConfigError('network.reencoder', `must be 'learned' or 'resize', got ${JSON.stringify(net.reencoder)}`);
  if (typeof net.sharedBatchNorm !== 'boolean') throw new ConfigError('network.sharedBatchNorm', `must be true or false, got ${JSON.stringify(net.sharedBatchNorm)}`);
  if (net.initialFeedback !== 'none' && net.initialFeedback !== 'prior') {
    throw new ConfigError('network.initialFeedback', `must be 'none' or 'prior', got ${JSON.stringify(net.initialFeedback)}`);
  }
  checkInteger('network.seed', net.seed, 0, 0xffffffff);
  return net;
}

/** The first path at which two JSON values differ (`schedule.rounds`), or null. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
  }
  return path || '(root)';
}
