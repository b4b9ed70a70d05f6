/**
 * `ifan demo`: the paper's experiment in miniature on synthetic faces. Three data sets, one per task,
 * each labelled for its task only and each with its own image statistics (Helen-like colour photos,
 * darker MTFL-like web photos, grey FER-like crops); the integrated network trained on all three with
 * the cross-dataset hybrid strategy; each task also trained alone (the "Single Task" rows); the
 * paper's tables; overlays of the integrated network's predictions. Then, when a photo and the face
 * detector are at hand, the shipped models of `@ifan/models` on real faces (`pretrained.jpg`).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, encodePng } from '@ifan/core/node';
import { BACKBONE_PRESETS, type BackbonePresetName, type Dataset, type LabelledImage, type Sample, type TaskPlugin } from '@ifan/core';
import type { DomainName } from '@ifan/synthetic';
import { HELEN_11 } from '@ifan/task-parsing';
import { baseline, inverseSqrtClassWeights, type BaselineOptions } from './baselines';
import { demoFigure, type FigureFace } from './demo-figure';
import { ConfigError } from './errors';
import { evaluate, type EvaluationResult } from './evaluate';
import { loadFaceDetector, type FaceDetectorLike } from './faces';
import { predictSamples } from './predict';
import { describeFace, encodeJpeg, pretrainedPhoto } from './pretrained-photo';
import { loadData, type DataSpec, type RunConfigFile } from './run-config';
import { baselineSummary, resultsToMarkdown, type BaselineRun, type EvaluationRun } from './tables';
import { taskEntry } from './tasks';
import { RUN_FILES, Trainer } from './trainer';
import type { ScheduleConfig } from './types';

export interface DemoOptions {
  outDir: string;
  /**
   * Training faces per task, or per task name. Default {@link DEFAULT_FACES}: as many stage-1 steps per
   * epoch for each task at its default batch size.
   */
  faces?: number | Partial<Record<DomainName, number>>;
  /** Test faces per task. Default 96. */
  testFaces?: number;
  /** Stage-1 epochs. Default 10. */
  pretrainEpochs?: number;
  /** Stage-2 rounds. Default 60. */
  rounds?: number;
  /** Default `tiny` (32 px). */
  preset?: BackbonePresetName;
  /** ITER of the integrated network. Default 2. */
  iterations?: number;
  /** The tasks, each trained alone and, when there are two or more, together. Default all three. */
  tasks?: DomainName[];
  /**
   * Weigh parsing's cross-entropy per class by the inverse square root of the class's share of the
   * training pixels, so that the few eye, brow and lip pixels count. Default true.
   */
  classWeights?: boolean;
  /** Draw the demo's picture (`demo.png`) and the per-face overlays. Default true. */
  figure?: boolean;
  /**
   * A photo of real faces for the shipped models of `@ifan/models` (`pretrained.jpg`, and a section of
   * the results), or `false` for none. Default {@link DEMO_PHOTO} when it exists (in a clone of the
   * repository). Needs `@ifan/detect` to find the faces: without it the step is skipped, said in one line.
   */
  photo?: string | false;
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
  /** The summary, then every table (baselines as rows), then the shipped models on a real photo when shown. */
  markdown: string;
  /** The shipped models on a real photo; `null` when skipped (no photo, no detector, `photo: false`). */
  photo: DemoPhotoResult | null;
  outDir: string;
  seconds: number;
  /** CPU seconds of the process (all its threads), user + system. */
  cpuSeconds: number;
}

const ALL_TASKS: DomainName[] = ['parsing', 'landmarks', 'emotion'];
/**
 * Training faces per task: 30 batches of each task's default size for parsing and landmarks, so that
 * an epoch is as many steps for each; emotion, whose expression shows in a few pixels of mouth and
 * brows at 32 px, gets 45 (with the settings of {@link EMOTION_OPTIONS} below, the demo's run reached
 * 0.427 alone and 0.469 in the 3-task network on 96 test faces, chance 0.143).
 */
export const DEFAULT_FACES: Record<DomainName, number> = { parsing: 240, landmarks: 480, emotion: 1080 };
/**
 * Synthetic face boxes span cheek to cheek and hairline to chin: a little room for hair and chin, but
 * no more, as every pixel of a 32 px input spent on background is one less for the eyes and lips
 * (parsing overall F 0.42 at margin 0.25 against 0.50 at 0.1, 300 steps).
 */
