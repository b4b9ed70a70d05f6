/**
 * How much of a class-weighted parsing network's tilt towards small classes to take back at decision
 * time: evaluates a run's checkpoint on the run's own validation split with decision weights w^-a (w the
 * run's class weights) for each power a, and prints every power's figures.
 *
 *   node --conditions=@ifan/source --import tsx packages/trainer/scripts/decision-weights.ts \
 *     --run reports/training-runs/p4 [--checkpoint best] [--powers 0,0.25,0.5,0.75,1] [--json FILE] [--all-tasks] [--mirror]
 *
 * `--all-tasks` (a multi-task run): the JSON's evaluation also scores every other task of the run on its
 * validation split, at every interaction iteration, so a multi-task model's card has all its figures.
 * `--mirror`: with test-time mirroring (each face also evaluated mirrored, the predictions averaged).
 *
 * The chosen power goes to `packages/models/scripts/add-model.ts --decision-power a --eval FILE`, FILE
 * written by `--powers a --json FILE` (the last power's evaluation).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNetwork, selectBackend } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { parsingTask } from '@ifan/task-parsing';
import { evaluate } from '../src/evaluate';
import { buildRun, type RunConfigFile } from '../src/run-config';
import { RUN_FILES } from '../src/trainer';

const { values } = parseArgs({
  options: { run: { type: 'string' }, checkpoint: { type: 'string', default: 'best' }, powers: { type: 'string', default: '0,0.25,0.5,0.75,1' }, task: { type: 'string', default: 'parsing' }, json: { type: 'string' }, 'all-tasks': { type: 'boolean', default: false }, mirror: { type: 'boolean', default: false } },
});
if (!values.run) throw new Error('decision-weights: give --run RUN_DIR (a parsing run trained with classWeights)');
if (values['all-tasks'] && !values.json) throw new Error('decision-weights: --all-tasks scores the other tasks into the --json file: give --json FILE too');
const runDir = resolve(values.run);
const saved = JSON.parse(readFileSync(join(runDir, RUN_FILES.config), 'utf8')) as { crop: { margin: number }; meta?: { run?: RunConfigFile & { baseDir?: string } } };
const runConfig = saved.meta?.run;
if (!runConfig) throw new Error(`${runDir}/config.json does not say where the run's data is`);
await selectBackend({ log: false });
const built = await buildRun(runConfig, runConfig.baseDir ?? process.cwd());
const task = values.task!;
const options = built.taskOptions[task] as { classWeights?: number[] };
const w = options.classWeights;
if (!w) throw new Error(`the run's ${task} task has no class weights: nothing to take back`);
const val = built.data[task]?.val;
if (!val) throw new Error(`the run has no validation split for ${task}`);
const dir = values.checkpoint === 'model' ? join(runDir, RUN_FILES.model) : join(runDir, RUN_FILES.checkpoints, values.checkpoint!);

const powers = values.powers!.split(',').map(Number);
for (const [k, a] of powers.entries()) {
  const plugin = parsingTask({ ...options, decisionWeights: w.map((x) => x ** -a) });
  const net = await loadNetwork(fileSystemHandler(dir), built.plugins.map((p) => (p.name === task ? plugin : p)));
  const others = values['all-tasks'] && values.json && k === powers.length - 1 ? Object.entries(built.data).filter(([t, d]) => t !== task && d.val).map(([t, d]) => [t, d.val!]) : [];
  const result = await evaluate(net, { [task]: val, ...Object.fromEntries(others) }, { crop: saved.crop, mirror: values.mirror });
  const report = result.tasks[task].reports.at(-1)!;
  const v = report.values as { groupFScore: Record<string, number>; groupPrecision: Record<string, number>; groupRecall: Record<string, number> };
  console.log(
    `power ${a}: overall F ${report.primary.value.toFixed(4)} (precision ${v.groupPrecision.overall.toFixed(3)}, recall ${v.groupRecall.overall.toFixed(3)}); ` +
      Object.entries(v.groupFScore).filter(([g]) => g !== 'overall').map(([g, f]) => `${g} ${f.toFixed(3)}`).join(', '),
  );
  // the last power's evaluation, for add-model.ts --eval
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
  net.dispose();
}
