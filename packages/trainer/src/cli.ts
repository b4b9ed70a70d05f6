#!/usr/bin/env node
/**
 * The `ifan` command: train, eval, predict, info, demo. `main(argv)` runs in-process (tests call it)
 * and returns the exit code: 0 done, 1 failed, 2 bad usage or configuration, 130 interrupted. The
 * commands and their options are declared with commander, which writes each command's help from them.
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKBONE_PRESETS, IntegratedNetwork, selectBackend, type BackbonePresetName, type Dataset } from '@ifan/core';
import { Command, CommanderError } from 'commander';
import { IMAGE_EXTENSIONS, type SkippedFile } from '@ifan/core/node';
import { runDemo } from './demo';
import { ConfigError } from './errors';
import { evaluate, EvaluationAborted } from './evaluate';
import { duration, ProgressReporter } from './progress';
import { loadModel, resolveModel } from './model';
import { loadFaceDetector, type FaceBox, type FaceDetectorLike } from './faces';
import { predictFaces, predictImages } from './predict';
import { buildRun, checkRunConfig, loadData, parseDataSpec, type DataLoadOptions, type DataSpec, type RunConfigFile, type SkippedDataFile } from './run-config';
import { resultsToMarkdown } from './tables';
import { taskEntry, taskNames } from './tasks';
import { Trainer, RUN_FILES } from './trainer';
import type { ResolvedTrainConfig } from './types';

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIO: CliIO = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/** Bad usage: printed with the command's help, exit code 2. */
class UsageError extends Error {}

