import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { IntegratedNetwork, type InferenceOptions, type LabelTransform, type MetricReport, type TaskPlugin } from '@ifan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli';
import { runDemo } from '../src/demo';
import { buildTables, evaluate, resultsToMarkdown, type EvaluationResult } from '../src/index';
import { ProgressReporter } from '../src/progress';
import { mapTask, vectorTask } from './dummy-plugins';
import { tempDir, toyDataset, useBackend } from './helpers';

beforeAll(useBackend);

/** A vector task whose metric counts correct answers and records the transforms it was given. */
function spyTask(seen: LabelTransform[][]): TaskPlugin {
  const base = vectorTask('vector', 4);
  return {
    ...base,
    decodeOutput: async (prediction, size, transforms) => {
      seen.push(transforms ?? []);
      return base.decodeOutput(prediction, size, transforms);
    },
    createMetric: () => {
      let right = 0;
      let n = 0;
      return {
        update: (outputs: unknown[], labels: unknown[]) => {
          outputs.forEach((o, i) => (right += o === labels[i] ? 1 : 0));
          n += outputs.length;
        },
        report: (): MetricReport => ({ primary: { name: 'accuracy', value: right / n, higherIsBetter: true }, values: { accuracy: right / n, images: n } }),
        reset: () => undefined,
      };
    },
  };
}

