/**
 * How hard each task pulls on the shared backbone: every task's gradient norm on the backbone's
 * convolutions (and on its own decoder) at a run's checkpoint, from a few batches of its validation
 * faces, without augmentation, at ITER 0. With RMSprop the shared convolutions' step sizes follow the
 * running mean square of every task's gradients, so a task whose gradients are far smaller than the
 * others' moves the shared backbone far less in alternating fine-tuning (see `lossWeighting`).
 *
 *   node --conditions=@ifan/source --import tsx packages/trainer/scripts/gradient-norms.ts \
 *     --run reports/training-runs/t1 [--checkpoint model] [--batches 4] [--batch-size 16]
 *
 * Needs the run's data (../shared/data).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadNetwork, selectBackend } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { disposeTargets, imageTensor, loadBatch, targetTensors } from '../src/batches';
import { buildRun, type RunConfigFile } from '../src/run-config';
import { RUN_FILES } from '../src/trainer';

const { values } = parseArgs({
  options: { run: { type: 'string' }, checkpoint: { type: 'string', default: 'model' }, batches: { type: 'string', default: '4' }, 'batch-size': { type: 'string', default: '16' } },
});
if (!values.run) throw new Error('gradient-norms: give --run RUN_DIR');
const runDir = resolve(values.run);
const batches = Number(values.batches);
const size = Number(values['batch-size']);
const saved = JSON.parse(readFileSync(join(runDir, RUN_FILES.config), 'utf8')) as { crop: { margin: number }; meta?: { run?: RunConfigFile & { baseDir?: string } } };
const runConfig = saved.meta?.run;
if (!runConfig) throw new Error(`${runDir}/config.json does not say where the run's data is`);
await selectBackend({ log: false });
const built = await buildRun(runConfig, runConfig.baseDir ?? process.cwd());
const dir = values.checkpoint === 'model' ? join(runDir, RUN_FILES.model) : join(runDir, RUN_FILES.checkpoints, values.checkpoint!);
const net = await loadNetwork(fileSystemHandler(dir), built.plugins);
const S = net.inputSize;
// variable names carry the network's scope first ("ifan1/backbone/...")
const part = (name: string) => {
  const n = name.replace(/^[^/]+\//, '');
  if (n.startsWith('backbone/')) return /\/(gamma|beta)$/.test(n) ? 'bn' : 'conv';
  return n.startsWith('tasks/') ? 'decoder' : 'other';
};
const norms: Record<string, { conv: number; decoder: number; loss: number }> = {};
for (const p of built.plugins) {
  const val = built.data[p.name]?.val;
  if (!val) throw new Error(`the run has no validation split for ${p.name}`);
  const sums = { conv: 0, decoder: 0, loss: 0 };
  for (let k = 0; k < batches; k++) {
    const batch = await loadBatch(val.samples.slice(k * size, (k + 1) * size), { inputSize: S, crop: saved.crop, plugins: [p] });
    const x = imageTensor(batch, S);
    const targets = targetTensors(batch, [p], S);
    const variables = net.variables({ backbone: true, bnKey: p.bnKey, decoders: [p.name] });
    const { grads, total } = net.computeGradients(x, targets, { bnKey: p.bnKey, iterations: 0, variables, training: true });
    const squares = { conv: 0, decoder: 0 };
    for (const [name, g] of Object.entries(grads)) {
      const where = part(name);
      if (where === 'conv' || where === 'decoder') squares[where] += tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]);
    }
    sums.conv += Math.sqrt(squares.conv) / batches;
    sums.decoder += Math.sqrt(squares.decoder) / batches;
    sums.loss += total / batches;
    tf.dispose([x, ...Object.values(grads)]);
    disposeTargets(targets);
  }
  norms[p.name] = sums;
}
net.dispose();
const largest = Math.max(...Object.values(norms).map((n) => n.conv));
for (const [task, n] of Object.entries(norms)) {
  console.log(
    `${task}: loss ${n.loss.toFixed(4)}, gradient norm on the backbone's convolutions ${n.conv.toExponential(2)} ` +
      `(1/${(largest / n.conv).toFixed(0)} of the largest), on its decoder ${n.decoder.toExponential(2)}`,
  );
}
console.log(`(${batches} batches of ${size} validation faces per task, ITER 0, training-mode batch norm, no augmentation)`);
