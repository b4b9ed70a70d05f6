/**
 * Worker thread of train-step.ts's data-loading measurement: prepares batches (batch-prep.ts) on the
 * second core and transfers each batch's pixel buffer to the training thread.
 *
 * Protocol: the worker data is `{ inputSize, batch, seed }`; each message `{ task }` is answered by one
 * `PreparedBatch` (its `images` buffer transferred).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchMaker } from './batch-prep';
import type { TaskName } from './train-setup';

const { inputSize, batch, seed } = workerData as { inputSize: number; batch: number; seed: number };
const maker = new BatchMaker(inputSize, batch, seed);
parentPort!.on('message', async ({ task }: { task: TaskName }) => {
  const b = await maker.next(task);
  parentPort!.postMessage(b, [b.images.buffer]);
});