describe('evaluate', () => {
  it('scores every iteration from one forward pass, with the crop transforms, and leaks nothing', async () => {
    const seen: LabelTransform[][] = [];
    const net = new IntegratedNetwork([mapTask('map', 3), spyTask(seen)], { backbone: 'tiny', iterations: 2 });
    const data = toyDataset('v', 'vector', 10, 4, 3, 48);
    const before = tf.memory().numTensors;
    const result = await evaluate(net, { vector: data }, { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.iterations).toBe(2);
    expect(result.tasks.vector.images).toBe(10);
    expect(result.tasks.vector.reports).toHaveLength(3);
    expect(result.tasks.vector.bnKey).toBe('vector');
    // 3 batches x 3 iterations; each gets the batch's transforms (48 px images -> 32 px input)
    expect(seen.map((t) => t.length)).toEqual([4, 4, 4, 4, 4, 4, 2, 2, 2]);
    expect(seen[0][0].affine[0]).toBeCloseTo(32 / 48);
    net.dispose();
  });

  it("goes through the network's inference path (net.predictIterations, that of net.predict and ifan predict), one task and its key at a time", async () => {
    const net = new IntegratedNetwork([mapTask('map', 3), vectorTask('vector', 4)], { backbone: 'tiny', iterations: 1 });
    const calls: InferenceOptions[] = [];
    const predictIterations = net.predictIterations.bind(net);
    net.predictIterations = (x, opts = {}) => (calls.push(opts), predictIterations(x, opts));
    const result = await evaluate(net, { vector: toyDataset('v', 'vector', 6, 4, 3), map: toyDataset('m', 'map', 3, 3, 4) }, { batchSize: 4 });
    expect(calls.map((c) => [c.tasks, c.bnKey, c.iterations, c.transforms?.length])).toEqual([
      [['vector'], 'vector', 1, 4],
      [['vector'], 'vector', 1, 2],
      [['map'], 'map', 1, 3],
    ]);
    expect(result.tasks.map.reports).toHaveLength(2);
    net.dispose();
  });
});

describe('tables', () => {
  const report = (nme: Record<string, number>, acc: number): MetricReport => ({
    primary: { name: 'meanNME', value: Object.values(nme).reduce((a, b) => a + b) / 2, higherIsBetter: false },
    values: { perPointNME: nme, faces: 100, acc },
  });
  const single: EvaluationResult = { iterations: 0, tasks: { landmarks: { task: 'landmarks', dataset: 'm', images: 100, bnKey: 'landmarks', reports: [report({ eye: 0.1, nose: 0.12 }, 0.5)] } } };
  const ifan: EvaluationResult = {
    iterations: 1,
    tasks: {
      landmarks: { task: 'landmarks', dataset: 'm', images: 100, bnKey: 'landmarks', reports: [report({ eye: 0.08, nose: 0.1 }, 0.6), report({ eye: 0.07, nose: 0.09 }, 0.61)] },
      emotion: {
        task: 'emotion',
        dataset: 'f',
        images: 50,
        bnKey: 'emotion',
        reports: [0.4, 0.45].map((v) => ({ primary: { name: 'accuracy', value: v, higherIsBetter: true }, values: { accuracy: v } })),
      },
    },
  };

  it('builds per-class, summary and per-iteration tables from metric reports', () => {
    const tables = buildTables([
      { label: 'Single Task', result: single },
      { label: 'iFAN', result: ifan },
    ]);
    expect(tables.map((t) => t.title)).toEqual(['landmarks: perPointNME', 'landmarks: summary', 'emotion: summary', 'primary figure over interaction iterations']);
    expect(tables[0].columns).toEqual(['eye', 'nose']);
    expect(tables[0].rows.map((r) => r.label)).toEqual(['Single Task', 'iFAN Iter0', 'iFAN Iter1']);
    expect(tables[3].rows.map((r) => r.cells)).toEqual([
      [0.11, null],
      [0.09, 0.4],
      [0.08, 0.45],
    ]);
  });

  it('prints Markdown with counts as integers and missing cells as -', () => {
    const md = resultsToMarkdown([
      { label: 'Single Task', result: single },
      { label: 'iFAN', result: ifan },
    ]);
    expect(md).toContain('| Single Task | 0.1000 | 0.1200 |');
    expect(md).toContain('| iFAN Iter1 | 0.0800 | 100 | 0.6100 |');
    expect(md).toMatch(/\| Single Task \| 0\.1100 \| - \|/);
    expect(md).toContain('|---|---:|---:|');
  });
});

describe('progress', () => {
  const record = { stage: 'pretrain' as const, step: 3, epoch: 0, source: 'mtfl', tasks: ['landmarks'], losses: {}, total: 0.5, lr: 1e-3, batchSize: 8, imagesPerSec: 40, ms: 200 };
  it('redraws a bar on a terminal', () => {
    let out = '';
    const p = new ProgressReporter({ stream: { isTTY: true, columns: 120, write: (s: string) => (out += s) } });
    p.begin('stage 1', 0, 10);
    p.update(4, 10, record);
    p.finish();
    expect(out).toMatch(/\r\x1b\[2K\[#+\.+\] stage 1 4\/10 mtfl loss 0\.5000 lr 1\.0e-3 40\.0 img\/s left \d+s\n$/);
  });
  it('writes plain lines elsewhere', () => {
    let out = '';
    const p = new ProgressReporter({ stream: { write: (s: string) => (out += s) }, interval: 0 });
    p.begin('stage 1', 0, 10);
    p.update(10, 10, record);
    expect(out.split('\n').filter(Boolean)).toEqual(['stage 1: 0/10 steps', expect.stringMatching(/^stage 1 10\/10 mtfl loss 0\.5000/)]);
  });
});

describe('demo', () => {
  it('trains single-task baselines and the integrated network on synthetic data sets, prints the tables, draws overlays', async () => {
    const out = tempDir();
    const r = await runDemo({ outDir: out, faces: 12, testFaces: 4, pretrainEpochs: 1, rounds: 1, iterations: 1, progress: false });
    expect(r.markdown).toContain('| Single Task |');
    expect(r.markdown).toContain('| iFAN 3T Iter1 |');
    for (const t of ['parsing', 'landmarks', 'emotion']) expect(r.markdown).toContain(`**${t}: summary**`);
    expect(existsSync(join(out, 'results.md'))).toBe(true);
    expect(existsSync(join(out, 'overlays', 'landmarks-0.overlay.png'))).toBe(true);
    expect(existsSync(join(out, 'demo.png'))).toBe(true);
    // and it ends with the shipped models on the repository's photo of real faces
    expect(r.photo?.faces).toBe(4);
    expect(existsSync(join(out, 'pretrained.jpg'))).toBe(true);
    expect(r.markdown).toContain('**The shipped models on a real photo**');
    // one line per task naming its baselines and each model's margin over them, before the tables
    expect(r.summary.map((l) => l.split(' ')[0])).toEqual(['parsing', 'landmarks', 'emotion']);
    expect(r.summary[2]).toMatch(/^emotion \(accuracy, higher is better\): baselines chance 0\.1429, majority class 0\.\d+;/);
    expect(r.markdown.indexOf(r.summary[0])).toBeLessThan(r.markdown.indexOf('**parsing: fScore**'));
    expect(r.markdown).toContain('| Baseline: majority class |');
    // the parsing plugin is saved with the class weights it was trained with
    const topo = JSON.parse(readFileSync(join(out, 'ifan-3t', 'model', 'model.json'), 'utf8')).modelTopology;
    expect(topo.plugins[0].recipe.args[0].classWeights).toHaveLength(11);
    // the demo's runs say where their data is: `ifan eval --model <run>` evaluates their test sets (issue 17, defect 3)
    let err = '';
    let stdout = '';
    const code = await main(['eval', '--model', join(out, 'ifan-3t')], { stdout: (s) => void (stdout += s), stderr: (s) => void (err += s) });
    expect(err).not.toMatch(/does not say where/);
    expect(code).toBe(0);
    expect(stdout).toContain('| iFAN Iter1 |');
    const evaluated = JSON.parse(readFileSync(join(out, 'ifan-3t', 'model', 'eval.json'), 'utf8'));
    // the same test faces the demo evaluated
    expect(evaluated.tasks.emotion.reports[1].primary.value).toBeCloseTo(r.runs[1].result.tasks.emotion.reports[1].primary.value, 6);
    expect(evaluated.tasks.landmarks.images).toBe(4);
  });

  it('a photo that does not exist is an error before any training', async () => {
    const out = tempDir();
    await expect(runDemo({ outDir: out, photo: '/nonexistent/faces.jpg', progress: false })).rejects.toThrow(
      /^photo: \/nonexistent\/faces\.jpg does not exist: give an image of faces, or no photo \(--no-photo\)$/,
    );
    // nothing was trained or written
    expect(existsSync(join(out, 'single-parsing'))).toBe(false);
    expect(existsSync(join(out, 'results.md'))).toBe(false);
  });

  it('learns: a quick landmarks-only run beats the mean training shape, and the summary says so', async () => {
    const r = await runDemo({ outDir: tempDir(), tasks: ['landmarks'], faces: 160, testFaces: 32, pretrainEpochs: 10, rounds: 0, figure: false, photo: false, progress: false });
    const nme = r.runs[0].result.tasks.landmarks.reports[0].primary.value;
    const meanShape = r.baselines.find((b) => b.label.includes('training mean'))!.result.tasks.landmarks.reports[0].primary.value;
    expect(meanShape).toBeGreaterThan(0.2);
    expect(nme).toBeLessThan(0.9 * meanShape);
    expect(r.summary).toEqual([expect.stringMatching(/^landmarks \(meanNME, lower is better\): baseline training mean 0\.\d+; .*Single Task 0\.\d+ beats it by 0\.\d+ \(\d+% lower\)$/)]);
    expect(r.markdown).toContain('| Baseline: training mean |');
  }, 120_000);
});
