/**
 * Emotion data sets: one folder per class (FER2013's image-folder release, RAF-DB), FER2013's CSV of
 * pixels, and a generic CSV of `path,label`; and the label sets, as data.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dataset, LabelledImage, LoadOptions, Sample } from '@ifan/core';
import {
  DatasetError,
  IMAGE_EXTENSIONS,
  SkipCollector,
  csvRows,
  decodeImage,
  formatRegistry,
  isFile,
  listFiles,
  readTextFile,
  resolveInside,
} from '@ifan/core/node';
import type { EmotionLabel, EmotionLabelSet } from './types';

import { classIndex, EMOTION_TASK, FER2013_7, FER2013_CSV_CODES, RAFDB_CODES, emotionLabelSet } from './sets';

export interface EmotionLoadOptions extends LoadOptions {
  /** Key of the emotion labels. Default `emotion`. */
  taskName?: string;
  /** The classes. Default {@link FER2013_7}. */
  labelSet?: EmotionLabelSet;
}

function dataset(name: string, options: EmotionLoadOptions, samples: Sample[], collector: SkipCollector): Dataset {
  return { name, tasks: [options.taskName ?? EMOTION_TASK], samples, ...(collector.skipped.length ? { skipped: collector.skipped } : {}) };
}

function imageSample(id: string, file: string, cls: number, options: EmotionLoadOptions): Sample {
  return {
    id,
    async load(): Promise<LabelledImage> {
      const image = await decodeImage(file, { limitInputPixels: options.limitInputPixels });
      const label: EmotionLabel = { classIndex: cls };
      return { image, labels: { [options.taskName ?? EMOTION_TASK]: label } };
    },
  };
}

export interface FolderLoadOptions extends EmotionLoadOptions {
  /** Sub-folder of the root holding the class folders (`train`, `validation`, ...). Default: the root. */
  split?: string;
  /** Folder name -> class name, for folders named otherwise. Numbered folders 1..7 default to RAF-DB's codes. */
  folderMap?: Record<string, string>;
}

/**
 * One folder per class: `<root>/<split>/<class>/*.jpg` (FER2013's image-folder release: `train/`,
 * `validation/`; RAF-DB: numbered folders 1..7 in RAF-DB's code order). Folder names match classes
 * case-insensitively and by common other spellings; an unknown folder is an error. Files that are not
 * images (by extension) are ignored.
 */
export async function loadEmotionFolders(root: string, options: FolderLoadOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const set = options.labelSet ?? FER2013_7;
  const base = options.split ? resolveInside(root, options.split, { file: root }) : root;
  let entries;
  try {
    entries = await readdir(base, { withFileTypes: true });
  } catch (e) {
    throw new DatasetError(base, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'folder is missing' : `folder is unreadable (${(e as Error).message})`, {
      hint: options.split ? undefined : 'pass the split sub-folder (e.g. train, validation) as split',
    });
  }
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const samples: Sample[] = [];
  for (const folder of folders) {
    const folderPath = join(base, folder);
    const cls = collector.attempt(() => {
      const mapped = options.folderMap?.[folder] ?? (/^[1-7]$/.test(folder) ? RAFDB_CODES[Number(folder) - 1] : folder);
      const i = classIndex(set, mapped);
      if (i < 0) {
        throw new DatasetError(folderPath, `folder "${folder}" is not a class of ${set.name} (${set.classes.join(', ')})`, {
          hint: options.split ? 'rename the folder, pass folderMap, or choose the label set' : 'if it is a split (train, validation), pass it as split',
        });
      }
      return i;
    });
    if (cls === undefined) continue;
    const files = await listFiles(folderPath, { extensions: IMAGE_EXTENSIONS });
    const prefix = options.split ? `${options.split.replace(/\\/g, '/').replace(/\/$/, '')}/` : '';
    for (const f of files) samples.push(imageSample(`${prefix}${folder}/${f}`, join(folderPath, f), cls, options));
  }
  return dataset(`folders/${options.split ?? 'all'}`, options, samples, collector);
}

