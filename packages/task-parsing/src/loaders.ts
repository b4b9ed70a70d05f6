/**
 * Face parsing data sets: Helen (Smith et al. 2013 layout), FASSEG, CelebAMask-HQ and a generic
 * layout of grey class-index PNGs; and the label sets they use, as data. Loaders list samples cheaply
 * (files present, split lists) and decode in `load()`, where mask sizes and values are checked.
 */
import { join } from 'node:path';
import { scaling, warpImage } from '@ifan/core';
import type { Dataset, LabelledImage, LabelMap, LoadOptions, RawImage, Sample } from '@ifan/core';
import {
  DatasetError,
  IMAGE_EXTENSIONS,
  SkipCollector,
  decodeImage,
  decodeLabelImage,
  formatRegistry,
  listFiles,
  numberedLines,
  readTextFile,
  resolveInside,
} from '@ifan/core/node';
import type { FormatLoader, LabelImage } from '@ifan/core/node';
import type { ParsingLabel, ParsingLabelSet } from './types';

import { CELEBAMASK_19, CELEBAMASK_PARTS, FASSEG_6, HELEN_11, PARSING_TASK, type CelebAMaskPart, type Rgb } from './sets';

export interface ParsingLoadOptions extends LoadOptions {
  /** Key of the parsing labels. Default `parsing`. */
  taskName?: string;
}

function dataset(name: string, task: string | undefined, samples: Sample[], collector: SkipCollector): Dataset {
  return { name, tasks: [task ?? PARSING_TASK], samples, ...(collector.skipped.length ? { skipped: collector.skipped } : {}) };
}

function checkSize(image: { width: number; height: number }, mask: { width: number; height: number }, maskFile: string, imageFile: string): void {
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new DatasetError(maskFile, `mask is ${mask.width}x${mask.height} but its image ${imageFile} is ${image.width}x${image.height}`, {
      hint: 'a mask must have the size of its image',
    });
  }
}

