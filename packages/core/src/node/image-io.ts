/**
 * Node-side data-set I/O: decoding images and masks with sharp, writing PNGs, the errors loaders
 * raise, `skip` mode, path containment, and deterministic shuffling and splitting.
 */
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import sharp from 'sharp';
import { Rng, type RandomSource } from '../rng';
import type { Dataset, LabelledImage, LabelMap, RawImage, Sample } from '../data/types';
import { subsetDataset } from '../data/recipe';

/** Largest image accepted by default, in pixels (the {@link LoadOptions} default, 100 megapixels). */
export const DEFAULT_LIMIT_INPUT_PIXELS = 100_000_000;

/** Formats {@link decodeImage} accepts (sharp's names). Others (SVG, GIF, HEIF, ...) are refused. */
export const IMAGE_FORMATS: readonly string[] = ['jpeg', 'png', 'tiff', 'webp'];

/** File extensions treated as images when listing folders. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.webp'];

// ---------------------------------------------------------------------------------------------------
// Errors and skip mode

/** A problem with one file of a data set: says which file (and line), what is wrong, how to fix it. */
export class DatasetError extends Error {
  readonly file: string;
  readonly line?: number;
  /** What is wrong, without the location. */
  readonly reason: string;
  readonly hint?: string;

  constructor(file: string, reason: string, options: { line?: number; hint?: string; cause?: unknown } = {}) {
    const where = options.line !== undefined ? `${file}:${options.line}` : file;
    super(`${where}: ${reason}${options.hint ? ` (${options.hint})` : ''}`, { cause: options.cause });
    this.name = 'DatasetError';
    this.file = file;
    this.line = options.line;
    this.reason = reason;
    this.hint = options.hint;
  }
}

export interface SkippedFile {
  file: string;
  reason: string;
}

/**
 * Implements `onError`: in `error` mode a problem is thrown, in `skip` mode it is recorded (file and
 * reason, line included) and the caller goes on without the file.
 */
export class SkipCollector {
  readonly skipped: SkippedFile[] = [];
  constructor(readonly mode: 'error' | 'skip' = 'error') {}

  /** Throws `error` in `error` mode; records it in `skip` mode. Errors that are not {@link DatasetError}s always throw. */
  fail(error: unknown): void {
    if (this.mode === 'error' || !(error instanceof DatasetError)) throw error;
    this.skipped.push({ file: error.file, reason: error.line !== undefined ? `line ${error.line}: ${error.reason}` : error.reason });
  }

  /** Runs `fn`; a {@link DatasetError} it throws is handled by {@link fail} and yields `undefined`. */
  attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.fail(e);
      return undefined;
    }
  }

  async attemptAsync<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      this.fail(e);
      return undefined;
    }
  }

  /** `skipped 2 files: a.jpg (reason); b.jpg (reason)`, listing at most `max` files. */
  summary(max = 10): string {
    const n = this.skipped.length;
    if (n === 0) return 'skipped no files';
    const shown = this.skipped.slice(0, max).map((s) => `${s.file} (${s.reason})`);
    return `skipped ${n} file${n === 1 ? '' : 's'}: ${shown.join('; ')}${n > max ? `; and ${n - max} more` : ''}`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Paths and text files

/**
 * The absolute path of `relPath` (an annotation's path; `\` separators are accepted) inside `root`.
 * @throws DatasetError if the path is absolute, contains a NUL byte, or climbs out of `root` with `..`.
 */
export function resolveInside(root: string, relPath: string, where: { file?: string; line?: number } = {}): string {
  const file = where.file ?? relPath;
  const p = relPath.replace(/\\/g, '/');
  const hint = 'annotation paths must be relative to the data set root and stay inside it';
  if (p.includes('\0')) throw new DatasetError(file, `path "${relPath}" contains a NUL byte`, { line: where.line, hint });
  if (p === '' || isAbsolute(p) || /^[A-Za-z]:/.test(p)) {
    throw new DatasetError(file, `path "${relPath}" is ${p === '' ? 'empty' : 'absolute'}`, { line: where.line, hint });
  }
  const base = resolve(root);
  const full = resolve(base, p);
  const rel = relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new DatasetError(file, `path "${relPath}" escapes the data set root ${base}`, { line: where.line, hint });
  }
  return full;
}