export interface Fer2013CsvOptions extends EmotionLoadOptions {
  /**
   * `train` (Usage Training), `val` (PublicTest, also `publictest`, `validation`) or `test`
   * (PrivateTest, also `privatetest`). Default: every row.
   */
  split?: string;
  /** The CSV relative to the root. Default `fer2013.csv`. */
  file?: string;
}

const FER_USAGE: Record<string, string> = {
  train: 'training',
  training: 'training',
  val: 'publictest',
  validation: 'publictest',
  publictest: 'publictest',
  test: 'privatetest',
  privatetest: 'privatetest',
};

const FER_SIDE = 48;

/**
 * FER2013's CSV (`emotion,pixels,Usage`, or the later `emotion, Usage, pixels`): 48 x 48 grey pixels
 * as space-separated numbers, `emotion` coded as {@link FER2013_CSV_CODES} and mapped to the label set
 * by name. Every row is checked and its pixels kept at listing (2.3 kB a face); `load()` only expands
 * grey to RGB.
 */
export async function loadFer2013Csv(root: string, options: Fer2013CsvOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const set = options.labelSet ?? FER2013_7;
  const want = options.split === undefined ? undefined : FER_USAGE[options.split.toLowerCase()];
  if (options.split !== undefined && !want) throw new Error(`loadFer2013Csv: unknown split "${options.split}"; use train, val or test`);
  const codeToClass = FER2013_CSV_CODES.map((name) => classIndex(set, name));
  const file = join(root, options.file ?? 'fer2013.csv');
  if (!(await isFile(file))) throw new DatasetError(file, 'file is missing', { hint: 'FER2013 is distributed as fer2013.csv; pass options.file for another name' });
  let col: { emotion: number; pixels: number; usage: number } | undefined;
  const samples: Sample[] = [];
  const n = FER_SIDE * FER_SIDE;
  for await (const { fields, line } of csvRows(createReadStream(file), file)) {
    if (!col) {
      const names = fields.map((f) => f.toLowerCase());
      col = { emotion: names.indexOf('emotion'), pixels: names.indexOf('pixels'), usage: names.indexOf('usage') };
      if (col.emotion < 0 || col.pixels < 0) {
        throw new DatasetError(file, `expected a header naming the columns emotion, pixels and Usage, found "${fields.join(',').slice(0, 80)}"`, { line });
      }
      continue;
    }
    const c = col;
    collector.attempt(() => {
      const expected = c.usage >= 0 ? 3 : 2;
      if (fields.length !== expected) throw new DatasetError(file, `expected ${expected} fields, found ${fields.length}`, { line });
      const usage = c.usage >= 0 ? (fields[c.usage] ?? '').toLowerCase() : undefined;
      if (usage !== undefined && !['training', 'publictest', 'privatetest'].includes(usage)) {
        throw new DatasetError(file, `Usage must be Training, PublicTest or PrivateTest, found "${fields[c.usage]}"`, { line });
      }
      if (want && usage !== want) return;
      const code = Number(fields[c.emotion]);
      if (!Number.isInteger(code) || code < 0 || code > 6 || fields[c.emotion] === '') {
        throw new DatasetError(file, `emotion must be a code from 0 to 6, found "${fields[c.emotion]}"`, { line });
      }
      const cls = codeToClass[code];
      if (cls < 0) {
        throw new DatasetError(file, `emotion ${code} (${FER2013_CSV_CODES[code]}) is not a class of ${set.name}`, { line, hint: 'use a label set with the FER2013 classes' });
      }
      const tokens = (fields[c.pixels] ?? '').split(/\s+/).filter(Boolean);
      if (tokens.length !== n) throw new DatasetError(file, `expected ${n} pixel values (48 x 48), found ${tokens.length}`, { line });
      const grey = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = Number(tokens[i]);
        if (!Number.isInteger(v) || v < 0 || v > 255) throw new DatasetError(file, `pixel ${i + 1} must be an integer from 0 to 255, found "${tokens[i]}"`, { line });
        grey[i] = v;
      }
      samples.push({
        id: `${options.file ?? 'fer2013.csv'}:${line}`,
        async load(): Promise<LabelledImage> {
          const data = new Uint8Array(3 * n);
          for (let i = 0; i < n; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = grey[i];
          const label: EmotionLabel = { classIndex: cls };
          return { image: { width: FER_SIDE, height: FER_SIDE, channels: 3, data }, labels: { [options.taskName ?? EMOTION_TASK]: label } };
        },
      });
    });
  }
  if (!col) throw new DatasetError(file, 'the file is empty');
  return dataset(`fer2013-csv/${options.split ?? 'all'}`, options, samples, collector);
}

