import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Trainer } from '../src/index';
import { RUN_FILES } from '../src/trainer';
import { vectorTask } from './dummy-plugins';
import { tempDir, toyDataset, useBackend } from './helpers';

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
    expect(lines.map((l) => l.step)).toEqual([4, 8, 12]);
    for (const [i, l] of lines.entries()) {
      expect(l.report.vector.primary.value).toBeGreaterThanOrEqual(0);
      expect(l.cpuSeconds).toBeGreaterThan(0);
      expect(l.seconds).toBeGreaterThan(0);
      if (i > 0) expect(l.cpuSeconds).toBeGreaterThan(lines[i - 1].cpuSeconds);
    }
  });
});
