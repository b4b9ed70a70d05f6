import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@ifan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRETRAINED, loadPretrained as loadInBrowser, PRETRAINED, pretrainedInfo } from '../src/index';
import { BUILT_IN_TASKS } from '../src/load';
import { loadPretrained, pretrainedDir } from '../src/node';
import { recordOutputs, type RecordedOutputs } from './expected';

const MODELS = join(dirname(fileURLToPath(import.meta.url)), '..', 'models');
/** What the package may weigh (issue 13): its shipped files. */
const BUDGET_BYTES = 10 * 1024 * 1024;

beforeAll(async () => {
  await selectBackend({ log: false });
});

/** Each task's outputs within tolerance: 0.01 px for points, 1e-3 for probabilities, 0.5% of pixels moved between parsing classes. */
function expectClose(got: RecordedOutputs, want: RecordedOutputs): void {
  expect(got.faces.map((f) => f.image)).toEqual(want.faces.map((f) => f.image));
  got.faces.forEach((g, i) => {
    const w = want.faces[i];
    expect(Object.keys(g).sort()).toEqual(Object.keys(w).sort());
    g.landmarks?.forEach((p, j) => expect(Math.hypot(p[0] - w.landmarks![j][0], p[1] - w.landmarks![j][1])).toBeLessThan(0.01));
    g.emotion?.forEach((p, j) => expect(Math.abs(p - w.emotion![j])).toBeLessThan(1e-3));
    if (g.parsingHistogram) {
      const total = w.parsingHistogram!.reduce((a, v) => a + v, 0);
      const moved = g.parsingHistogram.reduce((a, v, j) => a + Math.abs(v - w.parsingHistogram![j]), 0) / 2;
      expect(moved / total).toBeLessThan(0.005);
    }
  });
}

describe('@ifan/models', () => {
  it('ships the integrated 3-task network as the default and the three single-task models', () => {
    const byName = new Map(PRETRAINED.map((m) => [m.name, m]));
    expect(DEFAULT_PRETRAINED).toBe('ifan-3t');
    expect([...byName.get('ifan-3t')!.tasks].sort()).toEqual(['emotion', 'landmarks', 'parsing']);
    for (const task of ['landmarks', 'parsing', 'emotion']) expect(byName.get(task)?.tasks, task).toEqual([task]);
    for (const m of PRETRAINED) {
      expect(m.figures, m.name).toBeTruthy();
      expect(Object.keys(m.figures).sort(), m.name).toEqual([...m.tasks].sort());
      expect(m.cpuHours, m.name).toBeGreaterThan(0);
    }
  });

  it('stays within its size budget', () => {
    const walk = (d: string): number => readdirSync(d).reduce((a, f) => a + (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : statSync(join(d, f)).size), 0);
    const bytes = walk(MODELS);
    expect(bytes).toBeLessThan(BUDGET_BYTES);
    for (const m of PRETRAINED) expect(m.bytes, m.name).toBe(['model.json', 'weights.bin'].reduce((a, f) => a + statSync(join(pretrainedDir(m.name), f)).size, 0));
  });

  for (const info of PRETRAINED) {
    it(`${info.name}: loads from the installed files and predicts what it predicted when it was shipped`, async () => {
      const before = tf.memory().numTensors;
      const model = await loadPretrained(info.name);
      expect(model.plugins.map((p) => p.name)).toEqual(info.tasks);
      expect(model.net.inputSize).toBe(info.inputSize);
      expect(model.framing).toEqual(model.net.framing);
      const want = JSON.parse(readFileSync(join(pretrainedDir(info.name), 'expected.json'), 'utf8')) as RecordedOutputs;
      expectClose(await recordOutputs(model.net), want);
      model.net.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });

    it(`${info.name}: loads through an in-memory handler as in a browser, with the same predictions`, async () => {
      const dir = pretrainedDir(info.name);
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
      const weights = readFileSync(join(dir, 'weights.bin'));
      const handler = tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      });
      const model = await loadInBrowser(info.name, { from: handler });
      const want = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as RecordedOutputs;
      expectClose(await recordOutputs(model.net), want);
      model.net.dispose();
    });
  }

  it('one table of built-in tasks, which loading and scripts/add-model.ts both use: each factory makes the task of its name, whose saved recipe names that export', () => {
    for (const [name, task] of Object.entries(BUILT_IN_TASKS)) {
      const plugin = task.create({});
      expect(plugin.name).toBe(name);
      expect(plugin.recipe?.export).toBe(task.export);
    }
    const script = readFileSync(join(MODELS, '..', 'scripts', 'add-model.ts'), 'utf8');
    expect(script).toContain('BUILT_IN_TASKS[');
    expect(script).not.toMatch(/from '@ifan\/task-/);
  });

  it('says what is shipped for an unknown name, and what a browser must pass', async () => {
    expect(() => pretrainedInfo('nope')).toThrow(/no pretrained model "nope"; shipped: .*landmarks/);
    await expect(loadPretrained('nope')).rejects.toThrow(/shipped:/);
    await expect(loadInBrowser(PRETRAINED[0].name, undefined as never)).rejects.toThrow(/pass \{ from: URL of its model\.json \}.*@ifan\/models\/node/);
  });
});
