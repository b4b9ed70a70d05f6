/**
 * Evaluates a run's checkpoint (a running run's latest too) on the run's own validation or test split,
 * rebuilt from its config.json: how far a long run has got, without waiting for its end.
 *
 *   pnpm bench eval-run RUN_DIR [--checkpoint latest|best|model|step-NNNNNNNN] [--split val|test] [--iterations N] [--mirror] [--json FILE]
 *
 * `--mirror`: with test-time mirroring (each face also evaluated mirrored, the predictions averaged).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNetwork, selectBackend } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { buildRun, evaluate, resultsToMarkdown, RUN_FILES, type ResolvedTrainConfig, type RunConfigFile } from '@ifan/trainer';
import { userPath } from './paths';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    checkpoint: { type: 'string', default: 'latest' },
    split: { type: 'string', default: 'val' },
    iterations: { type: 'string' },
    json: { type: 'string' },
    mirror: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
if (positionals.length !== 1 || !['val', 'test'].includes(values.split!)) {
  console.error('usage: pnpm bench eval-run RUN_DIR [--checkpoint latest|best|model|step-NNNNNNNN] [--split val|test] [--iterations N] [--mirror] [--json FILE]');
  process.exit(2);
}
const runDir = userPath(positionals[0]);
const saved = JSON.parse(readFileSync(join(runDir, RUN_FILES.config), 'utf8')) as ResolvedTrainConfig;
const runConfig = saved.meta?.run as (RunConfigFile & { baseDir?: string }) | undefined;
if (!runConfig) throw new Error(`${runDir}/config.json does not say where the run's data is`);

const checkpoints = join(runDir, RUN_FILES.checkpoints);
let dir: string;
if (values.checkpoint === 'model') dir = join(runDir, RUN_FILES.model);
else if (values.checkpoint === 'latest') {
  const steps = readdirSync(checkpoints).filter((d) => /^step-\d+$/.test(d)).sort();
  if (!steps.length) throw new Error(`${checkpoints} holds no step-* checkpoint yet`);
  dir = join(checkpoints, steps[steps.length - 1]);
} else dir = join(checkpoints, values.checkpoint!);
if (!existsSync(join(dir, 'model.json'))) throw new Error(`${dir}: no model.json`);

await selectBackend();
const built = await buildRun(runConfig, runConfig.baseDir ?? process.cwd());
const data = Object.fromEntries(
  Object.entries(built.data).flatMap(([task, d]) => {
    const ds = values.split === 'val' ? d.val : d.test;
    return ds ? [[task, ds]] : [];
  }),
);
if (!Object.keys(data).length) throw new Error(`the run has no ${values.split} split`);
const net = await loadNetwork(fileSystemHandler(dir), built.plugins);
const started = Date.now();
const result = await evaluate(net, data, {
  crop: saved.crop,
  mirror: values.mirror,
  ...(values.iterations !== undefined ? { iterations: Number(values.iterations) } : {}),
});
console.log(`${dir} on the ${values.split} split (${Object.entries(data).map(([t, d]) => `${t}: ${d.samples.length} faces`).join(', ')}), ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(resultsToMarkdown([{ label: `${values.checkpoint}`, result }]));
if (values.json) writeFileSync(userPath(values.json), JSON.stringify(result, null, 2));
net.dispose();
