/**
 * Reproduces the paper's experiments (iFAN, Li et al. 2017, sections 4.1-4.3, Tables 1-4, Figure 7)
 * at a chosen budget.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx replicate.ts \
 *     --setting quick|full --data synthetic|real [--root /work/shared/data] --out DIR [--resume]
 *
 * Runs (each in DIR/runs/<id>, skipped when its result.json exists; with --resume an unfinished run
 * continues from its latest checkpoint): single-task baselines of every task; 2T (landmarks + parsing)
 * and 3T at ITER 0, 1, 2 (plus 3 in the quick setting and 3 and 4 in the full one, for Table 4); the two 3T ablations (resizing
 * instead of learned re-encoders, one shared batch norm); the emotion baseline on faces aligned by
 * their 5 points against cropped faces (Table 3); a second seed (more in `full`) of the key runs.
 * Writes DIR/tables.md, DIR/results.json, DIR/figure7.png (+ .svg).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BackbonePresetName, Dataset, LabelledImage, MetricReport, Sample, TaskPlugin } from '@ifan/core';
import { selectBackend } from '@ifan/core';
import { splitDataset } from '@ifan/core/node';
import { syntheticDataset } from '@ifan/synthetic';
import { emotionTask } from '@ifan/task-emotion/node';
import { landmarkTask } from '@ifan/task-landmarks/node';
import { FASSEG_6, parsingTask } from '@ifan/task-parsing/node';
import {
  buildTables,
  evaluate,
  loadModel,
  predictSamples,
  RUN_FILES,
  tableToMarkdown,
  Trainer,
  type EvaluationResult,
  type EvaluationRun,
  type Table,
} from '@ifan/trainer';
import { alignedDataset } from './replicate/align';
import { writeCurvesPng, type CurvePoint } from './replicate/figure';

// ---------------------------------------------------------------- configuration

type Task = 'parsing' | 'landmarks' | 'emotion';
const TASKS: Task[] = ['parsing', 'landmarks', 'emotion'];

interface Setting {
  preset: BackbonePresetName;
  /** Samples per task (synthetic: generated; real: subsampled, `Infinity` = all). */
  train: number;
  val: number;
  test: number;
  batchSize: number;
  pretrainEpochs: number;
  rounds: number;
  /** Validation (Figure 7 points) every this many fine-tuning rounds; also the checkpoint interval. */
  validateEveryRounds: number;
  /** ITER values trained for 2T / 3T (Tables 1-3); Table 4 also uses `table4Iterations`. */
  iterations: number[];
  table4Iterations: number[];
  /** Seeds of the key comparison (single task vs 3T at the largest of `iterations`); the first is used everywhere else. */
  seeds: number[];
}

const SETTINGS: Record<'quick' | 'full' | 'smoke', Setting> = {
  /** Checks the script end to end in a minute or two; numbers meaningless. */
  smoke: {
    preset: 'tiny', train: 32, val: 16, test: 16, batchSize: 16,
    pretrainEpochs: 1, rounds: 2, validateEveryRounds: 1,
    iterations: [0, 1, 2], table4Iterations: [], seeds: [1, 2],
  },
  quick: {
    preset: 'tiny', train: 320, val: 48, test: 96, batchSize: 16,
    pretrainEpochs: 3, rounds: 50, validateEveryRounds: 10,
    iterations: [0, 1, 2], table4Iterations: [3], seeds: [1, 2],
  },
  full: {
    preset: 'small', train: 1500, val: 150, test: 400, batchSize: 16,
    pretrainEpochs: 4, rounds: 300, validateEveryRounds: 25,
    iterations: [0, 1, 2], table4Iterations: [3, 4], seeds: [1, 2],
  },
};

/** Fine-tuning rate: the paper decays 1e-3 -> 1e-6 over 200 epochs; over a short run that would waste most steps. */
const FINETUNE_LR = { type: 'exponential' as const, from: 1e-3, to: 1e-4 };

