#!/usr/bin/env node
/**
 * The `ifan` command: train, eval, predict, info, demo. `main(argv)` runs in-process (tests call it)
 * and returns the exit code: 0 done, 1 failed, 2 bad usage or configuration, 130 interrupted.
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BACKBONE_PRESETS, IntegratedNetwork, selectBackend, type BackbonePresetName, type Dataset } from '@ifan/core';
import { IMAGE_EXTENSIONS, type SkippedFile } from '@ifan/core/node';
import { runDemo } from './demo';
import { ConfigError, TrainingDivergedError } from './errors';
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

/** Bad usage: printed with the command's usage, exit code 2. */
class UsageError extends Error {}

const USAGE: Record<string, string> = {
  train: `ifan train --config FILE | --task TASK=FORMAT:PATH ... [options]
  --config FILE          run configuration (JSON; flags override it)
  --task T=FORMAT:PATH[#SPLIT]   training data of task T (repeat per task), e.g. landmarks=mtfl:/data/mtfl,
                         emotion=folders:/data/fer2013#train, parsing=fasseg:/data/fasseg, parsing=synthetic:500;
                         #SPLIT picks a split where the format has several (mtfl: train, test; fasseg: train, test;
                         helen: train, tuning, test; folders: the sub-folder)
  --val T=FORMAT:PATH[#SPLIT]    validation data (default: carved out of the training data)
  --test T=FORMAT:PATH[#SPLIT]   test data (default: carved out of the training data), e.g. landmarks=mtfl:/data/mtfl#test
  --option T.KEY=VALUE   an option of task T's plugin (VALUE as JSON, else a string), e.g. parsing.labelSet=fasseg-6;
                         parsing's label set follows its data's format unless given (indexed masks need it)
  --on-error error|skip  a bad image or annotation stops the run (error, default) or is left out and listed
                         (skip: every image is decoded once before training; the list goes to RUN/skipped.json)
  --limit-input-pixels N largest image accepted, in pixels (default 100000000)
  --preset NAME          backbone preset: ${Object.keys(BACKBONE_PRESETS).join(', ')}
  --iterations N         interaction iterations ITER (0..16)
  --epochs N             stage-1 (task-wise pre-training) epochs per data set
  --rounds N             stage-2 (batch-wise fine-tuning) rounds
  --batch-size [T=]N     batch size, for all tasks or for task T
  --reencoder learned|resize     --shared-bn     --no-augment     --margin X     --seed N
  --out DIR              run directory (default runs/<date-time>)
  --resume DIR           continue the run in DIR from its latest checkpoint
  --quiet                no progress output
  --threads auto|1|2     threads computing each step's gradients (default auto: 2 for a long run on wasm;
                         1 is better while other jobs keep the cores busy)`,
  eval: `ifan eval [--model DIR|NAME] [--task T=FORMAT:PATH[#SPLIT] ...] [--iterations N] [--batch-size N] [--json FILE]
               [--on-error error|skip] [--limit-input-pixels N]
  Evaluates every task on its data at every iteration 0..N and prints the tables. --model is a model
  folder, a run directory, or the name of a pretrained model of @ifan/models (default: its default
  model, said in one line). Without --task, DIR must be a run directory (of ifan train or ifan demo):
  its test splits are used. #SPLIT picks a split
  where the format has several, e.g. --task landmarks=mtfl:/data/mtfl#test reads testing.txt.`,
  predict: `ifan predict IMAGE|DIR ... [--model DIR|NAME] [--out DIR] [--box X,Y,W,H ... | --boxes FILE.json | --no-detect]
               [--max-faces N] [--min-score X] [--align] [--iterations N] [--bn-key KEY]
               [--on-error skip|error] [--limit-input-pixels N]
  Finds every face of each photo (BlazeFace, from the @ifan/detect package), frames each as the model's
  training framed faces (the box of its eyes and mouth, with the model's saved framing), analyses all
  faces of a photo in one batch and writes into --out (default ./predictions) <name>.json (one entry per
  face: box, score, framing box, keypoints, each task's output in the photo's coordinates) and ONE
  <name>.overlay.png of the whole photo with every face drawn. A photo without a face gives "0 faces".
  --model DIR|NAME       a model folder or run directory, or a pretrained model of @ifan/models by name
                         (default: its default model, said in one line)
  --box X,Y,W,H          a face's box in photo pixels (repeat per face; applies to every photo): no detection
  --boxes FILE.json      boxes instead of detection: [[x, y, w, h], ...] for every photo, or
                         {"NAME": [[x, y, w, h], ...]} per photo (file name or path; others are searched)
  --no-detect            each image is one face (its centred square): for images that are already face
                         crops, e.g. 48 px FER faces, where detection may fail
  --max-faces N          at most N faces per photo, best first (default 20)
  --min-score X          detector confidence from which a face counts (default 0.5)
  --align                turn each face upright by the roll of its eyes before analysis (the paper's
                         aligned-face setting; needs detection)
  --bn-key KEY           the batch-norm statistics to use for every task, those of the data set the
                         images resemble (default each task's own)
  A DIR's images are read, not its sub-folders. --on-error skip (default): an image that cannot be read is
  listed with the reason (and in OUT/skipped.json) and the others are predicted; error: stop at it.`,
  info: `ifan info [MODEL] [--preset NAME|all]
  Tasks, configuration, FLOPs per iteration and parameter count of a model or of backbone presets.`,
  demo: `ifan demo [--out DIR] [--faces N] [--epochs N] [--rounds N] [--preset NAME]
  Synthetic data sets (one per task, different image statistics), the integrated network trained on all
  three with the hybrid strategy, single-task baselines, tables that say by how much each model beats
  the trivial baselines (chance, majority class, mean shape), demo.png and overlays. --faces N sets every
  task's training faces (default 240 parsing, 480 landmarks, 720 emotion).`,
};

