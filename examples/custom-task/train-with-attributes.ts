/**
 * The custom attributes plugin trained together with the three built-in tasks. MTFL labels landmarks
 * and attributes on the same images, so its one data set trains both tasks in every batch; Helen and
 * the emotion folders each label one task.
 *
 *   pnpm --filter @ifan/examples train-attributes
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend, type BackbonePresetName } from '@ifan/core';
import { emotionTask } from '@ifan/task-emotion/node';
import { landmarkTask } from '@ifan/task-landmarks/node';
import { parsingTask } from '@ifan/task-parsing/node';
import { evaluate, resultsToMarkdown, Trainer, type EvaluationResult } from '@ifan/trainer';
import { writeSyntheticLayouts, type SyntheticLayouts } from '../synthetic-data';
import { attributesTask } from './attributes-plugin';

export interface AttributesExampleResult {
  /** The trained network on the test sets. */
  result: EvaluationResult;
  /** The same network before training, on the same test sets: what the training bought. */
  untrained: EvaluationResult;
  markdown: string;
  sources: { name: string; tasks: string[] }[];
}

export async function trainWithAttributes(
  o: { count?: number; preset?: BackbonePresetName; pretrainEpochs?: number; rounds?: number; progress?: boolean } = {},
): Promise<AttributesExampleResult> {
  await selectBackend();
  // synthetic faces in a temporary folder, removed at the end
  const temp = await mkdtemp(join(tmpdir(), 'ifan-4t-'));
  try {
    return await train(await writeSyntheticLayouts(temp, o.count ?? 200), o);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

async function train(
  data: SyntheticLayouts,
  o: { preset?: BackbonePresetName; pretrainEpochs?: number; rounds?: number; progress?: boolean },
): Promise<AttributesExampleResult> {
  const [parsing, landmarks, emotion, attributes] = [parsingTask(), landmarkTask(), emotionTask(), attributesTask()];
  const mtflTrain = await landmarks.loadDataset('mtfl', data.mtfl, { split: 'train' });
  const mtflTest = await landmarks.loadDataset('mtfl', data.mtfl, { split: 'test' });
  const datasets = {
    parsing: { train: await parsing.loadDataset('helen', data.helen, { split: 'train' }), test: await parsing.loadDataset('helen', data.helen, { split: 'test' }) },
    landmarks: { train: mtflTrain, test: mtflTest },
    attributes: { train: mtflTrain, test: mtflTest },
    emotion: { train: await emotion.loadDataset('folders', data.fer, { split: 'train' }), test: await emotion.loadDataset('folders', data.fer, { split: 'test' }) },
  };
  const trainer = new Trainer({
    plugins: [parsing, landmarks, emotion, attributes],
    datasets,
    network: { backbone: o.preset ?? 'small', iterations: 1 },
    schedule: { pretrainEpochs: o.pretrainEpochs ?? 1, rounds: o.rounds ?? 30 },
    progress: o.progress ?? true,
  });
  const sources = trainer.sources.map((s) => ({ name: s.name, tasks: [...s.tasks] }));
  const test = Object.fromEntries(Object.entries(datasets).map(([k, v]) => [k, v.test]));
  try {
    const untrained = await evaluate(trainer.net, test);
    await trainer.fit();
    const result = await evaluate(trainer.net, test);
    return { result, untrained, markdown: resultsToMarkdown([{ label: 'untrained', result: untrained }, { label: 'iFAN 4T', result }]), sources };
  } finally {
    trainer.dispose();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const { markdown } = await trainWithAttributes();
  console.log(markdown);
}
