import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset, MetricReport, TaskPlugin } from '@ifan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, Trainer, TrainingDivergedError, type StepRecord, type TrainerOptions } from '../src/index';
import { imageTensor, loadBatch, targetTensors } from '../src/batches';
import { mapTask } from './dummy-plugins';
import { changedNames, snapshot, tempDir, toyDataset, toyRun, toySetup, useBackend } from './helpers';
import { expectOldRunResumes, recordFit } from './record-fit';

beforeAll(useBackend);

const base = (): TrainerOptions => toyRun({ schedule: { pretrainEpochs: 1, rounds: 3 } });

describe('init: a fresh run starts from another network\'s weights (fine-tuning)', () => {
  it('copies every weight by name before the first step; a different network or a missing model is an error naming init', async () => {
    const donor = new Trainer({ ...base(), network: { backbone: 'tiny', iterations: 1, seed: 9 } });
    const fresh = new Trainer(base());
    // (seed 9 and seed 3 start apart, so equality below is the copy's doing)
    expect(changedNames(snapshot(fresh.net.params.variables), snapshot(donor.net.params.variables)).length).toBeGreaterThan(10);
    fresh.dispose();
    let atStart: Map<string, Float32Array> | undefined;
    const trainer = new Trainer({
      ...base(),
      init: donor.net,
      hooks: [{ beforeStep: () => void (atStart ??= snapshot(trainer.net.params.variables)), afterStep: (t) => t.stop() }],
    });
    await trainer.fit();
    expect(changedNames(atStart!, snapshot(donor.net.params.variables))).toEqual([]);
    expect(atStart!.size).toBe(donor.net.params.variables.size);
    trainer.dispose();

    const wider = new Trainer({ ...base(), network: { backbone: { inputSize: 32, blocks: 3, layersPerBlock: 2, growthRate: 6, stemChannels: 8 }, iterations: 1 } });
    const mismatched = new Trainer({ ...base(), init: wider.net });
    await expect(mismatched.fit()).rejects.toThrow(/^init: weight ".*" is \[.*\] in the init network but \[.*\] in this run's network$/);
    mismatched.dispose();
    wider.dispose();
    const missing = new Trainer({ ...base(), init: '/nonexistent/model' });
    await expect(missing.fit()).rejects.toThrow(/^init: no model at \/nonexistent\/model, and no pretrained model named/);
    missing.dispose();
    donor.dispose();
  });
});

describe('cross-dataset hybrid schedule', () => {
  it('stage 1 goes task by task over whole data sets; stage 2 rounds alternate with equal updates', async () => {
    const { trainer, steps } = await recordFit(base());
    // 12 maps / 4 = 3 batches; 20 vectors / 4 = 5 batches; then 3 rounds of [maps, vectors]
    expect(steps.map((s) => `${s.stage}:${s.source}`)).toEqual([
      ...Array(3).fill('pretrain:maps'),
      ...Array(5).fill('pretrain:vectors'),
      ...Array(3).fill(['finetune:maps', 'finetune:vectors']).flat(),
    ]);
    expect(steps.filter((s) => s.stage === 'pretrain').every((s) => s.losses[s.tasks[0]].length === 1)).toBe(true);
    // stage 2 sums the loss over iterations 0..ITER
    expect(steps.filter((s) => s.stage === 'finetune').every((s) => s.losses[s.tasks[0]].length === 2)).toBe(true);
    expect(steps.map((s) => s.step)).toEqual([...Array(14).keys()]);
    trainer.dispose();
  });

  it('a stage-1 step of task t updates the backbone (key t) and decoder t only', async () => {
    const trainer = new Trainer({ ...base(), hooks: [{ afterStep: (t) => t.stop() }] });
    const before = snapshot(trainer.net.params.variables);
    await trainer.fit();
    const changed = changedNames(before, snapshot(trainer.net.params.variables));
    expect(changed.some((n) => n.startsWith('tasks/map/decoder/'))).toBe(true);
    expect(changed.some((n) => n.startsWith('backbone/') && n.endsWith('kernel'))).toBe(true);
    expect(changed.some((n) => n.startsWith('backbone/') && n.includes('/map/'))).toBe(true);
    expect(changed.filter((n) => n.startsWith('tasks/vector/') || n.includes('/reencoder/') || n.startsWith('integrator/'))).toEqual([]);
    expect(changed.filter((n) => n.startsWith('backbone/') && n.includes('/vector/'))).toEqual([]);
    trainer.dispose();
  });

  it('a stage-2 step of task t leaves the other decoders untouched and trains every re-encoder and the integrator', async () => {
    const trainer = new Trainer({ ...base(), schedule: { pretrainEpochs: 0, rounds: 2 }, hooks: [{ afterStep: (t) => t.stop() }] });
    const before = snapshot(trainer.net.params.variables);
    await trainer.fit();
    const changed = changedNames(before, snapshot(trainer.net.params.variables));
    expect(changed.filter((n) => n.startsWith('tasks/vector/decoder/'))).toEqual([]);
    expect(changed.some((n) => n.startsWith('tasks/map/decoder/'))).toBe(true);
    expect(changed.some((n) => n.startsWith('tasks/map/reencoder/'))).toBe(true);
    expect(changed.some((n) => n.startsWith('tasks/vector/reencoder/'))).toBe(true);
    expect(changed.some((n) => n.startsWith('integrator/'))).toBe(true);
    trainer.dispose();
  });

  it('a data set labelling several tasks trains all of them in one step, masking missing labels', async () => {
    const both = toyDataset('both', 'map', 8, 3, 5);
    both.tasks = ['map', 'vector'];
    // half the samples also carry a vector label
    both.samples = both.samples.map((s, i) => ({
      ...s,
      load: async () => {
        const li = await s.load();
        return i % 2 ? { ...li, labels: { ...li.labels, vector: i % 4 } } : li;
      },
    }));
    const { trainer, steps } = await recordFit({ ...base(), datasets: { map: both, vector: both }, schedule: { pretrainEpochs: 1, rounds: 1 } });
    expect(trainer.sources.map((s) => [s.name, s.tasks])).toEqual([['both', ['map', 'vector']]]);
    for (const s of steps) expect(Object.keys(s.losses).sort()).toEqual(['map', 'vector']);
    trainer.dispose();
  });
});

describe('training', () => {
  it("every task's loss falls in a few dozen steps, and no tensor leaks", async () => {
    const counts: number[] = [];
    const options: TrainerOptions = {
      ...base(),
      schedule: { pretrainEpochs: 2, rounds: 12, pretrainLr: { type: 'constant', from: 3e-3 }, finetuneLr: { type: 'linear', from: 3e-3, to: 1e-3 } },
      hooks: [{ afterStep: () => void counts.push(tf.memory().numTensors) }],
    };
    const trainer = new Trainer(options);
    // loss of each task on its whole (fixed, unaugmented) data set, at every iteration
    const fixedLoss = async (task: string) => {
      const plugin = trainer.net.plugin(task);
      const samples = (options.datasets[task] as Dataset).samples;
      const batch = await loadBatch(samples, { inputSize: 32, crop: { margin: 0 }, plugins: [plugin] });
      return tf.tidy(() => {
        const t = targetTensors(batch, [plugin], 32)[task];
        const r = trainer.net.forward(imageTensor(batch, 32), trainer.net.context({ bnKey: plugin.bnKey }), 1);
        return r.raw.map((raw) => plugin.loss(raw[task], t.target, t.mask).dataSync()[0]);
      });
    };
    const before = { map: await fixedLoss('map'), vector: await fixedLoss('vector') };
    await trainer.fit();
    for (const task of ['map', 'vector'] as const) {
      const after = await fixedLoss(task);
      after.forEach((l, it) => expect(l, `${task} iteration ${it}: ${before[task][it]} -> ${l}`).toBeLessThan(before[task][it] * 0.8));
    }
    expect(counts.length).toBe(2 * 8 + 24);
    // the optimiser's slots appear at the first step; after that nothing accumulates
    expect(new Set(counts.slice(1))).toEqual(new Set([counts[1]]));
    trainer.dispose();
  });

  it('resume continues exactly: the same losses as an uninterrupted run', async () => {
    const full = tempDir();
    const parts = tempDir();
    const opts = { ...base(), augment: undefined, schedule: { pretrainEpochs: 1, rounds: 4 }, checkpoint: { everyRounds: 100, keep: 2 } };
    const a = await recordFit({ ...opts, runDir: full });
    a.trainer.dispose();
    // stop in the middle of stage 2 (after step 9 of 16), then resume in a new trainer
    const b1 = await recordFit({ ...opts, runDir: parts }, 10);
    b1.trainer.dispose();
    expect(readdirSync(join(parts, 'checkpoints')).filter((n) => n.startsWith('step-'))).toContain('step-00000010');
    const b2 = await recordFit({ ...opts, runDir: parts, resume: true });
    b2.trainer.dispose();
    expect([...b1.steps, ...b2.steps].map((s) => s.losses)).toEqual(a.steps.map((s) => s.losses));
    const log = (dir: string) =>
      readFileSync(join(dir, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as StepRecord);
    expect(log(parts).map((r) => [r.step, r.losses])).toEqual(log(full).map((r) => [r.step, r.losses]));
    expect(existsSync(join(parts, 'model', 'model.json'))).toBe(true);
  });

  it('a run from before network.colour resumes as rgb; another colour is refused, naming the field', async () => {
    const opts = { ...base(), augment: undefined, schedule: { pretrainEpochs: 1, rounds: 2 }, checkpoint: { everyRounds: 100, keep: 2 } };
    await expectOldRunResumes({ ...opts, runDir: tempDir() }, 'network', 'colour', 'rgb', { network: { ...opts.network, colour: 'grey' } });
  });

  it('refuses to start a new run over an existing one', async () => {
    const dir = tempDir();
    const opts = { ...base(), schedule: { pretrainEpochs: 1, rounds: 0 }, runDir: dir };
    const t1 = new Trainer(opts);
    await t1.fit();
    t1.dispose();
    const t2 = new Trainer(opts);
    await expect(t2.fit()).rejects.toThrow(/already holds a run/);
    t2.dispose();
  });

  it('keeps the last N checkpoints and the best by validation', async () => {
    const dir = tempDir();
    const { datasets, plugins } = toySetup();
    const trainer = new Trainer({
      ...base(),
      plugins,
      datasets: { map: { train: datasets.map, val: toyDataset('maps-val', 'map', 4, 3, 9) }, vector: datasets.vector },
      schedule: { pretrainEpochs: 1, rounds: 4 },
      checkpoint: { everyRounds: 1, keep: 2 },
      runDir: dir,
    });
    const result = await trainer.fit();
    trainer.dispose();
    const names = readdirSync(join(dir, 'checkpoints')).sort();
    expect(names).toEqual(['best', 'step-00000014', 'step-00000016']);
    expect(result.validation?.map.primary.name).toBe('pixelAccuracy');
    // the map task's pixel accuracy on its validation set changes as it learns (0.340, 0.358, 0.400, 0.423
    // at steps 10-16 here): the best is the highest figure the log holds, not the first validated checkpoint
    const figures = readFileSync(join(dir, 'validation.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; report: { map: MetricReport } })
      .map((v) => ({ step: v.step, value: v.report.map.primary.value }));
    expect(figures.map((f) => f.step)).toEqual([10, 12, 14, 16]);
    expect(new Set(figures.map((f) => f.value)).size).toBeGreaterThan(1);
    const highest = figures.reduce((a, b) => (b.value > a.value ? b : a));
    expect(highest.step).not.toBe(10);
    const state = JSON.parse(readFileSync(join(dir, 'checkpoints', 'step-00000016', 'state.json'), 'utf8'));
    expect(state.best).toEqual({ score: highest.value, step: highest.step });
    const best = JSON.parse(readFileSync(join(dir, 'checkpoints', 'best', 'state.json'), 'utf8'));
    expect(best.step).toBe(highest.step);
    expect(best.validation.map.primary.value).toBe(highest.value);
  });

  it('SIGINT finishes the step, writes a checkpoint and returns interrupted', async () => {
    const dir = tempDir();
    const trainer = new Trainer({
      ...base(),
      runDir: dir,
      handleSignals: true,
      hooks: [{ afterStep: (t) => void (t.step === 5 && process.emit('SIGINT')) }],
    });
    const result = await trainer.fit();
    trainer.dispose();
    expect(result.status).toBe('interrupted');
    expect(result.steps).toBe(5);
    expect(readdirSync(join(dir, 'checkpoints'))).toContain('step-00000005');
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('a NaN loss stops the run naming step and task, keeping the last good checkpoint', async () => {
    const dir = tempDir();
    const good = mapTask('map', 3);
    let calls = 0;
    const bad: TaskPlugin = { ...good, loss: (raw, t, m) => (++calls > 4 ? tf.scalar(Number.NaN) : good.loss(raw, t, m)) };
    const { datasets } = toySetup();
    const trainer = new Trainer({ ...base(), plugins: [bad, toySetup().plugins[1]], datasets, runDir: dir });
    const err = await trainer.fit().catch((e: unknown) => e);
    trainer.dispose();
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/task "map" is not finite at step \d+/);
    expect(readdirSync(join(dir, 'checkpoints')).filter((n) => n.startsWith('step-')).length).toBeGreaterThan(0);
  });
});

describe('hook order (issue 16: checkpoints and validation are a built-in hook, after the user\'s)', () => {
  it("a user's afterEpoch and afterTrain run before the checkpoint or model they end with; afterRun finds it written", async () => {
    const seen: string[] = [];
    const run = async (dir: string, stopAt?: number) => {
      const written = () => [...(existsSync(join(dir, 'checkpoints')) ? readdirSync(join(dir, 'checkpoints')).filter((n) => n.startsWith('step-')) : []), ...(existsSync(join(dir, 'model')) ? ['model'] : [])].join(' ');
      const trainer = new Trainer({
        ...base(),
        schedule: { pretrainEpochs: 1, rounds: 0 },
        runDir: dir,
        hooks: [
          {
            afterStep: (t) => void (t.step === stopAt && t.stop()),
            afterEpoch: (t) => void seen.push(`afterEpoch ${t.step}: ${written()}`),
            afterTrain: (t) => void seen.push(`afterTrain ${t.step}: ${written()}`),
            afterRun: (t) => void seen.push(`afterRun ${t.step}: ${written()}`),
          },
        ],
      });
      await trainer.fit();
      trainer.dispose();
    };
    // 3 steps of maps, 5 of vectors: a checkpoint at the end of each epoch, the model at the end
    await run(tempDir());
    expect(seen.splice(0)).toEqual(['afterEpoch 3: ', 'afterEpoch 8: step-00000003', 'afterTrain 8: step-00000003 step-00000008', 'afterRun 8: step-00000003 step-00000008 model']);
    await run(tempDir(), 5);
    expect(seen).toEqual(['afterEpoch 3: ', 'afterTrain 5: step-00000003', 'afterRun 5: step-00000003 step-00000005']);
  });
});

describe('configuration errors name the field', () => {
  const cases: [string, (o: TrainerOptions) => TrainerOptions, RegExp][] = [
    ['unknown task', (o) => ({ ...o, datasets: { ...o.datasets, poses: o.datasets.map } }), /^datasets\.poses: unknown task "poses"/],
    ['task without data', (o) => ({ ...o, datasets: { map: o.datasets.map } }), /^datasets\.vector: no data/],
    ['empty data set', (o) => ({ ...o, datasets: { ...o.datasets, vector: { name: 'e', tasks: ['vector'], samples: [] } } }), /^datasets\.vector: data set "e" has no samples/],
    ['bad rounds', (o) => ({ ...o, schedule: { rounds: -1 } }), /^schedule\.rounds: must be an integer from 0/],
    ['bad batch size', (o) => ({ ...o, batchSize: { map: 0 } }), /^batchSize\.map: must be an integer from 1/],
    ['bad learning rate', (o) => ({ ...o, schedule: { finetuneLr: { type: 'exponential', from: 1e-3, to: 0 } } }), /^schedule\.finetuneLr\.to: must be a finite number > 0/],
    ['bad iterations', (o) => ({ ...o, network: { iterations: 1.5 } }), /^network\.iterations: must be an integer/],
    ['bad preset', (o) => ({ ...o, network: { backbone: 'huge' as never } }), /^network\.backbone: unknown backbone preset "huge"/],
    ['bad augmentation', (o) => ({ ...o, augment: { geometry: { scale: [1.2, 0.8] } } }), /^augment\.geometry\.scale\[1\]: must be a finite number >= 1.2/],
    ['colour of an unknown batch-norm key', (o) => ({ ...o, network: { colour: { vector: 'grey', vectr: 'grey' } } }), /^network\.colour\.vectr: unknown batch-norm key "vectr": the network's keys are map, vector$/],
    ['bad colour of a key', (o) => ({ ...o, network: { colour: { vector: 'gray' as 'grey' } } }), /^network\.colour\.vector: must be "rgb" or "grey", got "gray"$/],
  ];
  it.each(cases)('%s', (_name, edit, message) => {
    let error: unknown;
    try {
      new Trainer(edit(base())).dispose();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});