export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  let code = 0;
  const program = ifanProgram(io, (c) => (code = c));
  const [name] = argv;
  if (!name) {
    program.outputHelp();
    return 2;
  }
  const command = program.commands.find((c) => c.name() === name);
  if (!command && !['help', '--help', '-h'].includes(name)) {
    io.stderr(`ifan: unknown command "${name}"\n\n`);
    program.outputHelp({ error: true });
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    const err = e as Error;
    if (e instanceof CommanderError && e.exitCode === 0) return 0; // --help
    if (e instanceof CommanderError || e instanceof UsageError) {
      io.stderr(`ifan ${name}: ${err.message.replace(/^error: /, '')}\n\n`);
      (command ?? program).outputHelp({ error: true });
      return 2;
    }
    if (e instanceof ConfigError) {
      io.stderr(`ifan ${name}: configuration error: ${err.message}\n`);
      return 2;
    }
    io.stderr(`ifan ${name}: ${err.message}\n`);
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------------
// The command line: every command, its options and their help

const PRESETS = Object.keys(BACKBONE_PRESETS).join(', ');
const DATA = 'T=FORMAT:PATH[#SPLIT]';

function ifanProgram(io: CliIO, exit: (code: number) => void): Command {
  const program = new Command('ifan')
    .description('integrated face analytics network (Li et al., ACM MM 2017)')
    .usage('COMMAND [options]')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .addHelpText('after', `\nRun "ifan COMMAND --help" for a command's options. Tasks: ${taskNames().join(', ')}.`);
  const run =
    <A extends unknown[]>(command: (io: CliIO, ...args: A) => Promise<number>) =>
    async (...args: A) =>
      exit(await command(io, ...args));

  program
    .command('train')
    .summary('cross-dataset hybrid training')
    .description(
      "Trains the integrated network on every task's data with the hybrid strategy (Algorithm 1: task-wise pre-training, " +
        'then batch-wise alternating fine-tuning), then evaluates it on the test splits and prints the tables.',
    )
    .usage('--config FILE | --task T=FORMAT:PATH ... [options]')
    .optionsGroup('Data:')
    .option('--config <file>', 'run configuration (JSON, its schema in schema/run-config.schema.json); flags override it')
    .option(
      `--task <${DATA}>`,
      'training data of task T (repeat per task), e.g. landmarks=mtfl:/data/mtfl, emotion=folders:/data/fer2013#train, ' +
        'parsing=fasseg:/data/fasseg, parsing=synthetic:500; #SPLIT picks a split where the format has several ' +
        '(mtfl: train, test; fasseg: train, test; helen: train, tuning, test; folders: the sub-folder)',
      collect,
    )
    .option(`--val <${DATA}>`, 'validation data (default: carved out of the training data)', collect)
    .option(`--test <${DATA}>`, 'test data (default: carved out of the training data), e.g. landmarks=mtfl:/data/mtfl#test', collect)
    .option(
      '--option <T.KEY=VALUE>',
      "an option of task T's plugin (VALUE as JSON, else a string), e.g. parsing.labelSet=fasseg-6; " +
        "parsing's label set follows its data's format unless given (indexed masks need it)",
      collect,
    )
    .option(
      '--on-error <error|skip>',
      'a bad image or annotation stops the run (error, the default) or is left out and listed ' +
        '(skip: every image is decoded once before training; the list goes to RUN/skipped.json)',
      onErrorFlag,
    )
    .option('--limit-input-pixels <n>', 'largest image accepted, in pixels (default: 100000000)', intFlag('--limit-input-pixels', 1))
    .optionsGroup('Network:')
    .option('--preset <name>', `backbone preset: ${PRESETS}`, presetFlag)
    .option('--iterations <n>', 'interaction iterations ITER (0..16)', intFlag('--iterations', 0, 16))
    .option('--reencoder <learned|resize>', "how a task's prediction is fed back: learned (the default) or resize (paper 4.3.2)", choiceFlag('--reencoder', ['learned', 'resize']))
    .option('--shared-bn', 'one batch-norm parameter set for all data sets (paper 4.3.3)')
    .optionsGroup('Training:')
    .option('--epochs <n>', 'stage-1 (task-wise pre-training) epochs per data set', intFlag('--epochs', 0))
    .option('--rounds <n>', 'stage-2 (batch-wise fine-tuning) rounds', intFlag('--rounds', 0))
    .option('--batch-size <[T=]N>', 'batch size, for all tasks or for task T (repeatable)', collect)
    .option('--no-augment', 'no random augmentation of the training batches')
    .option('--margin <x>', "context around each face box, a fraction of the box's side (default: 0)", numberFlag('--margin'))
    .option('--seed <n>', 'seed of data order, splits and augmentation (default: 1)', intFlag('--seed', 0, 0xffffffff))
    .option(
      '--threads <auto|1|2>',
      "threads computing each step's gradients (default: auto, 2 for a long run on wasm; 1 is better while other jobs keep the cores busy)",
    )
    .optionsGroup('Run:')
    .option('--out <dir>', 'run directory (default: runs/<date-time>)')
    .option('--resume <dir>', 'continue the run in DIR from its latest checkpoint')
    .option('--init <model>', "start from a model's weights (fine-tuning): a model folder, a run directory or a shipped model's name (ifan-3t)")
    .option('--quiet', 'no progress output')
    .action(run(train));

  program
    .command('eval')
    .summary("evaluate a model, print the paper's tables")
    .description(
      'Evaluates every task on its data at every iteration 0..N and prints the tables. Without --task, the model must be ' +
        'a run directory (of ifan train or ifan demo): its test splits are used.',
    )
    .option('--model <DIR|NAME>', 'a model folder, a run directory, or the name of a pretrained model of @ifan/models (default: its default model, said in one line)')
    .option(`--task <${DATA}>`, 'test data of task T (repeat per task); #SPLIT picks a split where the format has several, e.g. landmarks=mtfl:/data/mtfl#test reads testing.txt', collect)
    .option('--iterations <n>', "the last iteration evaluated (default: the model's ITER)", intFlag('--iterations', 0, 16))
    .option('--batch-size <n>', 'images per batch (default: 16)', intFlag('--batch-size', 1))
    .option('--mirror', 'also run every face mirrored and average the two predictions (test-time mirroring: usually a little more accurate, twice the compute)')
    .option('--json <file>', 'where the results are written (default: MODEL/eval.json)')
    .option('--on-error <error|skip>', 'a bad image or annotation stops the evaluation (error, the default) or is left out and listed (skip)', onErrorFlag)
    .option('--limit-input-pixels <n>', 'largest image accepted, in pixels (default: 100000000)', intFlag('--limit-input-pixels', 1))
    .action(run(evalCommand));

  program
    .command('predict')
    .summary('find every face of photos and run a model on them')
    .description(
      "Finds every face of each photo (BlazeFace, from the @ifan/detect package), frames each as the model's training framed faces " +
        "(the box of its eyes and mouth, with the model's saved framing), analyses all faces of a photo in one batch and writes into " +
        "--out <name>.json (one entry per face: box, score, framing box, keypoints, each task's output in the photo's coordinates) " +
        'and ONE <name>.overlay.png of the whole photo with every face drawn. A photo without a face gives "0 faces". ' +
        "A DIR's images are read, not its sub-folders.",
    )
    .argument('<IMAGE|DIR...>', 'photos, and folders of photos')
    .option('--model <DIR|NAME>', 'a model folder or run directory, or a pretrained model of @ifan/models by name (default: its default model, said in one line)')
    .option('--out <dir>', 'where the JSON and overlays are written', 'predictions')
    .option('--iterations <n>', "interaction iterations run (default: the model's ITER)", intFlag('--iterations', 0, 16))
    .option('--bn-key <key>', "the batch-norm statistics to use for every task, those of the data set the images resemble (default: each task's own)")
    .option('--mirror', 'also run every face mirrored and average the two predictions (test-time mirroring: usually a little more accurate, twice the compute)')
    .option(
      '--on-error <skip|error>',
      'skip: an image that cannot be read is listed with the reason (and in OUT/skipped.json) and the others are predicted; error: stop at it',
      onErrorFlag,
      'skip',
    )
    .option('--limit-input-pixels <n>', 'largest image accepted, in pixels (default: 100000000)', intFlag('--limit-input-pixels', 1))
    .optionsGroup('Faces:')
    .option('--box <X,Y,W,H>', "a face's box in photo pixels (repeat per face; applies to every photo): no detection", (v: string, boxes: FaceBox[] = []) => [...boxes, boxFlag(v)])
    .option('--boxes <FILE.json>', 'boxes instead of detection: [[x, y, w, h], ...] for every photo, or {"NAME": [[x, y, w, h], ...]} per photo (file name or path; others are searched)')
    .option('--no-detect', 'each image is one face (its centred square): for images that are already face crops, e.g. 48 px FER faces, where detection may fail')
    .option('--max-faces <n>', 'at most N faces per photo, best first (default: 20)', intFlag('--max-faces', 0))
    .option('--min-score <x>', 'detector confidence from which a face counts, 0 to 1 (default: 0.5)', minScoreFlag)
    .option('--align', "turn each face upright by the roll of its eyes before analysis (the paper's aligned-face setting; needs detection)")
    .action(run(predict));

  program
    .command('info')
    .summary('tasks, FLOPs and parameters of a model or preset')
    .description('Tasks, configuration, FLOPs per iteration and parameter count of a model or of backbone presets.')
    .argument('[MODEL]', 'a model folder or run directory')
    .option('--preset <name|all>', `backbone presets: ${PRESETS} or all (default: all)`, (v: string) => (v === 'all' ? v : presetFlag(v)))
    .option('--iterations <n>', 'ITER of the presets (default: 2)', intFlag('--iterations', 0, 16))
    .action(run(info));

  program
    .command('demo')
    .summary('the whole pipeline on synthetic faces')
    .description(
      'Synthetic data sets (one per task, different image statistics), the integrated network trained on all three with the ' +
        'hybrid strategy, single-task baselines, tables that say by how much each model beats the trivial baselines ' +
        '(chance, majority class, mean shape), demo.png and overlays; then the shipped models of @ifan/models on a photo of ' +
        'real faces (pretrained.jpg, and what each model says of each face), when a photo is at hand and @ifan/detect is installed.',
    )
    .option('--out <dir>', 'output folder', 'ifan-demo')
    .option('--faces <n>', "every task's training faces (default: 240 parsing, 480 landmarks, 1080 emotion)", intFlag('--faces', 10))
    .option('--epochs <n>', 'stage-1 epochs per data set (default: 10)', intFlag('--epochs', 0))
    .option('--rounds <n>', 'stage-2 rounds (default: 60)', intFlag('--rounds', 0))
    .option('--preset <name>', `backbone preset: ${PRESETS}`, presetFlag)
    .option('--photo <file>', "a photo of real faces for the shipped models (default: the repository's docs/photos/sample6.jpg, when there)")
    .option('--no-photo', 'skip the shipped models on a real photo')
    .option('--quiet', 'no progress output')
    .action(run(demo));
  return program;
}

// Flag values, parsed as commander reads them: a bad one is a ConfigError naming the flag.

const collect = (v: string, previous: string[] = []): string[] => [...previous, v];

function intFlag(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new ConfigError(flag, `must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got "${v}"`);
    return n;
  };
}

