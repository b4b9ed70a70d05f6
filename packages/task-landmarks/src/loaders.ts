/**
 * Landmark data sets: MTFL's own format, 300-W / iBUG `.pts` files, and a generic CSV; and the point
 * sets they use, as data. Loaders list samples cheaply (annotation syntax, paths, files present) and
 * decode images in `load()`, where the points are also checked against the image size.
 */
import { join } from 'node:path';
import { faceBoxFromKeypoints, type Dataset, type LabelledImage, type LoadOptions, type Sample } from '@ifan/core';
import {
  DatasetError,
  SkipCollector,
  csvRows,
  decodeImage,
  formatRegistry,
  isFile,
  listFiles,
  numberedLines,
  readTextFile,
  resolveInside,
} from '@ifan/core/node';
import type { MtflAttributes } from './transform';
import type { LandmarkLabel, LandmarkSet } from './types';

import { IBUG_68, LANDMARKS_TASK, MTFL_5, MTFL_ATTRIBUTES_TASK, reduce68To5 } from './sets';

export interface LandmarkLoadOptions extends LoadOptions {
  /** Key of the landmark labels. Default `landmarks`. */
  taskName?: string;
  /** The point set the labels must have (the plugin's); see each loader. */
  landmarkSet?: LandmarkSet;
  /**
   * How far a point may lie outside its image, as a fraction of the image's width (for x) and height
   * (for y), before it is an error: faces cut by the border have points just outside. Default 0.05.
   */
  pointTolerance?: number;
}

/** MTFL: `split` `train` reads `training.txt` (default), `test` reads `testing.txt`. */
export interface MtflLoadOptions extends LandmarkLoadOptions {
  /** Annotation file relative to the root, instead of the split's. */
  file?: string;
  /**
   * Frame each face by its points ({@link fivePointBox}), as a face detector's keypoints frame it in
   * prediction. Default true; false takes the centred square of the whole picture.
   */
  boxFromPoints?: boolean;
}

const MTFL_SPLITS: Record<string, string> = { train: 'training.txt', training: 'training.txt', test: 'testing.txt', testing: 'testing.txt' };

/**
 * The identity of an LFW image from its path (`lfw_5590\Aaron_Eckhart_0001.jpg` -> `Aaron_Eckhart`),
 * or `undefined` for names that do not follow LFW's `<Name>_<4 digits>` pattern.
 */
export function lfwIdentity(path: string): string | undefined {
  const base = path.replace(/\\/g, '/').split('/').pop() ?? '';
  const m = /^(.+)_\d{4}\.[A-Za-z]+$/.exec(base);
  return m ? m[1] : undefined;
}

/**
 * The identity used for identity-disjoint splits of MTFL: the person's name for LFW images, and for
 * `net_7876` images a group read from the name (`5151_0_0.jpg` and `5151_2_0.jpg` -> `net:5151`,
 * `_0_1163_1.jpg` -> `net:_0_1163`). MTFL does not document these names; images sharing the number
 * were seen to show the same person, so they are kept together (a larger group costs nothing).
 */
export function mtflIdentity(path: string): string | undefined {
  const p = path.replace(/\\/g, '/');
  const base = p.split('/').pop() ?? '';
  if (/^lfw/i.test(p)) return lfwIdentity(p);
  const pose = /^(_-?\d+_\d+)_\d+\.[A-Za-z]+$/.exec(base);
  if (pose) return `net:${pose[1]}`;
  const plain = /^(\d+)_\d+_\d+\.[A-Za-z]+$/.exec(base);
  return plain ? `net:${plain[1]}` : undefined;
}

interface PendingSample {
  id: string;
  rel: string;
  abs: string;
  /** Where the annotation came from, for messages: `file` or `file:line`. */
  where: { file: string; line?: number };
  points: [number, number][];
  identity?: string;
  extra?: Record<string, unknown>;
  faceBox?: [number, number, number, number];
}

