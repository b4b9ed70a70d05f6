import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanDataset } from '@ifan/core/node';
import {
  BNU_LSVED_7,
  FER2013_7,
  classIndex,
  emotionLabelSet,
  loadEmotionCsv,
  loadEmotionDataset,
  loadEmotionFolders,
  loadFer2013Csv,
} from '../src/node';
import type { EmotionLabel } from '../src/types';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ifan-emotion-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A 48 x 48 grey JPEG, as in FER2013's image-folder release. */
async function face(file: string, value = 100): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await sharp(Buffer.alloc(48 * 48, value), { raw: { width: 48, height: 48, channels: 1 } }).toColourspace('b-w').jpeg().toFile(file);
}

async function text(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
}

const cls = (li: { labels: Record<string, unknown> }) => (li.labels.emotion as EmotionLabel).classIndex;
const F = (name: string) => FER2013_7.classes.indexOf(name);

describe('label sets', () => {
  it('FER2013_7 is in folder (alphabetical) order; BNU-LSVED has its seven', () => {
    expect(FER2013_7.classes).toEqual(['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']);
    expect(BNU_LSVED_7.classes).toEqual(['concentrated', 'disgust', 'distracted', 'happy', 'puzzled', 'surprised', 'tired']);
  });

  it('matches names case-insensitively and by other spellings', () => {
    expect(classIndex(FER2013_7, 'Happy')).toBe(3);
    expect(classIndex(FER2013_7, 'anger')).toBe(0);
    expect(classIndex(FER2013_7, 'surprised')).toBe(6);
    expect(classIndex(BNU_LSVED_7, 'surprise')).toBe(5);
    expect(classIndex(BNU_LSVED_7, 'bored')).toBe(-1);
    expect(emotionLabelSet(['a', 'b'], 'ab')).toEqual({ name: 'ab', classes: ['a', 'b'] });
    expect(() => emotionLabelSet(['a', 'A'])).toThrow(/twice/);
  });
});

