/**
 * The trainer's batch worker, measured on a real `Trainer.fit`: the 3-task network on synthetic faces
 * (one data set per task, as in `pnpm demo`), stage 2 only, run with `workers: 0` (batches prepared
 * on the training thread) and `workers: 1` (in a worker thread on the second core), alternated so
 * that a change in the machine's load hits both alike.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx trainer-workers.ts [options]
 *
 *   --preset NAME    backbone preset (default small)
 *   --batch N        batch size of every data set (default 32)
 *   --rounds N       stage-2 rounds; a round is one step per data set (default 10: 30 steps)
 *   --iterations N   interaction iterations (default 1)
 *   --repeats N      runs of each mode (default 2), alternated 0,1 then 1,0
 *
 * A step's time is the wall time from one step's end to the next one's (`afterStep` hooks): waiting for
 * its batch, the training step and, without the worker, preparing the next batch. The first round
 * (three steps) is left out: it includes JIT warm-up and, with the worker, its start (batches are
 * prepared on the training thread until it is ready). Both modes train on the same batches; the
 * script checks that their losses are identical. Writes bench/out/trainer-workers.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend, type BackbonePresetName } from '@ifan/core';
import { syntheticDataset } from '@ifan/synthetic';
import { emotionTask } from '@ifan/task-emotion';
import { landmarkTask } from '@ifan/task-landmarks';
import { parsingTask } from '@ifan/task-parsing';
import { Trainer, type StepRecord } from '@ifan/trainer';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const preset = option('preset', 'small') as BackbonePresetName;
const batch = Number(option('batch', '32'));
const rounds = Number(option('rounds', '10'));
const iterations = Number(option('iterations', '1'));
const repeats = Number(option('repeats', '2'));

const backend = await selectBackend();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

interface Run {
  workers: 0 | 1;
  thread: string;
  steps: number;
  /** Mean wall time per step after the first round. */
  msPerStep: number;
  /** Mean `StepRecord.ms` after the first round. */
  recordMsPerStep: number;
  /** Wall time of `fit`. */
  seconds: number;
  losses: number[];
}

async function run(workers: 0 | 1): Promise<Run> {
  const records: StepRecord[] = [];
  const ends: number[] = [];
  const trainer = new Trainer({
    plugins: [parsingTask(), landmarkTask(), emotionTask()],
    datasets: {
      parsing: syntheticDataset({ count: 1000, domain: 'parsing', seed: 1 }),
      landmarks: syntheticDataset({ count: 1000, domain: 'landmarks', seed: 1 }),
      emotion: syntheticDataset({ count: 1000, domain: 'emotion', seed: 1 }),
    },
    network: { backbone: preset, iterations },
    batchSize: batch,
    schedule: { pretrainEpochs: 0, rounds },
    workers,
    hooks: [
      {
        afterStep: (_t, r) => {
          records.push(r);
          ends.push(performance.now());
        },
      },
    ],
  });
  const t0 = performance.now();
  await trainer.fit();
  const seconds = (performance.now() - t0) / 1000;
  const thread = trainer.batchPreparation.thread;
  trainer.dispose();
  const msPerStep = (ends[ends.length - 1] - ends[2]) / (ends.length - 3);
  const recordMsPerStep = mean(records.slice(3).map((r) => r.ms));
  return { workers, thread, steps: records.length, msPerStep, recordMsPerStep, seconds, losses: records.map((r) => r.total) };
}

console.log(
  `trainer batch worker: ${preset} preset, batch ${batch}, ${rounds} rounds (${3 * rounds} steps), iterations ${iterations}, ` +
    `backend ${backend.name}, ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
);
const runs: Run[] = [];
for (let r = 0; r < repeats; r++) {
  for (const workers of r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
    const result = await run(workers);
    runs.push(result);
    console.log(
      `  workers ${workers} (${result.thread.padEnd(6)}): ${result.msPerStep.toFixed(0).padStart(5)} ms/step ` +
        `(StepRecord.ms ${result.recordMsPerStep.toFixed(0)}), fit ${result.seconds.toFixed(1)} s`,
    );
  }
}
const of = (w: 0 | 1) => runs.filter((r) => r.workers === w);
const identical = runs.every((r) => JSON.stringify(r.losses) === JSON.stringify(runs[0].losses));
const summary = {
  msPerStep: { workers0: mean(of(0).map((r) => r.msPerStep)), workers1: mean(of(1).map((r) => r.msPerStep)) },
  recordMsPerStep: { workers0: mean(of(0).map((r) => r.recordMsPerStep)), workers1: mean(of(1).map((r) => r.recordMsPerStep)) },
  fitSeconds: { workers0: mean(of(0).map((r) => r.seconds)), workers1: mean(of(1).map((r) => r.seconds)) },
  identicalLosses: identical,
};
console.log(
  `mean after the first round: workers 0 ${summary.msPerStep.workers0.toFixed(0)} ms/step, workers 1 ${summary.msPerStep.workers1.toFixed(0)} ms/step ` +
    `(${(summary.msPerStep.workers0 / summary.msPerStep.workers1).toFixed(2)}x); losses identical: ${identical ? 'yes' : 'NO'}`,
);
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(
  join(here, 'out', 'trainer-workers.json'),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, loadavg: loadavg(), backend: backend.name },
      config: { preset, batch, rounds, steps: 3 * rounds, iterations, repeats },
      runs: runs.map(({ losses, ...r }) => r),
      summary,
    },
    null,
    2,
  )}\n`,
);
console.log('wrote bench/out/trainer-workers.json');
