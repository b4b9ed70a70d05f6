/**
 * Where a training step's time goes: every kernel of the active backend wrapped with a timer
 * (exclusive time: a composite kernel's own kernels are charged to them), for one stage-2 step of the
 * 3-task network after warm-up.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx profile-step.ts [preset] [batch] [iterations] [backend]
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ifan/core';
import { buildNetwork, disposeBatch, loadBackends, randomBatch, Rmsprop, stageTwoVariables, TASKS, trainStep } from './train-setup';

const [preset = 'small', batchArg = '32', itArg = '1', backendArg = 'wasm'] = process.argv.slice(2);
const batch = Number(batchArg);
const iterations = Number(itArg);
await loadBackends();
await selectBackend({ backend: backendArg as 'wasm' | 'cpu', log: false });

const net = buildNetwork(preset as 'small', iterations);
const opt = new Rmsprop(net);

let inOptimizer = false;
/** forward, backward (inside the engine's 'backward' scope) or optimizer. */
function phase(): string {
  if (inOptimizer) return 'opt';
  const stack = (tf.engine().state as unknown as { scopeStack: { name: string }[] }).scopeStack;
  return stack.some((s) => s.name === 'backward') ? 'bwd' : 'fwd';
}
const self = new Map<string, { ms: number; calls: number }>();
const stack: number[] = [];
function wrapAll(backendName: string): void {
  const configs = tf.getKernelsForBackend(backendName);
  for (const c of configs) {
    const inner = c.kernelFunc;
    const name = c.kernelName;
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({
      ...c,
      kernelFunc: (args) => {
        stack.push(0);
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          const dt = performance.now() - t0;
          const child = stack.pop()!;
          if (stack.length) stack[stack.length - 1] += dt;
          const key = phase() + ' ' + name + (name.startsWith('Conv2D') || ['BatchMatMul', 'Transpose', 'PadV2', 'Add', 'Multiply'].includes(name) ? ` ${JSON.stringify(Object.values(args.inputs).map((t) => (t as tf.TensorInfo).shape))}` : '');
          const e = self.get(key) ?? { ms: 0, calls: 0 };
          e.ms += dt - child;
          e.calls++;
          self.set(key, e);
        }
      },
    });
  }
}

for (let i = 0; i < 2; i++) {
  const b = randomBatch(net, TASKS[i % 3], batch, i + 1);
  trainStep(net, opt, b, iterations);
  disposeBatch(b);
}
wrapAll(tf.getBackend());
const steps = 3;
let total = 0;
let optMs = 0;
for (let i = 0; i < steps; i++) {
  const b = randomBatch(net, process.env.TASK ? (process.env.TASK as 'parsing') : TASKS[i % 3], batch, 100 + i);
  const t0 = performance.now();
  const { grads } = net.computeGradients(b.images, b.targets, { bnKey: net.plugin(b.task).bnKey, variables: stageTwoVariables(net, b.task), iterations });
  const t1 = performance.now();
  inOptimizer = true;
  opt.apply(grads);
  inOptimizer = false;
  tf.dispose(Object.values(grads));
  const t2 = performance.now();
  total += t2 - t0;
  optMs += t2 - t1;
  disposeBatch(b);
}
const rows = [...self.entries()].sort((a, b) => b[1].ms - a[1].ms);
const kernelMs = rows.reduce((a, [, e]) => a + e.ms, 0);
console.log(`${preset} b=${batch} ITER=${iterations} ${tf.getBackend()}: ${(total / steps).toFixed(0)} ms/step, kernels ${(kernelMs / steps).toFixed(0)} ms/step, optimizer ${(optMs / steps).toFixed(0)} ms/step`);
const byPhase = new Map<string, number>();
for (const [k, e] of rows) byPhase.set(k.split(' ')[0], (byPhase.get(k.split(' ')[0]) ?? 0) + e.ms / steps);
const callsBy = new Map<string, number>();
for (const [k, e] of rows) callsBy.set(k.split(' ')[0], (callsBy.get(k.split(' ')[0]) ?? 0) + e.calls / steps);
console.log("calls per step:", [...callsBy].map(([p, n]) => `${p} ${n.toFixed(0)}`).join(", "));
console.log([...byPhase].map(([p, ms]) => `${p} ${ms.toFixed(0)} ms`).join(', '));
// aggregate by kernel name too
const byName = new Map<string, { ms: number; calls: number }>();
for (const [k, e] of rows) {
  const n = k.split(' ').slice(0, 2).join(' ');
  const a = byName.get(n) ?? { ms: 0, calls: 0 };
  a.ms += e.ms;
  a.calls += e.calls;
  byName.set(n, a);
}
console.log('--- by kernel');
for (const [k, e] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)) {
  console.log(`${(e.ms / steps).toFixed(1).padStart(8)} ms ${(e.calls / steps).toFixed(1).padStart(7)} calls  ${k}`);
}
console.log('--- by kernel and shape');
for (const [k, e] of rows.slice(0, Number(process.env.TOP ?? 30))) {
  console.log(`${(e.ms / steps).toFixed(1).padStart(8)} ms ${(e.calls / steps).toFixed(1).padStart(7)} calls  ${k}`);
}
