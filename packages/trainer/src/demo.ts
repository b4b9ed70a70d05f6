/**
 * `ifan demo`: the paper's experiment in miniature on synthetic faces. Three data sets, one per task,
 * each labelled for its task only and each with its own image statistics (Helen-like colour photos,
 * darker MTFL-like web photos, grey FER-like crops); the integrated network trained on all three with
 * the cross-dataset hybrid strategy; each task also trained alone (the "Single Task" rows); the
 * paper's tables; overlays of the integrated network's predictions.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from '@ifan/core/node';
import { BACKBONE_PRESETS, type BackbonePresetName, type Dataset, type LabelledImage, type Sample, type TaskPlugin } from '@ifan/core';
import type { DomainName } from '@ifan/synthetic';
import { HELEN_11 } from '@ifan/task-parsing';
import { baseline, classFrequencies, type BaselineOptions } from './baselines';
import { demoFigure, type FigureFace } from './demo-figure';
import { evaluate, type EvaluationResult } from './evaluate';
import { predictSamples } from './predict';
import { loadData, type DataSpec, type RunConfigFile } from './run-config';
import { baselineSummary, resultsToMarkdown, type BaselineRun, type EvaluationRun } from './tables';
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
  /**
   * Weigh parsing's cross-entropy per class by the inverse square root of the class's share of the
   * training pixels, so that the few eye, brow and lip pixels count. Default true.
   */
  classWeights?: boolean;
  /** Draw the demo's picture (`demo.png`) and the per-face overlays. Default true. */
  figure?: boolean;
  progress?: boolean;
  log?: (line: string) => void;
}

export interface DemoResult {
  /** The trained models' evaluations: `Single Task`, `iFAN 3T`. */
  runs: EvaluationRun[];
  /** The trivial baselines, scored the same way. */
  baselines: BaselineRun[];
  /** One line per task: its baselines and by how much each model beats them. */
  summary: string[];
  /** The summary, then every table (baselines as rows). */
  markdown: string;
  outDir: string;
  seconds: number;
  /** CPU seconds of the process (all its threads), user + system. */
  cpuSeconds: number;
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

/**
 * Parsing's class weights from class shares `f`: `f^-1/2`, scaled so that the average pixel weighs 1,
 * at most {@link MAX_CLASS_WEIGHT}.
 */
export function inverseSqrtWeights(f: readonly number[]): number[] {
  const norm = f.reduce((a, v) => a + Math.sqrt(v), 0);
  return f.map((v) => (v > 0 ? Math.min(MAX_CLASS_WEIGHT, 1 / (Math.sqrt(v) * norm)) : 1));
}
const MAX_CLASS_WEIGHT = 25;

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  const log = options.log ?? (() => undefined);
  const faces = options.faces ?? 240;
  const testFaces = options.testFaces ?? 96;
  const preset = options.preset ?? 'tiny';
  const iterations = options.iterations ?? 2;
  const schedule: Partial<ScheduleConfig> = {
    pretrainEpochs: options.pretrainEpochs ?? 6,
    rounds: options.rounds ?? 60,
    pretrainLr: { type: 'constant', from: 1e-3 },
    // the paper decays to 1e-6 over 200 epochs; over a few dozen rounds most of them would be at a rate
    // too small to matter: a cosine from the pre-training rate keeps it useful until near the end
    finetuneLr: { type: 'cosine', from: 1e-3, to: 1e-5 },
  };
  await mkdir(options.outDir, { recursive: true });
  const seed = 1;
  // the data as run-configuration specs, recorded in each run's config.json (meta.run), so that
  // `ifan eval --model <run>` and `ifan train --resume <run>` find them again
  const specs: Record<string, { train: DataSpec; test: DataSpec; options?: Record<string, unknown> }> = Object.fromEntries(
    TASKS.map((task) => [task, { train: { format: 'synthetic', count: faces }, test: { format: 'synthetic', count: testFaces } }]),
  );
  const data = {} as Record<DomainName, { train: Dataset; test: Dataset }>;
  for (const task of TASKS) {
    const plugin = taskEntry(task).create();
    const load = (split: 'train' | 'test') => loadData(plugin, specs[task][split], `${task}.${split}`, options.outDir, seed, split);
    data[task] = { train: cached(await load('train')), test: cached(await load('test')) };
  }
  const crop = { margin: MARGIN };
  const inputSize = BACKBONE_PRESETS[preset].inputSize;
  const at: BaselineOptions = { inputSize, crop };
  const taskOptions: Record<string, Record<string, unknown>> = { parsing: {}, landmarks: {}, emotion: {} };
  if (options.classWeights !== false) {
    const f = await classFrequencies(taskEntry('parsing').create(), data.parsing.train, at);
    const w = inverseSqrtWeights(f).map((v) => Math.round(v * 1000) / 1000);
    taskOptions.parsing = { classWeights: w };
    specs.parsing.options = taskOptions.parsing;
    log(`demo: parsing class weights (inverse square root of each class's share of the ${inputSize} px training pixels): ${HELEN_11.classes.map((c, i) => `${c} ${w[i]}`).join(', ')}`);
  }
  const plugin = (task: string) => taskEntry(task).create(taskOptions[task]);