function toNumber(token: string, what: string, where: { file: string; line?: number }): number {
  const v = Number(token);
  if (token.trim() === '' || !Number.isFinite(v)) {
    throw new DatasetError(where.file, `${what} is not a number: "${token}"`, { line: where.line });
  }
  return v;
}

/** Drops samples whose image is missing (in `skip` mode) or throws (in `error` mode). */
async function keepExisting(pending: PendingSample[], collector: SkipCollector): Promise<PendingSample[]> {
  const exists = new Array<boolean>(pending.length);
  for (let i = 0; i < pending.length; i += 256) {
    const chunk = pending.slice(i, i + 256);
    const found = await Promise.all(chunk.map((p) => isFile(p.abs)));
    found.forEach((f, k) => (exists[i + k] = f));
  }
  const kept: PendingSample[] = [];
  pending.forEach((p, i) => {
    if (exists[i]) kept.push(p);
    else {
      const at = p.where.line !== undefined ? `${p.where.file}:${p.where.line}` : p.where.file;
      collector.fail(new DatasetError(p.abs, `image file is missing (listed at ${at})`));
    }
  });
  return kept;
}

function makeSamples(pending: PendingSample[], options: LandmarkLoadOptions): Sample[] {
  const task = options.taskName ?? LANDMARKS_TASK;
  const tol = options.pointTolerance ?? 0.05;
  const seen = new Map<string, number>();
  return pending.map((p) => {
    const n = (seen.get(p.id) ?? 0) + 1;
    seen.set(p.id, n);
    const id = n === 1 ? p.id : `${p.id}#${n}`;
    return {
      id,
      ...(p.identity !== undefined ? { identity: p.identity } : {}),
      async load(): Promise<LabelledImage> {
        const image = await decodeImage(p.abs, { limitInputPixels: options.limitInputPixels });
        const { width: w, height: h } = image;
        p.points.forEach(([x, y], i) => {
          if (x < -tol * w || x > w * (1 + tol) || y < -tol * h || y > h * (1 + tol)) {
            throw new DatasetError(p.where.file, `point ${i + 1} (${x}, ${y}) lies outside the ${w}x${h} image ${p.rel}`, {
              line: p.where.line,
              hint: 'coordinates must be pixels of this image; check the x/y order and the image',
            });
          }
        });
        const label: LandmarkLabel = { points: p.points.map(([x, y]) => [x, y]) };
        return {
          image,
          labels: { [task]: label, ...p.extra },
          ...(p.faceBox ? { faceBox: [...p.faceBox] as [number, number, number, number] } : {}),
        };
      },
    };
  });
}

function dataset(name: string, tasks: string[], samples: Sample[], collector: SkipCollector): Dataset {
  return { name, tasks, samples, ...(collector.skipped.length ? { skipped: collector.skipped } : {}) };
}

/**
 * MTFL (Zhang et al., ECCV 2014) in its own format: `training.txt` / `testing.txt`, one face per line,
 * `path x1..x5 y1..y5 gender smile glasses pose` with Windows `\` paths, CRLF line ends and leading
 * spaces. Labels: `landmarks` (the five points, {@link MTFL_5}) and `attributes` ({@link MtflAttributes}).
 * Samples carry an `identity` ({@link mtflIdentity}) for identity-disjoint splits.
 */
