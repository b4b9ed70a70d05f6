import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { IntegratedNetwork, saveNetwork } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { parsingTask } from '@ifan/task-parsing/node';
import { emotionTask } from '@ifan/task-emotion';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/model';
import { tempDir, useBackend } from './helpers';

beforeAll(useBackend);

/** Saves a tiny 2-task network with a 6-class parsing plugin; returns its folder and its output on `x`. */
async function saved(edit?: (topology: Record<string, unknown>) => void): Promise<{ dir: string; out: number[] }> {
  const dir = tempDir();
  const net = new IntegratedNetwork([parsingTask({ labelSet: 'fasseg-6' }), emotionTask()], { backbone: 'tiny', iterations: 1, seed: 3 });
  net.framing = { margin: 0.2, keypointBoxScale: 3 };
  await saveNetwork(net, fileSystemHandler(dir));
  const out = outputOf(net);
  net.dispose();
  if (edit) {
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    edit(json.modelTopology);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  }
  return { dir, out };
}

function outputOf(net: IntegratedNetwork): number[] {
  return tf.tidy(() => Array.from(net.forward(tf.ones([1, 32, 32, 3]), net.context({ bnKey: 'parsing' })).predictions[1].emotion.dataSync()));
}

describe('loadModel', () => {
  it('creates each plugin from the recipe in model.json and restores the framing: no side files', async () => {
    const { dir, out } = await saved();
    const before = tf.memory().numTensors;
    const model = await loadModel(dir);
    expect(model.plugins.map((p) => p.name)).toEqual(['parsing', 'emotion']);
    expect((model.plugins[0].config as { classes: string[] }).classes).toHaveLength(6);
    expect(model.framing).toEqual({ margin: 0.2, keypointBoxScale: 3 });
    expect(model.net.framing).toEqual(model.framing);
    expect(outputOf(model.net)).toEqual(out);
    model.net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('still reads a model saved before model.json held recipes and framing (tasks.json, preprocessing.json)', async () => {
    const { dir, out } = await saved((t) => {
      for (const p of t.plugins as Record<string, unknown>[]) delete p.recipe;
      delete t.framing;
    });
    writeFileSync(join(dir, 'tasks.json'), JSON.stringify({ parsing: { labelSet: 'fasseg-6' } }));
    writeFileSync(join(dir, 'preprocessing.json'), JSON.stringify({ crop: { margin: 0.15 } }));
    const model = await loadModel(dir);
    expect(model.framing).toEqual({ margin: 0.15, keypointBoxScale: 3.2 });
    expect(outputOf(model.net)).toEqual(out);
    model.net.dispose();
  });

  it('says what to do when a plugin has no recipe or its module is not installed', async () => {
    const bare = await saved((t) => void delete (t.plugins as Record<string, unknown>[])[1].recipe);
    await expect(loadModel(bare.dir)).rejects.toThrow(/task "emotion" was saved without a recipe .* loadNetwork/);
    const missing = await saved((t) => void ((t.plugins as { recipe: { module: string } }[])[1].recipe.module = '@nobody/no-such-task'));
    await expect(loadModel(missing.dir)).rejects.toThrow(/task "emotion" cannot be created from its recipe \(@nobody\/no-such-task emotionTask\): cannot find module "@nobody\/no-such-task"/);
  });
});