interface RunSpec {
  id: string;
  tasks: Task[];
  iterations: number;
  reencoder: 'learned' | 'resize';
  sharedBatchNorm: boolean;
  seed: number;
  /** Emotion input of a single-task emotion run. */
  emotionInput: 'crop' | 'aligned';
}

function runList(s: Setting): RunSpec[] {
  const base = { reencoder: 'learned' as const, sharedBatchNorm: false, emotionInput: 'crop' as const };
  const [seed, ...moreSeeds] = s.seeds;
  const top = Math.max(...s.iterations);
  const runs: RunSpec[] = [];
  const add = (r: Partial<RunSpec> & Pick<RunSpec, 'id' | 'tasks' | 'iterations'>) => runs.push({ ...base, seed, ...r });
  // the key comparison first, so an interrupted quick setting still has it
  for (const t of TASKS) add({ id: `single-${t}-s${seed}`, tasks: [t], iterations: 0 });
  add({ id: `3t-iter${top}-s${seed}`, tasks: TASKS, iterations: top });
  add({ id: `single-emotion-aligned-s${seed}`, tasks: ['emotion'], iterations: 0, emotionInput: 'aligned' });
  for (const k of s.iterations) add({ id: `2t-iter${k}-s${seed}`, tasks: ['landmarks', 'parsing'], iterations: k });
  for (const k of s.iterations) if (k !== top) add({ id: `3t-iter${k}-s${seed}`, tasks: TASKS, iterations: k });
  add({ id: `3t-iter${top}-resize-s${seed}`, tasks: TASKS, iterations: top, reencoder: 'resize' });
  add({ id: `3t-iter${top}-sharedbn-s${seed}`, tasks: TASKS, iterations: top, sharedBatchNorm: true });
  for (const k of s.table4Iterations) add({ id: `3t-iter${k}-s${seed}`, tasks: TASKS, iterations: k });
  for (const sd of moreSeeds) {
    for (const t of TASKS) add({ id: `single-${t}-s${sd}`, tasks: [t], iterations: 0, seed: sd });
    add({ id: `3t-iter${top}-s${sd}`, tasks: TASKS, iterations: top, seed: sd });
  }
  return runs;
}

// ---------------------------------------------------------------- data

interface Split { train: Dataset; val: Dataset; test: Dataset }
interface Data {
  splits: Record<Task, Split>;
  /** Emotion faces aligned by their 5 points (Table 3's second baseline). */
  aligned: (runsDir: string) => Promise<Split>;
  /** Face-crop margin of the trainer and evaluation. */
  margin: number;
  /** How the splits were made, for the report. */
  description: string[];
  plugins: () => Record<Task, TaskPlugin>;
}

/** Samples that load once and then serve from memory. */
function cached(ds: Dataset): Dataset {
  return {
    ...ds,
    samples: ds.samples.map((s): Sample => {
      let p: Promise<LabelledImage> | null = null;
      return { ...s, load: () => (p ??= s.load()) };
    }),
  };
}

function keepLabels(ds: Dataset, keep: string[]): Dataset {
  return {
    ...ds,
    // the parent's recipe would rebuild the samples with every label: batches stay on the training thread
    recipe: undefined,
    tasks: keep,
    samples: ds.samples.map((s): Sample => ({
      ...s,
      load: async () => {
        const li = await s.load();
        return { ...li, labels: Object.fromEntries(keep.filter((k) => k in li.labels).map((k) => [k, li.labels[k]])) };
      },
    })),
  };
}

function slice(ds: Dataset, name: string, from: number, to: number): Dataset {
  return { ...ds, name: `${ds.name}/${name}`, samples: ds.samples.slice(from, to) };
}

/** A deterministic subsample of at most `n` samples (seeded shuffle, then the original order kept). */
function subsample(ds: Dataset, n: number, seed: number): Dataset {
  if (ds.samples.length <= n) return ds;
  let x = seed >>> 0 || 1;
  const rnd = () => ((x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0), x / 2 ** 32);
  const idx = ds.samples.map((_, i) => [rnd(), i] as const).sort((a, b) => a[0] - b[0]).slice(0, n).map(([, i]) => i).sort((a, b) => a - b);
  return { ...ds, samples: idx.map((i) => ds.samples[i]) };
}