export async function loadMtfl(root: string, options: MtflLoadOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  if (options.landmarkSet && options.landmarkSet.points.length !== MTFL_5.points.length) {
    throw new Error(`loadMtfl: MTFL has 5 points but the landmark set "${options.landmarkSet.name}" has ${options.landmarkSet.points.length}`);
  }
  const split = options.split ?? 'train';
  const fileName = options.file ?? MTFL_SPLITS[split];
  if (!fileName) throw new Error(`loadMtfl: unknown split "${split}"; use train or test, or pass options.file`);
  const annFile = join(root, fileName);
  const text = await readTextFile(annFile, 'MTFL keeps its annotations in training.txt and testing.txt at its root');
  const pending: PendingSample[] = [];
  for (const { line, text: raw } of numberedLines(text)) {
    collector.attempt(() => {
      const where = { file: annFile, line };
      const tokens = raw.trim().split(/\s+/);
      const numbers = tokens.length - 1;
      if (numbers !== 14) {
        throw new DatasetError(annFile, `expected an image path and 14 numbers (x1..x5 y1..y5 gender smile glasses pose), found ${numbers} number${numbers === 1 ? '' : 's'}`, { line });
      }
      const rel = tokens[0];
      const abs = resolveInside(root, rel, where);
      const v = tokens.slice(1).map((t, i) => toNumber(t, i < 5 ? `x${i + 1}` : i < 10 ? `y${i - 4}` : ['gender', 'smile', 'glasses', 'pose'][i - 10], where));
      const code = (value: number, name: string, max: number) => {
        if (!Number.isInteger(value) || value < 1 || value > max) {
          throw new DatasetError(annFile, `${name} must be an integer from 1 to ${max}, got ${value}`, { line });
        }
        return value;
      };
      const attributes: MtflAttributes = {
        gender: code(v[10], 'gender', 2) === 1 ? 'male' : 'female',
        smile: code(v[11], 'smile', 2) === 1,
        glasses: code(v[12], 'glasses', 2) === 1,
        pose: code(v[13], 'pose', 5) as MtflAttributes['pose'],
      };
      const id = rel.replace(/\\/g, '/');
      pending.push({
        id,
        rel: id,
        abs,
        where,
        points: [0, 1, 2, 3, 4].map((i) => [v[i], v[5 + i]]),
        ...(options.boxFromPoints === false ? {} : { faceBox: fivePointBox([0, 1, 2, 3, 4].map((i) => [v[i], v[5 + i]])) }),
        identity: mtflIdentity(id),
        extra: { [MTFL_ATTRIBUTES_TASK]: attributes },
      });
    });
  }
  const kept = await keepExisting(pending, collector);
  return dataset(`mtfl/${options.file ?? split}`, [options.taskName ?? LANDMARKS_TASK, MTFL_ATTRIBUTES_TASK], makeSamples(kept, options), collector);
}

/** `.pts` files (300-W, iBUG, LFPW, HELEN, AFW as distributed by iBUG). */
export interface PtsLoadOptions extends LandmarkLoadOptions {
  /**
   * `split`: sub-folders of the root to read, comma-separated (`lfpw/trainset,helen/trainset,afw`).
   * Default: the whole root.
   */
  split?: string;
  /**
   * The point set of the labels. Default {@link IBUG_68}. A 5-point set with 68-point files reduces
   * them with {@link reduce68To5}; otherwise the files must have as many points as the set.
   */
  landmarkSet?: LandmarkSet;
  /**
   * Give each sample a face box from its points: {@link fivePointBox} of the 5 points 68-point files
   * reduce to, else the bounding box of all points. Default true.
   */
  boxFromPoints?: boolean;
}

/**
 * `.pts` coordinates count pixels from 1 (the centre of the first pixel is 1.0, Matlab's convention,
 * menpo subtracts 1); this library puts pixel centres at integer + 0.5, so 0.5 is subtracted.
 */
export const PTS_OFFSET = -0.5;