function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'file is missing';
    case 'EACCES':
    case 'EPERM':
      return 'file is unreadable (permission denied)';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'a parent of the path is not a directory';
    default:
      return `file is unreadable (${err.code ?? err.message})`;
  }
}

/** Reads a text file (UTF-8, BOM removed). @throws DatasetError naming the file when it is missing or unreadable. */
export async function readTextFile(file: string, hint?: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (e) {
    throw new DatasetError(file, fsReason(e), { hint, cause: e });
  }
}

/** Splits text into lines (LF, CRLF or CR) numbered from 1; blank lines are left out. */
export function numberedLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const lines = text.split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) if (lines[i].trim() !== '') out.push({ line: i + 1, text: lines[i] });
  return out;
}

/**
 * Files below `dir`, as sorted paths relative to it with `/` separators. Hidden files (`.DS_Store`)
 * are left out; with `extensions`, only files ending in one of them (case-insensitive).
 * @throws DatasetError when `dir` is missing or not a directory.
 */
export async function listFiles(
  dir: string,
  options: { recursive?: boolean; extensions?: readonly string[]; hint?: string } = {},
): Promise<string[]> {
  const out: string[] = [];
  const exts = options.extensions?.map((e) => e.toLowerCase());
  const walk = async (sub: string) => {
    let entries;
    try {
      entries = await readdir(sub === '' ? dir : resolve(dir, sub), { withFileTypes: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const reason = err.code === 'ENOENT' ? 'folder is missing' : err.code === 'ENOTDIR' ? 'is not a folder' : fsReason(e);
      throw new DatasetError(sub === '' ? dir : resolve(dir, sub), reason, { hint: options.hint, cause: e });
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) {
        if (options.recursive) await walk(rel);
      } else if (!exts || exts.some((e) => entry.name.toLowerCase().endsWith(e))) {
        out.push(rel);
      }
    }
  };
  await walk('');
  return out.sort();
}

/** True when `path` exists and is a directory. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** True when `path` exists and is a file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoding and encoding

export interface DecodeOptions {
  /** Largest image accepted, in pixels; larger ones are refused before decoding. Default 100 MP. */
  limitInputPixels?: number;
  /** Name used in errors when decoding a buffer. */
  name?: string;
}

/** A decoded mask: grey masks keep 1 channel, colour masks have 3 (alpha dropped). */
export interface LabelImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

type Input = string | Buffer | Uint8Array;

const SUPPORTED = 'supported: JPEG, PNG, TIFF, WebP';

/** An image opened by sharp whose format is one of {@link IMAGE_FORMATS}. */
interface OpenedImage {
  image: sharp.Sharp;
  meta: sharp.Metadata;
  bytes: Buffer;
  name: string;
  limit: number;
}

/**
 * Reads the bytes (naming a missing file as such) and checks sharp's format against
 * {@link IMAGE_FORMATS} before anything is decoded: sharp reads only the header, so SVG, GIF and the
 * other formats sharp could open are refused without being rendered; an image over the pixel limit
 * is refused here too.
 */
async function openImage(input: Input, options: DecodeOptions): Promise<OpenedImage> {
  const name = typeof input === 'string' ? input : (options.name ?? '<buffer>');
  let bytes: Buffer;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (e) {
      throw new DatasetError(name, `image ${fsReason(e)}`, { cause: e });
    }
  } else {
    bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  if (bytes.length === 0) throw new DatasetError(name, 'image file is empty', { hint: SUPPORTED });
  const limit = options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  const image = sharp(bytes, { limitInputPixels: limit, failOn: 'error' });
  let meta: sharp.Metadata;
  try {
    meta = await image.metadata();
  } catch (e) {
    throw await decodeError(name, bytes, e, limit);
  }
  if (!IMAGE_FORMATS.includes(meta.format)) throw new DatasetError(name, `unsupported image format "${meta.format}"`, { hint: SUPPORTED });
  return { image, meta, bytes, name, limit };
}