function syntheticData(s: Setting, alignSize: number): Data {
  const splits = {} as Record<Task, Split>;
  let emotionFull: Dataset | null = null;
  const n = s.train + s.val + s.test;
  for (const t of TASKS) {
    // emotion faces also carry their true 5 points, used only to align them (Table 3)
    const all = cached(syntheticDataset({ count: n, domain: t, tasks: t === 'emotion' ? ['emotion', 'landmarks'] : [t], seed: 11, name: `synthetic-${t}` }));
    if (t === 'emotion') emotionFull = all;
    const only = keepLabels(all, [t]);
    splits[t] = { train: slice(only, 'train', 0, s.train), val: slice(only, 'val', s.train, s.train + s.val), test: slice(only, 'test', s.train + s.val, n) };
  }
  const full = emotionFull!;
  const truePoints = (_: Sample, li: LabelledImage) => (li.labels.landmarks as { points: [number, number][] }).points;
  const al = cached(alignedDataset(full, alignSize, truePoints, ['emotion']));
  return {
    splits,
    aligned: async () => ({ train: slice(al, 'train', 0, s.train), val: slice(al, 'val', s.train, s.train + s.val), test: slice(al, 'test', s.train + s.val, n) }),
    margin: 0.25,
    description: [
      `synthetic (@ifan/synthetic, seed 11): one data set per task, each in its own domain (parsing: Helen-like colour photos, landmarks: MTFL-like web photos, emotion: FER-like grey crops), each labelled for its task only`,
      `per task: samples 0..${s.train - 1} train, next ${s.val} validation, next ${s.test} test (all generated independently)`,
      `aligned emotion faces: the same emotion faces warped by a least-squares similarity from their true 5 points to a canonical template, ${alignSize} px`,
    ],
    plugins: () => ({ parsing: parsingTask(), landmarks: landmarkTask(), emotion: emotionTask() }),
  };
}

