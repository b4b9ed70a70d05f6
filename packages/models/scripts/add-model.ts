/**
 * Adds (or replaces) a shipped model from a training run:
 *
 *   node --conditions=@ifan/source --import tsx packages/models/scripts/add-model.ts \
 *     --run reports/training-runs/e2 --name landmarks [--checkpoint best|model|step-N] --description "..."
 *
 * Loads the run's network (its final model, or a checkpoint), saves it into models/NAME with the task
 * packages' main (browser-safe) factories as recipes and the run's framing, records its outputs on the
 * test fixtures (models/NAME/expected.json) and its card entry (figures from the run's validation.jsonl
 * at that step, CPU time, command) in models/catalog.json. A run fine-tuned from another run (`init`)
 * counts that run's CPU time and command too.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkFraming, loadNetwork, resolveBackboneConfig, saveNetwork, selectBackend, type NetworkConfig } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { recordOutputs } from '../test/expected';
import type { PretrainedInfo } from '../src/index';
import { BUILT_IN_TASKS } from '../src/load';

const DATA: Record<string, string> = {
  parsing: 'CelebAMask-HQ (900-face subset celebamask-1k): non-commercial research and educational use only',
  landmarks: 'MTFL (CUHK): research use only',
  emotion: 'FER2013 (ICML 2013 challenge): research use only',
};

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    name: { type: 'string' },
    checkpoint: { type: 'string', default: 'model' },
    description: { type: 'string', default: '' },
    'cpu-seconds': { type: 'string' },
    // for data sets of ready-cropped faces with no points (FER2013): the keypoint box scale that frames
    // a photo's face as the data set's crops do (packages/trainer/scripts/measure-framing.ts measures it)
    'keypoint-box-scale': { type: 'string' },
    // 'grey' for a network that learnt from grey images only (FER2013): photos are turned grey before it
    // (the same network on its grey training images: its figures do not change); or a colour per
    // batch-norm key, KEY=grey[,KEY=rgb] (keys left out: rgb), e.g. emotion=grey for an integrated
    // network whose emotion data were grey and whose other tasks' data were colour
    colour: { type: 'string' },
    // parsing trained with class weights w: decision weights w^-a (scripts/decision-weights.ts picks a)
    'decision-power': { type: 'string' },
    // the card's figures from this evaluation (an `evaluate` result as JSON) instead of the run's
    // validation.jsonl: for a model whose decoding differs from the run's (decision weights)
    eval: { type: 'string' },
  },
});
if (!values.run || !values.name) throw new Error('add-model: give --run RUN_DIR and --name NAME');
const colour = values.colour === undefined ? undefined : parseColour(values.colour);
const run = resolve(values.run);
const name = values.name;
const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'models');
const src = values.checkpoint === 'model' ? join(run, 'model') : join(run, 'checkpoints', values.checkpoint!);
if (!existsSync(join(src, 'model.json'))) throw new Error(`add-model: no model.json in ${src}`);

await selectBackend({ log: false });
const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
  tasks: { name: string }[];
  crop: { margin: number };
  network: { backbone: unknown; iterations: number };
  meta?: { run?: { tasks?: Record<string, { options?: Record<string, unknown> }> } };
};
// the class weights a run trained with, as numbers: its saved recipes carry them ("inverse-sqrt" resolved)
const trainedWith = (task: string): number[] | undefined => {
  const topology = JSON.parse(readFileSync(join(src, 'model.json'), 'utf8')).modelTopology as { plugins: { name: string; recipe?: { args?: { classWeights?: number[] }[] } }[] };
  return topology.plugins.find((p) => p.name === task)?.recipe?.args?.[0]?.classWeights;
};
const decisionPower = values['decision-power'] === undefined ? undefined : Number(values['decision-power']);
// each plugin with the run's options, less those that only shape training (class weights)
const plugins = config.tasks.map((t) => {
  const { classWeights: _, ...options } = config.meta?.run?.tasks?.[t.name]?.options ?? {};
  const task = BUILT_IN_TASKS[t.name];
  if (!task) throw new Error(`add-model: no built-in task "${t.name}"`);
  const weights = decisionPower === undefined ? undefined : trainedWith(t.name);
  if (decisionPower !== undefined && t.name === 'parsing' && !weights) throw new Error('add-model: --decision-power needs a parsing run trained with class weights');
  return task.create(weights ? { ...options, decisionWeights: weights.map((w) => Number((w ** -decisionPower!).toPrecision(4))) } : options);
});
const handler = fileSystemHandler(src);
const net = await loadNetwork(
  colour === undefined
    ? handler
    : {
        async load() {
          const artifacts = await handler.load!();
          const topology = artifacts.modelTopology as { network: Record<string, unknown> };
          return { ...artifacts, modelTopology: { ...topology, network: { ...topology.network, colour } } };
        },
      },
  plugins,
);
net.framing = checkFraming({
  margin: config.crop.margin,
  ...(values['keypoint-box-scale'] ? { keypointBoxScale: Number(values['keypoint-box-scale']) } : {}),
});
const out = join(root, name);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await saveNetwork(net, fileSystemHandler(out));
writeFileSync(join(out, 'expected.json'), `${JSON.stringify(await recordOutputs(net), null, 1)}\n`);

// the card: figures at the step of the saved network
const state = existsSync(join(src, 'state.json')) ? (JSON.parse(readFileSync(join(src, 'state.json'), 'utf8')) as { step: number; cpuSeconds?: number }) : undefined;
type Validation = { step: number; cpuSeconds: number; report: Record<string, { values: Record<string, unknown> }> };
const at: Validation = values.eval
  ? { ...fromEvalFile(resolve(values.eval)), cpuSeconds: state?.cpuSeconds ?? validationAt(state?.step).cpuSeconds }
  : existsSync(join(run, 'validation.jsonl'))
    ? validationAt(state?.step)
    : fromEvalFile(join(run, 'val-eval.json'));
/**
 * `--colour`: `rgb`, `grey`, or a colour per batch-norm key, `KEY=grey[,KEY=rgb]` (`emotion=grey`).
 * The keys are checked against the network's when it is loaded (an unknown key is an error naming them).
 */
