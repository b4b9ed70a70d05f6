/**
 * The gradient worker: a worker thread on the second core that computes the gradients of the second
 * part of every batch while the training thread computes the first (gradient-threads.ts). It makes
 * the plugins again from their recipes and the network from its configuration, takes every weight
 * and the dropout generator's state from each request, and runs `computeGradients` on its part with
 * the batch-norm statistics shared with the training thread (core's SharedStatsReducer, party 1).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { IntegratedNetwork, SharedStatsReducer, selectBackend, setBatchStatsReducer, type TaskPlugin } from '@ifan/core';
import { pluginIdentity, serializeError } from './batch-worker-protocol';
import { fromRecipe } from './recipe';
import type { GradientRequest, GradientWorkerMessage, GradientWorkerSetup } from './gradient-worker-protocol';

if (!parentPort) throw new Error('gradient-worker is a worker thread entry; the trainer starts it');
const port = parentPort;
const setup = workerData as GradientWorkerSetup;
const send = (m: GradientWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

let net: IntegratedNetwork;
try {
  await selectBackend({ backend: setup.backend, log: false });
  const plugins: TaskPlugin[] = [];
  for (const r of setup.plugins) plugins.push(await fromRecipe<TaskPlugin>(r));
  net = new IntegratedNetwork(plugins, setup.network);
} catch (e) {
  send({ type: 'setup-failed', error: serializeError(e) });
  throw e;
}
const reducer = new SharedStatsReducer(setup.stats, 1);
const variables = [...net.params.variables.values()];
send({ type: 'ready', plugins: net.plugins.map((p) => pluginIdentity(p)), variables: [...net.params.variables.keys()] });

const now = () => Number(process.hrtime.bigint()) / 1e6;

function step(r: GradientRequest): void {
  const received = now();
  reducer.reset();
  const tensors: tf.Tensor[] = [];
  let grads: tf.NamedTensorMap = {};
  try {
    let at = 0;
    for (const v of variables) {
      const t = tf.tensor(r.weights.subarray(at, at + v.size), v.shape, 'float32');
      v.assign(t);
      t.dispose();
      at += v.size;
    }
    net.rng.setState(r.rng);
    const x = tf.tensor4d(r.images, r.shape);
    tensors.push(x);
    const targets: Record<string, { target: tf.Tensor; mask: tf.Tensor1D }> = {};
    for (const [task, t] of Object.entries(r.targets)) {
      targets[task] = { target: tf.tensor(t.target, t.shape, 'float32'), mask: tf.tensor1d(t.mask) };
      tensors.push(targets[task].target, targets[task].mask);
    }
    const byName = net.params.variables;
    setBatchStatsReducer(reducer);
    const started = now();
    let res: ReturnType<IntegratedNetwork['computeGradients']>;
    try {
      res = net.computeGradients(x, targets, {
        bnKey: r.bnKey,
        iterations: r.iterations,
        variables: r.variables.map((n) => byName.get(n)!),
        training: true,
        lossScale: r.lossScale,
        lossWeights: r.lossWeights,
        batchSlice: r.batchSlice,
      });
    } finally {
      setBatchStatsReducer(null);
    }
    grads = res.grads;
    const ended = now();
    const sizes = r.variables.map((n) => byName.get(n)!.size);
    const out = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    // computeGradients keys the gradients by tfjs name (this thread's prefix), the request by logical name
    const parts = r.variables.map((n) => grads[byName.get(n)!.name]);
    const present = parts.map((g) => g !== undefined);
    let o = 0;
    parts.forEach((g, i) => {
      if (g) out.set(g.dataSync() as Float32Array, o);
      o += sizes[i];
    });
    send({ type: 'grads', id: r.id, grads: out, present, total: res.total, losses: res.losses, waitedMs: reducer.waitedMs, clock: { received, started, ended } }, [out.buffer as ArrayBuffer]);
  } catch (e) {
    // the training thread may be waiting for this thread's statistics
    reducer.abort();
    send({ type: 'failed', id: r.id, error: serializeError(e) });
  } finally {
    tf.dispose(tensors);
    tf.dispose(Object.values(grads));
  }
}

port.on('message', (r: GradientRequest) => step(r));
