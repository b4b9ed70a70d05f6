/**
 * Writes labelled images to disk in the layouts of the real data sets, so that the real loaders can
 * read synthetic data: Helen (parsing), MTFL (landmarks) and one folder per class (FER2013, emotion).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset, LabelledImage, RawImage } from '@ifan/core';
import sharp from 'sharp';
import { EXPRESSIONS, HELEN_CLASSES } from './constants';
import type { FaceAttributes, SyntheticLabels } from './types';

/** What the writers accept: a data set (loaded one sample at a time) or images in memory. */
export type ImageSource = Dataset | LabelledImage[];

interface Entry {
  index: number;
  identity?: string;
  load(): Promise<LabelledImage>;
}

function entries(source: ImageSource): Entry[] {
  if (Array.isArray(source)) return source.map((item, index) => ({ index, load: async () => item }));
  return source.samples.map((s, index) => ({ index, identity: s.identity, load: () => s.load() }));
}

/**
 * Cuts entries into consecutive parts by fraction. A cut never separates two samples of the same
 * identity: it moves forward to the next change of identity.
 */
function split<T extends Entry>(items: T[], fractions: number[], what: string): T[][] {
  const total = fractions.reduce((a, b) => a + b, 0);
  if (fractions.some((f) => !(f >= 0)) || !(total > 0)) throw new Error(`${what}: split fractions must be non-negative and not all zero, got [${fractions}]`);
  const parts: T[][] = [];
  let start = 0;
  let acc = 0;
  for (let k = 0; k < fractions.length; k++) {
    acc += fractions[k];
    let end = k === fractions.length - 1 ? items.length : Math.round((acc / total) * items.length);
    end = Math.max(end, start);
    while (end > 0 && end < items.length && items[end].identity !== undefined && items[end].identity === items[end - 1].identity) end++;
    parts.push(items.slice(start, end));
    start = end;
  }
  return parts;
}