function overLimit(name: string, w: number, h: number, limit: number): DatasetError {
  return new DatasetError(name, `image is over the pixel limit (${w}x${h} = ${w * h} pixels > ${limit})`, {
    hint: 'a possible decompression bomb; raise limitInputPixels if the image is genuine',
  });
}

/** Turns a sharp failure into a DatasetError; for the pixel limit, reads the header for the size. */
async function decodeError(name: string, bytes: Buffer, e: unknown, limit: number): Promise<DatasetError> {
  const msg = (e as Error).message ?? String(e);
  if (/pixel limit/i.test(msg)) {
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => undefined);
    return overLimit(name, meta?.width ?? 0, meta?.height ?? 0, limit);
  }
  if (/unsupported image format/i.test(msg)) {
    return new DatasetError(name, 'not an image (unrecognised format)', { hint: SUPPORTED, cause: e });
  }
  return new DatasetError(name, `corrupt image: ${msg}`, { cause: e });
}

/**
 * Decodes a JPEG, PNG, TIFF or WebP file (or buffer) to 8-bit RGB: EXIF orientation applied, grey
 * expanded to 3 channels, alpha dropped, 16-bit reduced to 8, CMYK converted.
 * @throws DatasetError naming the file and the reason: missing, unreadable, empty, not an image or an
 * unsupported format (sharp's, against {@link IMAGE_FORMATS}), corrupt (truncated or damaged), or over
 * the pixel limit (sharp checks the header before decoding).
 */
export async function decodeImage(input: Input, options: DecodeOptions = {}): Promise<RawImage> {
  const { image, bytes, name, limit } = await openImage(input, options);
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    out = await image.rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw await decodeError(name, bytes, e, limit);
  }
  const { width, height, channels } = out.info;
  const src = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  if (channels === 3) return { width, height, channels: 3, data: src };
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const v = src[p * channels];
    data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = v;
  }
  return { width, height, channels: 3, data };
}

/**
 * Decodes a mask without altering its values: a grey (or grey + alpha) PNG gives 1 channel, a colour
 * or palette PNG gives 3; alpha is dropped. EXIF orientation is applied as for {@link decodeImage},
 * so a mask lines up with its image. Errors as for {@link decodeImage}.
 */
export async function decodeLabelImage(input: Input, options: DecodeOptions = {}): Promise<LabelImage> {
  const { image, meta, bytes, name, limit } = await openImage(input, options);
  const grey = meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2;
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    out = await image.rotate().removeAlpha().toColourspace(grey ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw await decodeError(name, bytes, e, limit);
  }
  const { width, height, channels } = out.info;
  const src = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
  const want = grey ? 1 : 3;
  if (channels === want) return { width, height, channels: want, data: src };
  const data = new Uint8Array(width * height * want);
  for (let p = 0; p < width * height; p++) for (let k = 0; k < want; k++) data[p * want + k] = src[p * channels + Math.min(k, channels - 1)];
  return { width, height, channels: want, data };
}

/** Encodes an RGB image, a class-index map or a decoded mask as PNG (lossless; a map becomes grey). */
export async function encodePng(image: RawImage | LabelMap | LabelImage): Promise<Buffer> {
  const channels = 'channels' in image ? image.channels : 1;
  const { width, height, data } = image;
  if (data.length !== width * height * channels) {
    throw new Error(`encodePng: data has ${data.length} bytes, expected ${width}x${height}x${channels}`);
  }
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const pipeline = sharp(buf, { raw: { width, height, channels } });
  return (channels === 1 ? pipeline.toColourspace('b-w') : pipeline).png().toBuffer();
}

