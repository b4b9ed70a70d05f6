import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type Sample, type TaskPlugin } from '@ifan/core';
import { DatasetError, splitDataset } from '@ifan/core/node';
import { syntheticDataset } from '@ifan/synthetic';
import { emotionTask } from '@ifan/task-emotion';
import { landmarkTask } from '@ifan/task-landmarks';
import { parsingTask } from '@ifan/task-parsing';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchWorker } from '../src/batch-worker-client';
import { loadBatch } from '../src/batches';
import { resolveTrainerOptions } from '../src/trainer-config';
import { ConfigError, DEFAULT_AUGMENT_CONFIG, Trainer, type StepRecord, type TrainerOptions } from '../src/index';
import { recipeMapTask, recipeToyDataset, recipeToySetup } from './fixtures/recipe-data';
import { snapshot, tempDir, toySetup, useBackend } from './helpers';
import { fitAndExit } from './child-fit';
import { recordFit, stepLosses } from './record-fit';

beforeAll(useBackend);

/** A 3-task synthetic run on the tiny preset, augmentation on (the default). */
const synthetic = (): TrainerOptions => ({
  plugins: [parsingTask(), landmarkTask(), emotionTask()],
  datasets: {
    parsing: syntheticDataset({ count: 8, domain: 'parsing', size: 48 }),
    landmarks: syntheticDataset({ count: 8, domain: 'landmarks', size: 48 }),
    emotion: syntheticDataset({ count: 8, domain: 'emotion' }),
  },
  network: { backbone: 'tiny', iterations: 1, seed: 3 },
  batchSize: 4,
  schedule: { pretrainEpochs: 1, rounds: 2 },
  log: false,
});

const toy = (extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
  ...recipeToySetup(),
  network: { backbone: 'tiny', iterations: 1, seed: 3 },
  batchSize: 4,
  schedule: { pretrainEpochs: 1, rounds: 3 },
  log: false,
  ...extra,
});