function stem(file: string): string {
  const base = file.split('/').pop() ?? file;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

// ---------------------------------------------------------------------------------------------------
// Helen

const HELEN_SPLITS: Record<string, string> = {
  train: 'trainnames.txt',
  tuning: 'tuning.txt',
  val: 'tuning.txt',
  validation: 'tuning.txt',
  test: 'testnames.txt',
};

/** Names in a Helen split list: one per line, `name` or `index , name`. */
export function parseHelenNames(text: string, file: string): { name: string; line: number }[] {
  return numberedLines(text).map(({ line, text: t }) => {
    const name = t.split(',').pop()!.trim().replace(/\.(jpg|png)$/i, '');
    if (name === '' || /\s/.test(name)) throw new DatasetError(file, `expected "name" or "index , name", found "${t.trim()}"`, { line });
    return { name, line };
  });
}

/**
 * Helen in Smith et al.'s layout: `images/<name>.jpg` and `labels/<name>/<name>_lbl00.png` ...
 * `_lbl10.png`, one grey probability image per {@link HELEN_11} class; the label is the per-pixel
 * argmax (the first class on ties, so all-zero pixels are background). `split`: `train`
 * (`trainnames.txt`), `tuning` (`tuning.txt`, also `val`) or `test` (`testnames.txt`); without a
 * split, every image in `images/`.
 */
export async function loadHelen(root: string, options: ParsingLoadOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const nClasses = HELEN_11.classes.length;
  let names: { name: string; where: { file: string; line?: number } }[];
  if (options.split) {
    const listName = HELEN_SPLITS[options.split];
    if (!listName) throw new Error(`loadHelen: unknown split "${options.split}"; use train, tuning (val) or test`);
    const listFile = join(root, listName);
    names = parseHelenNames(await readTextFile(listFile, 'Helen split lists sit at the root: trainnames.txt, tuning.txt, testnames.txt'), listFile).map((n) => ({
      name: n.name,
      where: { file: listFile, line: n.line },
    }));
  } else {
    const images = await listFiles(join(root, 'images'), { extensions: ['.jpg'] });
    names = images.map((f) => ({ name: stem(f), where: { file: join(root, 'images', f) } }));
  }
  const imageFiles = new Set(await listFiles(join(root, 'images'), { extensions: ['.jpg'] }));
  const labelFiles = new Set(await listFiles(join(root, 'labels'), { recursive: true, extensions: ['.png'] }));
  const samples: Sample[] = [];
  for (const { name, where } of names) {
    collector.attempt(() => {
      const at = where.line !== undefined ? `${where.file}:${where.line}` : where.file;
      resolveInside(root, `images/${name}.jpg`, where);
      if (!imageFiles.has(`${name}.jpg`)) throw new DatasetError(join(root, 'images', `${name}.jpg`), `image file is missing (listed at ${at})`);
      const labelRels = Array.from({ length: nClasses }, (_, k) => `${name}/${name}_lbl${String(k).padStart(2, '0')}.png`);
      const missing = labelRels.filter((r) => !labelFiles.has(r));
      if (missing.length) throw new DatasetError(join(root, 'labels', missing[0]), `label image is missing${missing.length > 1 ? ` (and ${missing.length - 1} more of ${name})` : ''}`);
      const imageFile = join(root, 'images', `${name}.jpg`);
      samples.push({
        id: name,
        async load(): Promise<LabelledImage> {
          const limit = { limitInputPixels: options.limitInputPixels };
          const image = await decodeImage(imageFile, limit);
          const best = new Uint8Array(image.width * image.height);
          const bestV = new Int16Array(image.width * image.height).fill(-1);
          for (let k = 0; k < nClasses; k++) {
            const file = join(root, 'labels', labelRels[k]);
            const prob = await decodeLabelImage(file, limit);
            checkSize(image, prob, file, imageFile);
            const c = prob.channels;
            for (let p = 0; p < best.length; p++) {
              const v = prob.data[p * c];
              if (v > bestV[p]) {
                bestV[p] = v;
                best[p] = k;
              }
            }
          }
          const label: ParsingLabel = { mask: { width: image.width, height: image.height, data: best } };
          return { image, labels: { [options.taskName ?? PARSING_TASK]: label } };
        },
      });
    });
  }
  return dataset(`helen/${options.split ?? 'all'}`, options.taskName, samples, collector);
}

// ---------------------------------------------------------------------------------------------------
// Colour-coded masks (FASSEG)

export interface ColorMaskOptions {
  /**
   * Largest distance (RGB Euclidean) from a pixel to the nearest mix of two class colours for the
   * pixel to count as an anti-aliased edge; farther is an unknown colour. Default 100.
   */
  maxColorDistance?: number;
}

function segmentDistance(p: Rgb, a: Rgb, b: Rgb): number {
  const d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const len2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
  let t = len2 === 0 ? 0 : ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1] + (p[2] - a[2]) * d[2]) / len2;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(p[0] - a[0] - t * d[0], p[1] - a[1] - t * d[1], p[2] - a[2] - t * d[2]);
}

/**
 * A colour-coded mask -> class indices: every pixel snaps to the nearest class colour of `set`
 * (anti-aliased edges between two classes are mixes of their colours). A colour farther than
 * `maxColorDistance` from every such mix is unknown, and an error naming the file, the colour and
 * where it first occurs.
 */
