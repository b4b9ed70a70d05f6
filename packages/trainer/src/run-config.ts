/**
 * The run configuration of `ifan train` (a JSON file and/or flags): which tasks, where their data
 * is, and the trainer settings. Turned into {@link TrainerOptions} after every field is checked.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_NETWORK_CONFIG, Rng, resolveBackboneConfig, subsetDataset, type BackboneConfig, type BackbonePresetName, type Dataset, type DatasetLoading, type TaskPlugin } from '@ifan/core';
import { scanDataset, shuffle, splitDataset, type SkippedFile } from '@ifan/core/node';
import { syntheticDataset } from '@ifan/synthetic';
import { classFrequencies, inverseSqrtWeights } from './baselines';
import { DEFAULT_CROP } from './defaults';
import { ConfigError } from './errors';
import { taskEntry } from './tasks';
import { checkInteger, checkNumber } from './trainer-config';
import type { TaskData, TrainerOptions } from './types';

/** Where a split's data is: a loader format and a folder, or `synthetic` faces. */
export interface DataSpec {
  /** A format of the task's plugin (`mtfl`, `folders`, `helen`, ...) or `synthetic`. */
  format: string;
  /** Data-set root (not for `synthetic`); relative paths are relative to the config file. */
  path?: string;
  /** Split passed to the loader, where the format has several (`FORMAT:PATH#SPLIT` in a string). */
  split?: string;
  /** `synthetic`: number of faces. */
  count?: number;
  /** `synthetic`: seed. Default the run's seed. */
  seed?: number;
  /**
   * Use at most this many samples, a seeded random subset (taken before validation and test splits
   * are carved), e.g. to overfit a few hundred faces first.
   */
  limit?: number;
}

export interface TaskSpec {
  /** `FORMAT:PATH[#SPLIT]` (e.g. `mtfl:/data/mtfl`, `mtfl:/data/mtfl#test`), `synthetic:COUNT`, or a {@link DataSpec}. */
  train: string | DataSpec;
  /** Default: carved out of `train` (`valFraction`, by identity where known). */
  val?: string | DataSpec;
  /** Default: carved out of `train` (`testFraction`). */
  test?: string | DataSpec;
  /** Options of the task's plugin factory. */
  options?: Record<string, unknown>;
  batchSize?: number;
  /** This task's share of `train` carved out for validation; default the run's `valFraction`. */
  valFraction?: number;
  /** This task's share of `train` carved out for testing; default the run's `testFraction`. */
  testFraction?: number;
}

/** The JSON of `ifan train --config FILE`: the trainer's settings plus where each task's data is. */
export interface RunConfigFile
  extends Pick<TrainerOptions, 'network' | 'schedule' | 'optimizer' | 'augment' | 'crop' | 'checkpoint' | 'seed' | 'evalBatchSize'> {
  tasks: Record<string, TaskSpec>;
  /** Backbone preset (`paper`, `small`, `tiny`): shorthand for `network.backbone`. */
  preset?: BackbonePresetName;
  /** Share of `train` carved out for validation when `val` is not given; 0 for none. Default 0.1. */
  valFraction?: number;
  /** Share of `train` carved out for testing when `test` is not given; 0 for none. Default 0.2. */
  testFraction?: number;
  /** Run directory. */
  out?: string;
  /**
   * A bad file (corrupt, missing, mislabelled): `error` (default) stops the run naming it; `skip`
   * leaves it out and lists it. In `skip` mode every image is decoded once before training, so no
   * bad image can stop the run later.
   */
  onError?: 'error' | 'skip';
  /** Largest image accepted, in pixels (decompression-bomb guard). Default 100 megapixels. */
  limitInputPixels?: number;
}

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

const KNOWN_KEYS = [
  'tasks', 'preset', 'network', 'schedule', 'optimizer', 'augment', 'crop', 'checkpoint', 'seed', 'evalBatchSize', 'valFraction', 'testFraction', 'out',
  'onError', 'limitInputPixels',
];
const TASK_KEYS = ['train', 'val', 'test', 'options', 'batchSize', 'valFraction', 'testFraction'];

/**
 * `FORMAT:PATH`, `FORMAT:PATH#SPLIT` or `synthetic:COUNT` -> a {@link DataSpec}. The split is what
 * follows the last `#` (a path holding `#` is given in a config file as `{ format, path }`).
 */