async function realData(s: Setting, root: string, alignSize: number): Promise<Data> {
  const plugins = { parsing: parsingTask({ labelSet: FASSEG_6 }), landmarks: landmarkTask(), emotion: emotionTask() };
  // MTFL: identity-disjoint test and validation splits carved out of the training faces
  const mtfl = await plugins.landmarks.loadDataset('mtfl', join(root, 'mtfl'), { split: 'train' });
  const m1 = splitDataset(mtfl, { fraction: 0.15, byIdentity: true, seed: 1 });
  const m2 = splitDataset(m1.train, { fraction: 0.06, byIdentity: true, seed: 2 });
  // FER2013: validation folder (PublicTest) as the test set; a validation split carved out of train/
  const ferTrain = await plugins.emotion.loadDataset('folders', join(root, 'fer2013'), { split: 'train' });
  const ferTest = await plugins.emotion.loadDataset('folders', join(root, 'fer2013'), { split: 'validation' });
  const f = splitDataset(ferTrain, { fraction: 0.05, seed: 3 });
  // FASSEG: 20 faces; leave 6 out for test and 2 for validation
  const fas = await plugins.parsing.loadDataset('fasseg', join(root, 'fasseg'), {});
  const p1 = splitDataset(fas, { fraction: 0.3, seed: 4 });
  const p2 = splitDataset(p1.train, { fraction: 0.15, seed: 5 });
  const sub = (ds: Dataset, k: number, seed: number) => cached(subsample(ds, k, seed));
  const splits: Record<Task, Split> = {
    landmarks: { train: sub(m2.train, s.train, 1), val: sub(m2.validation, s.val, 2), test: sub(m1.validation, s.test, 3) },
    emotion: { train: sub(f.train, s.train, 4), val: sub(f.validation, s.val, 5), test: sub(ferTest, s.test, 6) },
    parsing: { train: cached(p2.train), val: cached(p2.validation), test: cached(p1.validation) },
  };
  return {
    splits,
    // FER2013 has no landmarks: the single-task landmark model (trained on MTFL, seed 1) predicts them
    aligned: async (runsDir) => {
      const model = await loadModel(join(runsDir, `single-landmarks-s${s.seeds[0]}`));
      // predict every emotion face's points once, in original-image coordinates
      const memo = new Map<string, [number, number][]>();
      for (const part of ['train', 'val', 'test'] as const) {
        for (const p of await predictSamples(model, splits.emotion[part].samples)) {
          memo.set(p.file, (p.outputs.landmarks as { points: [number, number][] }).points);
        }
      }
      model.net.dispose();
      const predicted = async (smp: Sample) => {
        const pts = memo.get(smp.id);
        if (!pts) throw new Error(`no predicted points for ${smp.id}`);
        return pts;
      };
      const al = (ds: Dataset) => cached(alignedDataset(ds, alignSize, (smp) => predicted(smp), ['emotion']));
      return { train: al(splits.emotion.train), val: al(splits.emotion.val), test: al(splits.emotion.test) };
    },
    margin: 0,
    description: [
      `landmarks: MTFL training.txt (${mtfl.samples.length} faces); test = ${m1.validation.samples.length} faces of held-out identities (15%), validation = ${m2.validation.samples.length} of other held-out identities (6% of the rest), by identity (splitDataset); subsampled to train ${splits.landmarks.train.samples.length}, val ${splits.landmarks.val.samples.length}, test ${splits.landmarks.test.samples.length}`,
      `emotion: FER2013 train/ (${ferTrain.samples.length}) with 5% carved out as validation; FER2013 validation/ (PublicTest, ${ferTest.samples.length}) as test; subsampled to train ${splits.emotion.train.samples.length}, val ${splits.emotion.val.samples.length}, test ${splits.emotion.test.samples.length}`,
      `parsing: FASSEG frontal02, 6 classes, 20 faces: leave-some-out, test ${splits.parsing.test.samples.length}, validation ${splits.parsing.val.samples.length}, train ${splits.parsing.train.samples.length}`,
      `aligned emotion faces: 5 points predicted by the single-task landmark model (MTFL), similarity to a canonical template, ${alignSize} px`,
    ],
    plugins: () => ({ parsing: parsingTask({ labelSet: FASSEG_6 }), landmarks: landmarkTask(), emotion: emotionTask() }),
  };
}

// ---------------------------------------------------------------- one run

interface RunRecord {
  spec: RunSpec;
  preset: BackbonePresetName;
  inputSize: number;
  trainSamples: Record<string, number>;
  pretrainEpochs: number;
  rounds: number;
  steps: number;
  trainSeconds: number;
  evalSeconds: number;
  result: EvaluationResult;
  curve: CurvePoint[];
  segments: [number, number, string][];
}

const primaries = (r: Record<string, MetricReport> | undefined) =>
  Object.fromEntries(Object.entries(r ?? {}).map(([t, rep]) => [t, rep.primary.value]));

