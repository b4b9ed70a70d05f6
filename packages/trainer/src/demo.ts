/**
 * `ifan demo`: the paper's experiment in miniature on synthetic faces. Three data sets, one per task,
 * each labelled for its task only and each with its own image statistics (Helen-like colour photos,
 * darker MTFL-like web photos, grey FER-like crops); the integrated network trained on all three with
 * the cross-dataset hybrid strategy; each task also trained alone (the "Single Task" rows); the
 * paper's tables; overlays of the integrated network's predictions.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackbonePresetName, Dataset, Sample, TaskPlugin } from '@ifan/core';
import type { DomainName } from '@ifan/synthetic';
import { evaluate, type EvaluationResult } from './evaluate';
import { predictSamples } from './predict';
import { loadData, type DataSpec, type RunConfigFile } from './run-config';
import { resultsToMarkdown, type EvaluationRun } from './tables';
import { taskEntry } from './tasks';
import { RUN_FILES, Trainer } from './trainer';
import { writeTaskOptions } from './model';
import type { ScheduleConfig } from './types';

export interface DemoOptions {
  outDir: string;
  /** Training faces per task. Default 240. */
  faces?: number;
  /** Test faces per task. Default 96. */
  testFaces?: number;
  /** Stage-1 epochs. Default 6. */
  pretrainEpochs?: number;
  /** Stage-2 rounds. Default 60. */
  rounds?: number;
  /** Default `tiny` (32 px). */
  preset?: BackbonePresetName;
  /** ITER of the integrated network. Default 2. */
  iterations?: number;
  progress?: boolean;
  log?: (line: string) => void;
}

export interface DemoResult {
  runs: EvaluationRun[];
  markdown: string;
  outDir: string;
  seconds: number;
}

const TASKS: DomainName[] = ['parsing', 'landmarks', 'emotion'];
/** Synthetic face boxes span cheek to cheek and hairline to chin: leave room for hair and chin. */
const MARGIN = 0.25;

/** Samples that generate their face once and then serve it from memory. */
function cached(ds: Dataset): Dataset {
  return {
    ...ds,
    samples: ds.samples.map((s): Sample => {
      let face: ReturnType<Sample['load']> | null = null;
      return { ...s, load: () => (face ??= s.load()) };
    }),
  };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const faces = options.faces ?? 240;
  const testFaces = options.testFaces ?? 96;
  const preset = options.preset ?? 'tiny';
  const iterations = options.iterations ?? 2;
  const schedule: Partial<ScheduleConfig> = {
    pretrainEpochs: options.pretrainEpochs ?? 6,
    rounds: options.rounds ?? 60,
    // the paper decays to 1e-6 over 200 epochs; over a few dozen rounds that would leave most of them
    // at a rate too small to matter
    finetuneLr: { type: 'exponential', from: 1e-3, to: 1e-4 },
  };
  await mkdir(options.outDir, { recursive: true });
  const seed = 1;
  // the data as run-configuration specs, recorded in each run's config.json (meta.run), so that
  // `ifan eval --model <run>` and `ifan train --resume <run>` find them again
  const specs: Record<string, { train: DataSpec; test: DataSpec }> = Object.fromEntries(
    TASKS.map((task) => [task, { train: { format: 'synthetic', count: faces }, test: { format: 'synthetic', count: testFaces } }]),
  );
  const data = {} as Record<DomainName, { train: Dataset; test: Dataset }>;
  for (const task of TASKS) {
    const plugin = taskEntry(task).create();
    const load = (split: 'train' | 'test') => loadData(plugin, specs[task][split], `${task}.${split}`, options.outDir, seed, split);
    data[task] = { train: cached(await load('train')), test: cached(await load('test')) };
  }
  const common = { schedule, crop: { margin: MARGIN }, progress: options.progress, seed };
  const testSets = (tasks: readonly string[]) => Object.fromEntries(tasks.map((t) => [t, data[t as DomainName].test]));

  const train = async (label: string, plugins: TaskPlugin[], iters: number, dir: string): Promise<{ trainer: Trainer; result: EvaluationResult }> => {
    log(`demo: training ${label} (${plugins.map((p) => p.name).join(', ')}, ITER ${iters}, preset ${preset})`);
    const run: RunConfigFile = {
      tasks: Object.fromEntries(plugins.map((p) => [p.name, specs[p.name]])),
      preset,
      network: { iterations: iters },
      schedule,
      crop: common.crop,
      seed,
      valFraction: 0,
      out: join(options.outDir, dir),
    };
    const trainer = new Trainer({
      meta: { run },
      ...common,
      plugins,
      datasets: Object.fromEntries(plugins.map((p) => [p.name, data[p.name as DomainName].train])),
      batchSize: Object.fromEntries(plugins.map((p) => [p.name, taskEntry(p.name).batchSize.default])),
      network: { backbone: preset, iterations: iters },
      runDir: join(options.outDir, dir),
    });
    const fit = await trainer.fit();
    await writeTaskOptions(join(options.outDir, dir, RUN_FILES.model), {});
    log(`demo: ${label} trained in ${fit.seconds.toFixed(1)} s (${fit.steps} steps)`);
    const result = await evaluate(trainer.net, testSets(plugins.map((p) => p.name)), { crop: common.crop });
    return { trainer, result };
  };

  const single: EvaluationResult = { iterations: 0, tasks: {} };
  for (const task of TASKS) {
    const { trainer, result } = await train(`single-task ${task}`, [taskEntry(task).create()], 0, `single-${task}`);
    Object.assign(single.tasks, result.tasks);
    trainer.dispose();
  }
  const plugins = TASKS.map((t) => taskEntry(t).create());
  const { trainer, result } = await train('iFAN 3T', plugins, iterations, 'ifan-3t');
  const runs: EvaluationRun[] = [
    { label: 'Single Task', result: single },
    { label: 'iFAN 3T', result },
  ];
  const markdown = resultsToMarkdown(runs);
  await writeFile(join(options.outDir, 'results.md'), `${markdown}\n`);
  await writeFile(join(options.outDir, 'results.json'), JSON.stringify(runs, null, 2));
  try {
    const model = { net: trainer.net, plugins, preprocessing: { crop: common.crop }, dir: join(options.outDir, 'ifan-3t') };
    for (const task of TASKS) {
      const samples = data[task].test.samples.slice(0, 4).map((s, i) => ({ ...s, id: `${task}-${i}` }));
      await predictSamples(model, samples, { bnKey: plugins.find((p) => p.name === task)!.bnKey, outDir: join(options.outDir, 'overlays') });
    }
  } finally {
    trainer.dispose();
  }
  return { runs, markdown, outDir: options.outDir, seconds: (Date.now() - started) / 1000 };
}