function numberFlag(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(flag, `must be a number, got "${v}"`);
    return n;
  };
}

function minScoreFlag(v: string): number {
  const n = numberFlag('--min-score')(v);
  if (!(n >= 0 && n <= 1)) throw new ConfigError('--min-score', `must be from 0 to 1, got "${v}"`);
  return n;
}

function choiceFlag<T extends string>(flag: string, choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!choices.includes(v as T)) throw new ConfigError(flag, `must be ${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}, got "${v}"`);
    return v as T;
  };
}

const onErrorFlag = choiceFlag('--on-error', ['error', 'skip']);

function presetFlag(name: string): BackbonePresetName {
  if (!(name in BACKBONE_PRESETS)) throw new ConfigError('--preset', `unknown preset "${name}": use one of ${PRESETS}`);
  return name as BackbonePresetName;
}

/** `T=SPEC` pairs -> { T: SPEC }. */
function taskPairs(flag: string, values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    if (i <= 0) throw new UsageError(`--${flag} ${v}: expected TASK=FORMAT:PATH (e.g. landmarks=mtfl:/data/mtfl)`);
    const task = v.slice(0, i);
    taskEntry(task, `--${flag} ${task}`);
    out[task] = v.slice(i + 1);
  }
  return out;
}

async function backend(): Promise<void> {
  await selectBackend();
}

// ---------------------------------------------------------------------------------------------------
// train

/** Data specs with absolute paths, so a run directory can be resumed from anywhere. */
function absolutize(config: RunConfigFile, baseDir: string): RunConfigFile {
  const fix = (s: string | DataSpec | undefined, field: string): DataSpec | undefined => {
    if (s === undefined) return undefined;
    const spec = typeof s === 'string' ? parseDataSpec(s, field) : s;
    return spec.path !== undefined ? { ...spec, path: resolve(baseDir, spec.path) } : spec;
  };
  const tasks = Object.fromEntries(
    Object.entries(config.tasks).map(([name, t]) => {
      const out = { ...t, train: fix(t.train, `tasks.${name}.train`)! };
      if (t.val !== undefined) out.val = fix(t.val, `tasks.${name}.val`);
      if (t.test !== undefined) out.test = fix(t.test, `tasks.${name}.test`);
      return [name, out];
    }),
  );
  // a model to start from is a path when one exists there, else a shipped model's name
  const init = config.init !== undefined && existsSync(resolve(baseDir, config.init)) ? resolve(baseDir, config.init) : config.init;
  return { ...config, tasks, ...(config.out ? { out: resolve(baseDir, config.out) } : {}), ...(init !== undefined ? { init } : {}) };
}

/** The options of `ifan train`, as commander parses them. */
interface TrainFlags {
  config?: string;
  task?: string[];
  val?: string[];
  test?: string[];
  option?: string[];
  onError?: 'error' | 'skip';
  limitInputPixels?: number;
  preset?: BackbonePresetName;
  iterations?: number;
  reencoder?: 'learned' | 'resize';
  sharedBn?: boolean;
  epochs?: number;
  rounds?: number;
  batchSize?: string[];
  /** `false` with --no-augment. */
  augment: boolean;
  margin?: number;
  seed?: number;
  threads?: string;
  out?: string;
  resume?: string;
  init?: string;
  quiet?: boolean;
}

