import { describe, expect, it } from 'vitest';
import { emotionTask } from '@ifan/task-emotion';
import { landmarkTask } from '@ifan/task-landmarks/node';
import { buildRun, checkRunConfig, loadData } from '../src/run-config';
import { classFrequencies } from '../src/baselines';
import { registerTask } from '../src/tasks';

describe('loadData', () => {
  it('limit keeps a seeded subset of the data set, in its order, and names it', async () => {
    const plugin = emotionTask();
    const all = await loadData(plugin, { format: 'synthetic', count: 40 }, 'tasks.emotion.train', '.', 1, 'train');
    const a = await loadData(plugin, { format: 'synthetic', count: 40, limit: 12 }, 'tasks.emotion.train', '.', 1, 'train');
    const b = await loadData(plugin, { format: 'synthetic', count: 40, limit: 12 }, 'tasks.emotion.train', '.', 1, 'train');
    expect(a.samples).toHaveLength(12);
    expect(a.name).toBe(`${all.name}[12]`);
    expect(a.samples.map((s) => s.id)).toEqual(b.samples.map((s) => s.id));
    const order = a.samples.map((s) => all.samples.findIndex((t) => t.id === s.id));
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]))).toBe(true);
    // not simply the first twelve
    expect(order[11]).toBeGreaterThan(11);
    const more = await loadData(plugin, { format: 'synthetic', count: 40, limit: 400 }, 'tasks.emotion.train', '.', 1, 'train');
    expect(more.samples).toHaveLength(40);
    await expect(loadData(plugin, { format: 'synthetic', count: 40, limit: 0 }, 'tasks.emotion.train', '.', 1, 'train')).rejects.toThrow(/limit/);
  });
});

describe('synthetic data specs', () => {
  it('face options reach the generator (and its worker recipe); a bad one is the generator\'s clear error', async () => {
    const plugin = emotionTask();
    const plain = await loadData(plugin, { format: 'synthetic', count: 6 }, 'tasks.emotion.train', '.', 1, 'train');
    const full = await loadData(plugin, { format: 'synthetic', count: 6, face: { intensity: [1, 1] } }, 'tasks.emotion.train', '.', 1, 'train');
    const a = await plain.samples[0].load();
    const b = await full.samples[0].load();
    // same seed, same face and expression, but at full strength: the labels agree, the pixels do not
    expect(b.labels).toEqual(a.labels);
    const da = a.image.data as Uint8Array;
    const db = b.image.data as Uint8Array;
    let differ = 0;
    for (let i = 0; i < da.length; i++) if (da[i] !== db[i]) differ++;
    expect(differ).toBeGreaterThan(0);
    expect(JSON.stringify(full.recipe?.args)).toContain('"intensity":[1,1]');
    await expect(loadData(plugin, { format: 'synthetic', count: 2, face: { intensity: [2, 3] } }, 'tasks.emotion.train', '.', 1, 'train')).rejects.toThrow(
      /tasks\.emotion\.train\.face.*intensity: expected \[lo, hi\]/,
    );
  });
});

describe('data loading lives behind the task packages\' /node entries', () => {
  it('a model-only plugin (main entry) reads synthetic data but names the /node factory for files', async () => {
    const plugin = emotionTask();
    expect('loadDataset' in plugin).toBe(false);
    await expect(loadData(plugin, { format: 'folders', path: '.' }, 'tasks.emotion.train', '.', 1, 'train')).rejects.toThrow(
      /cannot load data sets .*'@ifan\/task-landmarks\/node'/,
    );
  });

  it('the /node plugin loads, and its recipes and its loaders\' name modules a worker can import', async () => {
    const { emotionTask: loadingEmotionTask } = await import('@ifan/task-emotion/node');
    const plugin = loadingEmotionTask();
    expect(plugin.formats).toContain('folders');
    await expect(loadData(plugin, { format: 'nope', path: '.' }, 'tasks.emotion.train', '.', 1, 'train')).rejects.toThrow(/reads folders, fer2013-csv, csv, synthetic, not "nope"/);
    for (const recipe of [plugin.recipe!, { module: '@ifan/task-emotion/node', export: 'loadEmotionDataset' }]) {
      const mod = (await import(/* @vite-ignore */ recipe.module)) as Record<string, unknown>;
      expect(typeof mod[recipe.export]).toBe('function');
    }
    expect(plugin.recipe!.module).toBe('@ifan/task-emotion/node');
  });
});

