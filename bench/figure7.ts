/**
 * Figure 7 of the paper for one hybrid training run of `ifan train`: every task's validation figure
 * through task-wise pre-training (after each data set's pre-training) and alternating fine-tuning.
 *
 * The stage-2 points are the trainer's validations (`validation.jsonl`; stage-1 validations of
 * `checkpoint.validateEpochs` are left out); the stage-1 points come from the models the trainer keeps
 * at the end of each source's pre-training, RUN/stage1/after-source-K (model.json, weights.bin and
 * stage-end.json with its step). Runs from before the trainer kept them have copies of stage-1
 * checkpoints there instead (state.json with the step; in T3 and T3-s2 the last emotion copy is one
 * epoch before the end of its pre-training): the band edges come from the run's plan, not from
 * them. Each is evaluated on the run's own validation splits at the run's ITER, once: the figures
 * are cached in after-source-K/val.json.
 *
 *   pnpm bench figure7 RUN_DIR [--png FILE]
 *
 * Prints the points, writes RUN_DIR/figure7.json and the PNG (default RUN_DIR/figure7.png).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNetwork, selectBackend } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { buildRun, evaluate, planSchedule, RUN_FILES, type RunConfigFile } from '@ifan/trainer';
import { userPath } from './paths';
import { writeCurvesPng, type CurvePoint } from './replicate/figure';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { png: { type: 'string' } } });
if (positionals.length !== 1) throw new Error('figure7: give one run directory (pnpm bench figure7 RUN_DIR [--png FILE])');
const runDir = userPath(positionals[0]);
const saved = JSON.parse(readFileSync(join(runDir, RUN_FILES.config), 'utf8')) as {
  crop: { margin: number };
  network: { iterations: number };
  schedule: { pretrainEpochs: number; rounds: number };
  sources: { name: string; tasks: string[]; batchSize: number; samples: number }[];
  meta?: { run?: RunConfigFile & { baseDir?: string } };
};
const runConfig = saved.meta?.run;
if (!runConfig) throw new Error(`${runDir}/config.json does not say where the run's data is`);
const iterations = saved.network.iterations;

type Primary = { name: string; value: number; higherIsBetter: boolean };
const metrics: Record<string, { name: string; higherIsBetter: boolean }> = {};
const points: CurvePoint[] = [];
const segments: [number, number, string][] = [];

// stage 1: the models kept at the end of each source's pre-training
const stage1 = join(runDir, 'stage1');
const kept = existsSync(stage1) ? readdirSync(stage1).filter((d) => /^after-source-\d+$/.test(d)).sort((a, b) => Number(a.split('-')[2]) - Number(b.split('-')[2])) : [];
let built: Awaited<ReturnType<typeof buildRun>> | null = null;
// where each source's pre-training ends by the run's plan (the bands; stage 2 starts at the last)
const plan = planSchedule(saved.sources, saved.schedule);
const sourceEnd = saved.sources.map((_, k) => Math.max(0, ...plan.filter((u) => u.stage === 'pretrain' && u.steps[0] === k).map((u) => u.firstStep + u.steps.length)));
saved.sources.forEach((s, k) => {
  const from = k ? sourceEnd[k - 1] : 0;
  if (sourceEnd[k] > from) segments.push([from, sourceEnd[k], `pre-train ${s.tasks.join('+')}`]);
});
for (const d of kept) {
  const k = Number(d.split('-')[2]);
  const dir = join(stage1, d);
  const step = (JSON.parse(readFileSync(join(dir, existsSync(join(dir, 'stage-end.json')) ? 'stage-end.json' : 'state.json'), 'utf8')) as { step: number }).step;
  const cache = join(dir, 'val.json');
  // the cache is of this step's model (the watcher replaces the model while the source pre-trains)
  const cached = existsSync(cache) ? (JSON.parse(readFileSync(cache, 'utf8')) as { step: number; figures: Record<string, Primary> }) : null;
  let figures: Record<string, Primary>;
  if (cached?.step === step) figures = cached.figures;
  else {
    if (!built) {
      await selectBackend({ log: false });
      built = await buildRun(runConfig, runConfig.baseDir ?? process.cwd());
    }
    const net = await loadNetwork(fileSystemHandler(dir), built.plugins);
    const val = Object.fromEntries(Object.entries(built.data).flatMap(([t, data]) => (data.val ? [[t, data.val]] : [])));
    const result = await evaluate(net, val, { crop: saved.crop, iterations });
    net.dispose();
    figures = Object.fromEntries(Object.entries(result.tasks).map(([t, e]) => [t, e.reports.at(-1)!.primary as Primary]));
    writeFileSync(cache, `${JSON.stringify({ step, figures }, null, 2)}\n`);
  }
  const source = saved.sources[k];
  points.push({ step, stage: 'pretrain', source: source.name, values: Object.fromEntries(Object.entries(figures).map(([t, p]) => [t, p.value])) });
  for (const [t, p] of Object.entries(figures)) metrics[t] = { name: p.name, higherIsBetter: p.higherIsBetter };
  if (step !== sourceEnd[k]) console.warn(`figure7: ${d} holds step ${step}, not the end of ${source.name}'s pre-training (step ${sourceEnd[k]}); the band ends there all the same`);
}

// stage 2: the trainer's own validations
const validations = existsSync(join(runDir, 'validation.jsonl'))
  ? readFileSync(join(runDir, 'validation.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { step: number; stage?: 'pretrain' | 'finetune'; report: Record<string, { primary: Primary }> })
      // (lines from before the trainer logged the stage: stage 2's, unless inside stage 1)
      .filter((v) => (v.stage ?? (v.step > (sourceEnd.at(-1) ?? 0) ? 'finetune' : 'pretrain')) === 'finetune')
  : [];
for (const v of validations) {
  points.push({ step: v.step, stage: 'finetune', values: Object.fromEntries(Object.entries(v.report).map(([t, r]) => [t, r.primary.value])) });
  for (const [t, r] of Object.entries(v.report)) metrics[t] = { name: r.primary.name, higherIsBetter: r.primary.higherIsBetter };
}
if (validations.length) segments.push([sourceEnd.at(-1) ?? 0, validations.at(-1)!.step, 'alternating fine-tuning']);
if (!points.length) throw new Error(`figure7: ${runDir} has no stage1/after-source-K models and no validation.jsonl: nothing to draw`);

const tasks = Object.keys(metrics);
console.log(`| step | stage | ${tasks.map((t) => `${t} (${metrics[t].name})`).join(' | ')} |`);
console.log(`|---:|---|${tasks.map(() => '---:').join('|')}|`);
for (const p of points) console.log(`| ${p.step} | ${p.stage === 'pretrain' ? `after pre-training ${p.source}` : 'fine-tuning'} | ${tasks.map((t) => p.values[t]?.toFixed(4) ?? '').join(' | ')} |`);
writeFileSync(join(runDir, 'figure7.json'), `${JSON.stringify({ iterations, metrics, segments, points }, null, 2)}\n`);
const png = values.png ? userPath(values.png) : join(runDir, 'figure7.png');
await writeCurvesPng(png, points, {
  title: `Figure 7: validation figures of ${runDir.split('/').at(-1)} (ITER ${iterations}) after each task's pre-training and through alternating fine-tuning`,
  metrics,
  segments,
});
console.log(`wrote ${join(runDir, 'figure7.json')} and ${png}`);
