import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePng } from '@ifan/core/node';
import { generateFace } from '@ifan/synthetic';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli';
import { tempDir, useBackend } from './helpers';

beforeAll(useBackend);

/** Runs the command in-process; returns its exit code and what it printed. */
async function ifan(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

describe('ifan train, eval, predict, info', () => {
  const run = join(tempDir(), 'run');

  beforeAll(async () => {
    const r = await ifan(
      'train',
      '--task', 'landmarks=synthetic:30',
      '--task', 'emotion=synthetic:30',
      '--preset', 'tiny',
      '--iterations', '1',
      '--epochs', '1',
      '--rounds', '2',
      '--batch-size', '8',
      '--margin', '0.25',
      '--out', run,
      '--quiet',
    );
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
  });

  it('train writes the run directory and prints the tables of the test splits', () => {
    for (const f of ['config.json', 'log.jsonl', 'eval.json', 'model/model.json', 'model/weights.bin', 'model/tasks.json', 'model/preprocessing.json']) {
      expect(existsSync(join(run, f)), f).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect(config.network.iterations).toBe(1);
    expect(config.crop.margin).toBe(0.25);
    expect(config.sources.map((s: { tasks: string[] }) => s.tasks)).toEqual([['landmarks'], ['emotion']]);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log[0]).toMatchObject({ stage: 'pretrain', step: 0, source: 'synthetic-landmarks/train', lr: 1e-3 });
    expect(log[log.length - 1].losses.emotion).toHaveLength(2);
    const evalJson = JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8'));
    expect(evalJson.tasks.landmarks.reports).toHaveLength(2);
  });

  it('eval takes the run test splits, or --task data, and prints per-point and per-iteration tables', async () => {
    const r = await ifan('eval', '--model', run);
    expect(r.code).toBe(0);
    expect(r.out).toContain('**landmarks: perPointNME**');
    expect(r.out).toContain('| iFAN Iter1 |');
    expect(r.out).toContain('**primary figure over interaction iterations**');
    const r2 = await ifan('eval', '--model', join(run, 'model'), '--task', 'emotion=synthetic:12', '--iterations', '0', '--json', join(run, 'e.json'));
    expect(r2.code).toBe(0);
    expect(JSON.parse(readFileSync(join(run, 'e.json'), 'utf8')).tasks.emotion.images).toBe(12);
  });

  it('predict writes JSON in original-image coordinates and an overlay PNG', async () => {
    const dir = tempDir();
    const face = generateFace(5, { size: 80 });
    await writePng(join(dir, 'face.png'), face.image);
    const out = join(dir, 'out');
    const r = await ifan('predict', join(dir, 'face.png'), '--model', run, '--out', out);
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'face.json'), 'utf8'));
    expect(json.width).toBe(80);
    expect(json.outputs.landmarks.points).toHaveLength(5);
    expect(json.outputs.emotion.probabilities).toHaveLength(7);
    expect(existsSync(join(out, 'face.overlay.png'))).toBe(true);
  });

  it('info shows tasks, FLOPs and parameters of a model and of the presets', async () => {
    const r = await ifan('info', run);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/tasks: landmarks .*emotion/);
    expect(r.out).toMatch(/GFLOPs Iter1/);
    const p = await ifan('info', '--preset', 'all');
    expect(p.code).toBe(0);
    for (const preset of ['paper', 'small', 'tiny']) expect(p.out).toMatch(new RegExp(`\\| ${preset} \\| \\d+ \\| [\\d,]+ \\|`));
  });

  it('resume of a finished run changes nothing and succeeds', async () => {
    const r = await ifan('train', '--resume', run, '--quiet');
    expect(r.code).toBe(0);
  });
});

describe('bad input is refused before training, naming the field, exit code 2', () => {
  const dir = tempDir();
  const configFile = (c: unknown) => {
    const f = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(f, JSON.stringify(c));
    return f;
  };
  const cases: [string, string[], RegExp][] = [
    ['unknown task', ['train', '--task', 'poses=synthetic:10'], /--task poses: unknown task "poses": known tasks are parsing, landmarks, emotion/],
    ['missing path', ['train', '--task', 'landmarks=mtfl:/no/such/dir'], /tasks\.landmarks\.train\.path: \/no\/such\/dir does not exist/],
    ['unknown format', ['train', '--task', 'landmarks=xyz:/tmp'], /tasks\.landmarks\.train\.format: task landmarks reads mtfl, pts, csv, synthetic, not "xyz"/],
    ['bad number', ['train', '--task', 'emotion=synthetic:10', '--rounds', 'many'], /--rounds: must be an integer from 0, got "many"/],
    ['bad preset', ['train', '--task', 'emotion=synthetic:10', '--preset', 'huge'], /--preset: unknown preset "huge"/],
    ['unknown flag', ['train', '--task', 'emotion=synthetic:10', '--bogus'], /Unknown option '--bogus'[\s\S]*usage: ifan train/],
    ['no data', ['train'], /give --config FILE or at least one --task/],
    ['unknown setting in a config file', ['train', '--config', configFile({ tasks: { emotion: { train: 'synthetic:10' } }, epochz: 3 })], /epochz: unknown setting/],
    ['bad number in a config file', ['train', '--config', configFile({ tasks: { emotion: { train: 'synthetic:10' } }, schedule: { rounds: -1 } })], /schedule\.rounds: must be an integer from 0/],
    ['empty data set', ['train', '--config', configFile({ tasks: { emotion: { train: 'synthetic:10' } }, valFraction: 0.9, testFraction: 0.9 })], /tasks\.emotion\.train: data set .* has no samples/],
    ['missing config file', ['train', '--config', '/no/such.json'], /--config: \/no\/such\.json does not exist/],
    ['eval without a model', ['eval'], /--model DIR is required/],
    ['unknown command', ['fly'], /unknown command "fly"/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await ifan(...args);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('an empty image folder for predict', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const r = await ifan('predict', empty, '--model', dir);
    expect(r.err).toMatch(/holds no images/);
    expect(r.code).toBe(2);
  });
});