function parseColour(text: string): NetworkConfig['colour'] {
  if (text === 'rgb' || text === 'grey') return text;
  const out: Record<string, 'rgb' | 'grey'> = {};
  for (const part of text.split(',')) {
    const m = /^([^=\s]+)=(rgb|grey)$/.exec(part.trim());
    if (!m) throw new Error(`add-model: --colour must be rgb, grey or KEY=grey[,KEY=rgb] (a colour per batch-norm key, e.g. emotion=grey), got ${JSON.stringify(text)}`);
    if (Object.hasOwn(out, m[1])) throw new Error(`add-model: --colour gives batch-norm key ${m[1]} twice`);
    out[m[1]] = m[2] as 'rgb' | 'grey';
  }
  return out;
}

function validationAt(step: number | undefined): Validation {
  const lines = readFileSync(join(run, 'validation.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Validation);
  const line = step === undefined ? lines[lines.length - 1] : lines.find((v) => v.step === step);
  if (!line) throw new Error(`add-model: validation.jsonl has no line for step ${step}`);
  return line;
}
/** An evaluation's JSON: `--eval`, or for runs from before validation.jsonl `bench eval-run`'s val-eval.json of the final model with --cpu-seconds. */
function fromEvalFile(file: string): Validation {
  const e = JSON.parse(readFileSync(file, 'utf8')) as { iterations: number; tasks: Record<string, { reports: { values: Record<string, unknown> }[] }> };
  if (!values['cpu-seconds'] && !values.eval) throw new Error('add-model: this run has no validation.jsonl: give --cpu-seconds (its training CPU time)');
  return { step: -1, cpuSeconds: Number(values['cpu-seconds']), report: Object.fromEntries(Object.entries(e.tasks).map(([t, r]) => [t, r.reports[e.iterations]])) };
}
/**
 * A run that started from another run's final weights (`init` of its configuration, a run directory):
 * that run's CPU time counts towards the model's, and its training command comes first (its output
 * directory is where the fine-tuning configuration's `init` finds it). Followed back to the first run.
 */
function startedFrom(dir: string): { cpuSeconds: number; commands: string[] } {
  const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { meta?: { run?: { init?: string } } };
  const init = saved.meta?.run?.init;
  if (!init) return { cpuSeconds: 0, commands: [] };
  // the path as the run resolved it, or the same run directory beside this one (a clone elsewhere)
  const from = [init, join(dirname(dir), init.split('/').pop()!)].find((d) => existsSync(join(d, 'config.json')) && existsSync(join(d, 'validation.jsonl')));
  if (!from) throw new Error(`add-model: ${dir} started from ${init}, which is not a run directory with its validation.jsonl here: its CPU time cannot be counted`);
  const lines = readFileSync(join(from, 'validation.jsonl'), 'utf8').trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1]) as Validation;
  const before = startedFrom(from);
  const name = from.split('/').pop();
  return {
    cpuSeconds: before.cpuSeconds + last.cpuSeconds,
    commands: [...before.commands, `pnpm ifan train --config reports/experiments/${name}.json --out reports/training-runs/${name}`],
  };
}
const started = startedFrom(run);
const figures = Object.fromEntries(
  Object.entries(at.report).map(([task, r]) => [task, Object.fromEntries(Object.entries(r.values).filter(([k, v]) => typeof v === 'number' && !['pixels', 'images'].includes(k))) as Record<string, number>]),
);
const bytes = readdirSync(out).filter((f) => f !== 'expected.json').reduce((a, f) => a + statSync(join(out, f)).size, 0);
const backbone = resolveBackboneConfig(net.config.backbone);
const entry: PretrainedInfo = {
  name,
  tasks: plugins.map((p) => p.name),
  description: values.description ?? '',
  preset: typeof config.network.backbone === 'string' ? config.network.backbone : JSON.stringify(config.network.backbone),
  inputSize: backbone.inputSize,
  iterations: net.config.iterations,
  figures,
  data: Object.fromEntries(plugins.map((p) => [p.name, DATA[p.name]])),
  cpuHours: Math.round(((state?.cpuSeconds ?? at.cpuSeconds) + started.cpuSeconds) / 36) / 100,
  command: [...started.commands, `pnpm ifan train --config reports/experiments/${run.split('/').pop()}.json --out DIR`].join(', then '),
  bytes,
};
const catalogPath = join(root, 'catalog.json');
const catalog = (existsSync(catalogPath) ? JSON.parse(readFileSync(catalogPath, 'utf8')) : []) as PretrainedInfo[];
const next = [...catalog.filter((m) => m.name !== name), entry].sort((a, b) => b.tasks.length - a.tasks.length || a.name.localeCompare(b.name));
writeFileSync(catalogPath, `${JSON.stringify(next, null, 2)}\n`);
net.dispose();
console.log(`add-model: ${name} (${entry.tasks.join(', ')}) from ${src}: ${bytes} bytes, figures ${JSON.stringify(figures)}`);