/** Parses the text of one `.pts` file (`version: 1`, `n_points: N`, `{`, N lines `x y`, `}`). */
export function parsePts(text: string, file: string): [number, number][] {
  const lines = numberedLines(text);
  let n: number | undefined;
  let i = 0;
  for (; i < lines.length; i++) {
    const t = lines[i].text.trim();
    if (t === '{') break;
    const m = /^([A-Za-z_]+)\s*:\s*(.*)$/.exec(t);
    if (!m) throw new DatasetError(file, `expected a header line "key: value" or "{", found "${t}"`, { line: lines[i].line });
    if (m[1] === 'n_points') {
      n = Number(m[2]);
      if (!Number.isInteger(n) || n < 1) throw new DatasetError(file, `n_points must be a positive integer, got "${m[2]}"`, { line: lines[i].line });
    }
  }
  if (i === lines.length) throw new DatasetError(file, 'no "{" opening the list of points');
  if (n === undefined) throw new DatasetError(file, 'the header has no n_points');
  const points: [number, number][] = [];
  for (i++; i < lines.length; i++) {
    const { line, text: raw } = lines[i];
    const t = raw.trim();
    if (t === '}') break;
    const tokens = t.split(/\s+/);
    if (tokens.length !== 2) throw new DatasetError(file, `expected two numbers "x y", found ${tokens.length} values`, { line });
    const where = { file, line };
    points.push([toNumber(tokens[0], 'x', where) + PTS_OFFSET, toNumber(tokens[1], 'y', where) + PTS_OFFSET]);
  }
  if (i === lines.length) throw new DatasetError(file, 'no "}" closing the list of points');
  if (points.length !== n) throw new DatasetError(file, `n_points says ${n} but ${points.length} points are listed`);
  return points;
}

/**
 * The face box of MTFL's five points (eyes, nose, mouth corners): core's `faceBoxFromKeypoints`, the
 * framing a face detector's keypoints give in prediction too.
 */
export function fivePointBox(points: [number, number][]): [number, number, number, number] {
  const [le, re, , ml, mr] = points;
  return faceBoxFromKeypoints(le, re, [(ml[0] + mr[0]) / 2, (ml[1] + mr[1]) / 2]);
}

function boundingBox(points: [number, number][]): [number, number, number, number] {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const y0 = Math.min(...ys);
  return [x0, y0, Math.max(Math.max(...xs) - x0, 1), Math.max(Math.max(...ys) - y0, 1)];
}

/**
 * 300-W / iBUG layout: every `name.pts` beside its image `name.jpg` / `.jpeg` / `.png` (any depth
 * below the root or the `split` folders). Points use `landmarkSet` (default {@link IBUG_68}; with
 * {@link MTFL_5}, 68-point files are reduced to 5); the face box is the bounding box of all the file's
 * points unless `boxFromPoints` is false.
 */
export async function loadPts(root: string, options: PtsLoadOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const set = options.landmarkSet ?? IBUG_68;
  const folders = options.split ? options.split.split(',').map((s) => s.trim()).filter(Boolean) : [''];
  const pending: PendingSample[] = [];
  for (const folder of folders) {
    const base = folder === '' ? root : resolveInside(root, folder, { file: root });
    const files = await listFiles(base, { recursive: true, hint: 'pass existing sub-folders of the root as split' });
    const present = new Set(files);
    for (const ptsRel of files.filter((f) => f.toLowerCase().endsWith('.pts'))) {
      const ptsFile = join(base, ptsRel);
      const stem = ptsRel.slice(0, -4);
      const imageRel = ['.jpg', '.jpeg', '.png', '.JPG', '.JPEG', '.PNG'].map((e) => stem + e).find((f) => present.has(f));
      const text = await collector.attemptAsync(() => readTextFile(ptsFile));
      if (text === undefined) continue;
      collector.attempt(() => {
        if (!imageRel) throw new DatasetError(ptsFile, `no image ${stem}.jpg, .jpeg or .png beside the .pts file`);
        let points = parsePts(text, ptsFile);
        const reduce = points.length === 68 && set.points.length === 5;
        if (points.length !== set.points.length && !reduce) {
          throw new DatasetError(ptsFile, `${points.length} points but the landmark set "${set.name}" has ${set.points.length}`, {
            hint: 'pass the matching set as landmarkSet',
          });
        }
        const faceBox =
          options.boxFromPoints === false
            ? undefined
            : points.length === 68
              ? fivePointBox(reduce68To5(points))
              : boundingBox(points);
        if (reduce) points = reduce68To5(points);
        const id = folder === '' ? imageRel : `${folder.replace(/\\/g, '/').replace(/\/$/, '')}/${imageRel}`;
        pending.push({ id, rel: id, abs: join(base, imageRel), where: { file: ptsFile }, points, faceBox });
      });
    }
  }
  return dataset(`pts/${options.split ?? 'all'}`, [options.taskName ?? LANDMARKS_TASK], makeSamples(pending, options), collector);
}

