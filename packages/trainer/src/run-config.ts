/**
 * The run configuration of `ifan train` (a JSON file and/or flags): which tasks, where their data
 * is, and the trainer settings (its schema: config-schema.ts). Turned into {@link TrainerOptions}:
 * plugins created, data sets loaded and split.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_NETWORK_CONFIG, Rng, resolveBackboneConfig, subsetDataset, type BackboneConfig, type BackbonePresetName, type Dataset, type DatasetLoading, type TaskPlugin } from '@ifan/core';
import { scanDataset, shuffle, splitDataset, type SkippedFile } from '@ifan/core/node';
import { syntheticDataset } from '@ifan/synthetic';
import { inverseSqrtClassWeights } from './baselines';
import { DEFAULT_CROP } from './defaults';
import { dataSpecSchema, parseConfig, parseDataSpec, runConfigFileSchema, type DataSpec, type RunConfigFile } from './config-schema';
import { ConfigError } from './errors';
import { taskEntry } from './tasks';
import type { TaskData, TrainerOptions } from './types';

export { parseDataSpec };
export type { DataSpec, RunConfigFile, TaskSpec } from './config-schema';

/** How files are read: the loaders' `onError` and `limitInputPixels`. */
export interface DataLoadOptions {
  onError?: 'error' | 'skip';
  limitInputPixels?: number;
}

/** A file left out in `skip` mode, with the task and split it belonged to. */
export interface SkippedDataFile extends SkippedFile {
  task: string;
  split: string;
  dataset: string;
}

/**
 * Checks a parsed config file against its schema (unknown settings, tasks, every field's type and
 * range) and each task's options against the options its plugin has. (A saved run's configuration is
 * not checked again: a run directory stays resumable and evaluable whatever later checks refuse.)
 */
export function checkRunConfig(raw: unknown): RunConfigFile {
  const config = parseConfig(runConfigFileSchema, raw);
  for (const [name, spec] of Object.entries(config.tasks)) {
    const known = taskEntry(name, `tasks.${name}`).optionNames;
    const unknown = known ? Object.keys(spec.options ?? {}).filter((k) => !known.includes(k)) : [];
    if (unknown.length) {
      const hint = unknown[0] === 'limit' ? ' (a subset of the data is the data spec\'s limit: { format, path, limit })' : '';
      throw new ConfigError(`tasks.${name}.options.${unknown[0]}`, `unknown option of the ${name} task; its options are ${known!.join(', ')}${hint}`);
    }
  }
  return config;
}

export interface BuiltRun {
  plugins: TaskPlugin[];
  /** Train, val and test sets of every task. */
  data: Record<string, TaskData>;
  options: TrainerOptions;
  /** The options each task's plugin was created with, those its data imply included (what `tasks.json` records). */
  taskOptions: Record<string, Record<string, unknown>>;
  /** Files left out in `skip` mode. */
  skipped: SkippedDataFile[];
}

function withoutKey(o: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _, ...rest } = o;
  return rest;
}

/** The backbone a run configuration asks for (preset or layout), resolved: its input size decides class shares. */
function networkOf(config: RunConfigFile): BackboneConfig {
  return resolveBackboneConfig(config.preset ?? config.network?.backbone ?? DEFAULT_NETWORK_CONFIG.backbone);
}

/**
 * Creates the plugins, loads every data set (checking formats, paths and emptiness, naming the field)
 * and carves missing val/test splits, then assembles the trainer options. `baseDir` resolves
 * relative paths (the config file's folder).
 */