export function colorMaskToLabels(mask: LabelImage, set: ParsingLabelSet, file: string, options: ColorMaskOptions = {}): LabelMap {
  if (mask.channels !== 3) {
    throw new DatasetError(file, 'mask is grey but a colour-coded mask was expected', { hint: `classes are coded by colour: ${describeColors(set)}` });
  }
  const maxDist = options.maxColorDistance ?? 100;
  const colors = set.colors;
  const cache = new Map<number, number>();
  const out = new Uint8Array(mask.width * mask.height);
  let unknown = 0;
  let first = -1;
  let firstColor: Rgb = [0, 0, 0];
  for (let p = 0; p < out.length; p++) {
    const r = mask.data[3 * p];
    const g = mask.data[3 * p + 1];
    const b = mask.data[3 * p + 2];
    const key = (r << 16) | (g << 8) | b;
    let cls = cache.get(key);
    if (cls === undefined) {
      const px: Rgb = [r, g, b];
      let best = 0;
      let bestD = Infinity;
      colors.forEach((c, i) => {
        const d = (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      });
      let known = bestD === 0;
      for (let i = 0; !known && i < colors.length; i++) {
        for (let j = i + 1; !known && j < colors.length; j++) known = segmentDistance(px, colors[i], colors[j]) <= maxDist;
      }
      if (colors.length === 1) known = Math.sqrt(bestD) <= maxDist;
      cls = known ? best : -1;
      cache.set(key, cls);
    }
    if (cls < 0) {
      if (unknown++ === 0) {
        first = p;
        firstColor = [r, g, b];
      }
      continue;
    }
    out[p] = cls;
  }
  if (unknown > 0) {
    throw new DatasetError(
      file,
      `unknown class colour (${firstColor.join(', ')}) at pixel (${first % mask.width}, ${Math.floor(first / mask.width)}), ${unknown} pixel${unknown === 1 ? '' : 's'} in all`,
      { hint: `the ${set.name} colours are ${describeColors(set)}` },
    );
  }
  return { width: mask.width, height: mask.height, data: out };
}

function describeColors(set: ParsingLabelSet): string {
  return set.classes.map((c, i) => `${c} (${set.colors[i].join(',')})`).join(', ');
}

export interface FassegLoadOptions extends ParsingLoadOptions, ColorMaskOptions {}

/**
 * FASSEG: `Train_RGB/N.png` photos and `Train_Labels/N.png` colour-coded masks ({@link FASSEG_6}
 * colours), snapped by {@link colorMaskToLabels}. `split` `train` (default) or `test` (`Test_RGB`,
 * `Test_Labels`, as in frontal01 and multipose01).
 */
export async function loadFasseg(root: string, options: FassegLoadOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new Error(`loadFasseg: unknown split "${split}"; use train or test`);
  const prefix = split === 'train' ? 'Train' : 'Test';
  const rgbDir = join(root, `${prefix}_RGB`);
  const labelDir = join(root, `${prefix}_Labels`);
  const images = await listFiles(rgbDir, { extensions: IMAGE_EXTENSIONS, hint: `FASSEG keeps photos in ${prefix}_RGB/` });
  const labels = await listFiles(labelDir, { extensions: IMAGE_EXTENSIONS, hint: `FASSEG keeps masks in ${prefix}_Labels/` });
  const labelByStem = new Map(labels.map((f) => [stem(f), f]));
  const samples: Sample[] = [];
  for (const imageRel of sortNumeric(images)) {
    collector.attempt(() => {
      const labelRel = labelByStem.get(stem(imageRel));
      const imageFile = join(rgbDir, imageRel);
      if (!labelRel) throw new DatasetError(join(labelDir, `${stem(imageRel)}.png`), `mask file is missing (for ${imageFile})`);
      const maskFile = join(labelDir, labelRel);
      samples.push({
        id: `${prefix}_RGB/${imageRel}`,
        async load(): Promise<LabelledImage> {
          const limit = { limitInputPixels: options.limitInputPixels };
          const image = await decodeImage(imageFile, limit);
          const mask = await decodeLabelImage(maskFile, limit);
          checkSize(image, mask, maskFile, imageFile);
          const label: ParsingLabel = { mask: colorMaskToLabels(mask, FASSEG_6, maskFile, options) };
          return { image, labels: { [options.taskName ?? PARSING_TASK]: label } };
        },
      });
    });
  }
  return dataset(`fasseg/${split}`, options.taskName, samples, collector);
}

/** Sorts `2.png` before `10.png`. */
function sortNumeric(files: string[]): string[] {
  return [...files].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

// ---------------------------------------------------------------------------------------------------
// CelebAMask-HQ

/** Which class of the target label set each CelebAMask-HQ part paints; `null` = not painted. */
export type CelebAMaskPartMap = Partial<Record<CelebAMaskPart, string | null>>;

/** CelebAMask-HQ parts in Helen's classes. Glasses, ears, hat, earring, necklace, neck and cloth are not painted. */
export const CELEBAMASK_TO_HELEN: CelebAMaskPartMap = {
  skin: 'face skin', nose: 'nose', l_eye: 'left eye', r_eye: 'right eye', l_brow: 'left brow', r_brow: 'right brow',
  mouth: 'inner mouth', u_lip: 'upper lip', l_lip: 'lower lip', hair: 'hair',
};

/** CelebAMask-HQ parts in FASSEG's classes (FASSEG counts eyebrows as hair). */
export const CELEBAMASK_TO_FASSEG: CelebAMaskPartMap = {
  skin: 'skin', nose: 'nose', l_eye: 'eyes', r_eye: 'eyes', l_brow: 'hair', r_brow: 'hair',
  mouth: 'mouth', u_lip: 'mouth', l_lip: 'mouth', hair: 'hair',
};

export interface CelebAMaskLoadOptions extends ParsingLoadOptions {
  /** The label set the parts are merged into. Default {@link CELEBAMASK_19}. */
  labelSet?: ParsingLabelSet;
  /**
   * Part -> class name of `labelSet`. Default: built in for {@link CELEBAMASK_19}, {@link HELEN_11}
   * and {@link FASSEG_6}; for other sets, parts whose {@link CELEBAMASK_19} class name is also a class
   * of the set. Unmapped parts are not painted (what is under them stays).
   */
  partMap?: CelebAMaskPartMap;
}

function defaultPartMap(set: ParsingLabelSet): CelebAMaskPartMap {
  if (set.name === HELEN_11.name) return CELEBAMASK_TO_HELEN;
  if (set.name === FASSEG_6.name) return CELEBAMASK_TO_FASSEG;
  const map: CelebAMaskPartMap = {};
  CELEBAMASK_PARTS.forEach((part, i) => {
    const name = CELEBAMASK_19.classes[i + 1];
    map[part] = set.classes.includes(name) ? name : null;
  });
  return map;
}

const CELEBA_SPLITS: Record<string, number> = { train: 0, val: 1, validation: 1, test: 2 };

/** Image ids of one CelebA split, from `CelebA-HQ-to-CelebA-mapping.txt` and `list_eval_partition.txt`. */
async function celebaSplitIds(root: string, split: string): Promise<Set<number>> {
  const want = CELEBA_SPLITS[split];
  if (want === undefined) throw new Error(`loadCelebAMask: unknown split "${split}"; use train, val or test`);
  const hint = 'CelebAMask-HQ splits follow CelebA: put CelebA-HQ-to-CelebA-mapping.txt and CelebA\'s list_eval_partition.txt in the root';
  const mapFile = join(root, 'CelebA-HQ-to-CelebA-mapping.txt');
  const partFile = join(root, 'list_eval_partition.txt');
  const partition = new Map<string, number>();
  for (const { line, text } of numberedLines(await readTextFile(partFile, hint))) {
    const [name, p] = text.trim().split(/[\s,]+/);
    if (!Number.isFinite(Number(p))) {
      if (line === 1) continue; // header (Kaggle's CSV: image_id,partition)
      throw new DatasetError(partFile, `expected "<file> <0|1|2>", found "${text.trim()}"`, { line });
    }
    partition.set(stem(name).replace(/^0+(?=\d)/, ''), Number(p));
  }
  const ids = new Set<number>();
  for (const { line, text } of numberedLines(await readTextFile(mapFile, hint))) {
    const tokens = text.trim().split(/\s+/);
    if (line === 1 && !/^\d+$/.test(tokens[0])) continue; // idx orig_idx orig_file
    if (tokens.length < 3 || !/^\d+$/.test(tokens[0])) throw new DatasetError(mapFile, `expected "idx orig_idx orig_file", found "${text.trim()}"`, { line });
    const p = partition.get(stem(tokens[2]).replace(/^0+(?=\d)/, ''));
    if (p === undefined) throw new DatasetError(mapFile, `${tokens[2]} is not in ${partFile}`, { line });
    if (p === want) ids.add(Number(tokens[0]));
  }
  return ids;
}

/**
 * CelebAMask-HQ: images `CelebA-HQ-img/<id>.jpg`, one binary mask per part
 * `CelebAMask-HQ-mask-anno/<folder>/<id padded to 5>_<part>.png` (folder = id / 2000, any folder is
 * accepted), merged in the official painting order ({@link CELEBAMASK_PARTS}, later parts on top)
 * into `labelSet`. The images are 1024 px and the masks 512 px: an image whose size is a whole
 * multiple of its masks' is shrunk to their size (area-averaged); any other difference is an error.
 * `split` (train, val, test) follows CelebA's partition, see {@link celebaSplitIds}.
 */
export async function loadCelebAMask(root: string, options: CelebAMaskLoadOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const set = options.labelSet ?? CELEBAMASK_19;
  const partMap = { ...defaultPartMap(set), ...options.partMap };
  const paint = new Map<string, number>();
  for (const part of CELEBAMASK_PARTS) {
    const cls = partMap[part];
    if (cls === null || cls === undefined) continue;
    const idx = set.classes.indexOf(cls);
    if (idx < 0) throw new Error(`loadCelebAMask: part "${part}" maps to "${cls}", which is not a class of the label set "${set.name}"`);
    paint.set(part, idx);
  }
  const imageDir = join(root, 'CelebA-HQ-img');
  const maskDir = join(root, 'CelebAMask-HQ-mask-anno');
  const images = (await listFiles(imageDir, { extensions: ['.jpg', '.png'] })).filter((f) => /^\d+\.(jpg|png)$/i.test(f));
  const masks = await listFiles(maskDir, { recursive: true, extensions: ['.png'] });
  const partsById = new Map<number, Map<string, string>>();
  for (const rel of masks) {
    collector.attempt(() => {
      const m = /^(\d+)_([a-z_]+)\.png$/.exec(rel.split('/').pop()!);
      if (!m) throw new DatasetError(join(maskDir, rel), 'mask name is not <id>_<part>.png');
      if (!(CELEBAMASK_PARTS as readonly string[]).includes(m[2])) {
        throw new DatasetError(join(maskDir, rel), `unknown part "${m[2]}"`, { hint: `parts: ${CELEBAMASK_PARTS.join(', ')}` });
      }
      const id = Number(m[1]);
      let parts = partsById.get(id);
      if (!parts) partsById.set(id, (parts = new Map()));
      parts.set(m[2], join(maskDir, rel));
    });
  }
  const wanted = options.split ? await celebaSplitIds(root, options.split) : undefined;
  const samples: Sample[] = [];
  for (const imageRel of sortNumeric(images)) {
    const id = Number(stem(imageRel));
    if (wanted && !wanted.has(id)) continue;
    collector.attempt(() => {
      const imageFile = join(imageDir, imageRel);
      const parts = partsById.get(id);
      if (!parts) {
        throw new DatasetError(imageFile, `no part masks found (expected ${join(maskDir, String(Math.floor(id / 2000)), `${String(id).padStart(5, '0')}_<part>.png`)})`);
      }
      samples.push({
        id: imageRel,
        async load(): Promise<LabelledImage> {
          const limit = { limitInputPixels: options.limitInputPixels };
          let image = await decodeImage(imageFile, limit);
          let mask: LabelMap | undefined;
          let firstFile = '';
          for (const part of CELEBAMASK_PARTS) {
            const file = parts.get(part);
            if (!file) continue;
            const m = await decodeLabelImage(file, limit);
            if (!mask) {
              mask = { width: m.width, height: m.height, data: new Uint8Array(m.width * m.height) };
              firstFile = file;
              image = fitImageToMask(image, m, file, imageFile);
            } else if (m.width !== mask.width || m.height !== mask.height) {
              throw new DatasetError(file, `mask is ${m.width}x${m.height} but ${firstFile} is ${mask.width}x${mask.height}`, {
                hint: 'all part masks of an image must have one size',
              });
            }
            const cls = paint.get(part);
            if (cls === undefined) continue;
            for (let p = 0; p < mask.data.length; p++) if (m.data[p * m.channels] > 127) mask.data[p] = cls;
          }
          const label: ParsingLabel = { mask: mask! };
          return { image, labels: { [options.taskName ?? PARSING_TASK]: label } };
        },
      });
    });
  }
  return dataset(`celebamask-hq/${options.split ?? 'all'}`, options.taskName, samples, collector);
}

/** Shrinks an image to its mask's size when it is a whole multiple of it (CelebA-HQ: 1024 vs 512). */
function fitImageToMask(image: RawImage, mask: { width: number; height: number }, maskFile: string, imageFile: string): RawImage {
  if (image.width === mask.width && image.height === mask.height) return image;
  const k = image.width / mask.width;
  if (Number.isInteger(k) && k > 1 && image.height === k * mask.height) {
    return warpImage(image, scaling(1 / k), mask.width, mask.height);
  }
  checkSize(image, mask, maskFile, imageFile);
  return image;
}

// ---------------------------------------------------------------------------------------------------
// Generic indexed masks

export interface IndexedLoadOptions extends ParsingLoadOptions {
  /** The classes the mask values index (values must be below its size). */
  labelSet: ParsingLabelSet;
}

/**
 * A generic layout: `images/<name>.<jpg|png|...>` and `masks/<name>.png`, a grey PNG whose value is
 * the class index in `labelSet`. With a `split`, the two folders are under `<root>/<split>/`.
 */
export async function loadIndexedMasks(root: string, options: IndexedLoadOptions): Promise<Dataset> {
  const set = options.labelSet;
  if (!set) throw new Error('loadIndexedMasks: options.labelSet is required (the classes the mask values index)');
  const collector = new SkipCollector(options.onError);
  const base = options.split ? resolveInside(root, options.split, { file: root }) : root;
  const imageDir = join(base, 'images');
  const maskDir = join(base, 'masks');
  const images = await listFiles(imageDir, { extensions: IMAGE_EXTENSIONS, hint: 'expected images/ and masks/ folders' });
  const masks = new Set(await listFiles(maskDir, { extensions: ['.png'], hint: 'expected images/ and masks/ folders' }));
  const samples: Sample[] = [];
  for (const imageRel of images) {
    collector.attempt(() => {
      const imageFile = join(imageDir, imageRel);
      const maskRel = `${stem(imageRel)}.png`;
      const maskFile = join(maskDir, maskRel);
      if (!masks.has(maskRel)) throw new DatasetError(maskFile, `mask file is missing (for ${imageFile})`);
      samples.push({
        id: imageRel,
        async load(): Promise<LabelledImage> {
          const limit = { limitInputPixels: options.limitInputPixels };
          const image = await decodeImage(imageFile, limit);
          const mask = await decodeLabelImage(maskFile, limit);
          checkSize(image, mask, maskFile, imageFile);
          if (mask.channels !== 1) {
            throw new DatasetError(maskFile, 'mask is a colour (or palette) image, expected grey class indices', {
              hint: 'save masks as 8-bit grey PNGs whose value is the class index',
            });
          }
          const n = set.classes.length;
          for (let p = 0; p < mask.data.length; p++) {
            if (mask.data[p] >= n) {
              throw new DatasetError(maskFile, `class index ${mask.data[p]} at pixel (${p % mask.width}, ${Math.floor(p / mask.width)}) but the label set "${set.name}" has ${n} classes`);
            }
          }
          const label: ParsingLabel = { mask: { width: mask.width, height: mask.height, data: mask.data } };
          return { image, labels: { [options.taskName ?? PARSING_TASK]: label } };
        },
      });
    });
  }
  return dataset(`indexed/${options.split ?? 'all'}`, options.taskName, samples, collector);
}

// ---------------------------------------------------------------------------------------------------

/** How to say which classes indexed masks hold (part of the error messages). */
export const INDEXED_NEEDS_CLASSES =
  'grey index masks do not name their classes: give the label set, a built-in name (helen-11, fasseg-6, celebamask-19) ' +
  'or the class names in mask-value order, background first: parsingTask({ labelSet: [\'background\', \'skin\', ...] })';

/** What {@link loadParsingDataset} passes on: every format's options, and the plugin's label set. */
type ParsingDatasetOptions = ParsingLoadOptions & ColorMaskOptions & { labelSet?: ParsingLabelSet; partMap?: CelebAMaskPartMap };

/** A format drawn in its own label set, which refuses a plugin that predicts another. */
function ownLabelSet(format: string, own: ParsingLabelSet, load: FormatLoader<ParsingDatasetOptions>): FormatLoader<ParsingDatasetOptions> {
  return (root, options) => {
    if (options.labelSet && options.labelSet.name !== own.name) {
      throw new Error(
        `the ${format} format is labelled with "${own.name}", but the parsing task predicts "${options.labelSet.name}": ` +
          `create the task with that label set (parsingTask({ labelSet: '${own.name}' }); in an ifan run configuration ` +
          `"options": { "labelSet": "${own.name}" }); one network predicts one label set`,
      );
    }
    return load(root, options);
  };
}

const registry = formatRegistry(
  { kind: 'parsing', recipe: { module: '@ifan/task-parsing/node', export: 'loadParsingDataset' } },
  {
    helen: ownLabelSet('helen', HELEN_11, loadHelen),
    fasseg: ownLabelSet('fasseg', FASSEG_6, loadFasseg),
    'celebamask-hq': loadCelebAMask,
    indexed: (root: string, options: ParsingDatasetOptions) => {
      if (!options.labelSet) throw new Error(`the indexed format needs options.labelSet: ${INDEXED_NEEDS_CLASSES}`);
      return loadIndexedMasks(root, { ...options, labelSet: options.labelSet });
    },
  },
);

/** Formats {@link loadParsingDataset} reads. */
export const PARSING_FORMATS = registry.formats;
export type ParsingFormat = (typeof PARSING_FORMATS)[number];

/**
 * Reads a parsing data set by format name (what a plugin's `loadDataset` calls); its recipe repeats the
 * call. `labelSet` is the plugin's: `celebamask-hq` merges into it, `indexed` validates against it;
 * `helen` and `fasseg` have their own fixed sets and refuse a different one.
 */
export function loadParsingDataset(format: string, root: string, options: ParsingDatasetOptions = {}): Promise<Dataset> {
  return registry.loadDataset(format, root, options);
}