async function train(io: CliIO, values: TrainFlags, command: Command): Promise<number> {
  let config: RunConfigFile;
  let resume = false;
  if (values.resume) {
    const others = command.options.filter((o) => command.getOptionValueSource(o.attributeName()) === 'cli' && !['resume', 'quiet', 'threads'].includes(o.attributeName()));
    if (others.length) throw new UsageError(`--resume continues a run with its own config.json; drop ${others.map((o) => o.long).join(', ')}`);
    const runDir = resolve(values.resume);
    const path = join(runDir, RUN_FILES.config);
    if (!existsSync(path)) throw new ConfigError('--resume', `${path} does not exist: ${runDir} is not a run directory`);
    const saved = JSON.parse(await readFile(path, 'utf8')) as ResolvedTrainConfig;
    const run = saved.meta?.run as RunConfigFile | undefined;
    if (!run) throw new ConfigError('--resume', `${path} was not written by "ifan train" (no meta.run): resume it with the Trainer API`);
    config = { ...run, out: runDir };
    resume = true;
  } else {
    let base: Partial<RunConfigFile> = {};
    let baseDir = process.cwd();
    if (values.config) {
      const file = resolve(values.config);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new ConfigError('--config', `${file} does not exist or cannot be read`);
      }
      try {
        base = JSON.parse(text) as Partial<RunConfigFile>;
      } catch (e) {
        throw new ConfigError('--config', `${file} is not valid JSON: ${(e as Error).message}`);
      }
      baseDir = dirname(file);
    }
    const fileConfig = values.config ? absolutize(checkRunConfig(base), baseDir) : undefined;
    const tasks = { ...(fileConfig?.tasks ?? {}) };
    for (const [t, spec] of Object.entries(taskPairs('task', values.task))) tasks[t] = { ...tasks[t], train: spec };
    for (const flag of ['val', 'test'] as const) {
      for (const [t, spec] of Object.entries(taskPairs(flag, values[flag]))) {
        if (!tasks[t]) throw new UsageError(`--${flag} ${t}=...: task ${t} has no training data (--task ${t}=FORMAT:PATH)`);
        tasks[t] = { ...tasks[t], [flag]: spec };
      }
    }
    if (Object.keys(tasks).length === 0) throw new UsageError('give --config FILE or at least one --task TASK=FORMAT:PATH');
    for (const [t, key, value] of taskOptionFlags(values.option)) {
      if (!tasks[t]) throw new UsageError(`--option ${t}.${key}=...: task ${t} is not being trained`);
      tasks[t] = { ...tasks[t], options: { ...tasks[t].options, [key]: value } };
    }
    for (const b of values.batchSize ?? []) {
      const i = b.indexOf('=');
      if (i > 0) {
        const t = b.slice(0, i);
        if (!tasks[t]) throw new UsageError(`--batch-size ${b}: task ${t} is not being trained`);
        tasks[t] = { ...tasks[t], batchSize: intFlag('--batch-size', 1)(b.slice(i + 1)) };
      } else {
        const n = intFlag('--batch-size', 1)(b);
        for (const t of Object.keys(tasks)) tasks[t] = { ...tasks[t], batchSize: n };
      }
    }
    const preset = values.preset ?? fileConfig?.preset;
    const network = {
      ...fileConfig?.network,
      ...(values.iterations !== undefined ? { iterations: values.iterations } : {}),
      ...(values.reencoder ? { reencoder: values.reencoder } : {}),
      ...(values.sharedBn ? { sharedBatchNorm: true } : {}),
    };
    const schedule = {
      ...fileConfig?.schedule,
      ...(values.epochs !== undefined ? { pretrainEpochs: values.epochs } : {}),
      ...(values.rounds !== undefined ? { rounds: values.rounds } : {}),
    };
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    config = checkRunConfig({
      ...fileConfig,
      tasks,
      ...(preset ? { preset } : {}),
      network,
      schedule,
      ...(values.augment === false ? { augment: false } : {}),
      ...(values.margin !== undefined ? { crop: { ...fileConfig?.crop, margin: values.margin } } : {}),
      ...(values.seed !== undefined ? { seed: values.seed } : {}),
      ...(values.init !== undefined ? { init: values.init } : {}),
      ...(values.onError !== undefined ? { onError: values.onError } : {}),
      ...(values.limitInputPixels !== undefined ? { limitInputPixels: values.limitInputPixels } : {}),
      out: values.out ? resolve(values.out) : (fileConfig?.out ?? resolve('runs', stamp)),
    });
    config = absolutize(config, process.cwd());
  }
  const built = await buildRun(config);
  await backend();
  // (the Trainer refuses any other value of --threads, naming it)
  const threads = ({ '1': 1, '2': 2 } as Record<string, 1 | 2>)[values.threads ?? ''] ?? (values.threads as 'auto' | undefined);
  const trainer = new Trainer({ ...built.options, resume, progress: !values.quiet, handleSignals: true, ...(threads !== undefined ? { threads } : {}) });
  // One Ctrl-C listener for the whole command. While fit runs, fit's own handler acts (finish the step,
  // write a checkpoint) and this one only notes it; one that comes after fit let go of its handler (the
  // checkpoint is written, the closing lines are not) would otherwise kill the process by the default
  // action with no exit code. During the test evaluation the first stops it and a second exits at once.
  let lateSigint = false;
  let stopEval: AbortController | undefined;
  const onSigint = () => {
    if (!stopEval) lateSigint = true;
    else if (stopEval.signal.aborted) process.exit(130);
    else stopEval.abort('SIGINT');
  };
  process.on('SIGINT', onSigint);
  try {
    io.stderr(
      `ifan train: ${trainer.totalSteps} steps (${trainer.sources.map((s) => `${s.name}: ${s.dataset.samples.length} images, batch ${s.batchSize}`).join('; ')}) -> ${trainer.runDir}\n`,
    );
    if (config.onError === 'skip') await reportSkipped(built.skipped, trainer.runDir!, 'ifan train', io);
    const result = await trainer.fit();
    if (result.status !== 'completed') {
      io.stderr(`ifan train: ${result.reason ?? result.status} after step ${result.steps}; checkpoint in ${join(trainer.runDir!, RUN_FILES.checkpoints)}; continue with: ifan train --resume ${trainer.runDir}\n`);
      return result.status === 'interrupted' ? 130 : 0;
    }
    const model = join(trainer.runDir!, RUN_FILES.model);
    if (result.reason?.includes('SIGINT') || lateSigint) {
      // Ctrl-C came as the last step ended: the run is complete, the test evaluation is left out
      io.stderr(`ifan train: interrupted (SIGINT) after the last step; model in ${model}; test evaluation skipped: ifan eval --model ${trainer.runDir}\n`);
      return 130;
    }
    const test = Object.fromEntries(Object.entries(built.data).filter(([, d]) => d.test).map(([t, d]) => [t, d.test!]));
    let testSeconds = 0;
    if (Object.keys(test).length) {
      const t0 = Date.now();
      const progress = values.quiet ? null : new ProgressReporter({ stream: { write: (t: string) => io.stderr(t), isTTY: io === defaultIO && process.stderr.isTTY, columns: process.stderr.columns } });
      // Ctrl-C during the test evaluation stops it (onSigint); the model is saved already
      stopEval = new AbortController();
      let res;
      try {
        res = await evaluate(trainer.net, test, {
          crop: trainer.config.crop,
          batchSize: config.evalBatchSize ?? 16,
          signal: stopEval.signal,
          onProgress: progress ? ({ done, total }) => progress.evaluation('test evaluation', done, total) : undefined,
        });
      } catch (e) {
        if (e instanceof EvaluationAborted) {
          io.stderr(`\nifan train: test evaluation stopped (SIGINT); the model is saved in ${model}; evaluate it with: ifan eval --model ${trainer.runDir}\n`);
          return 130;
        }
        (e as Error).message += `\nthe model is saved in ${model}; fix or remove the file (or train with --on-error skip) and evaluate with: ifan eval --model ${trainer.runDir}`;
        throw e;
      } finally {
        progress?.finish();
      }
      testSeconds = (Date.now() - t0) / 1000;
      await writeFile(join(trainer.runDir!, 'eval.json'), JSON.stringify(res, null, 2));
      io.stdout(`${resultsToMarkdown([{ label: 'iFAN', result: res }])}\n`);
    }
    const total = result.seconds + testSeconds;
    io.stderr(
      `ifan train: done in ${duration(total)} (${total.toFixed(1)} s${testSeconds > 0 ? `: training ${result.seconds.toFixed(1)} s, test evaluation ${testSeconds.toFixed(1)} s` : ''}); model in ${model}\n`,
    );
    return 0;
  } finally {
    trainer.dispose();
    process.off('SIGINT', onSigint);
  }
}

