/**
 * The shipped `emotion` model against the expression model JavaScript users already have:
 * `@vladmandic/human`'s `models/emotion.json` (64 x 64 grey input, 7 FER classes; read from the installed
 * package, as `@ifan/detect` reads BlazeFace), both on the same FER2013 faces (a folder per class).
 *
 *   pnpm bench emotion-vs-human [FER_DIR] [--model DIR] [--mirror] [--json FILE]
 *
 * FER_DIR defaults to ../shared/data/fer2013/validation (PublicTest, 3,589 faces). Human's model gets
 * each face as human's own pipeline prepares a face crop (its `emotion.ts`): the whole 48 px crop resized
 * bilinearly to 64 px, grey as 0.2989 R + 0.587 G + 0.114 B of [0, 1] values, then (grey - 0.5) * 2; its
 * classes are mapped onto FER2013's by name. iFAN's model is evaluated by the trainer's `evaluate`, as
 * `ifan eval` does (its own framing and grey input). `--mirror` gives both test-time mirroring (each
 * face also run mirrored, the two predictions averaged). Writes bench/out/emotion-vs-human[-mirror].json or --json FILE.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfconv from '@tensorflow/tfjs-converter';
import { selectBackend, type MetricReport } from '@ifan/core';
import { fileModelHandler, humanModelPath } from '@ifan/detect/node';
import { FER2013_7, createEmotionMetric, type EmotionLabel } from '@ifan/task-emotion';
import { loadEmotionFolders } from '@ifan/task-emotion/node';
import { evaluate, loadModel } from '@ifan/trainer';
import { userPath } from './paths';

const here = dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    model: { type: 'string', default: join(here, '..', 'packages', 'models', 'models', 'emotion') },
    mirror: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
  allowPositionals: true,
});
const jsonPath = values.json ? userPath(values.json) : join(here, 'out', `emotion-vs-human${values.mirror ? '-mirror' : ''}.json`);
const ferDir = userPath(positionals[0] ?? join(here, '..', '..', 'shared', 'data', 'fer2013', 'validation'));

/** Human's class order for its one-channel model (human's `emotion.ts`). */
const HUMAN_CLASSES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
const toFer = HUMAN_CLASSES.map((c) => FER2013_7.classes.indexOf(c));
if (toFer.some((i) => i < 0)) throw new Error(`human's classes ${HUMAN_CLASSES} do not all name a FER2013 class`);

await selectBackend({ log: false });
const data = await loadEmotionFolders(ferDir);
console.log(`${data.samples.length} faces from ${ferDir}; backend ${tf.getBackend()}${values.mirror ? '; test-time mirroring on both' : ''}`);

/** Human's expression model on every face: the same metric as `ifan eval` reports. */
async function evaluateHuman(): Promise<MetricReport> {
  const model = await tfconv.loadGraphModel(fileModelHandler(humanModelPath('emotion')));
  const [, size, , channels] = model.inputs[0].shape!;
  // human reads a 3-channel expression model's classes in another order: only its grey model's is known here
  if (channels !== 1) throw new Error(`human's emotion model takes ${channels} channels; this bench knows the class order of its 1-channel model only`);
  const metric = createEmotionMetric(FER2013_7);
  const batch = 64;
  for (let start = 0; start < data.samples.length; start += batch) {
    const items = await Promise.all(data.samples.slice(start, start + batch).map((s) => s.load()));
    const probabilities = tf.tidy(() => {
      const prepared = items.map(({ image }) => {
        const pixels = tf.div(tf.tensor3d(image.data, [image.height, image.width, 3], 'float32'), 255);
        const grey = tf.sum(tf.mul(pixels, tf.tensor1d([0.2989, 0.587, 0.114])), -1, true) as tf.Tensor3D;
        return tf.image.resizeBilinear(grey, [size!, size!], false);
      });
      const input = tf.mul(tf.sub(tf.stack(prepared), 0.5), 2) as tf.Tensor4D;
      const run = (x: tf.Tensor4D) => model.execute(x) as tf.Tensor2D;
      return values.mirror ? tf.div(tf.add(run(input), run(tf.reverse(input, 2))), 2) : run(input);
    });
    const rows = (await probabilities.array()) as number[][];
    probabilities.dispose();
    const outputs = rows.map((p) => {
      const fer = new Array<number>(FER2013_7.classes.length).fill(0);
      p.forEach((v, i) => (fer[toFer[i]] = v));
      const classIndex = fer.indexOf(Math.max(...fer));
      return { classIndex, className: FER2013_7.classes[classIndex], probabilities: fer };
    });
    metric.update(outputs, items.map((it) => it.labels.emotion as EmotionLabel));
  }
  model.dispose();
  return metric.report();
}

/** The iFAN model, as `ifan eval --model DIR` evaluates it. */
async function evaluateIfan(): Promise<MetricReport> {
  const { net } = await loadModel(values.model!);
  const result = await evaluate(net, { emotion: data }, { mirror: values.mirror, batchSize: 64 });
  net.dispose();
  return result.tasks.emotion.reports.at(-1)!;
}

const rows: Array<[string, MetricReport, number]> = [];
for (const [name, run] of [
  ['@vladmandic/human models/emotion.json (64 px)', evaluateHuman],
  [`iFAN ${values.model}`, evaluateIfan],
] as const) {
  const t0 = performance.now();
  const report = await run();
  rows.push([name, report, (performance.now() - t0) / 1000]);
}

const pct = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : '-');
console.log(`\n| model | accuracy | mean per class | ${FER2013_7.classes.join(' | ')} | seconds |`);
console.log(`|---|---:|---:|${FER2013_7.classes.map(() => '---:|').join('')}---:|`);
for (const [name, r, s] of rows) {
  const perClass = r.values.perClassAccuracy as Record<string, number>;
  console.log(`| ${name} | ${pct(r.primary.value)} | ${pct(r.values.meanPerClassAccuracy)} | ${FER2013_7.classes.map((c) => pct(perClass[c])).join(' | ')} | ${s.toFixed(1)} |`);
}
mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(jsonPath, JSON.stringify({ data: ferDir, mirror: values.mirror, models: rows.map(([name, report, seconds]) => ({ name, report, seconds })) }, null, 2));
console.log(`\nwrote ${jsonPath}`);
