import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePng } from '@ifan/core/node';
import { generateFace } from '@ifan/synthetic';
import { FASSEG_6 } from '@ifan/task-parsing';
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
    for (const f of ['config.json', 'log.jsonl', 'eval.json', 'model/model.json', 'model/weights.bin']) {
      expect(existsSync(join(run, f)), f).toBe(true);
    }
    // model.json is the whole model: each task's recipe and the framing of training (no side files)
    for (const f of ['model/tasks.json', 'model/preprocessing.json']) expect(existsSync(join(run, f)), f).toBe(false);
    const topo = JSON.parse(readFileSync(join(run, 'model', 'model.json'), 'utf8')).modelTopology;
    expect(topo.framing).toEqual({ margin: 0.25, keypointBoxScale: 3.2 });
    expect(topo.plugins.map((p: { recipe: { module: string; export: string } }) => `${p.recipe.module} ${p.recipe.export}`)).toEqual([
      '@ifan/task-landmarks/node landmarkTask',
      '@ifan/task-emotion/node emotionTask',
    ]);
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

  it('eval runs a pretrained model of @ifan/models on --task files (its browser-side plugins made with their Node entries), with --mirror', async () => {
    // a folder-per-class set of FER's layout: 2 faces in each of 2 classes
    const dir = join(tempDir(), 'fer-like');
    for (const [k, cls] of ['happy', 'sad'].entries()) {
      mkdirSync(join(dir, cls), { recursive: true });
      for (let i = 0; i < 2; i++) await writePng(join(dir, cls, `${i}.png`), generateFace(20 + 2 * k + i, { size: 48 }).image);
    }
    const json = join(dir, 'plain.json');
    const r = await ifan('eval', '--model', 'emotion', '--task', `emotion=folders:${dir}`, '--json', json);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const plain = JSON.parse(readFileSync(json, 'utf8'));
    expect(plain.tasks.emotion.images).toBe(4);
    expect(plain.mirror).toBe(false);
    const r2 = await ifan('eval', '--model', 'emotion', '--task', `emotion=folders:${dir}`, '--mirror', '--json', join(dir, 'mirror.json'));
    expect(r2.code).toBe(0);
    const mirrored = JSON.parse(readFileSync(join(dir, 'mirror.json'), 'utf8'));
    expect(mirrored.mirror).toBe(true);
    expect(mirrored.tasks.emotion.images).toBe(4);
  });

  it('predict --no-detect writes JSON in original-image coordinates and an overlay PNG', async () => {
    const dir = tempDir();
    const face = generateFace(5, { size: 80 });
    await writePng(join(dir, 'face.png'), face.image);
    const out = join(dir, 'out');
    // --no-detect: the image is the face (whole photos: test/faces.test.ts)
    const r = await ifan('predict', join(dir, 'face.png'), '--model', run, '--out', out, '--no-detect');
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'face.json'), 'utf8'));
    expect(json.width).toBe(80);
    expect(json.outputs.landmarks.points).toHaveLength(5);
    expect(json.outputs.emotion.probabilities).toHaveLength(7);
    expect(existsSync(join(out, 'face.overlay.png'))).toBe(true);
    // --mirror: the mean of the face's and its mirror image's predictions, in the same coordinates
    const r2 = await ifan('predict', join(dir, 'face.png'), '--model', run, '--out', join(dir, 'mirrored'), '--no-detect', '--mirror');
    expect(r2.code).toBe(0);
    const mirrored = JSON.parse(readFileSync(join(dir, 'mirrored', 'face.json'), 'utf8'));
    expect(mirrored.outputs.landmarks.points).toHaveLength(5);
    expect(mirrored.outputs.emotion.probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
    expect(mirrored.outputs.emotion.probabilities).not.toEqual(json.outputs.emotion.probabilities);
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
    ['unknown flag', ['train', '--task', 'emotion=synthetic:10', '--bogus'], /unknown option '--bogus'[\s\S]*Usage: ifan train/],
    ['no data', ['train'], /give --config FILE or at least one --task/],
    ['unknown setting in a config file', ['train', '--config', configFile({ tasks: { emotion: { train: 'synthetic:10' } }, epochz: 3 })], /epochz: unknown setting/],
    ['bad number in a config file', ['train', '--config', configFile({ tasks: { emotion: { train: 'synthetic:10' } }, schedule: { rounds: -1 } })], /schedule\.rounds: must be an integer from 0/],
    ['empty data set', ['train', '--config', configFile({ tasks: { emotion: { train: 'synthetic:10' } }, valFraction: 0.9, testFraction: 0.9 })], /tasks\.emotion\.train: data set .* has no samples/],
    ['missing config file', ['train', '--config', '/no/such.json'], /--config: \/no\/such\.json does not exist/],
    ['no split after #', ['train', '--task', 'landmarks=mtfl:/tmp#'], /tasks\.landmarks\.train: "mtfl:\/tmp#" has no split after "#"/],
    ['a split of synthetic data', ['train', '--task', 'emotion=synthetic:10#test'], /synthetic data has no splits/],
    ['bad --on-error', ['train', '--task', 'emotion=synthetic:10', '--on-error', 'ignore'], /--on-error: must be error or skip, got "ignore"/],
    ['bad onError in a config file', ['train', '--config', configFile({ tasks: { emotion: { train: 'synthetic:10' } }, onError: 'maybe' })], /onError: must be "error" or "skip"/],
    ['bad --option', ['train', '--task', 'emotion=synthetic:10', '--option', 'dropout'], /--option dropout: expected TASK\.KEY=VALUE/],
    ['--option of a task not trained', ['train', '--task', 'emotion=synthetic:10', '--option', 'parsing.labelSet=fasseg-6'], /task parsing is not being trained/],
    ['eval of a model without test data', ['eval'], /is not a run directory, so it does not say where its test data is: give --task/],
    ['a model to start from that is nowhere', ['train', '--task', 'emotion=synthetic:10', '--preset', 'tiny', '--init', '/no/such/model', '--out', join(dir, 'init-run'), '--quiet'], /init: no model at \/no\/such\/model, and no pretrained model named "\/no\/such\/model" \(shipped: ifan-3t, /],
    ['unknown command', ['fly'], /unknown command "fly"/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await ifan(...args);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('--resume takes no other settings', async () => {
    const r = await ifan('train', '--resume', dir, '--rounds', '3', '--no-augment', '--quiet');
    expect(r.err).toMatch(/--resume continues a run with its own config\.json; drop --rounds, --no-augment\n/);
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

describe('help', () => {
  it('each command\'s help is written from its options; ifan alone lists the commands', async () => {
    for (const [command, flags] of [
      ['train', ['--config', '--task', '--val', '--test', '--option', '--on-error', '--limit-input-pixels', '--preset', '--iterations', '--reencoder', '--shared-bn', '--epochs', '--rounds', '--batch-size', '--no-augment', '--margin', '--seed', '--threads', '--out', '--resume', '--quiet']],
      ['eval', ['--model', '--task', '--iterations', '--batch-size', '--json', '--on-error', '--limit-input-pixels']],
      ['predict', ['--model', '--out', '--iterations', '--bn-key', '--on-error', '--limit-input-pixels', '--box', '--boxes', '--no-detect', '--max-faces', '--min-score', '--align']],
      ['info', ['--preset', '--iterations']],
      ['demo', ['--out', '--faces', '--epochs', '--rounds', '--preset', '--quiet']],
    ] as const) {
      const r = await ifan(command, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: ifan ${command} `));
      for (const flag of flags) expect(r.out, `${command} ${flag}`).toMatch(new RegExp(`^ {2}${flag}\\b`, 'm'));
    }
    const bare = await ifan();
    expect(bare.code).toBe(2);
    for (const command of ['train', 'eval', 'predict', 'info', 'demo']) expect(bare.out).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
    expect(bare.out).toMatch(/Tasks: parsing, landmarks, emotion/);
    expect((await ifan('help')).code).toBe(0);
  });
});

/** A FASSEG layout of synthetic faces: `Train_RGB` / `Train_Labels` (colour masks), and `Test_*`. */
async function writeFasseg(root: string, train: number, test: number): Promise<void> {
  // Helen's classes -> FASSEG's (brows count as hair, lips and inner mouth as mouth)
  const toFasseg = [0, 2, 1, 1, 3, 3, 4, 5, 5, 5, 1];
  for (const [prefix, count, seed0] of [['Train', train, 1], ['Test', test, 100]] as const) {
    mkdirSync(join(root, `${prefix}_RGB`), { recursive: true });
    mkdirSync(join(root, `${prefix}_Labels`), { recursive: true });
    for (let i = 0; i < count; i++) {
      const face = generateFace(seed0 + i, { size: 40, tasks: ['parsing'] });
      const m = face.labels.parsing!.mask;
      const data = new Uint8Array(m.width * m.height * 3);
      for (let p = 0; p < m.data.length; p++) data.set(FASSEG_6.colors[toFasseg[m.data[p]]], 3 * p);
      await writePng(join(root, `${prefix}_RGB`, `${i + 1}.png`), face.image);
      await writePng(join(root, `${prefix}_Labels`, `${i + 1}.png`), { width: m.width, height: m.height, channels: 3, data });
    }
  }
}

describe('issue 17: the command line a new user meets', () => {
  const dir = tempDir();
  const fasseg = join(dir, 'fasseg');
  const run = join(dir, 'fasseg-run');
  let trained: { code: number; out: string; err: string };

  beforeAll(async () => {
    await writeFasseg(fasseg, 7, 2);
    // one photo of the training split is damaged
    writeFileSync(join(fasseg, 'Train_RGB', '7.png'), readFileSync(join(fasseg, 'Train_RGB', '6.png')).subarray(0, 60));
    trained = await ifan(
      'train',
      '--task', `parsing=fasseg:${fasseg}`,
      '--test', `parsing=fasseg:${fasseg}#test`,
      '--on-error', 'skip',
      '--preset', 'tiny', '--iterations', '0', '--epochs', '1', '--rounds', '1', '--batch-size', '4',
      '--out', run, '--quiet',
    );
  });

  it('trains parsing on FASSEG from the command line in its own label set (defect 1)', async () => {
    expect(trained.err).not.toMatch(/helen-11/);
    expect(trained.code).toBe(0);
    const topo = JSON.parse(readFileSync(join(run, 'model', 'model.json'), 'utf8')).modelTopology;
    expect(topo.plugins[0].recipe.args).toEqual([{ labelSet: 'fasseg-6' }]);
    // the saved model loads again with its 6 classes
    const e = await ifan('eval', '--model', run, '--task', `parsing=fasseg:${fasseg}#test`, '--json', join(dir, 'fasseg-eval.json'));
    // progress lines, then where the results are: nothing else (no warning)
    const escaped = join(dir, 'fasseg-eval.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(e.err).toMatch(new RegExp(`^(ifan eval:? \\d+/\\d+ images.*\\n)+ifan eval: [\\d.]+ s; results in ${escaped}\\n$`));
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/\| eyes \|/);
  });

  it('reads the split a task spec names, FORMAT:PATH#SPLIT (defect 9)', () => {
    const evalJson = JSON.parse(readFileSync(join(run, 'eval.json'), 'utf8'));
    expect(evalJson.tasks.parsing.dataset).toBe('fasseg/test');
    expect(evalJson.tasks.parsing.images).toBe(2);
  });

  it('--on-error skip leaves a bad image out, counts and lists it, and saves the list in the run (defect 2)', () => {
    expect(trained.err).toMatch(/ifan train: skipped 1 file \(all in .*skipped\.json\):\n {2}.*Train_RGB\/7\.png: corrupt image/);
    const skipped = JSON.parse(readFileSync(join(run, 'skipped.json'), 'utf8'));
    expect(skipped).toEqual([expect.objectContaining({ task: 'parsing', split: 'train', file: join(fasseg, 'Train_RGB', '7.png') })]);
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).meta.run.onError).toBe('skip');
  });

  it('a bad test image after training says where the model is and how to evaluate it (defect 2)', async () => {
    const data = join(dir, 'fasseg-bad-test');
    await writeFasseg(data, 4, 2);
    writeFileSync(join(data, 'Test_RGB', '2.png'), 'damaged');
    const out = join(dir, 'bad-test-run');
    const r = await ifan(
      'train', '--task', `parsing=fasseg:${data}`, '--test', `parsing=fasseg:${data}#test`, '--val', `parsing=fasseg:${data}`,
      '--preset', 'tiny', '--iterations', '0', '--epochs', '1', '--rounds', '0', '--batch-size', '4', '--out', out, '--quiet',
    );
    expect(r.err).toContain(`Test_RGB/2.png: not an image`);
    expect(r.err).toContain(`the model is saved in ${join(out, 'model')}; fix or remove the file (or train with --on-error skip) and evaluate with: ifan eval --model ${out}`);
    expect(r.code).toBe(1);
  });

  it('says how to name the classes of indexed masks, and refuses data in two label sets (defect 1)', async () => {
    const indexed = join(dir, 'indexed');
    mkdirSync(join(indexed, 'images'), { recursive: true });
    mkdirSync(join(indexed, 'masks'), { recursive: true });
    const r = await ifan('train', '--task', `parsing=indexed:${indexed}`);
    expect(r.err).toMatch(/tasks\.parsing\.options: indexed masks .* --option parsing\.labelSet=helen-11/);
    expect(r.code).toBe(2);
    const mixed = await ifan('train', '--task', `parsing=fasseg:${fasseg}`, '--test', 'parsing=synthetic:10');
    expect(mixed.err).toMatch(/different label sets \(train fasseg: fasseg-6, test synthetic: helen-11\)/);
    expect(mixed.code).toBe(2);
    const bad = await ifan('train', '--task', `parsing=indexed:${indexed}`, '--option', 'parsing.labelSet=lapa');
    expect(bad.err).toMatch(/unknown parsing label set "lapa"/);
    expect(bad.code).toBe(2);
  });

  it('predict over a folder writes every readable image and lists the rest with the reason (defects 2, 10)', async () => {
    const photos = join(dir, 'photos');
    mkdirSync(join(photos, 'more'), { recursive: true });
    await writePng(join(photos, 'a.png'), generateFace(1, { size: 64 }).image);
    writeFileSync(join(photos, 'b.jpg'), 'not a jpeg');
    await writePng(join(photos, 'c.png'), { width: 1, height: 1, channels: 3, data: new Uint8Array([1, 2, 3]) });
    writeFileSync(join(photos, 'notes.txt'), 'hello');
    const out = join(dir, 'predicted');
    const r = await ifan('predict', photos, '--model', run, '--out', out);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'a.json'))).toBe(true);
    expect(existsSync(join(out, 'c.json'))).toBe(true);
    expect(existsSync(join(out, 'b.json'))).toBe(false);
    expect(r.err).toMatch(/skipped 3 files/);
    expect(r.err).toContain(`${join(photos, 'b.jpg')}: not an image`);
    expect(r.err).toContain(`${join(photos, 'more')}: a folder`);
    expect(r.err).toContain(`${join(photos, 'notes.txt')}: not an image file`);
    expect(r.err).toMatch(/warning: .*c\.png is 1x1 pixels, far smaller than the network's 32x32 input/);
    expect(JSON.parse(readFileSync(join(out, 'skipped.json'), 'utf8'))).toHaveLength(3);
    expect(JSON.parse(readFileSync(join(out, 'c.json'), 'utf8')).warnings).toHaveLength(1);
    // error mode stops at the bad image, naming it
    const strict = await ifan('predict', photos, '--model', run, '--out', join(dir, 'strict'), '--on-error', 'error');
    expect(strict.err).toContain(join(photos, 'b.jpg'));
    expect(strict.code).toBe(1);
  });

  it('--limit-input-pixels sets the largest image accepted (defect 10)', async () => {
    const photos = join(dir, 'big');
    mkdirSync(photos);
    await writePng(join(photos, 'a.png'), generateFace(2, { size: 64 }).image);
    const small = await ifan('predict', photos, '--model', run, '--out', join(dir, 'big-out'), '--limit-input-pixels', '1000');
    expect(small.err).toMatch(/a\.png: image is over the pixel limit \(64x64 = 4096 pixels > 1000\)/);
    expect(small.code).toBe(1);
    const bad = await ifan('predict', photos, '--model', run, '--limit-input-pixels', 'lots');
    expect(bad.err).toMatch(/--limit-input-pixels: must be an integer/);
    expect(bad.code).toBe(2);
  });
});