/** `--option T.KEY=VALUE` flags -> [task, key, value]; VALUE is JSON where it parses, else a string. */
function taskOptionFlags(values: string[] | undefined): [string, string, unknown][] {
  return (values ?? []).map((v) => {
    const m = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(v);
    if (!m) throw new UsageError(`--option ${v}: expected TASK.KEY=VALUE (e.g. parsing.labelSet=fasseg-6)`);
    taskEntry(m[1], `--option ${m[1]}`);
    let value: unknown = m[3];
    try {
      value = JSON.parse(m[3]);
    } catch {
      // a plain string
    }
    return [m[1], m[2], value];
  });
}

/** Counts and lists skipped files on stderr; with `dir`, writes them all to `<dir>/skipped.json`. */
async function reportSkipped(skipped: readonly { file: string; reason: string }[], dir: string | undefined, who: string, io: CliIO, sayNone = true): Promise<void> {
  let where = '';
  if (dir) {
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'skipped.json');
    await writeFile(path, `${JSON.stringify(skipped, null, 2)}\n`);
    where = ` (all in ${path})`;
  }
  if (skipped.length === 0) {
    if (sayNone) io.stderr(`${who}: skipped no files\n`);
    return;
  }
  const max = 20;
  const lines = skipped.slice(0, max).map((f) => `  ${f.file}: ${f.reason}\n`).join('');
  io.stderr(`${who}: skipped ${skipped.length} file${skipped.length === 1 ? '' : 's'}${where}:\n${lines}${skipped.length > max ? `  ... and ${skipped.length - max} more\n` : ''}`);
}

// ---------------------------------------------------------------------------------------------------
// eval

/** The options of `ifan eval`, as commander parses them. */
interface EvalFlags {
  model?: string;
  task?: string[];
  iterations?: number;
  batchSize?: number;
  mirror?: boolean;
  json?: string;
  onError?: 'error' | 'skip';
  limitInputPixels?: number;
}

