/** Timing probe: ms per training step of 3T at a preset and ITER (used to size the quick setting). */
import { selectBackend, type BackbonePresetName } from '@ifan/core';
import { syntheticDataset } from '@ifan/synthetic';
import { emotionTask } from '@ifan/task-emotion';
import { landmarkTask } from '@ifan/task-landmarks';
import { parsingTask } from '@ifan/task-parsing';
import { Trainer } from '@ifan/trainer';

const preset = (process.argv[2] ?? 'tiny') as BackbonePresetName;
const iterations = Number(process.argv[3] ?? 2);
console.log(await selectBackend());
const plugins = [parsingTask(), landmarkTask(), emotionTask()];
const datasets = Object.fromEntries(plugins.map((p) => [p.name, syntheticDataset({ count: 64, domain: p.name as 'parsing', task: p.name as 'parsing', seed: 1 })]));
const ms: Record<string, number[]> = {};
const t = new Trainer({
  plugins, datasets, network: { backbone: preset, iterations }, schedule: { pretrainEpochs: 1, rounds: 6 }, batchSize: 16, crop: { margin: 0.25 },
  hooks: [{ afterStep: (_v, r) => { (ms[`${r.stage}/${r.source}`] ??= []).push(r.ms); } }],
});
const fit = await t.fit();
console.log(preset, iterations, fit.seconds.toFixed(1), 's', fit.steps, 'steps');
for (const [k, v] of Object.entries(ms)) console.log(k, v.map((x) => x.toFixed(0)).join(' '));
t.dispose();
