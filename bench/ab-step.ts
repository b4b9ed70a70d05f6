/**
 * A/B comparison of training-kernel variants on the 3-task network's training step, interleaved step
 * by step in one process (a shared machine's load then hits both alike). Reports per variant the
 * median and best step time and this process's CPU time per step.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx ab-step.ts [preset] [batch] [iterations] [steps] [variant...]
 *
 * Variants: filter:<auto|conv|matmul|shifted> (the Conv2DBackpropFilter method), bn:<fused|tfjs>.
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ifan/core';
import { conv2dBackpropFilterKernel, type FilterGradMethod } from '../packages/core/src/kernels/conv2d_backprop';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, batchNormTrainingGradKernel, batchNormTrainingKernel } from '../packages/core/src/kernels/batch_norm';
import { buildNetwork, disposeBatch, loadBackends, randomBatch, Rmsprop, TASKS, trainStep } from './train-setup';
import { median } from './stats';

const [preset = 'small', batchArg = '32', itArg = '1', stepsArg = '4', ...variants] = process.argv.slice(2);
await loadBackends();
await selectBackend({ backend: 'wasm', log: false });
const net = buildNetwork(preset as 'small', Number(itArg));
const opt = new Rmsprop(net);

function apply(variant: string): void {
  const [kind, value] = variant.split(':');
  if (kind === 'filter') {
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    tf.registerKernel(conv2dBackpropFilterKernel('wasm', value as FilterGradMethod));
  } else if (kind === 'bn') {
    for (const name of [BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD]) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    if (value === 'fused') {
      tf.registerKernel(batchNormTrainingKernel('wasm'));
      tf.registerKernel(batchNormTrainingGradKernel('wasm'));
    }
  } else throw new Error(`unknown variant ${variant}`);
}

const vs = variants.length ? variants : ['filter:matmul', 'filter:shifted'];
const wall: number[][] = vs.map(() => []);
const cpu: number[][] = vs.map(() => []);
for (let s = -1; s < Number(stepsArg); s++) {
  vs.forEach((v, k) => {
    for (const part of v.split(',')) apply(part);
    const b = randomBatch(net, TASKS[(s + 3) % 3], Number(batchArg), 1000 + s);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    trainStep(net, opt, b, Number(itArg));
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    disposeBatch(b);
    if (s >= 0) {
      wall[k].push(dt);
      cpu[k].push((c.user + c.system) / 1e3);
    }
  });
}
vs.forEach((v, k) => {
  console.log(`${v.padEnd(30)} median ${median(wall[k]).toFixed(0)} ms, best ${Math.min(...wall[k]).toFixed(0)} ms, cpu ${median(cpu[k]).toFixed(0)} ms`);
});