  // what a model reaches without looking at the images
  const basePlugins = TASKS.map(plugin);
  const mean = await baseline('labelMean', basePlugins, data, at);
  const majority = await baseline('majorityClass', basePlugins, data, at);
  const emotionClasses = (basePlugins[2].config as { classes: string[] }).classes;
  const chance: EvaluationResult = {
    iterations: 0,
    tasks: {
      emotion: {
        ...majority.tasks.emotion,
        reports: [{ primary: { ...majority.tasks.emotion.reports[0].primary, value: 1 / emotionClasses.length }, values: { accuracy: 1 / emotionClasses.length } }],
      },
    },
  };
  const baselines: BaselineRun[] = [
    { label: 'Baseline: chance', result: chance },
    { label: 'Baseline: majority class', result: majority },
    { label: 'Baseline: training mean', result: mean, tasks: ['parsing', 'landmarks'] },
  ];

  const common = { schedule, crop, progress: options.progress, seed };
  const testSets = (tasks: readonly string[]) => Object.fromEntries(tasks.map((t) => [t, data[t as DomainName].test]));

  const train = async (label: string, plugins: TaskPlugin[], iters: number, dir: string): Promise<{ trainer: Trainer; result: EvaluationResult }> => {
    log(`demo: training ${label} (${plugins.map((p) => p.name).join(', ')}, ITER ${iters}, preset ${preset})`);
    const run: RunConfigFile = {
      tasks: Object.fromEntries(plugins.map((p) => [p.name, specs[p.name]])),
      preset,
      network: { iterations: iters },
      schedule,
      crop,
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
    await writeTaskOptions(join(options.outDir, dir, RUN_FILES.model), Object.fromEntries(plugins.map((p) => [p.name, taskOptions[p.name]])));
    log(`demo: ${label} trained in ${fit.seconds.toFixed(1)} s (${fit.steps} steps)`);
    const result = await evaluate(trainer.net, testSets(plugins.map((p) => p.name)), { crop });
    return { trainer, result };
  };

  const single: EvaluationResult = { iterations: 0, tasks: {} };
  for (const task of TASKS) {
    const { trainer, result } = await train(`single-task ${task}`, [plugin(task)], 0, `single-${task}`);
    Object.assign(single.tasks, result.tasks);
    trainer.dispose();
  }
  const plugins = TASKS.map(plugin);
  const { trainer, result } = await train('iFAN 3T', plugins, iterations, 'ifan-3t');
  const runs: EvaluationRun[] = [
    { label: 'Single Task', result: single },
    { label: 'iFAN 3T', result },
  ];
  const summary = baselineSummary(runs, baselines);
  const tableRuns: EvaluationRun[] = [
    ...baselines.map((b) => ({ label: b.label, result: { ...b.result, tasks: Object.fromEntries(Object.entries(b.result.tasks).filter(([t]) => !b.tasks || b.tasks.includes(t))) } })),
    ...runs,
  ];
  const markdown = [
    '**What each model beats** (test faces; baselines do not look at the image: chance, the most frequent training class ' +
      'everywhere (parsing: background on every pixel, overall F 0), the training mean (landmarks: the mean shape; parsing: ' +
      'the most frequent training class of each pixel))',
    '',
    ...summary.map((l) => `- ${l}`),
    '',
    resultsToMarkdown(tableRuns),
  ].join('\n');
  await writeFile(join(options.outDir, 'results.md'), `${markdown}\n`);
  await writeFile(join(options.outDir, 'results.json'), JSON.stringify({ runs, baselines, summary }, null, 2));
  try {
    if (options.figure !== false) {
      const model = { net: trainer.net, plugins, preprocessing: { crop }, dir: join(options.outDir, 'ifan-3t') };
      const shown: Record<string, FigureFace[]> = {};
      for (const task of TASKS) {
        const samples = data[task].test.samples.slice(0, 4).map((s, i) => ({ ...s, id: `${task}-${i}` }));
        const preds = await predictSamples(model, samples, { bnKey: plugins.find((p) => p.name === task)!.bnKey, outDir: join(options.outDir, 'overlays') });
        shown[task] = await Promise.all(
          preds.map(async (p, i) => {
            const li = (await data[task].test.samples[i].load()) as LabelledImage;
            return { image: li.image, truth: li.labels[task], output: p.outputs[task] };
          }),
        );
      }
      const figure = demoFigure({
        title: `iFAN 3T (${preset}, ${inputSize} px, ITER ${iterations}) on test faces it never saw`,
        parsing: { faces: shown.parsing, classes: HELEN_11.classes, colors: HELEN_11.colors },
        landmarks: { faces: shown.landmarks },
        emotion: { faces: shown.emotion, classes: emotionClasses },
      });
      await writeFile(join(options.outDir, 'demo.png'), await encodePng(figure));
    }
  } finally {
    trainer.dispose();
  }
  const c = process.cpuUsage(cpu0);
  return { runs, baselines, summary, markdown, outDir: options.outDir, seconds: (Date.now() - started) / 1000, cpuSeconds: (c.user + c.system) / 1e6 };
}