/** Generic CSV: `path,x1,y1,x2,y2,...` (a header row is recognised and skipped). */
export interface LandmarkCsvOptions extends LandmarkLoadOptions {
  /** CSV file relative to the root. Default `<split>.csv` with a split, else `landmarks.csv`. */
  file?: string;
  /** The point set. Default: {@link MTFL_5} for 5 points, {@link IBUG_68} for 68; required otherwise. */
  landmarkSet?: LandmarkSet;
}

/**
 * A generic CSV of image paths (relative to the root) and interleaved point coordinates in pixels.
 * Fields may be quoted (RFC 4180), so a path may hold commas, `""` and line breaks; errors name the
 * line a row starts on.
 */
export async function loadLandmarkCsv(root: string, options: LandmarkCsvOptions = {}): Promise<Dataset> {
  const collector = new SkipCollector(options.onError);
  const fileName = options.file ?? (options.split ? `${options.split}.csv` : 'landmarks.csv');
  const csv = join(root, fileName);
  const text = await readTextFile(csv, 'expected a CSV of path,x1,y1,x2,y2,...');
  let set = options.landmarkSet;
  const pending: PendingSample[] = [];
  let first = true;
  for await (const { fields, line } of csvRows(text, csv)) {
    const header = first && fields.length > 1 && !Number.isFinite(Number(fields[1]));
    first = false;
    if (header) continue;
    collector.attempt(() => {
      const where = { file: csv, line };
      const numbers = fields.length - 1;
      if (numbers < 2 || numbers % 2 !== 0) {
        throw new DatasetError(csv, `expected a path and an even number of coordinates (x1,y1,x2,y2,...), found ${numbers}`, { line });
      }
      if (!set) {
        set = numbers === 10 ? MTFL_5 : numbers === 136 ? IBUG_68 : undefined;
        if (!set) throw new DatasetError(csv, `${numbers / 2} points per line; pass landmarkSet for a point set other than 5 or 68`, { line });
      }
      if (numbers !== 2 * set.points.length) {
        throw new DatasetError(csv, `expected ${2 * set.points.length} coordinates for the set "${set.name}", found ${numbers}`, { line });
      }
      const abs = resolveInside(root, fields[0], where);
      const v = fields.slice(1).map((f, i) => toNumber(f, `${i % 2 ? 'y' : 'x'}${(i >> 1) + 1}`, where));
      const points = Array.from({ length: numbers / 2 }, (_, i) => [v[2 * i], v[2 * i + 1]] as [number, number]);
      const id = fields[0].replace(/\\/g, '/');
      pending.push({ id, rel: id, abs, where, points });
    });
  }
  const kept = await keepExisting(pending, collector);
  return dataset(`csv/${fileName}`, [options.taskName ?? LANDMARKS_TASK], makeSamples(kept, options), collector);
}

const registry = formatRegistry(
  { kind: 'landmark', recipe: { module: '@ifan/task-landmarks/node', export: 'loadLandmarkDataset' } },
  { mtfl: loadMtfl, pts: loadPts, csv: loadLandmarkCsv },
);

/** Formats {@link loadLandmarkDataset} reads. */
export const LANDMARK_FORMATS = registry.formats;
export type LandmarkFormat = (typeof LANDMARK_FORMATS)[number];

/** Reads a landmark data set by format name (what a plugin's `loadDataset` calls); its recipe repeats the call. */
export function loadLandmarkDataset(format: string, root: string, options: MtflLoadOptions & PtsLoadOptions & LandmarkCsvOptions = {}): Promise<Dataset> {
  return registry.loadDataset(format, root, options);
}