/** Writes a PNG, creating the folder. */
export async function writePng(path: string, image: RawImage | LabelMap | LabelImage): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await encodePng(image));
}

// ---------------------------------------------------------------------------------------------------
// Shuffling, splitting, scanning

/** A shuffled copy of `items` (Fisher-Yates); the same `rng` state gives the same order. */
export function shuffle<T>(items: readonly T[], rng: RandomSource): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

export interface SplitOptions {
  /** Share of the samples put in the validation split, in (0, 1). */
  fraction: number;
  /** Seed of the shuffle. Default 0. */
  seed?: number;
  /**
   * Keep every identity on one side, so no person is in both splits. Default: true when any sample
   * has an `identity`. Samples without one are their own group.
   */
  byIdentity?: boolean;
}

/**
 * Carves a validation split out of a training set, deterministically (independent of the listing
 * order). By identity, whole identities go to validation until it holds at least `fraction` of the
 * samples, so the split is only approximately `fraction`.
 */
export function splitDataset(dataset: Dataset, options: SplitOptions): { train: Dataset; validation: Dataset } {
  const { fraction } = options;
  if (!(fraction > 0 && fraction < 1)) throw new Error(`splitDataset: fraction must be in (0, 1), got ${fraction}`);
  const byIdentity = options.byIdentity ?? dataset.samples.some((s) => s.identity !== undefined);
  const groups = new Map<string, Sample[]>();
  for (const s of dataset.samples) {
    const key = byIdentity && s.identity !== undefined ? `identity:${s.identity}` : `id:${s.id}`;
    const g = groups.get(key);
    if (g) g.push(s);
    else groups.set(key, [s]);
  }
  const keys = shuffle([...groups.keys()].sort(), new Rng(options.seed ?? 0));
  const target = Math.round(fraction * dataset.samples.length);
  const validation = new Set<Sample>();
  for (const key of keys) {
    if (validation.size >= target) break;
    for (const s of groups.get(key)!) validation.add(s);
  }
  const indices = dataset.samples.map((_, i) => i);
  return {
    train: subsetDataset(dataset, indices.filter((i) => !validation.has(dataset.samples[i])), `${dataset.name}/train`),
    validation: subsetDataset(dataset, indices.filter((i) => validation.has(dataset.samples[i])), `${dataset.name}/validation`),
  };
}

export interface ScanOptions {
  /** `error` (default) rethrows the first failing sample; `skip` drops it and records it. */
  onError?: 'error' | 'skip';
  /** Samples loaded at once. Default 8. */
  concurrency?: number;
  /** Called with every sample that loaded (in completion order). */
  onSample?(loaded: LabelledImage, sample: Sample): void;
}

/**
 * Loads every sample once: the full check of a data set (decoding, sizes, coordinates), which
 * loaders otherwise defer to `load()`. Returns the data set without the failing samples (they are
 * appended to `skipped` in `skip` mode) and the number that loaded.
 */
export async function scanDataset(dataset: Dataset, options: ScanOptions = {}): Promise<{ dataset: Dataset; loaded: number }> {
  const collector = new SkipCollector(options.onError ?? 'error');
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const ok = new Array<boolean>(dataset.samples.length).fill(false);
  let next = 0;
  let loaded = 0;
  const worker = async () => {
    while (next < dataset.samples.length) {
      const i = next++;
      const sample = dataset.samples[i];
      const li = await collector.attemptAsync(() => sample.load());
      if (li) {
        ok[i] = true;
        loaded++;
        options.onSample?.(li, sample);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, dataset.samples.length) }, worker));
  const skipped = [...(dataset.skipped ?? []), ...collector.skipped];
  // every sample loaded: the data set as it was (its recipe needs no pick)
  const out = loaded === dataset.samples.length ? { ...dataset, samples: dataset.samples.slice() } : subsetDataset(dataset, dataset.samples.flatMap((_, i) => (ok[i] ? [i] : [])));
  return { dataset: { ...out, ...(skipped.length ? { skipped } : {}) }, loaded };
}