async function evalCommand(io: CliIO, values: EvalFlags): Promise<number> {
  const pairs = taskPairs('task', values.task);
  const { iterations, batchSize } = values;
  const load: DataLoadOptions = {
    ...(values.onError !== undefined ? { onError: values.onError } : {}),
    ...(values.limitInputPixels !== undefined ? { limitInputPixels: values.limitInputPixels } : {}),
  };
  await backend();
  const model = await resolveModel(values.model);
  if (model.note) io.stderr(`ifan eval: ${model.note}\n`);
  try {
    if (iterations !== undefined && iterations > model.net.config.iterations && model.net.integrator.length === 0) {
      throw new ConfigError('--iterations', `this model was trained with ITER 0 and has no integrator`);
    }
    let data: Record<string, Dataset> = {};
    const skipped: SkippedFile[] = [];
    if (Object.keys(pairs).length) {
      for (const [task, spec] of Object.entries(pairs)) {
        const plugin = model.plugins.find((p) => p.name === task);
        if (!plugin) throw new ConfigError(`--task ${task}`, `the model has no task ${task}; it has ${model.plugins.map((p) => p.name).join(', ')}`);
        data[task] = await loadData(plugin, parseDataSpec(spec, `--task ${task}`), `--task ${task}`, process.cwd(), 1, 'test', load);
        skipped.push(...(data[task].skipped ?? []));
      }
    } else {
      if (!existsSync(join(resolve(values.model ?? model.dir), RUN_FILES.config))) {
        throw new UsageError(`${values.model ?? model.dir} is not a run directory, so it does not say where its test data is: give --task T=FORMAT:PATH[#SPLIT]`);
      }
      const run = await runTestSets(values.model!, load);
      data = run.data;
      skipped.push(...run.skipped);
    }
    if (load.onError === 'skip') await reportSkipped(skipped, undefined, 'ifan eval', io);
    const progress = new ProgressReporter({ stream: { write: (t: string) => io.stderr(t), isTTY: io === defaultIO && process.stderr.isTTY, columns: process.stderr.columns } });
    const t0 = Date.now();
    let result;
    try {
      result = await evaluate(model.net, data, {
        iterations,
        batchSize,
        mirror: values.mirror,
        onProgress: ({ done, total }) => progress.evaluation('ifan eval', done, total),
      });
    } finally {
      progress.finish();
    }
    const jsonPath = values.json ? resolve(values.json) : join(model.dir, 'eval.json');
    await writeFile(jsonPath, JSON.stringify(result, null, 2));
    io.stdout(`${resultsToMarkdown([{ label: 'iFAN', result }])}\n`);
    io.stderr(`ifan eval: ${((Date.now() - t0) / 1000).toFixed(1)} s; results in ${jsonPath}\n`);
    return 0;
  } finally {
    model.net.dispose();
  }
}

/** The test splits of the run whose directory is `dir` (rebuilt from its config.json). */
async function runTestSets(dir: string, load: DataLoadOptions): Promise<{ data: Record<string, Dataset>; skipped: SkippedDataFile[] }> {
  // the run directory itself, or the run's model/ folder
  const runDir = existsSync(join(resolve(dir), RUN_FILES.config)) ? resolve(dir) : dirname(resolve(dir));
  const path = join(runDir, RUN_FILES.config);
  if (!existsSync(path)) throw new UsageError(`give --task TASK=FORMAT:PATH: ${resolve(dir)} is not in a run directory (no ${RUN_FILES.config}) to take test splits from`);
  const saved = JSON.parse(await readFile(path, 'utf8')) as ResolvedTrainConfig;
  const run = saved.meta?.run as RunConfigFile | undefined;
  if (!run) {
    throw new UsageError(
      `give --task TASK=FORMAT:PATH: ${path} does not say where the run's data is (runs of ifan train and ifan demo do; ` +
        'a script using the Trainer API can record it with the meta.run option)',
    );
  }
  const built = await buildRun({ ...run, ...load });
  const data = Object.fromEntries(Object.entries(built.data).filter(([, d]) => d.test).map(([t, d]) => [t, d.test!]));
  return { data, skipped: built.skipped };
}

// ---------------------------------------------------------------------------------------------------
// predict

/** The options of `ifan predict`, as commander parses them. */
interface PredictFlags {
  model?: string;
  out: string;
  iterations?: number;
  bnKey?: string;
  mirror?: boolean;
  onError: 'error' | 'skip';
  limitInputPixels?: number;
  box?: FaceBox[];
  boxes?: string;
  /** `false` with --no-detect. */
  detect: boolean;
  maxFaces?: number;
  minScore?: number;
  align?: boolean;
}

