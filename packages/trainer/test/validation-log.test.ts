import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNetwork } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { Trainer } from '../src/index';
import { RUN_FILES } from '../src/trainer';
import { mapTask, vectorTask } from './dummy-plugins';
import { changedNames, snapshot, tempDir, toyDataset, useBackend } from './helpers';

beforeAll(useBackend);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('validation log', () => {
  it('with validateEpochs, validates after every stage-1 epoch and logs training and CPU seconds', async () => {
    const runDir = tempDir();
    dirs.push(runDir);
    const trainer = new Trainer({
      plugins: [vectorTask('vector', 4)],
      datasets: { vector: { train: toyDataset('vectors', 'vector', 16, 4, 2), val: toyDataset('vectors-val', 'vector', 8, 4, 3) } },
      network: { backbone: 'tiny', iterations: 0, seed: 3 },
      batchSize: 4,
      augment: false,
      schedule: { pretrainEpochs: 3, rounds: 0 },
      checkpoint: { validateEpochs: true },
      runDir,
      progress: false,
      workers: 0,
    });
    await trainer.fit();
    trainer.dispose();
    const lines = readFileSync(join(runDir, RUN_FILES.validationLog), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.step, l.stage])).toEqual([[4, 'pretrain'], [8, 'pretrain'], [12, 'pretrain']]);
    for (const [i, l] of lines.entries()) {
      expect(l.report.vector.primary.value).toBeGreaterThanOrEqual(0);
      expect(l.cpuSeconds).toBeGreaterThan(0);
      expect(l.seconds).toBeGreaterThan(0);
      if (i > 0) expect(l.cpuSeconds).toBeGreaterThan(lines[i - 1].cpuSeconds);
    }
  });

  it('keeps the model at the end of each source\'s pre-training, with its step, and logs each validation\'s stage', async () => {
    const runDir = tempDir();
    dirs.push(runDir);
    const plugins = [vectorTask('vector', 4), mapTask('map', 2)];
    // the weights at the end of each source's pre-training: vectors 2 epochs x 3 steps, then maps 2 x 2
    const atEnd = new Map<number, Map<string, Float32Array>>();
    const trainer = new Trainer({
      plugins,
      datasets: {
        vector: { train: toyDataset('vectors', 'vector', 12, 4, 2), val: toyDataset('vectors-val', 'vector', 8, 4, 3) },
        map: { train: toyDataset('maps', 'map', 8, 2, 4) },
      },
      network: { backbone: 'tiny', iterations: 1, seed: 3 },
      batchSize: 4,
      augment: false,
      schedule: { pretrainEpochs: 2, rounds: 3 },
      checkpoint: { everyRounds: 2 },
      runDir,
      progress: false,
      workers: 0,
      hooks: [{ afterStep: (t) => void ((t.step === 6 || t.step === 10) && atEnd.set(t.step, snapshot(trainer.net.params.variables))) }],
    });
    await trainer.fit();
    trainer.dispose();
    const stage1 = join(runDir, RUN_FILES.stageEnds);
    expect(readdirSync(stage1).sort()).toEqual(['after-source-0', 'after-source-1']);
    for (const [k, step, source] of [[0, 6, 'vectors'], [1, 10, 'maps']] as const) {
      const dir = join(stage1, `after-source-${k}`);
      const end = JSON.parse(readFileSync(join(dir, 'stage-end.json'), 'utf8'));
      expect([end.step, end.source]).toEqual([step, source]);
      expect(end.cpuSeconds).toBeGreaterThan(0);
      const net = await loadNetwork(fileSystemHandler(dir), plugins);
      expect(changedNames(snapshot(net.params.variables), atEnd.get(step)!)).toEqual([]);
      net.dispose();
    }
    const lines = readFileSync(join(runDir, RUN_FILES.validationLog), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.step, l.stage])).toEqual([[14, 'finetune'], [16, 'finetune']]);
  });
});
