/**
 * A user training script: landmarks and parsing only (the paper's "2T"), each from its own data set.
 *
 *   pnpm --filter @ifan/examples train-2t                     # on synthetic faces written to a temp dir
 *   pnpm --filter @ifan/examples train-2t --helen DIR --mtfl DIR
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend, type BackbonePresetName } from '@ifan/core';
import { landmarkTask } from '@ifan/task-landmarks/node';
import { parsingTask } from '@ifan/task-parsing/node';
import { evaluate, resultsToMarkdown, Trainer, type EvaluationResult } from '@ifan/trainer';
import { writeSyntheticLayouts } from './synthetic-data';

export interface ExampleOptions {
  /** Helen-layout root; default synthetic faces. */
  helen?: string;
  /** MTFL root; default synthetic faces. */
  mtfl?: string;
  /** Synthetic faces per data set when no data is given. Default 200. */
  count?: number;
  preset?: BackbonePresetName;
  pretrainEpochs?: number;
  rounds?: number;
  iterations?: number;
  progress?: boolean;
}

export interface ExampleResult {
  /** The trained network on the test sets. */
  result: EvaluationResult;
  /** The same network before training, on the same test sets: what the training bought. */
  untrained: EvaluationResult;
  markdown: string;
}

export async function trainLandmarksAndParsing(o: ExampleOptions = {}): Promise<ExampleResult> {
  await selectBackend();
  let { helen, mtfl } = o;
  // synthetic faces for what is not given, in a temporary folder removed at the end
  const temp = !helen || !mtfl ? await mkdtemp(join(tmpdir(), 'ifan-2t-')) : undefined;
  try {
    if (temp) {
      const data = await writeSyntheticLayouts(temp, o.count ?? 200);
      helen ??= data.helen;
      mtfl ??= data.mtfl;
    }
    return await train(helen!, mtfl!, o);
  } finally {
    if (temp) await rm(temp, { recursive: true, force: true });
  }
}

async function train(helen: string, mtfl: string, o: ExampleOptions): Promise<ExampleResult> {
  const parsing = parsingTask();
  const landmarks = landmarkTask();
  const datasets = {
    parsing: { train: await parsing.loadDataset('helen', helen, { split: 'train' }), test: await parsing.loadDataset('helen', helen, { split: 'test' }) },
    landmarks: { train: await landmarks.loadDataset('mtfl', mtfl, { split: 'train' }), test: await landmarks.loadDataset('mtfl', mtfl, { split: 'test' }) },
  };
  const trainer = new Trainer({
    plugins: [landmarks, parsing],
    datasets,
    network: { backbone: o.preset ?? 'small', iterations: o.iterations ?? 1 },
    schedule: { pretrainEpochs: o.pretrainEpochs ?? 2, rounds: o.rounds ?? 40 },
    batchSize: { parsing: 8, landmarks: 16 },
    progress: o.progress ?? true,
  });
  const test = { parsing: datasets.parsing.test, landmarks: datasets.landmarks.test };
  try {
    const untrained = await evaluate(trainer.net, test);
    await trainer.fit();
    const result = await evaluate(trainer.net, test);
    return { result, untrained, markdown: resultsToMarkdown([{ label: 'untrained', result: untrained }, { label: 'iFAN 2T', result }]) };
  } finally {
    trainer.dispose();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const { values } = parseArgs({ options: { helen: { type: 'string' }, mtfl: { type: 'string' }, rounds: { type: 'string' }, preset: { type: 'string' } } });
  const { markdown } = await trainLandmarksAndParsing({
    helen: values.helen,
    mtfl: values.mtfl,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    preset: values.preset as BackbonePresetName | undefined,
  });
  console.log(markdown);
}
