/**
 * The batch worker: a worker thread that prepares the trainer's batches (load or draw, face crop,
 * augmentation, labels, floats) on another core while the training thread runs the step. It rebuilds
 * the plugins and data sets from their recipes, then answers each request with `loadBatch`, the
 * training thread's own code, drawing augmentation from `new Rng(augmentSeed)` as the training thread
 * would: the batches are bit-identical. The image buffer is transferred, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng, type Sample, type TaskPlugin } from '@ifan/core';
import { loadBatch } from './batches';
import { fromRecipe } from './recipe';
import { idsHash, pluginIdentity, serializeError, type BatchRequest, type WorkerMessage, type WorkerSetup } from './batch-worker-protocol';

if (!parentPort) throw new Error('batch-worker is a worker thread entry; the trainer starts it');
const port = parentPort;
const setup = workerData as WorkerSetup;
const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);


async function start(): Promise<void> {
  const plugins = new Map<string, TaskPlugin>();
  const sources: { samples: Sample[]; plugins: TaskPlugin[] }[] = [];
  let what = '';
  try {
    for (const [task, recipe] of Object.entries(setup.plugins)) {
      what = `task plugin "${task}"`;
      plugins.set(task, await fromRecipe<TaskPlugin>(recipe));
    }
    for (const s of setup.sources) {
      what = `data set "${s.name}"`;
      const made = await fromRecipe<{ samples: Sample[] }>(s.dataset);
      const pick = s.dataset.pick;
      const all = made.samples;
      if (pick) {
        const bad = pick.find((i) => !(i >= 0 && i < all.length));
        if (bad !== undefined) throw new Error(`its recipe picks sample ${bad}, but the data set it makes has ${all.length} samples`);
      }
      sources.push({ samples: pick ? pick.map((i) => all[i]) : all, plugins: s.tasks.map((t) => plugins.get(t)!) });
    }
  } catch (e) {
    send({ type: 'setup-failed', what, error: serializeError(e) });
    return;
  }
  send({
    type: 'ready',
    datasets: sources.map((s) => ({ samples: s.samples.length, ids: idsHash(s.samples.map((x) => x.id)) })),
    plugins: Object.fromEntries([...plugins].map(([task, p]) => [task, pluginIdentity(p)])),
  });

  const a = setup.augment;
  const prepare = async (r: BatchRequest) => {
    const src = sources[r.source];
    try {
      const batch = await loadBatch(
        r.indices.map((i) => src.samples[i]),
        {
          inputSize: setup.inputSize,
          crop: setup.crop,
          plugins: src.plugins,
          augment: a.geometry || a.color ? { config: a, rng: new Rng(r.augmentSeed) } : undefined,
        },
      );
      send({ type: 'batch', id: r.id, batch }, [batch.images.buffer as ArrayBuffer]);
    } catch (e) {
      send({ type: 'failed', id: r.id, error: serializeError(e) });
    }
  };
  // one batch at a time, in the order asked: the next batch the training thread needs comes first
  let queue = Promise.resolve();
  port.on('message', (r: BatchRequest) => {
    queue = queue.then(() => prepare(r));
  });
}

await start();