describe('batch worker', () => {
  it('a synthetic run gives the same losses and weights with and without the worker, and leaks no tensor', async () => {
    const start = tf.memory().numTensors;
    const main = await recordFit({ ...synthetic(), workers: 0 });
    expect(main.trainer.batchPreparation).toEqual({ thread: 'main' });
    const mainWeights = snapshot(main.trainer.net.params.variables);
    main.trainer.dispose();
    // a disposed trainer leaves nothing behind, with or without the worker
    expect(tf.memory().numTensors).toBe(start);

    const worker = await recordFit({ ...synthetic(), workers: 1 });
    const during = worker.counts;
    expect(new Set(during.slice(1))).toEqual(new Set([during[1]]));
    expect(worker.trainer.batchPreparation).toEqual({ thread: 'worker' });
    expect(worker.steps.length).toBe(main.steps.length);
    expect(stepLosses(worker.steps)).toEqual(stepLosses(main.steps));
    expect(snapshot(worker.trainer.net.params.variables)).toEqual(mainWeights);
    expect(during).toEqual(main.counts);
    worker.trainer.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it("the worker's batch is the training thread's, bit for bit (images, labels, transforms), splits included", async () => {
    // a split of a split: the recipe picks the same samples (subsetDataset composes the picks)
    const whole = syntheticDataset({ count: 16, domain: 'parsing', size: 48 });
    const part = splitDataset(splitDataset(whole, { fraction: 0.25, seed: 1 }).train, { fraction: 0.25, seed: 2 }).train;
    expect(part.recipe?.pick).toEqual(part.samples.map((s) => (whole.samples as Sample[]).indexOf(s)));
    const opts = { ...synthetic(), datasets: { ...synthetic().datasets, parsing: part } };
    const { config, sources } = resolveTrainerOptions(opts);
    const byName = new Map(opts.plugins.map((p) => [p.name, p as TaskPlugin]));
    const prep = { inputSize: 32, crop: config.crop, augment: DEFAULT_AUGMENT_CONFIG };
    const worker = new BatchWorker(sources, (t) => byName.get(t)!, prep);
    try {
      await worker.ready;
      for (const [source, indices, seed] of [[0, [3, 1, 7], 11], [1, [0, 5], 12]] as const) {
        const s = sources[source];
        const fromWorker = await worker.request(source, [...indices], seed);
        const here = await loadBatch(
          indices.map((i) => s.dataset.samples[i]),
          { ...prep, plugins: s.tasks.map((t) => byName.get(t)!), augment: { config: prep.augment, rng: new Rng(seed) } },
        );
        expect(fromWorker.ids).toEqual(here.ids);
        expect(fromWorker.images).toEqual(here.images);
        expect(fromWorker.labels).toEqual(here.labels);
        expect(fromWorker.transforms).toEqual(here.transforms);
      }
    } finally {
      await worker.terminate();
    }
  });

  it('resume with the worker continues exactly where an uninterrupted run without it goes', async () => {
    const whole = await recordFit(toy({ workers: 0 }));
    whole.trainer.dispose();
    const dir = tempDir();
    const first = await recordFit(toy({ workers: 1, runDir: dir }), 5);
    expect(first.trainer.batchPreparation.thread).toBe('worker');
    first.trainer.dispose();
    const second = new Trainer(toy({ workers: 1, runDir: dir, resume: true }));
    await second.fit();
    second.dispose();
    const logged = readFileSync(join(dir, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as StepRecord);
    expect(stepLosses(logged)).toEqual(stepLosses(whole.steps));
  });

  it("a sample that fails in the worker fails the run with the training thread's error, naming the sample", async () => {
    const errorOf = async (workers: 0 | 1) => {
      const trainer = new Trainer({ ...toy({ workers }), ...recipeToySetup(6) });
      const e = await trainer.fit().catch((err: unknown) => err);
      expect(trainer.batchPreparation.thread).toBe(workers === 1 ? 'worker' : 'main');
      trainer.dispose();
      return e as DatasetError;
    };
    const onMain = await errorOf(0);
    const inWorker = await errorOf(1);
    expect(onMain).toBeInstanceOf(DatasetError);
    expect(onMain.message).toBe('/data/broken.png: not a PNG file (the file is truncated) (sample vectors/6)');
    expect(inWorker).toBeInstanceOf(DatasetError);
    expect(inWorker.message).toBe(onMain.message);
    expect({ ...inWorker }).toEqual({ ...onMain });
    expect(onMain.stack!.split('\n')[0]).toBe(`DatasetError: ${onMain.message}`);
    expect(inWorker.stack!.split('\n')[0]).toBe(`DatasetError: ${onMain.message}`);
  });

  it('auto falls back to the training thread, saying once which data set or plugin has no recipe', async () => {
    const lines: string[] = [];
    const trainer = new Trainer({ ...toySetup(), network: { backbone: 'tiny', iterations: 0 }, batchSize: 4, schedule: { pretrainEpochs: 0, rounds: 1 }, log: (l) => lines.push(l) });
    await trainer.fit();
    await trainer.fit();
    expect(trainer.batchPreparation.thread).toBe('main');
    expect(trainer.batchPreparation.reason).toMatch(/data set "maps" \(task map\) has no recipe/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ifan: preparing batches on the training thread.*data set "maps".*no recipe.*set `recipe`.*workers: 0/);
    trainer.dispose();

    const plugin = new Trainer({
      plugins: [parsingTask(), { ...recipeMapTask('map', 3), recipe: undefined }],
      datasets: { parsing: syntheticDataset({ count: 4, domain: 'parsing', size: 48 }), map: recipeToyDataset('maps', 'map', 4, 3, 1) },
      network: { backbone: 'tiny', iterations: 0 },
      schedule: { pretrainEpochs: 0, rounds: 1 },
      log: false,
    });
    await plugin.fit();
    expect(plugin.batchPreparation.reason).toMatch(/task plugin "map" has no recipe/);
    plugin.dispose();

    // 'auto' with recipes: a run this short prepares its few cheap batches itself
    const short = new Trainer(toy());
    await short.fit();
    expect(short.batchPreparation.thread).toBe('main');
    expect(short.batchPreparation.reason).toMatch(/too short for a worker to pay off \(13 batches left at [\d.]+ ms each\)/);
    short.dispose();

    expect(() => new Trainer({ ...toySetup(), workers: 1 })).toThrow(ConfigError);
    expect(() => new Trainer({ ...toySetup(), workers: 1 })).toThrow(/workers: is 1, but data set "maps"/);
    expect(() => new Trainer({ ...toySetup(), workers: 2 as never })).toThrow(/workers: must be 'auto', 0 or 1/);
  });

  it('a recipe that rebuilds other samples than the data set has is refused', async () => {
    const maps = recipeToyDataset('maps', 'map', 12, 3, 1);
    const options = toy({ datasets: { ...recipeToySetup().datasets, map: { ...maps, samples: maps.samples.slice(2) } }, schedule: { pretrainEpochs: 0, rounds: 1 } });
    const { sources } = resolveTrainerOptions(options);
    const worker = new BatchWorker(sources, (t) => options.plugins.find((p) => p.name === t)!, { inputSize: 32, crop: { margin: 0 }, augment: DEFAULT_AUGMENT_CONFIG });
    await expect(worker.ready).rejects.toThrow(/recipe of data set "maps" rebuilds other samples \(12, not the 10 given\)/);
    await worker.terminate();
    const trainer = new Trainer({ ...options, workers: 1 });
    await expect(trainer.fit()).rejects.toThrow(/rebuilds other samples.*subsetDataset/);
    trainer.dispose();
  });

  it('the worker stops when fit ends and on SIGINT: the process exits by itself', async () => {
    const { code, err, result } = await fitAndExit('workers');
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(result).toMatchObject({ first: 'completed', second: 'interrupted', threads: [{ batches: 'worker' }, { batches: 'worker' }] });
  }, 300_000);
});