export interface EmotionCsvOptions extends EmotionLoadOptions {
  /** The CSV relative to the root. Default `<split>.csv` with a split, else `labels.csv`. */
  file?: string;
}

/**
 * A generic CSV of `path,label` rows: `path` relative to the root, `label` a class name (matched as in
 * {@link classIndex}) or a 0-based index into the label set. A header row is recognised and skipped.
 */
export async function loadEmotionCsv(root: string, options: EmotionCsvOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const set = options.labelSet ?? FER2013_7;
  const fileName = options.file ?? (options.split ? `${options.split}.csv` : 'labels.csv');
  const csv = join(root, fileName);
  const text = await readTextFile(csv, 'expected a CSV of path,label rows');
  const pending: { id: string; abs: string; cls: number; line: number }[] = [];
  let first = true;
  for await (const { fields, line } of csvRows(text, csv)) {
    const header = first && fields.length === 2 && ['label', 'emotion', 'class', 'expression'].includes(fields[1].toLowerCase());
    first = false;
    if (header) continue;
    collector.attempt(() => {
      if (fields.length !== 2) throw new DatasetError(csv, `expected 2 fields (path,label), found ${fields.length}`, { line });
      const [path, label] = fields;
      const abs = resolveInside(root, path, { file: csv, line });
      let cls = classIndex(set, label);
      if (cls < 0 && /^\d+$/.test(label)) cls = Number(label) < set.classes.length ? Number(label) : -1;
      if (cls < 0) {
        throw new DatasetError(csv, `label "${label}" is neither a class of ${set.name} (${set.classes.join(', ')}) nor an index below ${set.classes.length}`, { line });
      }
      pending.push({ id: path.replace(/\\/g, '/'), abs, cls, line });
    });
  }
  const exists = await Promise.all(pending.map((p) => isFile(p.abs)));
  const samples: Sample[] = [];
  const seen = new Map<string, number>();
  pending.forEach((p, i) => {
    if (!exists[i]) {
      collector.fail(new DatasetError(p.abs, `image file is missing (listed at ${csv}:${p.line})`));
      return;
    }
    const n = (seen.get(p.id) ?? 0) + 1;
    seen.set(p.id, n);
    samples.push(imageSample(n === 1 ? p.id : `${p.id}#${n}`, p.abs, p.cls, options));
  });
  return dataset(`csv/${fileName}`, options, samples, collector);
}

const registry = formatRegistry(
  { kind: 'emotion', recipe: { module: '@ifan/task-emotion/node', export: 'loadEmotionDataset' } },
  { folders: loadEmotionFolders, 'fer2013-csv': loadFer2013Csv, csv: loadEmotionCsv },
);

/** Formats {@link loadEmotionDataset} reads. */
export const EMOTION_FORMATS = registry.formats;
export type EmotionFormat = (typeof EMOTION_FORMATS)[number];

/** Reads an emotion data set by format name (what a plugin's `loadDataset` calls); its recipe repeats the call. */
export function loadEmotionDataset(format: string, root: string, options: FolderLoadOptions & Fer2013CsvOptions & EmotionCsvOptions = {}): Promise<Dataset> {
  return registry.loadDataset(format, root, options);
}