export async function buildRun(config: RunConfigFile, baseDir = process.cwd()): Promise<BuiltRun> {
  const seed = config.seed ?? 1;
  const plugins: TaskPlugin[] = [];
  const data: Record<string, TaskData> = {};
  const batchSize: Record<string, number> = {};
  const taskOptions: Record<string, Record<string, unknown>> = {};
  const skipped: SkippedDataFile[] = [];
  const loadOptions: DataLoadOptions = { onError: config.onError, limitInputPixels: config.limitInputPixels };
  for (const [name, spec] of Object.entries(config.tasks)) {
    const entry = taskEntry(name, `tasks.${name}`);
    const specs = Object.fromEntries(
      (['train', 'val', 'test'] as const).flatMap((split) => {
        const s = spec[split];
        return s === undefined ? [] : [[split, typeof s === 'string' ? parseDataSpec(s, `tasks.${name}.${split}`) : s]];
      }),
    ) as Record<'train' | 'val' | 'test', DataSpec | undefined>;
    let options = spec.options ?? {};
    if (entry.optionsForData) {
      const uses = Object.entries(specs).flatMap(([split, s]) => (s && typeof s.format === 'string' ? [{ split, format: s.format }] : []));
      try {
        options = entry.optionsForData(options, uses);
      } catch (e) {
        throw new ConfigError(`tasks.${name}.options`, (e as Error).message);
      }
    }
    // `classWeights: "inverse-sqrt"` is resolved from the training set once it is loaded (below)
    const weighClasses = options.classWeights === 'inverse-sqrt';
    if (weighClasses) options = withoutKey(options, 'classWeights');
    const create = (opts: Record<string, unknown>): TaskPlugin => {
      try {
        return entry.create(opts);
      } catch (e) {
        throw new ConfigError(`tasks.${name}.options`, (e as Error).message);
      }
    };
    let plugin = create(options);
    if (weighClasses && !Array.isArray((plugin.config as { classes?: unknown }).classes)) {
      throw new ConfigError(`tasks.${name}.options.classWeights`, `"inverse-sqrt" is for tasks that score classes (parsing); ${name} has no classes`);
    }
    batchSize[name] = spec.batchSize ?? entry.batchSize.default;
    const load = async (split: 'train' | 'val' | 'test') => {
      const ds = await loadData(plugin, specs[split]!, `tasks.${name}.${split}`, baseDir, seed, split, loadOptions);
      for (const f of ds.skipped ?? []) skipped.push({ task: name, split, dataset: ds.name, ...f });
      return ds;
    };
    let train = await load('train');
    let test = specs.test ? await load('test') : undefined;
    let val = specs.val ? await load('val') : undefined;
    // per task, so that a multi-task run can carve each task's splits as its single-task run did
    const testFraction = spec.testFraction ?? config.testFraction ?? 0.2;
    const valFraction = spec.valFraction ?? config.valFraction ?? 0.1;
    const whole = train.name;
    if (!test && testFraction > 0) {
      const parts = splitDataset(train, { fraction: testFraction, seed });
      train = parts.train;
      test = { ...parts.validation, name: `${whole}/test` };
    }
    if (!val && valFraction > 0) {
      const parts = splitDataset(train, { fraction: valFraction, seed: seed + 1 });
      train = { ...parts.train, name: `${whole}/train` };
      val = { ...parts.validation, name: `${whole}/val` };
    }
    for (const [split, ds] of Object.entries({ train, val, test })) {
      if (ds && ds.samples.length === 0) throw new ConfigError(`tasks.${name}.${split}`, `data set "${ds.name}" has no samples after splitting: give more data or lower valFraction/testFraction`);
    }
    data[name] = { train, ...(val ? { val } : {}), ...(test ? { test } : {}) };
    if (weighClasses) {
      const classWeights = await inverseSqrtClassWeights(plugin, train, { inputSize: networkOf(config).inputSize, crop: { ...DEFAULT_CROP, ...config.crop } });
      options = { ...options, classWeights };
      plugin = create(options);
    }
    plugins.push(plugin);
    taskOptions[name] = options;
  }
  const options: TrainerOptions = {
    plugins,
    datasets: data,
    network: { ...config.network, ...(config.preset ? { backbone: config.preset } : {}) },
    schedule: config.schedule,
    batchSize,
    optimizer: config.optimizer,
    augment: config.augment,
    crop: config.crop,
    checkpoint: config.checkpoint,
    lossWeighting: config.lossWeighting,
    ...(config.init !== undefined ? { init: config.init } : {}),
    seed,
    evalBatchSize: config.evalBatchSize,
    runDir: config.out,
    meta: { run: config },
  };
  return { plugins, data, options, taskOptions, skipped };
}

/**
 * Loads one split, refusing an unknown format, a missing path or an empty set with the field named.
 * With `onError: 'skip'`, bad files are left out and listed in `skipped`: those the loader finds while
 * listing, and those that fail to decode (every sample is loaded once here).
 */
export async function loadData(
  plugin: TaskPlugin,
  spec: DataSpec,
  field: string,
  baseDir: string,
  seed: number,
  split: string,
  load: DataLoadOptions = {},
): Promise<Dataset> {
  spec = parseConfig(dataSpecSchema, spec, field);
  let ds: Dataset;
  if (spec.format === 'synthetic') {
    const domain = taskEntry(plugin.name).syntheticDomain;
    if (!domain) throw new ConfigError(`${field}.format`, `task ${plugin.name} has no synthetic data`);
    const count = spec.count!;
    const splitSalt = { train: 0, val: 1, test: 2 }[split] ?? 3;
    try {
      ds = syntheticDataset({
        ...spec.face,
        count,
        domain,
        seed: (spec.seed ?? seed) * 7 + splitSalt,
        task: domain,
        name: `synthetic-${plugin.name}${split === 'train' ? '' : `-${split}`}`,
      });
    } catch (err) {
      if (!spec.face) throw err;
      throw new ConfigError(`${field}.face`, (err as Error).message);
    }
  } else {
    const loading = plugin as TaskPlugin & Partial<DatasetLoading>;
    if (typeof loading.loadDataset !== 'function' || !loading.formats) {
      throw new ConfigError(
        `${field}.format`,
        `task ${plugin.name} cannot load data sets (only synthetic): make its plugin with its package's Node entry, e.g. landmarkTask of '@ifan/task-landmarks/node', or give it formats and loadDataset`,
      );
    }
    if (!loading.formats.includes(spec.format)) {
      throw new ConfigError(`${field}.format`, `task ${plugin.name} reads ${[...loading.formats, 'synthetic'].join(', ')}, not "${spec.format}"`);
    }
    const path = isAbsolute(spec.path!) ? spec.path! : resolve(baseDir, spec.path!);
    try {
      await stat(path);
    } catch {
      throw new ConfigError(`${field}.path`, `${path} does not exist`);
    }
    ds = await loading.loadDataset(spec.format, path, {
      ...(spec.split ? { split: spec.split } : {}),
      ...(load.onError ? { onError: load.onError } : {}),
      ...(load.limitInputPixels ? { limitInputPixels: load.limitInputPixels } : {}),
    });
    if (load.onError === 'skip') ds = (await scanDataset(ds, { onError: 'skip' })).dataset;
  }
  if (ds.samples.length === 0) throw new ConfigError(field, `data set "${ds.name}" has no samples`);
  const limit = spec.limit;
  if (limit !== undefined) {
    if (limit < ds.samples.length) {
      const order = shuffle(ds.samples.map((_, i) => i), new Rng(seed * 13 + 5));
      ds = subsetDataset(ds, order.slice(0, limit).sort((a, b) => a - b), `${ds.name}[${limit}]`);
    }
  }
  return ds;
}