describe('loadEmotionFolders', () => {
  let fer: string;
  beforeAll(async () => {
    fer = join(root, 'fer2013');
    await face(join(fer, 'train', 'happy', 'Training_1.jpg'), 200);
    await face(join(fer, 'train', 'happy', 'Training_2.jpg'));
    await face(join(fer, 'train', 'sad', 'Training_3.jpg'));
    await face(join(fer, 'train', 'neutral', 'Training_4.jpg'));
    await text(join(fer, 'train', 'neutral', 'Thumbs.db'), 'x');
    await text(join(fer, 'train', '.DS_Store'), 'x');
    await face(join(fer, 'validation', 'angry', 'PublicTest_1.jpg'));
  });

  it('reads FER2013 image folders: class from the folder, grey decoded to RGB', async () => {
    const ds = await loadEmotionFolders(fer, { split: 'train' });
    expect(ds.name).toBe('folders/train');
    expect(ds.tasks).toEqual(['emotion']);
    expect(ds.samples.map((s) => s.id)).toEqual(['train/happy/Training_1.jpg', 'train/happy/Training_2.jpg', 'train/neutral/Training_4.jpg', 'train/sad/Training_3.jpg']);
    const li = await ds.samples[0].load();
    expect(cls(li)).toBe(F('happy'));
    expect([li.image.width, li.image.height, li.image.channels]).toEqual([48, 48, 3]);
    expect(Math.abs(li.image.data[0] - 200)).toBeLessThanOrEqual(2);
    expect(li.image.data[0]).toBe(li.image.data[1]);
    expect(cls(await ds.samples[2].load())).toBe(F('neutral'));
    expect(cls(await ds.samples[3].load())).toBe(F('sad'));
    expect((await loadEmotionDataset('folders', fer, { split: 'validation' })).samples).toHaveLength(1);
  });

  it('refuses unknown class folders, with a hint when a split was meant', async () => {
    await expect(loadEmotionFolders(fer)).rejects.toThrow(/train: folder "train" is not a class of fer2013-7 .*\(if it is a split \(train, validation\), pass it as split\)/);
    await expect(loadEmotionFolders(fer, { split: 'test' })).rejects.toThrow(/test: folder is missing/);
    await expect(loadEmotionFolders(fer, { split: '../..' })).rejects.toThrow(/escapes the data set root/);
  });

  it('skips unknown folders in skip mode and reports them', async () => {
    const base = join(root, 'mixed');
    await face(join(base, 'happy', 'a.jpg'));
    await face(join(base, 'bored', 'b.jpg'));
    await text(join(base, 'happy', 'broken.jpg'), 'not a jpeg');
    const ds = await loadEmotionFolders(base, { onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['happy/a.jpg', 'happy/broken.jpg']);
    expect(ds.skipped).toEqual([{ file: join(base, 'bored'), reason: expect.stringMatching(/folder "bored" is not a class/) }]);
    const scanned = await scanDataset(ds, { onError: 'skip' });
    expect(scanned.loaded).toBe(1);
    expect(scanned.dataset.skipped![1]).toEqual({ file: join(base, 'happy', 'broken.jpg'), reason: 'not an image (unrecognised format)' });
  });

  it('reads RAF-DB numbered folders in RAF-DB code order, and folderMap for other sets', async () => {
    const raf = join(root, 'raf');
    await face(join(raf, 'train', '1', 'train_00001.jpg'));
    await face(join(raf, 'train', '6', 'train_00002.jpg'));
    await face(join(raf, 'train', '7', 'train_00003.jpg'));
    const ds = await loadEmotionFolders(raf, { split: 'train' });
    expect(await Promise.all(ds.samples.map(async (s) => FER2013_7.classes[cls(await s.load())]))).toEqual(['surprise', 'angry', 'neutral']);

    const bnu = join(root, 'bnu');
    await face(join(bnu, 'Concentrated', 'x.jpg'));
    await face(join(bnu, 'sleepy', 'y.jpg'));
    const b = await loadEmotionFolders(bnu, { labelSet: BNU_LSVED_7, folderMap: { sleepy: 'tired' } });
    expect(await Promise.all(b.samples.map(async (s) => BNU_LSVED_7.classes[cls(await s.load())]))).toEqual(['concentrated', 'tired']);
  });
});

/** A FER2013 CSV row: a 48 x 48 grey face of one value. */
const row = (emotion: string | number, usage: string, pixels: string = Array(2304).fill('7').join(' ')) => `${emotion},${pixels},${usage}`;

describe('loadFer2013Csv', () => {
  let csvRoot: string;
  beforeAll(async () => {
    csvRoot = join(root, 'fer-csv');
    const rows = [0, 1, 2, 3, 4, 5, 6].map((e) => row(e, e < 4 ? 'Training' : e < 6 ? 'PublicTest' : 'PrivateTest'));
    await text(join(csvRoot, 'fer2013.csv'), ['emotion,pixels,Usage', ...rows].join('\r\n') + '\r\n');
  });

  it('maps the CSV codes (0 Angry ... 4 Sad, 5 Surprise, 6 Neutral) to the label set by name', async () => {
    const ds = await loadFer2013Csv(csvRoot);
    expect(ds.samples).toHaveLength(7);
    const got = await Promise.all(ds.samples.map(async (s) => FER2013_7.classes[cls(await s.load())]));
    expect(got).toEqual(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
    const li = await ds.samples[0].load();
    expect([li.image.width, li.image.height, li.image.data.length]).toEqual([48, 48, 48 * 48 * 3]);
    expect(li.image.data[0]).toBe(7);
    expect(ds.samples[0].id).toBe('fer2013.csv:2');
  });

  it('selects splits by Usage', async () => {
    expect((await loadFer2013Csv(csvRoot, { split: 'train' })).samples).toHaveLength(4);
    expect((await loadFer2013Csv(csvRoot, { split: 'val' })).samples).toHaveLength(2);
    expect((await loadFer2013Csv(csvRoot, { split: 'PrivateTest' })).samples).toHaveLength(1);
    await expect(loadFer2013Csv(csvRoot, { split: 'dev' })).rejects.toThrow(/unknown split "dev"/);
  });

  it('reads the later column order (emotion, Usage, pixels)', async () => {
    await text(join(csvRoot, 'icml_face_data.csv'), `emotion, Usage, pixels\n3,Training,${Array(2304).fill('1').join(' ')}\n`);
    const ds = await loadEmotionDataset('fer2013-csv', csvRoot, { file: 'icml_face_data.csv' });
    expect(cls(await ds.samples[0].load())).toBe(F('happy'));
  });

  it('reads quoted fields across lines (pixels wrapped by an exporter), numbering rows by the line they start on', async () => {
    const half = Array(1152).fill('9').join(' ');
    const wrapped = `"${half}\n${half}"`;
    await text(join(csvRoot, 'wrapped.csv'), ['emotion,pixels,Usage', `3,${wrapped},Training`, `"4",${wrapped},"PublicTest"`, row(5, 'Training', '1 2')].join('\r\n'));
    const ds = await loadFer2013Csv(csvRoot, { file: 'wrapped.csv', onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['wrapped.csv:2', 'wrapped.csv:4']);
    const li = await ds.samples[1].load();
    expect([cls(li), li.image.data[3 * 2303]]).toEqual([F('sad'), 9]);
    expect(ds.skipped!.map((s) => s.reason)).toEqual(['line 6: expected 2304 pixel values (48 x 48), found 2']);
  });

  it('names file and line for every bad row; skip mode reports them', async () => {
    const bad = [
      row(3, 'Training', '1 2 3'),
      row(3, 'Training', Array(2303).fill('1').join(' ') + ' x'),
      row(3, 'Training', Array(2303).fill('1').join(' ') + ' 300'),
      row(7, 'Training'),
      row('', 'Training'),
      row(3, 'Holdout'),
      '3,Training',
      row(2, 'Training'),
    ];
    await text(join(csvRoot, 'bad.csv'), ['emotion,pixels,Usage', ...bad].join('\n'));
    await expect(loadFer2013Csv(csvRoot, { file: 'bad.csv' })).rejects.toThrow(/bad\.csv:2: expected 2304 pixel values \(48 x 48\), found 3/);
    const ds = await loadFer2013Csv(csvRoot, { file: 'bad.csv', onError: 'skip' });
    expect(ds.samples).toHaveLength(1);
    expect(ds.skipped!.map((s) => s.reason)).toEqual([
      'line 2: expected 2304 pixel values (48 x 48), found 3',
      'line 3: pixel 2304 must be an integer from 0 to 255, found "x"',
      'line 4: pixel 2304 must be an integer from 0 to 255, found "300"',
      'line 5: emotion must be a code from 0 to 6, found "7"',
      'line 6: emotion must be a code from 0 to 6, found ""',
      'line 7: Usage must be Training, PublicTest or PrivateTest, found "Holdout"',
      'line 8: expected 3 fields, found 2',
    ]);
    await text(join(csvRoot, 'noheader.csv'), row(1, 'Training'));
    await expect(loadFer2013Csv(csvRoot, { file: 'noheader.csv' })).rejects.toThrow(/noheader\.csv:1: expected a header naming the columns/);
    await expect(loadFer2013Csv(csvRoot, { file: 'none.csv' })).rejects.toThrow(/none\.csv: file is missing/);
    await expect(loadFer2013Csv(csvRoot, { labelSet: BNU_LSVED_7 })).rejects.toThrow(/fer2013\.csv:2: emotion 0 \(angry\) is not a class of bnu-lsved-7/);
  });
});

describe('loadEmotionCsv', () => {
  it('reads path,label with names, other spellings or indices', async () => {
    const base = join(root, 'generic');
    await face(join(base, 'img', 'a.jpg'));
    await face(join(base, 'img', 'b.jpg'));
    await text(join(base, 'labels.csv'), 'path,label\nimg/a.jpg,Happiness\n"img/b.jpg",6\nimg\\a.jpg,fear\n');
    const ds = await loadEmotionCsv(base);
    expect(ds.samples.map((s) => s.id)).toEqual(['img/a.jpg', 'img/b.jpg', 'img/a.jpg#2']);
    expect(await Promise.all(ds.samples.map(async (s) => cls(await s.load())))).toEqual([F('happy'), 6, F('fear')]);
  });

  it('reads a quoted path holding a comma and a line break, and names the line a later bad row is on', async () => {
    const base = join(root, 'quoted');
    await face(join(base, 'img', 'smiling, take 2\nfinal.jpg'));
    await text(join(base, 'labels.csv'), 'path,label\n"img/smiling, take 2\nfinal.jpg",happy\n\nimg/a.jpg,bored\n');
    const ds = await loadEmotionCsv(base, { onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['img/smiling, take 2\nfinal.jpg']);
    expect(cls(await ds.samples[0].load())).toBe(F('happy'));
    expect(ds.skipped!.map((s) => s.reason)).toEqual([expect.stringMatching(/^line 5: label "bored"/)]);
    // a quote never closed cannot be skipped: the rest of the file would be one field
    await text(join(base, 'open.csv'), 'img/a.jpg,happy\n"img/b.jpg,sad\nimg/c.jpg,fear\n');
    await expect(loadEmotionCsv(base, { file: 'open.csv', onError: 'skip' })).rejects.toThrow(/open\.csv:2: a quoted field is never closed/);
  });

  it('names file and line for bad labels, paths and missing images', async () => {
    const base = join(root, 'generic');
    await text(join(base, 'bad.csv'), 'img/a.jpg,bored\nimg/a.jpg,9\n../x.jpg,happy\nimg/none.jpg,happy\nimg/a.jpg\n');
    await expect(loadEmotionCsv(base, { file: 'bad.csv' })).rejects.toThrow(/bad\.csv:1: label "bored" is neither a class of fer2013-7 .* nor an index below 7/);
    const ds = await loadEmotionCsv(base, { file: 'bad.csv', onError: 'skip' });
    expect(ds.samples).toHaveLength(0);
    expect(ds.skipped!.map((s) => s.reason)).toEqual([
      expect.stringMatching(/^line 1: label "bored"/),
      expect.stringMatching(/^line 2: label "9"/),
      expect.stringMatching(/^line 3: path "\.\.\/x\.jpg" escapes/),
      'line 5: expected 2 fields (path,label), found 1',
      expect.stringMatching(/^image file is missing \(listed at .*bad\.csv:4\)/),
    ]);
    await expect(loadEmotionDataset('xml', base)).rejects.toThrow(/unknown emotion data set format "xml"/);
  });
});