async function predict(io: CliIO, positionals: string[], values: PredictFlags): Promise<number> {
  const { onError, limitInputPixels, maxFaces, minScore } = values;
  const noDetect = !values.detect;
  const given = [values.box?.length ? '--box' : '', values.boxes ? '--boxes' : '', noDetect ? '--no-detect' : ''].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(' and ')} exclude each other: give face boxes one way, or none with --no-detect`);
  const boxes = values.box?.length ? values.box : values.boxes ? await boxesFile(values.boxes) : undefined;
  const detectFlags = [maxFaces !== undefined ? '--max-faces' : '', minScore !== undefined ? '--min-score' : '', values.align ? '--align' : ''].filter(Boolean);
  if (detectFlags.length && (boxes || noDetect)) {
    throw new UsageError(`${detectFlags.join(', ')} set${detectFlags.length === 1 ? 's' : ''} up face detection, which ${noDetect ? '--no-detect' : given[0]} skips`);
  }
  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  for (const p of positionals) {
    const path = resolve(p);
    let s;
    try {
      s = await stat(path);
    } catch {
      throw new ConfigError('IMAGE', `${path} does not exist`);
    }
    if (!s.isDirectory()) {
      files.push(path);
      continue;
    }
    const images: string[] = [];
    for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name.startsWith('.')) continue;
      const file = join(path, entry.name);
      if (entry.isDirectory()) skipped.push({ file, reason: 'a folder: predict reads the images in the folder it is given, not in its sub-folders (give this one too)' });
      else if (IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) images.push(file);
      else skipped.push({ file, reason: `not an image file (reads ${IMAGE_EXTENSIONS.join(', ')})` });
    }
    if (images.length === 0) {
      const folders = skipped.filter((f) => f.file.startsWith(`${path}/`) && f.reason.startsWith('a folder')).length;
      throw new ConfigError('DIR', `${path} holds no images (${IMAGE_EXTENSIONS.join(', ')})${folders ? `, only ${folders} sub-folder(s): give them` : ''}`);
    }
    files.push(...images);
  }
  const iterations = values.iterations;
  await backend();
  const model = await resolveModel(values.model);
  if (model.note) io.stderr(`ifan predict: ${model.note}\n`);
  let detector: (FaceDetectorLike & { dispose(): void }) | undefined;
  try {
    const outDir = resolve(values.out);
    const bnKey = values.bnKey;
    if (bnKey !== undefined && !model.net.bnKeys.includes(bnKey)) {
      throw new ConfigError('--bn-key', `"${bnKey}" is not a batch-norm key of this model; it has ${model.net.bnKeys.join(', ')}`);
    }
    const onSkip = (f: SkippedFile) => skipped.push(f);
    if (noDetect) {
      const results = await predictImages(model, files, { iterations, outDir, bnKey, mirror: values.mirror, onError, limitInputPixels, onSkip });
      for (const r of results) {
        io.stdout(`${r.file}: ${summarize(r.outputs)}\n`);
        for (const w of r.warnings ?? []) io.stderr(`ifan predict: warning: ${w}\n`);
      }
      await reportSkipped(skipped, outDir, 'ifan predict', io, false);
      io.stderr(`ifan predict: ${results.length} image(s), each taken as one face (--no-detect); JSON and overlays in ${outDir}\n`);
      return results.length === 0 ? 1 : 0;
    }
    // (a --boxes object without some photos: those are searched)
    if (!boxes || (typeof boxes === 'function' && files.some((f) => !boxes(f)))) detector = await loadFaceDetector();
    const results = await predictFaces(model, files, {
      iterations,
      outDir,
      bnKey,
      mirror: values.mirror,
      onError,
      limitInputPixels,
      onSkip,
      detector,
      boxes,
      minScore,
      maxFaces,
      align: values.align,
    });
    for (const r of results) {
      io.stdout(`${r.file}: ${r.faces.length} face${r.faces.length === 1 ? '' : 's'}${r.source === 'boxes' ? ' (given boxes)' : ''}\n`);
      for (const f of r.faces) {
        const box = f.box.map((v) => Math.round(v)).join(',');
        io.stdout(`  face ${f.index + 1} box ${box}${f.score !== null ? ` score ${f.score.toFixed(2)}` : ''}${f.aligned ? ` roll ${((f.roll * 180) / Math.PI).toFixed(0)} deg` : ''}: ${summarize(f.outputs)}\n`);
      }
      for (const w of r.warnings ?? []) io.stderr(`ifan predict: warning: ${w}\n`);
    }
    await reportSkipped(skipped, outDir, 'ifan predict', io, false);
    const faces = results.reduce((a, r) => a + r.faces.length, 0);
    const none = results.filter((r) => r.faces.length === 0);
    const noneText = none.length
      ? `; no face found in ${none.length} photo${none.length === 1 ? '' : 's'} (${none.slice(0, 5).map((r) => basename(r.file)).join(', ')}${none.length > 5 ? ', ...' : ''}): ` +
        'for images that are already face crops use --no-detect, or lower --min-score'
      : '';
    io.stderr(`ifan predict: ${results.length} photo${results.length === 1 ? '' : 's'}, ${faces} face${faces === 1 ? '' : 's'}${noneText}; JSON and overlays in ${outDir}\n`);
    return results.length === 0 ? 1 : 0;
  } finally {
    detector?.dispose();
    model.net.dispose();
  }
}

/** `--box X,Y,W,H` -> a box. */
function boxFlag(v: string): FaceBox {
  const parts = v.split(',').map((x) => x.trim());
  const n = parts.map(Number);
  if (parts.length !== 4 || parts.some((x) => x === '') || !n.every(Number.isFinite) || n[2] <= 0 || n[3] <= 0) {
    throw new ConfigError('--box', `expected X,Y,W,H in photo pixels with W and H > 0, got "${v}"`);
  }
  return n as FaceBox;
}

/** `--boxes FILE.json`: `[[x, y, w, h], ...]` for every photo, or `{ name: [[...]] }` per photo. */
async function boxesFile(path: string): Promise<FaceBox[] | ((file: string) => FaceBox[] | undefined)> {
  const file = resolve(path);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ConfigError('--boxes', `${file} ${existsSync(file) ? `is not valid JSON: ${(e as Error).message}` : 'does not exist'}`);
  }
  const list = (v: unknown, where: string): FaceBox[] => {
    if (!Array.isArray(v)) throw new ConfigError('--boxes', `${where}: expected a list of [x, y, w, h] boxes, got ${JSON.stringify(v)}`);
    return v.map((b, i) => {
      if (!Array.isArray(b) || b.length !== 4 || !b.every((x) => typeof x === 'number' && Number.isFinite(x)) || b[2] <= 0 || b[3] <= 0) {
        throw new ConfigError('--boxes', `${where}[${i}]: expected [x, y, w, h] with w and h > 0, got ${JSON.stringify(b)}`);
      }
      return b as FaceBox;
    });
  };
  if (Array.isArray(json)) return list(json, file);
  if (typeof json !== 'object' || json === null) throw new ConfigError('--boxes', `${file}: expected a list of boxes or an object of lists by file name`);
  const byName = new Map(Object.entries(json).map(([k, v]) => [k, list(v, `${file}: "${k}"`)]));
  return (f: string) => byName.get(f) ?? byName.get(resolve(f)) ?? byName.get(basename(f));
}

/** A one-line view of outputs: numbers rounded, large structures abbreviated. */
function summarize(outputs: Record<string, unknown>): string {
  return Object.entries(outputs)
    .map(([task, v]) => {
      const s = JSON.stringify(v, (_k, x) => {
        const m = x as { width?: unknown; height?: unknown; data?: unknown };
        if (m && typeof m === 'object' && typeof m.width === 'number' && typeof m.height === 'number' && ArrayBuffer.isView(m.data)) return `<${m.width}x${m.height} map>`;
        if (ArrayBuffer.isView(x)) return `<${(x as Uint8Array).length} values>`;
        if (typeof x === 'number') return Math.round(x * 100) / 100;
        return x;
      });
      return `${task} ${s.length > 160 ? `${s.slice(0, 157)}...` : s}`;
    })
    .join('; ');
}

// ---------------------------------------------------------------------------------------------------
// info

async function info(io: CliIO, modelDir: string | undefined, values: { preset?: string; iterations?: number }): Promise<number> {
  if (modelDir !== undefined && values.preset) throw new UsageError('give a model or --preset, not both');
  await backend();
  if (modelDir !== undefined) {
    const model = await loadModel(modelDir);
    try {
      const net = model.net;
      io.stdout(`model ${model.dir}\n`);
      io.stdout(`tasks: ${model.plugins.map((p) => `${p.name} (bn key ${p.bnKey}, decodes ${p.decodeFrom.path}/${p.decodeFrom.downsample})`).join(', ')}\n`);
      io.stdout(`network: ${JSON.stringify({ ...net.config, backbone: net.backboneConfig })}\n`);
      io.stdout(`framing: ${JSON.stringify(model.framing)}\n`);
      io.stdout(`${costTable([{ name: 'model', net }])}\n`);
      return 0;
    } finally {
      model.net.dispose();
    }
  }
  const names = values.preset && values.preset !== 'all' ? [values.preset] : Object.keys(BACKBONE_PRESETS);
  const iterations = values.iterations ?? 2;
  const nets = names.map((name) => ({
    name,
    net: new IntegratedNetwork(
      taskNames().map((t) => taskEntry(t).create()),
      { backbone: name as BackbonePresetName, iterations },
    ),
  }));
  try {
    io.stdout(`tasks: ${taskNames().join(', ')} (default options), ITER ${iterations}\n\n`);
    io.stdout(`${costTable(nets)}\n`);
  } finally {
    for (const n of nets) n.net.dispose();
  }
  return 0;
}

function costTable(nets: { name: string; net: IntegratedNetwork }[]): string {
  const maxIter = Math.max(...nets.map((n) => n.net.config.iterations));
  const head = `| | input | trainable params | ${Array.from({ length: maxIter + 1 }, (_, i) => `GFLOPs Iter${i}`).join(' | ')} |`;
  const sep = `|---|---:|---:|${Array.from({ length: maxIter + 1 }, () => '---:').join('|')}|`;
  const rows = nets.map(({ name, net }) => {
    const cells = Array.from({ length: maxIter + 1 }, (_, i) => (i <= net.config.iterations ? (net.flops(i) / 1e9).toFixed(3) : '-'));
    return `| ${name} | ${net.inputSize} | ${net.parameterCount().trainable.toLocaleString('en-US')} | ${cells.join(' | ')} |`;
  });
  return [head, sep, ...rows].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// demo

async function demo(
  io: CliIO,
  values: { out: string; faces?: number; epochs?: number; rounds?: number; preset?: BackbonePresetName; photo?: string | false; quiet?: boolean },
): Promise<number> {
  await backend();
  const result = await runDemo({
    outDir: resolve(values.out),
    faces: values.faces,
    pretrainEpochs: values.epochs,
    rounds: values.rounds,
    preset: values.preset,
    // commander: --no-photo gives false, --photo FILE the file, neither nothing (the default photo)
    photo: typeof values.photo === 'string' ? resolve(values.photo) : values.photo,
    progress: !values.quiet,
    log: (s) => io.stderr(`${s}\n`),
  });
  io.stdout(`${result.markdown}\n`);
  io.stderr(`ifan demo: ${result.seconds.toFixed(0)} s wall, ${result.cpuSeconds.toFixed(0)} s CPU (all threads); tables, results, demo.png${result.photo?.picture ? ', pretrained.jpg' : ''} and overlays in ${result.outDir}\n`);
  return 0;
}

// Run when executed as the `ifan` binary (not when imported).
const invoked = process.argv[1] ? safeRealpath(process.argv[1]) : '';
if (invoked && invoked === safeRealpath(fileURLToPath(import.meta.url))) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`ifan: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