async function runOne(spec: RunSpec, s: Setting, data: Data, runsDir: string, resume: boolean, log: (l: string) => void): Promise<RunRecord> {
  const dir = join(runsDir, spec.id);
  const resultFile = join(dir, 'result.json');
  if (existsSync(resultFile)) {
    log(`${spec.id}: finished earlier, skipped`);
    return JSON.parse(readFileSync(resultFile, 'utf8')) as RunRecord;
  }
  mkdirSync(dir, { recursive: true });
  const all = data.plugins();
  const plugins = spec.tasks.map((t) => all[t]);
  const aligned = spec.emotionInput === 'aligned';
  const splits = { ...data.splits, ...(aligned ? { emotion: await data.aligned(runsDir) } : {}) };
  const crop = { margin: aligned ? 0 : data.margin };
  const canResume = resume && existsSync(join(dir, RUN_FILES.checkpoints));
  const curveFile = join(dir, 'curve.jsonl');
  if (!canResume) writeFileSync(curveFile, '');
  const addPoint = (p: CurvePoint) => appendFileSync(curveFile, `${JSON.stringify(p)}\n`);
  // eslint-disable-next-line prefer-const
  let trainer: Trainer;
  trainer = new Trainer({
    plugins,
    datasets: Object.fromEntries(spec.tasks.map((t) => [t, { train: splits[t].train, val: splits[t].val }])),
    network: { backbone: s.preset, iterations: spec.iterations, reencoder: spec.reencoder, sharedBatchNorm: spec.sharedBatchNorm, seed: spec.seed },
    schedule: { pretrainEpochs: s.pretrainEpochs, rounds: s.rounds, finetuneLr: FINETUNE_LR },
    batchSize: s.batchSize,
    crop,
    seed: spec.seed,
    checkpoint: { everyRounds: s.validateEveryRounds, keep: 1 },
    runDir: dir,
    resume: canResume,
    evalBatchSize: 32,
    hooks: [
      {
        // Figure 7 during stage 1: the trainer validates only in stage 2, so validate after every pre-training epoch here
        afterEpoch: async (_v, e) => {
          if (e.stage !== 'pretrain') return;
          const rep = await trainer.validate(0);
          addPoint({ step: e.firstStep + e.steps, stage: 'pretrain', source: e.sources[0], values: primaries(rep) });
        },
        afterValidation: (v, rep, step) => {
          if (step > 0 && step <= v.totalSteps) addPoint({ step, stage: 'finetune', values: primaries(rep) });
        },
      },
    ],
  });
  log(`${spec.id}: training ${spec.tasks.join('+')} ITER ${spec.iterations} (${spec.reencoder}${spec.sharedBatchNorm ? ', shared BN' : ''}${aligned ? ', aligned faces' : ''}), seed ${spec.seed}${canResume ? ', resuming' : ''}`);
  const fit = await trainer.fit();
  if (fit.status !== 'completed') throw new Error(`${spec.id}: training ${fit.status} (${fit.reason ?? ''})`);
  const t0 = Date.now();
  const result = await evaluate(trainer.net, Object.fromEntries(spec.tasks.map((t) => [t, splits[t].test])), { crop, batchSize: 32 });
  const evalSeconds = (Date.now() - t0) / 1000;
  const cfg = trainer.config;
  trainer.dispose();
  // stage segments for Figure 7: stage 1 data set by data set, then stage 2
  const segments: [number, number, string][] = [];
  let at = 0;
  for (const src of cfg.sources) {
    const steps = s.pretrainEpochs * Math.ceil(src.samples / src.batchSize);
    segments.push([at, at + steps, src.tasks.join('+')]);
    at += steps;
  }
  segments.push([at, fit.steps, 'alternating fine-tuning']);
  const curve = readFileSync(curveFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as CurvePoint);
  const rec: RunRecord = {
    spec,
    preset: s.preset,
    inputSize: { tiny: 32, small: 64, paper: 128 }[s.preset],
    trainSamples: Object.fromEntries(spec.tasks.map((t) => [t, splits[t].train.samples.length])),
    pretrainEpochs: s.pretrainEpochs,
    rounds: s.rounds,
    steps: fit.steps,
    trainSeconds: fit.seconds,
    evalSeconds,
    result,
    curve,
    segments,
  };
  writeFileSync(resultFile, JSON.stringify(rec, null, 1));
  log(`${spec.id}: ${fit.steps} steps in ${fit.seconds.toFixed(0)} s, test ${Object.entries(result.tasks).map(([t, e]) => `${t} ${e.reports[e.reports.length - 1].primary.name} ${e.reports[e.reports.length - 1].primary.value.toFixed(4)}`).join(', ')}`);
  return rec;
}

// ---------------------------------------------------------------- tables

/** The result restricted to the network's last iteration (one row per trained ITER). */
function lastIteration(r: EvaluationResult): EvaluationResult {
  return { iterations: 0, tasks: Object.fromEntries(Object.entries(r.tasks).map(([t, e]) => [t, { ...e, reports: [e.reports[e.reports.length - 1]] }])) };
}

function merged(results: EvaluationResult[]): EvaluationResult {
  return { iterations: 0, tasks: Object.assign({}, ...results.map((r) => r.tasks)) };
}