export function parseDataSpec(text: string, field: string): DataSpec {
  const i = text.indexOf(':');
  if (i <= 0) throw new ConfigError(field, `"${text}" is not FORMAT:PATH[#SPLIT] (e.g. mtfl:/data/mtfl, mtfl:/data/mtfl#test, folders:/data/fer2013/train, synthetic:200)`);
  const format = text.slice(0, i);
  let rest = text.slice(i + 1);
  let split: string | undefined;
  const hash = rest.lastIndexOf('#');
  if (hash >= 0) {
    split = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
    if (split === '') throw new ConfigError(field, `"${text}" has no split after "#" (e.g. ${format}:${rest}#test)`);
  }
  if (format === 'synthetic') {
    if (split !== undefined) throw new ConfigError(field, `synthetic data has no splits ("#${split}"): give the test faces with their own synthetic:COUNT`);
    const count = Number(rest);
    if (!Number.isInteger(count) || count < 1) throw new ConfigError(field, `synthetic:COUNT needs a positive integer count, got "${rest}"`);
    return { format, count };
  }
  if (rest === '') throw new ConfigError(field, `"${text}" has no path after "${format}:"`);
  return { format, path: rest, ...(split !== undefined ? { split } : {}) };
}

/** Checks the shape of a parsed config file (unknown keys, tasks, types of the simple fields). */
export function checkRunConfig(raw: unknown): RunConfigFile {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('(config)', 'must be a JSON object');
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!KNOWN_KEYS.includes(k)) throw new ConfigError(k, `unknown setting; known settings are ${KNOWN_KEYS.join(', ')}`);
  if (typeof c.tasks !== 'object' || c.tasks === null || Object.keys(c.tasks).length === 0) {
    throw new ConfigError('tasks', 'give at least one task, e.g. { "landmarks": { "train": "mtfl:/data/mtfl" } }');
  }
  for (const [name, spec] of Object.entries(c.tasks as Record<string, unknown>)) {
    taskEntry(name, `tasks.${name}`);
    if (typeof spec !== 'object' || spec === null) throw new ConfigError(`tasks.${name}`, 'must be { train, val?, test?, options?, batchSize? }');
    for (const k of Object.keys(spec)) if (!TASK_KEYS.includes(k)) throw new ConfigError(`tasks.${name}.${k}`, `unknown setting; known are ${TASK_KEYS.join(', ')}`);
    const s = spec as TaskSpec;
    if (s.train === undefined) throw new ConfigError(`tasks.${name}.train`, 'is missing');
    if (s.batchSize !== undefined) checkInteger(`tasks.${name}.batchSize`, s.batchSize, 1);
    for (const k of ['valFraction', 'testFraction'] as const) if (s[k] !== undefined) checkNumber(`tasks.${name}.${k}`, s[k], { min: 0, max: 0.9 });
  }
  if (c.seed !== undefined) checkInteger('seed', c.seed, 0, 0xffffffff);
  if (c.valFraction !== undefined) checkNumber('valFraction', c.valFraction, { min: 0, max: 0.9 });
  if (c.testFraction !== undefined) checkNumber('testFraction', c.testFraction, { min: 0, max: 0.9 });
  if (c.out !== undefined && typeof c.out !== 'string') throw new ConfigError('out', 'must be a path');
  if (c.onError !== undefined && c.onError !== 'error' && c.onError !== 'skip') throw new ConfigError('onError', `must be "error" or "skip", got ${JSON.stringify(c.onError)}`);
  if (c.limitInputPixels !== undefined) checkInteger('limitInputPixels', c.limitInputPixels, 1);
  return c as unknown as RunConfigFile;
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
      const shares = await classFrequencies(plugin, train, { inputSize: networkOf(config).inputSize, crop: { ...DEFAULT_CROP, ...config.crop } });
      options = { ...options, classWeights: inverseSqrtWeights(shares).map((w) => Math.round(w * 1000) / 1000) };
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
  if (typeof spec !== 'object' || spec === null || typeof spec.format !== 'string') throw new ConfigError(field, 'must be "FORMAT:PATH" or { format, path }');
  let ds: Dataset;
  if (spec.format === 'synthetic') {
    const domain = taskEntry(plugin.name).syntheticDomain;
    if (!domain) throw new ConfigError(`${field}.format`, `task ${plugin.name} has no synthetic data`);
    const count = checkInteger(`${field}.count`, spec.count, 1);
    const splitSalt = { train: 0, val: 1, test: 2 }[split] ?? 3;
    ds = syntheticDataset({ count, domain, seed: (spec.seed ?? seed) * 7 + splitSalt, task: domain, name: `synthetic-${plugin.name}${split === 'train' ? '' : `-${split}`}` });
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
    if (typeof spec.path !== 'string' || spec.path === '') throw new ConfigError(`${field}.path`, 'is missing');
    const path = isAbsolute(spec.path) ? spec.path : resolve(baseDir, spec.path);
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
  if (spec.limit !== undefined) {
    const limit = checkInteger(`${field}.limit`, spec.limit, 1);
    if (limit < ds.samples.length) {
      const order = shuffle(ds.samples.map((_, i) => i), new Rng(seed * 13 + 5));
      ds = subsetDataset(ds, order.slice(0, limit).sort((a, b) => a - b), `${ds.name}[${limit}]`);
    }
  }
  return ds;
}