const MARGIN = 0.1;
/**
 * What makes emotion learnable at 32 px within the demo's few hundred steps. Expressions there are
 * 1-pixel cues (a brow raised, mouth corners turned) that stay in place because the crop aligns the
 * face: a ridge classifier on the raw pixels of 720 of these crops reaches 0.31 on test faces, while
 * the tiny network, as `ifan train` sets it up, kept its training loss at ln 7 (chance) for 1,500
 * steps on 2,400 faces. Three settings stood in its way (emotion alone, 300 steps, 480 test faces):
 *
 * - random scale, rotation and shift move those pixels by more than the cue itself: on clean faces
 *   0.43 without geometric augmentation, 0.16 with it. Only the flip is kept (it moves nothing the
 *   labels care about), for every task;
 * - the decoder read the 4x4 map, where three average poolings have merged the cue into its
 *   neighbours (the ridge classifier on pixels pooled to 4x4: 0.20), through dropout 0.5: 0.10 on clean
 *   faces; from the 8x8 map without dropout, 0.48;
 * - the generator's intensities [0.55, 1] blend many expressions halfway to neutral: with every
 *   expression at full strength, 0.32 instead of 0.21 (the ridge classifier: 0.36 instead of 0.31).
 *
 * The decoder's options are the plugin's and the intensity is the data's, so both are in each run's
 * configuration (`ifan eval --model` and `--resume` use them).
 */
const EMOTION_OPTIONS = { decodeFrom: { path: 'down', downsample: 4 }, dropout: 0 };
const EMOTION_FACES = { intensity: [1, 1] };
const AUGMENT = { geometry: { scale: [1, 1] as [number, number], shift: 0, rotationDeg: 0, flip: 0.5 } };

/**
 * The repository's photo of real faces (face-api's MIT-licensed demo photo, docs/photos/sample6.jpg),
 * found from this file (src/ or dist/ of packages/trainer); absent where the package is installed.
 */
export const DEMO_PHOTO = fileURLToPath(new URL('../../../docs/photos/sample6.jpg', import.meta.url));

export interface DemoPhotoResult {
  /** The photo, as given. */
  file: string;
  faces: number;
  /** `pretrained.jpg` in the out folder (none when no face was found). */
  picture: string | null;
  /** The results' section: a heading line, then one line per face. */
  markdown: string;
}

export interface DemoPhotoOptions {
  /** The photo, `false` for none; default {@link DEMO_PHOTO} (used when it exists). */
  photo?: string | false;
  outDir: string;
  log?: (line: string) => void;
  /** Loads the face detector. Default `loadFaceDetector` (`@ifan/detect`, an optional peer). */
  loadDetector?: () => Promise<FaceDetectorLike & { dispose(): void }>;
}

/**
 * The demo's last step: the shipped models on a photo of real faces, `pretrained.jpg` in the out
 * folder and a section of the results. Skipped, with one line to `log` saying why and what to do,
 * when there is no photo or `@ifan/detect` is not installed; `photo: false` skips it silently.
 */