function pick(tables: Table[], test: (title: string) => boolean, rename: string): Table[] {
  return tables.filter((t) => test(t.title)).map((t) => ({ ...t, title: `${rename} (${t.title})` }));
}

function buildReport(records: Map<string, RunRecord>, s: Setting): { markdown: string; tables: Table[] } {
  const seed = s.seeds[0];
  const top = Math.max(...s.iterations);
  const get = (id: string) => records.get(id);
  const out: Table[] = [];
  const singles = TASKS.map((t) => get(`single-${t}-s${seed}`)).filter((r): r is RunRecord => !!r);
  const row = (label: string, id: string): EvaluationRun[] => {
    const r = get(id);
    return r ? [{ label, result: lastIteration(r.result) }] : [];
  };
  const main: EvaluationRun[] = [
    ...(singles.length ? [{ label: 'Single Task', result: merged(singles.map((r) => r.result)) }] : []),
    ...s.iterations.flatMap((k) => row(`iFAN 2T Iter${k}`, `2t-iter${k}-s${seed}`)),
    ...s.iterations.flatMap((k) => row(`iFAN 3T Iter${k}`, `3t-iter${k}-s${seed}`)),
  ];
  const t = buildTables(main);
  out.push(...pick(t, (x) => ['landmarks: perPointNME', 'landmarks: summary'].includes(x), 'Table 1: landmarks, NME per point'));
  out.push(...pick(t, (x) => ['parsing: fScore', 'parsing: groupFScore', 'parsing: summary'].includes(x), 'Table 2: parsing, F-score per class'));
  const emo: EvaluationRun[] = [
    ...row('Single Task (cropped face)', `single-emotion-s${seed}`),
    ...row('Single Task (aligned face)', `single-emotion-aligned-s${seed}`),
    ...s.iterations.flatMap((k) => row(`iFAN 3T Iter${k}`, `3t-iter${k}-s${seed}`)),
  ];
  if (emo.length) out.push(...pick(buildTables(emo), (x) => x.startsWith('emotion:') && x.includes('summary'), 'Table 3: emotion accuracy'));
  const t4Iters = [...new Set([top, ...s.table4Iterations])].sort();
  const t4: EvaluationRun[] = t4Iters.flatMap((k) => {
    const r = get(`3t-iter${k}-s${seed}`);
    return r ? [{ label: `iFAN 3T (trained ITER=${k})`, result: r.result }] : [];
  });
  if (t4.length) out.push(...pick(buildTables(t4), (x) => x.startsWith('primary figure'), 'Table 4: every task over interaction iterations, one network evaluated at iterations 0..ITER'));
  const abl: EvaluationRun[] = [
    { label: 'iFAN 3T learned re-encoders, BN per data set', id: `3t-iter${top}-s${seed}` },
    { label: 'resize instead of re-encoders', id: `3t-iter${top}-resize-s${seed}` },
    { label: 'one shared BN', id: `3t-iter${top}-sharedbn-s${seed}` },
  ].flatMap(({ label, id }) => {
    const r = get(id);
    return r ? [{ label, result: r.result }] : [];
  });
  if (abl.length) out.push(...pick(buildTables(abl), (x) => x.startsWith('primary figure'), `Ablations (4.3.2, 4.3.3), 3T ITER=${top}`));
  // seeds: the key comparison
  const seedRows: Table['rows'] = [];
  for (const sd of s.seeds) {
    const single = TASKS.map((tk) => get(`single-${tk}-s${sd}`));
    const it = get(`3t-iter${top}-s${sd}`);
    if (single.every(Boolean)) seedRows.push({ label: `Single Task, seed ${sd}`, cells: TASKS.map((tk, i) => single[i]!.result.tasks[tk].reports[0].primary.value) });
    if (it) seedRows.push({ label: `iFAN 3T Iter${top}, seed ${sd}`, cells: TASKS.map((tk) => it.result.tasks[tk].reports[top].primary.value) });
  }
  if (seedRows.length) {
    const names = TASKS.map((tk) => {
      const r = [...records.values()].find((x) => x.result.tasks[tk])?.result.tasks[tk].reports[0].primary;
      return r ? `${tk} ${r.name} (${r.higherIsBetter ? 'higher' : 'lower'} is better)` : tk;
    });
    out.push({ title: 'Seeds: single task vs iFAN 3T (test primary figures)', columns: names, rows: seedRows });
  }
  // run sizes and times
  const timing: Table = {
    title: 'Runs: size and wall time',
    columns: ['ITER', 'train faces/task', 'pre-train epochs', 'rounds', 'steps', 'train s', 'eval s'],
    rows: [...records.values()].map((r) => ({
      label: r.spec.id,
      cells: [r.spec.iterations, Math.round(Object.values(r.trainSamples).reduce((a, b) => a + b, 0) / Object.values(r.trainSamples).length), r.pretrainEpochs, r.rounds, r.steps, Math.round(r.trainSeconds), Math.round(r.evalSeconds)],
    })),
  };
  out.push(timing);
  return { markdown: out.map(tableToMarkdown).join('\n\n'), tables: out };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      setting: { type: 'string', default: 'quick' },
      data: { type: 'string', default: 'synthetic' },
      root: { type: 'string', default: '/work/shared/data' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  });
  const settingName = values.setting as 'quick' | 'full' | 'smoke';
  const s = SETTINGS[settingName];
  if (!s) throw new Error(`--setting must be quick, full or smoke, got ${values.setting}`);
  if (values.data !== 'synthetic' && values.data !== 'real') throw new Error(`--data must be synthetic or real, got ${values.data}`);
  const out = resolve(values.out ?? `out/replicate-${settingName}-${values.data}`);
  const runsDir = join(out, 'runs');
  mkdirSync(runsDir, { recursive: true });
  const logFile = join(out, 'replicate.log');
  const log = (l: string) => {
    const line = `[${new Date().toISOString()}] ${l}`;
    console.log(line);
    appendFileSync(logFile, `${line}\n`);
  };
  const started = Date.now();
  const backend = await selectBackend();
  log(`setting ${settingName}, data ${values.data}, out ${out}, backend ${JSON.stringify(backend)}`);
  const inputSize = { tiny: 32, small: 64, paper: 128 }[s.preset];
  const data = values.data === 'real' ? await realData(s, values.root!, inputSize * 2) : syntheticData(s, inputSize * 2);
  for (const d of data.description) log(`data: ${d}`);
  const records = new Map<string, RunRecord>();
  const only = values.only ? new Set(values.only.split(',')) : null;
  for (const spec of runList(s)) {
    if (only && !only.has(spec.id)) continue;
    const rec = await runOne(spec, s, data, runsDir, values.resume!, log);
    rec.inputSize = inputSize;
    records.set(spec.id, rec);
    // tables after every run: a stopped setting still leaves its partial tables
    const { markdown, tables } = buildReport(records, s);
    writeFileSync(join(out, 'tables.md'), `${markdown}\n`);
    writeFileSync(join(out, 'results.json'), JSON.stringify({ setting: settingName, config: s, data: values.data, dataDescription: data.description, backend, tables, runs: [...records.values()] }, null, 1));
  }
  // Figure 7 from the main 3T run
  const top = Math.max(...s.iterations);
  const main3t = records.get(`3t-iter${top}-s${s.seeds[0]}`);
  if (main3t) {
    const metrics = Object.fromEntries(Object.entries(main3t.result.tasks).map(([t, e]) => [t, { name: e.reports[0].primary.name, higherIsBetter: e.reports[0].primary.higherIsBetter }]));
    const svg = await writeCurvesPng(join(out, 'figure7.png'), main3t.curve, {
      title: `Figure 7: validation metrics of iFAN 3T (ITER ${top}, ${s.preset}, ${values.data} data) through pre-training and alternating fine-tuning`,
      metrics,
      segments: main3t.segments,
    });
    writeFileSync(join(out, 'figure7.svg'), svg);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await main();