describe('buildRun: parsing classWeights "inverse-sqrt"', () => {
  it('weighs each class by the inverse square root of its share of the training pixels', async () => {
    const config = { tasks: { parsing: { train: 'synthetic:24', options: { classWeights: 'inverse-sqrt' } } }, preset: 'tiny' as const, testFraction: 0, valFraction: 0.25 };
    const built = await buildRun(config);
    const w = built.taskOptions.parsing.classWeights as number[];
    const plugin = built.plugins[0];
    // the shares these weights come from, recomputed: the average training pixel weighs 1
    const shares = await classFrequencies(plugin, built.data.parsing.train, { inputSize: 32, crop: { margin: 0 } });
    expect(w).toHaveLength(shares.length);
    const mean = shares.reduce((a, f, c) => a + f * w[c], 0);
    expect(mean).toBeCloseTo(1, 2);
    // rarer classes weigh more: background (the most pixels) weighs least
    const rare = shares.indexOf(Math.min(...shares.filter((f) => f > 0)));
    expect(w[rare]).toBeGreaterThan(w[0]);
    expect(w[0]).toBeLessThan(1);
    expect(w[rare] / w[0]).toBeCloseTo(Math.min(25 / w[0], Math.sqrt(shares[0] / shares[rare])), 1);
  });
  it('a config naming an option the task does not have is refused, naming it and listing the task\'s options', () => {
    const config = { tasks: { landmarks: { train: 'synthetic:8', options: { classWeights: 'inverse-sqrt' } } }, preset: 'tiny' as const, testFraction: 0, valFraction: 0 };
    expect(() => checkRunConfig(config)).toThrow(/^tasks\.landmarks\.options\.classWeights: unknown option of the landmarks task; its options are name, bnKey, landmarkSet,/);
    // a data option put among the plugin's (it would have been ignored, training on all the data)
    const misplaced = { tasks: { emotion: { train: 'synthetic:8', options: { dropout: 0.1, limit: 4 } } }, preset: 'tiny' as const, testFraction: 0, valFraction: 0 };
    expect(() => checkRunConfig(misplaced)).toThrow(/^tasks\.emotion\.options\.limit: unknown option .*the data spec's limit: \{ format, path, limit \}/);
  });

  it('names the field when "inverse-sqrt" class weights are asked of a task whose labels score no classes', async () => {
    // a registered task without a list of its options (landmarks under another name) reaches the data
    registerTask('points', { create: (o) => landmarkTask({ name: 'points', ...o }), batchSize: { default: 4, paper: 4 }, syntheticDomain: 'landmarks' });
    const config = { tasks: { points: { train: 'synthetic:8', options: { classWeights: 'inverse-sqrt' } } }, preset: 'tiny' as const, testFraction: 0, valFraction: 0 };
    await expect(buildRun(config)).rejects.toThrow(/^tasks\.points\.options/);
  });
});

describe('buildRun: init', () => {
  it('passes the model to start from to the trainer; anything but a string is refused naming init', async () => {
    const built = await buildRun({ tasks: { emotion: { train: 'synthetic:8' } }, preset: 'tiny', testFraction: 0, valFraction: 0, init: 'ifan-3t' });
    expect(built.options.init).toBe('ifan-3t');
    expect((await buildRun({ tasks: { emotion: { train: 'synthetic:8' } }, preset: 'tiny', testFraction: 0, valFraction: 0 })).options.init).toBeUndefined();
    expect(() => checkRunConfig({ tasks: { emotion: { train: 'synthetic:8' } }, init: 3 })).toThrow(/^init: must be a model folder, a run directory or a shipped model's name, got 3/);
  });
});

describe('buildRun: split fractions per task', () => {
  it('a task\'s valFraction/testFraction overrides the run\'s, so each task can be split as its single-task run was', async () => {
    const config = {
      tasks: { emotion: { train: 'synthetic:40', testFraction: 0, valFraction: 0.5 }, landmarks: { train: 'synthetic:40' } },
      preset: 'tiny' as const,
      testFraction: 0.25,
      valFraction: 0.2,
    };
    const built = await buildRun(config);
    expect([built.data.emotion.train.samples.length, built.data.emotion.val?.samples.length, built.data.emotion.test]).toEqual([20, 20, undefined]);
    expect([built.data.landmarks.train.samples.length, built.data.landmarks.val?.samples.length, built.data.landmarks.test?.samples.length]).toEqual([24, 6, 10]);
    // the single-task run with the same fractions carves the same faces
    const alone = await buildRun({ tasks: { emotion: { train: 'synthetic:40' } }, preset: 'tiny', testFraction: 0, valFraction: 0.5 });
    expect(built.data.emotion.val!.samples.map((s) => s.id)).toEqual(alone.data.emotion.val!.samples.map((s) => s.id));
    expect(() => checkRunConfig({ ...config, tasks: { emotion: { train: 'synthetic:4', valFraction: 2 } } })).toThrow(/tasks\.emotion\.valFraction/);
  });
});