/** Runs `fn` over items with at most `limit` in flight, in order of start. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T, k: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const k = next++;
      await fn(items[k], k);
    }
  });
  await Promise.all(workers);
}

function isGrey(image: RawImage): boolean {
  const d = image.data;
  for (let i = 0; i < d.length; i += 3) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return false;
  return true;
}

/** JPEG bytes of an image; grey images are written with one channel, as FER2013's are. */
export async function encodeJpeg(image: RawImage, quality = 92, grey: boolean | 'auto' = 'auto'): Promise<Buffer> {
  const { width, height, data } = image;
  if (grey === true || (grey === 'auto' && isGrey(image))) {
    const g = new Uint8Array(width * height);
    for (let i = 0; i < g.length; i++) g[i] = Math.round(0.299 * data[i * 3] + 0.587 * data[i * 3 + 1] + 0.114 * data[i * 3 + 2]);
    return sharp(g, { raw: { width, height, channels: 1 } }).toColourspace('b-w').jpeg({ quality }).toBuffer();
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

function needLabel<K extends keyof SyntheticLabels>(image: LabelledImage, key: K, where: string): NonNullable<SyntheticLabels[K]> {
  const label = (image.labels as SyntheticLabels)[key];
  if (!label) throw new Error(`${where}: the image has no ${key} label; generate it with tasks including '${key}'`);
  return label as NonNullable<SyntheticLabels[K]>;
}

export interface WriteOptions {
  /** JPEG quality 1..100. Default 92. */
  quality?: number;
  /** Images written at once. Default 4. */
  concurrency?: number;
}

export interface HelenWriteOptions extends WriteOptions {
  /** Fractions for `trainnames.txt`, `tuning.txt`, `testnames.txt`. Default [0.8, 0.1, 0.1]. */
  split?: [number, number, number];
  /** Image name prefix: names are `<prefix>_<index, 6 digits>`. Default 'synth'. */
  prefix?: string;
}

export interface HelenWriteResult {
  train: string[];
  tuning: string[];
  test: string[];
}

/**
 * Helen layout: `images/<name>.jpg`, `labels/<name>/<name>_lbl00.png` ... `_lbl10.png` (one grey PNG
 * per class of {@link HELEN_CLASSES}, 255 where the pixel is that class, else 0), and the name lists
 * `trainnames.txt`, `tuning.txt`, `testnames.txt` (one name per line).
 */
export async function writeHelen(dir: string, source: ImageSource, options: HelenWriteOptions = {}): Promise<HelenWriteResult> {
  const { split: fractions = [0.8, 0.1, 0.1], prefix = 'synth', quality = 92, concurrency = 4 } = options;
  const items = entries(source);
  const named = items.map((e) => ({ ...e, name: `${prefix}_${String(e.index).padStart(6, '0')}` }));
  const [train, tuning, test] = split(named, fractions, 'writeHelen');
  await mkdir(join(dir, 'images'), { recursive: true });
  await forEachLimited(named, concurrency, async (e) => {
    const image = await e.load();
    const { mask } = needLabel(image, 'parsing', `writeHelen (${e.name})`);
    if (mask.width !== image.image.width || mask.height !== image.image.height) {
      throw new Error(`writeHelen (${e.name}): mask is ${mask.width}x${mask.height} but the image is ${image.image.width}x${image.image.height}`);
    }
    const labelDir = join(dir, 'labels', e.name);
    await mkdir(labelDir, { recursive: true });
    await writeFile(join(dir, 'images', `${e.name}.jpg`), await encodeJpeg(image.image, quality, false));
    const plane = new Uint8Array(mask.width * mask.height);
    for (let c = 0; c < HELEN_CLASSES.length; c++) {
      for (let i = 0; i < plane.length; i++) plane[i] = mask.data[i] === c ? 255 : 0;
      const png = await sharp(plane, { raw: { width: mask.width, height: mask.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
      await writeFile(join(labelDir, `${e.name}_lbl${String(c).padStart(2, '0')}.png`), png);
    }
  });
  const names = (part: typeof named) => part.map((e) => e.name);
  const result = { train: names(train), tuning: names(tuning), test: names(test) };
  await writeFile(join(dir, 'trainnames.txt'), lines(result.train, '\n'));
  await writeFile(join(dir, 'tuning.txt'), lines(result.tuning, '\n'));
  await writeFile(join(dir, 'testnames.txt'), lines(result.test, '\n'));
  return result;
}

function lines(items: string[], eol: string): string {
  return items.map((l) => l + eol).join('');
}

export interface MtflWriteOptions extends WriteOptions {
  /** Fraction of images in `training.txt`; the rest go to `testing.txt`. Default 0.8. */
  trainFraction?: number;
  /** Folders of the training and testing images. Default 'lfw_5590' and 'AFLW'. */
  trainFolder?: string;
  testFolder?: string;
}

/** One MTFL record as written: image path (backslashes), 5 points, and the four attributes. */
export interface MtflRecord {
  path: string;
  points: [number, number][];
  /** 1 male, 2 female. */
  gender: 1 | 2;
  /** 1 smiling, 2 not. */
  smile: 1 | 2;
  /** 1 wearing glasses, 2 not. */
  glasses: 1 | 2;
  /** 1 left profile, 2 left, 3 frontal, 4 right, 5 right profile. */
  pose: 1 | 2 | 3 | 4 | 5;
}

function mtflAttributes(image: LabelledImage): Omit<MtflRecord, 'path' | 'points'> {
  const attrs = (image as { attributes?: FaceAttributes }).attributes;
  const emotion = (image.labels as SyntheticLabels).emotion;
  const happy = attrs ? attrs.smile : emotion ? EXPRESSIONS[emotion.classIndex] === 'happy' : false;
  return {
    gender: attrs?.gender === 'female' ? 2 : 1,
    smile: happy ? 1 : 2,
    glasses: attrs?.glasses ? 1 : 2,
    pose: attrs?.pose ?? 3,
  };
}

/** Formats MTFL lines: CRLF endings, every line after the first starting with a space. */
export function formatMtfl(records: MtflRecord[]): string {
  return records
    .map((r, k) => {
      const xs = r.points.map((p) => p[0].toFixed(2));
      const ys = r.points.map((p) => p[1].toFixed(2));
      return `${k > 0 ? ' ' : ''}${r.path} ${xs.join(' ')} ${ys.join(' ')} ${r.gender} ${r.smile} ${r.glasses} ${r.pose}\r\n`;
    })
    .join('');
}

/**
 * MTFL layout: images under `<trainFolder>/` and `<testFolder>/`, and `training.txt` / `testing.txt`
 * with `path x1..x5 y1..y5 gender smile glasses pose` per line, paths with Windows backslashes
 * (`lfw_5590\Synth_000001_0001.jpg`). Points are written as they are labelled, in image pixels.
 * Attributes come from the face's `attributes` when present (smile = happy), else gender 1,
 * smile from an emotion label (else 2), glasses 2, pose 3.
 */
export async function writeMtfl(dir: string, source: ImageSource, options: MtflWriteOptions = {}): Promise<{ training: MtflRecord[]; testing: MtflRecord[] }> {
  const { trainFraction = 0.8, trainFolder = 'lfw_5590', testFolder = 'AFLW', quality = 92, concurrency = 4 } = options;
  if (!(trainFraction >= 0 && trainFraction <= 1)) throw new Error(`writeMtfl: trainFraction must be in [0, 1], got ${trainFraction}`);
  const items = entries(source);
  const [train, test] = split(items, [trainFraction, 1 - trainFraction], 'writeMtfl');
  const write = async (part: Entry[], folder: string, naming: (e: Entry, k: number) => string) => {
    await mkdir(join(dir, folder), { recursive: true });
    const records: MtflRecord[] = new Array(part.length);
    await forEachLimited(part, concurrency, async (e, k) => {
      const image = await e.load();
      const { points } = needLabel(image, 'landmarks', `writeMtfl (sample ${e.index})`);
      if (points.length !== 5) throw new Error(`writeMtfl (sample ${e.index}): MTFL has 5 points, the label has ${points.length}`);
      const file = naming(e, k);
      await writeFile(join(dir, folder, file), await encodeJpeg(image.image, quality));
      records[k] = { path: `${folder}\\${file}`, points: points.map(([x, y]) => [x, y]), ...mtflAttributes(image) };
    });
    return records;
  };
  const personOf = (e: Entry) => (e.identity ?? String(e.index)).replace(/^.*\//, '').replace(/[^A-Za-z0-9]/g, '');
  const counts = new Map<string, number>();
  const trainNames = train.map((e) => {
    const p = personOf(e);
    const n = (counts.get(p) ?? 0) + 1;
    counts.set(p, n);
    return `Synth_${p}_${String(n).padStart(4, '0')}.jpg`;
  });
  const training = await write(train, trainFolder, (_e, k) => trainNames[k]);
  const testing = await write(test, testFolder, (_e, k) => `image${String(k + 1).padStart(5, '0')}.jpg`);
  await writeFile(join(dir, 'training.txt'), formatMtfl(training));
  await writeFile(join(dir, 'testing.txt'), formatMtfl(testing));
  return { training, testing };
}

export interface ImageFolderWriteOptions extends WriteOptions {
  /** Fraction of images under `train/`; the rest go under `test/`. Default 0.8. */
  trainFraction?: number;
  /** Folder names, indexed by class. Default {@link EXPRESSIONS}. */
  classes?: readonly string[];
  /** Write one-channel JPEGs: true, false, or 'auto' when the image is grey. Default 'auto'. */
  grey?: boolean | 'auto';
}

/**
 * One folder per class, FER2013 style: `train/<class>/<n>.jpg` and `test/<class>/<n>.jpg`, `n` the
 * sample's index in the source. Every class folder is created, even when empty.
 */
export async function writeImageFolders(
  dir: string,
  source: ImageSource,
  options: ImageFolderWriteOptions = {},
): Promise<{ train: { file: string; classIndex: number }[]; test: { file: string; classIndex: number }[] }> {
  const { trainFraction = 0.8, classes = EXPRESSIONS, grey = 'auto', quality = 92, concurrency = 4 } = options;
  if (!(trainFraction >= 0 && trainFraction <= 1)) throw new Error(`writeImageFolders: trainFraction must be in [0, 1], got ${trainFraction}`);
  const items = entries(source);
  const [train, test] = split(items, [trainFraction, 1 - trainFraction], 'writeImageFolders');
  const write = async (part: Entry[], folder: string) => {
    for (const c of classes) await mkdir(join(dir, folder, c), { recursive: true });
    const files: { file: string; classIndex: number }[] = new Array(part.length);
    await forEachLimited(part, concurrency, async (e, k) => {
      const image = await e.load();
      const { classIndex } = needLabel(image, 'emotion', `writeImageFolders (sample ${e.index})`);
      const name = classes[classIndex];
      if (name === undefined) throw new Error(`writeImageFolders (sample ${e.index}): class index ${classIndex} has no folder name among ${classes.length} classes`);
      const file = `${folder}/${name}/${e.index}.jpg`;
      await writeFile(join(dir, file), await encodeJpeg(image.image, quality, grey));
      files[k] = { file, classIndex };
    });
    return files;
  };
  return { train: await write(train, 'train'), test: await write(test, 'test') };
}