const HELP = `ifan: integrated face analytics network (Li et al., ACM MM 2017)

Commands:
  train    cross-dataset hybrid training
  eval     evaluate a model, print the paper's tables
  predict  find every face of photos and run a model on them
  info     tasks, FLOPs and parameters of a model or preset
  demo     the whole pipeline on synthetic faces

Run "ifan COMMAND --help" for a command's options. Tasks: ${taskNames().join(', ')}.
`;

export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(HELP);
    return command ? 0 : 2;
  }
  const commands: Record<string, (args: string[], io: CliIO) => Promise<number>> = { train, eval: evalCommand, predict, info, demo };
  const run = commands[command];
  if (!run) {
    io.stderr(`ifan: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`usage: ${USAGE[command]}\n`);
    return 0;
  }
  try {
    return await run(rest, io);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`ifan ${command}: ${err.message}\n\nusage: ${USAGE[command]}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      io.stderr(`ifan ${command}: configuration error: ${err.message}\n`);
      return 2;
    }
    if (e instanceof TrainingDivergedError) {
      io.stderr(`ifan ${command}: ${err.message}\n`);
      return 1;
    }
    io.stderr(`ifan ${command}: ${err.message}\n`);
    return 1;
  }
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals = false) {
  return parseArgs({ args, options, allowPositionals: positionals, strict: true });
}

function intFlag(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new ConfigError(`--${name}`, `must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got "${v}"`);
  return n;
}

function numberFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${name}`, `must be a number, got "${v}"`);
  return n;
}

function checkPreset(name: string | undefined): BackbonePresetName | undefined {
  if (name !== undefined && !(name in BACKBONE_PRESETS)) {
    throw new ConfigError('--preset', `unknown preset "${name}": use one of ${Object.keys(BACKBONE_PRESETS).join(', ')}`);
  }
  return name as BackbonePresetName | undefined;
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
  return { ...config, tasks, ...(config.out ? { out: resolve(baseDir, config.out) } : {}) };
}

async function train(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string' },
    task: { type: 'string', multiple: true },
    val: { type: 'string', multiple: true },
    test: { type: 'string', multiple: true },
    preset: { type: 'string' },
    iterations: { type: 'string' },
    epochs: { type: 'string' },
    rounds: { type: 'string' },
    'batch-size': { type: 'string', multiple: true },
    reencoder: { type: 'string' },
    'shared-bn': { type: 'boolean' },
    'no-augment': { type: 'boolean' },
    margin: { type: 'string' },
    seed: { type: 'string' },
    option: { type: 'string', multiple: true },
    'on-error': { type: 'string' },
    'limit-input-pixels': { type: 'string' },
    out: { type: 'string' },
    resume: { type: 'string' },
    quiet: { type: 'boolean' },
    threads: { type: 'string' },
  });
  let config: RunConfigFile;
  let resume = false;
  if (values.resume) {
    const others = Object.keys(values).filter((k) => !['resume', 'quiet', 'threads'].includes(k));
    if (others.length) throw new UsageError(`--resume continues a run with its own config.json; drop --${others.join(', --')}`);
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
    for (const b of values['batch-size'] ?? []) {
      const i = b.indexOf('=');
      if (i > 0) {
        const t = b.slice(0, i);
        if (!tasks[t]) throw new UsageError(`--batch-size ${b}: task ${t} is not being trained`);
        tasks[t] = { ...tasks[t], batchSize: intFlag('batch-size', b.slice(i + 1), 1) };
      } else {
        const n = intFlag('batch-size', b, 1);
        for (const t of Object.keys(tasks)) tasks[t] = { ...tasks[t], batchSize: n };
      }
    }
    const preset = checkPreset(values.preset ?? fileConfig?.preset);
    if (values.reencoder !== undefined && values.reencoder !== 'learned' && values.reencoder !== 'resize') {
      throw new ConfigError('--reencoder', `must be learned or resize, got "${values.reencoder}"`);
    }
    const network = {
      ...fileConfig?.network,
      ...(values.iterations !== undefined ? { iterations: intFlag('iterations', values.iterations, 0, 16) } : {}),
      ...(values.reencoder ? { reencoder: values.reencoder as 'learned' | 'resize' } : {}),
      ...(values['shared-bn'] ? { sharedBatchNorm: true } : {}),
    };
    const schedule = {
      ...fileConfig?.schedule,
      ...(values.epochs !== undefined ? { pretrainEpochs: intFlag('epochs', values.epochs, 0) } : {}),
      ...(values.rounds !== undefined ? { rounds: intFlag('rounds', values.rounds, 0) } : {}),
    };
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    config = checkRunConfig({
      ...fileConfig,
      tasks,
      ...(preset ? { preset } : {}),
      network,
      schedule,
      ...(values['no-augment'] ? { augment: false } : {}),
      ...(values.margin !== undefined ? { crop: { ...fileConfig?.crop, margin: numberFlag('margin', values.margin)! } } : {}),
      ...(values.seed !== undefined ? { seed: intFlag('seed', values.seed, 0, 0xffffffff) } : {}),
      ...(values['on-error'] !== undefined ? { onError: onErrorFlag(values['on-error']) } : {}),
      ...(values['limit-input-pixels'] !== undefined ? { limitInputPixels: intFlag('limit-input-pixels', values['limit-input-pixels'], 1) } : {}),
      out: values.out ? resolve(values.out) : (fileConfig?.out ?? resolve('runs', stamp)),
    });
    config = absolutize(config, process.cwd());
  }
  const built = await buildRun(config);
  await backend();
  // (the Trainer refuses any other value of --threads, naming it)
  const threads = ({ '1': 1, '2': 2 } as Record<string, 1 | 2>)[values.threads ?? ''] ?? (values.threads as 'auto' | undefined);
  const trainer = new Trainer({ ...built.options, resume, progress: !values.quiet, handleSignals: true, ...(threads !== undefined ? { threads } : {}) });
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
    if (result.reason?.includes('SIGINT')) {
      // Ctrl-C came as the last step ended: the run is complete, the test evaluation is left out
      io.stderr(`ifan train: interrupted (SIGINT) after the last step; model in ${model}; test evaluation skipped: ifan eval --model ${trainer.runDir}\n`);
      return 130;
    }
    const test = Object.fromEntries(Object.entries(built.data).filter(([, d]) => d.test).map(([t, d]) => [t, d.test!]));
    let testSeconds = 0;
    if (Object.keys(test).length) {
      const t0 = Date.now();
      const progress = values.quiet ? null : new ProgressReporter({ stream: { write: (t: string) => io.stderr(t), isTTY: io === defaultIO && process.stderr.isTTY, columns: process.stderr.columns } });
      // Ctrl-C during the test evaluation stops it; the model is saved already
      const stopEval = new AbortController();
      const onSigint = () => {
        if (stopEval.signal.aborted) process.exit(130);
        stopEval.abort('SIGINT');
      };
      process.on('SIGINT', onSigint);
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
        process.off('SIGINT', onSigint);
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

function onErrorFlag(v: string): 'error' | 'skip' {
  if (v !== 'error' && v !== 'skip') throw new ConfigError('--on-error', `must be error or skip, got "${v}"`);
  return v;
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

async function evalCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, {
    model: { type: 'string' },
    task: { type: 'string', multiple: true },
    iterations: { type: 'string' },
    'batch-size': { type: 'string' },
    json: { type: 'string' },
    'on-error': { type: 'string' },
    'limit-input-pixels': { type: 'string' },
  });
  const pairs = taskPairs('task', values.task);
  const iterations = intFlag('iterations', values.iterations, 0, 16);
  const batchSize = intFlag('batch-size', values['batch-size'], 1);
  const load: DataLoadOptions = {
    ...(values['on-error'] !== undefined ? { onError: onErrorFlag(values['on-error']) } : {}),
    ...(values['limit-input-pixels'] !== undefined ? { limitInputPixels: intFlag('limit-input-pixels', values['limit-input-pixels'], 1) } : {}),
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

async function predict(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      model: { type: 'string' },
      out: { type: 'string' },
      iterations: { type: 'string' },
      'bn-key': { type: 'string' },
      'on-error': { type: 'string' },
      'limit-input-pixels': { type: 'string' },
      box: { type: 'string', multiple: true },
      boxes: { type: 'string' },
      'no-detect': { type: 'boolean' },
      'max-faces': { type: 'string' },
      'min-score': { type: 'string' },
      align: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length === 0) throw new UsageError('give an image file or a folder of images');
  const onError = onErrorFlag(values['on-error'] ?? 'skip');
  const limitInputPixels = intFlag('limit-input-pixels', values['limit-input-pixels'], 1);
  const noDetect = values['no-detect'] === true;
  const given = [values.box?.length ? '--box' : '', values.boxes ? '--boxes' : '', noDetect ? '--no-detect' : ''].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(' and ')} exclude each other: give face boxes one way, or none with --no-detect`);
  const maxFaces = intFlag('max-faces', values['max-faces'], 0);
  const minScore = numberFlag('min-score', values['min-score']);
  if (minScore !== undefined && !(minScore >= 0 && minScore <= 1)) throw new ConfigError('--min-score', `must be from 0 to 1, got "${values['min-score']}"`);
  const boxes = values.box?.length ? values.box.map((b) => boxFlag(b)) : values.boxes ? await boxesFile(values.boxes) : undefined;
  const detectFlags = [values['max-faces'] !== undefined ? '--max-faces' : '', values['min-score'] !== undefined ? '--min-score' : '', values.align ? '--align' : ''].filter(Boolean);
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
  const iterations = intFlag('iterations', values.iterations, 0, 16);
  await backend();
  const model = await resolveModel(values.model);
  if (model.note) io.stderr(`ifan predict: ${model.note}\n`);
  let detector: (FaceDetectorLike & { dispose(): void }) | undefined;
  try {
    const outDir = resolve(values.out ?? 'predictions');
    const bnKey = values['bn-key'];
    if (bnKey !== undefined && !model.net.bnKeys.includes(bnKey)) {
      throw new ConfigError('--bn-key', `"${bnKey}" is not a batch-norm key of this model; it has ${model.net.bnKeys.join(', ')}`);
    }
    const onSkip = (f: SkippedFile) => skipped.push(f);
    if (noDetect) {
      const results = await predictImages(model, files, { iterations, outDir, bnKey, onError, limitInputPixels, onSkip });
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

async function info(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { preset: { type: 'string' }, iterations: { type: 'string' } }, true);
  if (positionals.length > 1) throw new UsageError('give one model');
  if (positionals.length && values.preset) throw new UsageError('give a model or --preset, not both');
  await backend();
  if (positionals.length) {
    const model = await loadModel(positionals[0]);
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
  for (const n of names) checkPreset(n);
  const iterations = intFlag('iterations', values.iterations, 0, 16) ?? 2;
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

async function demo(args: string[], io: CliIO): Promise<number> {
  const { values } = parse(args, {
    out: { type: 'string' },
    faces: { type: 'string' },
    epochs: { type: 'string' },
    rounds: { type: 'string' },
    preset: { type: 'string' },
    quiet: { type: 'boolean' },
  });
  await backend();
  const result = await runDemo({
    outDir: resolve(values.out ?? 'ifan-demo'),
    faces: intFlag('faces', values.faces, 10),
    pretrainEpochs: intFlag('epochs', values.epochs, 0),
    rounds: intFlag('rounds', values.rounds, 0),
    preset: checkPreset(values.preset),
    progress: !values.quiet,
    log: (s) => io.stderr(`${s}\n`),
  });
  io.stdout(`${result.markdown}\n`);
  io.stderr(`ifan demo: ${result.seconds.toFixed(0)} s wall, ${result.cpuSeconds.toFixed(0)} s CPU (all threads); tables, results, demo.png and overlays in ${result.outDir}\n`);
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