export async function demoPretrainedPhoto(options: DemoPhotoOptions): Promise<DemoPhotoResult | null> {
  const log = options.log ?? (() => undefined);
  if (options.photo === false) return null;
  const file = options.photo ?? DEMO_PHOTO;
  if (!existsSync(file)) {
    log(
      options.photo === undefined
        ? `demo: no photo of real faces for the shipped models (the repository's docs/photos/sample6.jpg is not here): give one with --photo FILE (photo in runDemo)`
        : `demo: shipped models on a real photo skipped: ${file} does not exist; give an image of faces with --photo FILE (photo in runDemo), or --no-photo`,
    );
    return null;
  }
  let detector: FaceDetectorLike & { dispose(): void };
  try {
    detector = await (options.loadDetector ?? loadFaceDetector)();
  } catch (e) {
    if (!/@ifan\/detect, which is not installed/.test((e as Error).message)) throw e;
    log(`demo: shipped models on a real photo skipped: finding the faces needs @ifan/detect, which is not installed (npm install @ifan/detect)`);
    return null;
  }
  try {
    let image: Awaited<ReturnType<typeof decodeImage>>;
    try {
      image = await decodeImage(file);
    } catch (e) {
      log(`demo: shipped models on a real photo skipped: ${file} cannot be read as an image (${(e as Error).message}); give another with --photo FILE`);
      return null;
    }
    const shown = isAbsolute(file) && !relative(process.cwd(), file).startsWith('..') ? relative(process.cwd(), file) : file;
    log(`demo: the shipped models of @ifan/models on a real photo (${shown})`);
    const result = await pretrainedPhoto(image, { detector });
    const picture = result.picture ? join(options.outDir, 'pretrained.jpg') : null;
    if (result.picture) await writeFile(picture!, await encodeJpeg(result.picture));
    const head =
      `**The shipped models on a real photo** (${result.models.join(', ')} of @ifan/models; ${shown}, ${image.width}x${image.height}): ` +
      `${result.faces.length} face${result.faces.length === 1 ? '' : 's'} found` +
      (picture ? `, one row per model in pretrained.jpg` : '') +
      (result.faces.some((f) => f.models.some((m) => m.parsing)) ? ` (parsing: the share of each face's crop labelled skin, brows, eyes, nose, lips or mouth, and how many classes appear in it)` : '');
    const markdown = [head, '', ...result.faces.map((f) => `- ${describeFace(f)}`)].join('\n');
    return { file, faces: result.faces.length, picture, markdown };
  } finally {
    detector.dispose();
  }
}

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
  // a photo the user names must exist: said now, not after minutes of training
  if (typeof options.photo === 'string' && !existsSync(options.photo)) {
    throw new ConfigError('photo', `${options.photo} does not exist: give an image of faces, or no photo (--no-photo)`);
  }
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  const log = options.log ?? (() => undefined);
  const facesOf = (task: DomainName) => (typeof options.faces === 'number' ? options.faces : (options.faces?.[task] ?? DEFAULT_FACES[task]));
  const testFaces = options.testFaces ?? 96;
  const preset = options.preset ?? 'tiny';
  const iterations = options.iterations ?? 2;
  const TASKS = options.tasks ?? ALL_TASKS;
  const schedule: Partial<ScheduleConfig> = {
    pretrainEpochs: options.pretrainEpochs ?? 10,
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
    TASKS.map((task) => {
      const face = task === 'emotion' ? { face: EMOTION_FACES } : {};
      return [task, { train: { format: 'synthetic', count: facesOf(task), ...face }, test: { format: 'synthetic', count: testFaces, ...face } }];
    }),
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
  const taskOptions: Record<string, Record<string, unknown>> = { parsing: {}, landmarks: {}, emotion: EMOTION_OPTIONS };
  if (TASKS.includes('emotion')) specs.emotion.options = taskOptions.emotion;
  if (options.classWeights !== false && TASKS.includes('parsing')) {
    const w = await inverseSqrtClassWeights(taskEntry('parsing').create(), data.parsing.train, at);
    taskOptions.parsing = { classWeights: w };
    specs.parsing.options = taskOptions.parsing;
    log(`demo: parsing class weights (inverse square root of each class's share of the ${inputSize} px training pixels): ${HELEN_11.classes.map((c, i) => `${c} ${w[i]}`).join(', ')}`);
  }
  const plugin = (task: string) => taskEntry(task).create(taskOptions[task]);

  // what a model reaches without looking at the images
  const basePlugins = TASKS.map(plugin);
  const mean = await baseline('labelMean', basePlugins, data, at);
  const majority = await baseline('majorityClass', basePlugins, data, at);
  const emotionClasses = (taskEntry('emotion').create().config as { classes: string[] }).classes;
  const chance: EvaluationResult = { iterations: 0, tasks: {} };
  if (majority.tasks.emotion) {
    const report = majority.tasks.emotion.reports[0];
    const value = 1 / emotionClasses.length;
    chance.tasks.emotion = { ...majority.tasks.emotion, reports: [{ primary: { ...report.primary, value }, values: { [report.primary.name]: value } }] };
  }
  const baselines: BaselineRun[] = [
    { label: 'Baseline: chance', result: chance },
    { label: 'Baseline: majority class', result: majority },
    { label: 'Baseline: training mean', result: mean, tasks: ['parsing', 'landmarks'] },
  ];

  const common = { schedule, crop, augment: AUGMENT, progress: options.progress, seed };
  const testSets = (tasks: readonly string[]) => Object.fromEntries(tasks.map((t) => [t, data[t as DomainName].test]));

  const train = async (label: string, plugins: TaskPlugin[], iters: number, dir: string): Promise<{ trainer: Trainer; result: EvaluationResult }> => {
    log(`demo: training ${label} (${plugins.map((p) => p.name).join(', ')}, ITER ${iters}, preset ${preset})`);
    const run: RunConfigFile = {
      tasks: Object.fromEntries(plugins.map((p) => [p.name, specs[p.name]])),
      preset,
      network: { iterations: iters },
      schedule,
      augment: AUGMENT,
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
  const runs: EvaluationRun[] = [{ label: 'Single Task', result: single }];
  let trainer: Trainer | null = null;
  if (TASKS.length > 1) {
    const integrated = await train(`iFAN ${TASKS.length}T`, plugins, iterations, `ifan-${TASKS.length}t`);
    trainer = integrated.trainer;
    runs.push({ label: `iFAN ${TASKS.length}T`, result: integrated.result });
  }
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
    if (options.figure !== false && trainer) {
      const model = { net: trainer.net, plugins, framing: trainer.net.framing, dir: join(options.outDir, `ifan-${TASKS.length}t`) };
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
        title: `iFAN ${TASKS.length}T (${preset}, ${inputSize} px, ITER ${iterations}) on test faces it never saw`,
        ...(shown.parsing ? { parsing: { faces: shown.parsing, classes: HELEN_11.classes, colors: HELEN_11.colors } } : {}),
        ...(shown.landmarks ? { landmarks: { faces: shown.landmarks } } : {}),
        ...(shown.emotion ? { emotion: { faces: shown.emotion, classes: emotionClasses } } : {}),
      });
      await writeFile(join(options.outDir, 'demo.png'), await encodePng(figure));
    }
  } finally {
    trainer?.dispose();
  }
  const photo = await demoPretrainedPhoto({ photo: options.photo, outDir: options.outDir, log });
  const all = photo ? `${markdown}\n\n${photo.markdown}` : markdown;
  if (photo) await writeFile(join(options.outDir, 'results.md'), `${all}\n`);
  const c = process.cpuUsage(cpu0);
  return { runs, baselines, summary, markdown: all, photo, outDir: options.outDir, seconds: (Date.now() - started) / 1000, cpuSeconds: (c.user + c.system) / 1e6 };
}
