/**
 * The model card's failure cases: a shipped model scored face by face on the validation split of the
 * run that trained it, and the worst faces drawn, prediction above, truth below, with each face's figure.
 *
 *   node --conditions=@ifan/source --import tsx packages/trainer/scripts/failure-cases.ts \
 *     --model landmarks --run reports/training-runs/e2 [--count 8] [--out docs/failure-cases-landmarks.jpg]
 *
 * A multi-task model names the task: `--model ifan-3t --task landmarks --run reports/training-runs/t1`
 * (its last interaction iteration; out docs/failure-cases-ifan-3t-landmarks.jpg).
 *
 * Needs the run's data (../shared/data); a fresh clone has the committed pictures in docs/.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { selectBackend, type RawImage, type Sample } from '@ifan/core';
import { drawText } from '../src/draw';
import { evaluate } from '../src/evaluate';
import { resolveModel } from '../src/model';
import { predictSamples } from '../src/predict';
import { buildRun, type RunConfigFile } from '../src/run-config';
import { RUN_FILES } from '../src/trainer';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { model: { type: 'string' }, task: { type: 'string' }, run: { type: 'string' }, count: { type: 'string', default: '8' }, out: { type: 'string' } },
});
if (!values.model || !values.run) throw new Error('failure-cases: give --model NAME (a shipped model) and --run RUN_DIR (the run that trained it)');
const runDir = resolve(values.run);
const count = Number(values.count);
const out = values.out ?? join(here, '..', '..', '..', 'docs', `failure-cases-${values.model}${values.task ? `-${values.task}` : ''}.jpg`);

await selectBackend({ log: false });
const saved = JSON.parse(readFileSync(join(runDir, RUN_FILES.config), 'utf8')) as { meta?: { run?: RunConfigFile & { baseDir?: string } } };
const runConfig = saved.meta?.run;
if (!runConfig) throw new Error(`${runDir}/config.json does not say where the run's data is`);
const built = await buildRun(runConfig, runConfig.baseDir ?? process.cwd());
// the shipped model by its name, as `ifan predict --model NAME` finds it
const model = await resolveModel(values.model);
const plugin = values.task ? model.plugins.find((p) => p.name === values.task) : model.plugins[0];
if (!plugin) throw new Error(`failure-cases: the model has no task ${values.task} (its tasks: ${model.plugins.map((p) => p.name).join(', ')})`);
if (!values.task && model.plugins.length > 1) throw new Error(`failure-cases: ${values.model} has several tasks: name one with --task (${model.plugins.map((p) => p.name).join(', ')})`);
const val = built.data[plugin.name]?.val;
if (!val) throw new Error(`the run has no validation split for ${plugin.name}`);

// each face's own figure: the task's metric over a data set of that one face
const scored: { sample: Sample; value: number; label: string }[] = [];
let higherIsBetter = true;
for (const sample of val.samples) {
  const result = await evaluate(model.net, { [plugin.name]: { ...val, samples: [sample] } });
  const { primary } = result.tasks[plugin.name].reports.at(-1)!;
  higherIsBetter = primary.higherIsBetter;
  scored.push({ sample, value: primary.value, label: `${primary.name} ${primary.value.toFixed(3)}` });
}
const mean = scored.reduce((a, s) => a + s.value, 0) / scored.length;
// a class per face (emotion) is right or wrong: the worst are the wrong ones given the least chance of the truth
const classIndexOf = (x: unknown) => (x as { classIndex?: number } | undefined)?.classIndex;
const probabilities = (await predictSamples(model, scored.map((s) => s.sample))).map((p) => (p.outputs[plugin.name] as { probabilities?: number[] }).probabilities);
const truthChance = await Promise.all(scored.map(async (s, i) => probabilities[i]?.[classIndexOf((await s.sample.load()).labels[plugin.name]) ?? -1] ?? 0));
const order = scored.map((_, i) => i);
order.sort((a, b) => (higherIsBetter ? scored[a].value - scored[b].value : scored[b].value - scored[a].value) || truthChance[a] - truthChance[b]);
const worst = order.slice(0, count).map((i) => scored[i]);
const predictions = await predictSamples(model, worst.map((w) => w.sample));

// a tile per face: the prediction over the truth, each captioned (the face's figure; a class's name)
const TILE = 220;
const tile = async (image: RawImage, caption: string): Promise<Buffer> => {
  const { data } = await sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(TILE, TILE, { fit: 'contain', background: { r: 255, g: 255, b: 255 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const resized: RawImage = { width: TILE, height: TILE, channels: 3, data: new Uint8Array(data) };
  drawText(resized, caption, 4, 4, { scale: 2 });
  return sharp(Buffer.from(resized.data), { raw: { width: TILE, height: TILE, channels: 3 } }).png().toBuffer();
};
const classes = (plugin.config as { classes?: string[] }).classes;
const tiles: Buffer[][] = [];
for (const [i, w] of worst.entries()) {
  const { image, labels } = await w.sample.load();
  const output = predictions[i].outputs[plugin.name] as { className?: string; probabilities?: number[] };
  const label = labels[plugin.name];
  const k = classIndexOf(label);
  if (k !== undefined && classes) {
    // a class task: the image itself, the predicted and the true class named (the bars are unreadable at 48 px)
    const p = Math.max(...output.probabilities!);
    tiles.push([await tile(image, `${output.className} ${p.toFixed(2)}`), await tile(image, `truth ${classes[k]}`)]);
  } else {
    // (a multi-task model's overlay draws every task: the named task's prediction alone is drawn instead)
    const predicted = model.plugins.length > 1 ? plugin.visualize!(image, predictions[i].outputs[plugin.name]) : predictions[i].overlay;
    tiles.push([await tile(predicted, w.label), await tile(plugin.visualize!(image, label), 'truth')]);
  }
}
await sharp({ create: { width: TILE * tiles.length, height: 2 * TILE, channels: 3, background: { r: 255, g: 255, b: 255 } } })
  .composite(tiles.flatMap(([p, t], i) => [{ input: p, left: i * TILE, top: 0 }, { input: t, left: i * TILE, top: TILE }]))
  .jpeg({ quality: 85 })
  .toFile(out);
const failing = plugin.name === 'landmarks' ? scored.filter((s) => s.value > 0.1).length : undefined;
console.log(
  `${values.model}: ${scored.length} validation faces, mean ${mean.toFixed(4)}, worst ${worst.map((w) => w.value.toFixed(3)).join(', ')}` +
    (failing !== undefined ? `; ${failing} over NME 0.1` : '') +
    ` -> ${out}`,
);
model.net.dispose();
