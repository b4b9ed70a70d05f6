/**
 * Prediction on image files, as JSON in original-image coordinates and an overlay PNG drawn by the
 * plugins that can draw (`visualize`): {@link predictFaces} finds every face of each photo (or takes
 * given boxes) and analyses each as training framed faces; {@link predictImages} takes each image as
 * one face (its face box, else the centred square), for images that are already face crops.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { RawImage, Sample } from '@ifan/core';
import { decodeImage, encodePng, SkipCollector, type SkippedFile } from '@ifan/core/node';
import { imageTensor, loadBatch } from './batches';
import { analyzeFaces, type AnalyzeFacesOptions, type FaceBox, type FaceResult } from './faces';
import type { LoadedModel } from './model';

export interface PredictOptions {
  /** Interaction iterations. Default the network's ITER. */
  iterations?: number;
  /** Batch-norm key for every task (the data set whose statistics the images resemble). Default each task's own. */
  bnKey?: string;
  /**
   * Test-time mirroring: each face is also analysed mirrored, and each task's prediction is the mean of
   * the two (`InferenceOptions.mirror`). Twice the compute. Default false.
   */
  mirror?: boolean;
  /** Where `<name>.json` and `<name>.overlay.png` go; nothing is written without it. */
  outDir?: string;
  /**
   * A file that cannot be read (missing, corrupt, not an image, over the pixel limit): `error`
   * (default) stops there; `skip` leaves it out, reports it to `onSkip` and goes on.
   */
  onError?: 'error' | 'skip';
  /** Called with every file left out in `skip` mode. */
  onSkip?(file: SkippedFile): void;
  /** Largest image accepted, in pixels (image files only). Default 100 megapixels. */
  limitInputPixels?: number;
}

export interface Prediction {
  /** The file, or the sample id. */
  file: string;
  width: number;
  height: number;
  /** Each task's decoded result in original-image coordinates. */
  outputs: Record<string, unknown>;
  /** The original image with every drawable result drawn on it. */
  overlay: RawImage;
  /** What makes the result doubtful (an image far smaller than the network's input). */
  warnings?: string[];
}

/** Predicts every image file, one at a time; writes JSON and overlays when `outDir` is given. */
export function predictImages(model: LoadedModel, files: readonly string[], options: PredictOptions = {}): Promise<Prediction[]> {
  return predictSamples(
    model,
    files.map((file) => ({ id: file, load: async () => ({ image: await decodeImage(file, { limitInputPixels: options.limitInputPixels }), labels: {} }) })),
    options,
  );
}

/**
 * Predicts samples (cropped like in training: the face box when the sample has one), one at a time;
 * labels are ignored.
 */
export async function predictSamples(model: LoadedModel, samples: readonly Sample[], options: PredictOptions = {}): Promise<Prediction[]> {
  const { net, plugins } = model;
  const iterations = options.iterations ?? net.config.iterations;
  const S = net.inputSize;
  const out: Prediction[] = [];
  if (options.outDir) await mkdir(options.outDir, { recursive: true });
  const collector = new SkipCollector(options.onError);
  for (const sample of samples) {
    const before = collector.skipped.length;
    const batch = await collector.attemptAsync(() => loadBatch([sample], { inputSize: S, crop: { margin: net.framing.margin }, plugins: [], keepOriginals: true }));
    if (!batch) {
      for (const f of collector.skipped.slice(before)) options.onSkip?.(f);
      continue;
    }
    const image = batch.originals![0].image;
    const warnings: string[] = [];
    if (Math.min(image.width, image.height) < S / 4) {
      warnings.push(
        `${sample.id} is ${image.width}x${image.height} pixels, far smaller than the network's ${S}x${S} input: it is enlarged more than 4 times and its results mean little`,
      );
    }
    const x = imageTensor(batch, S);
    let decoded: Record<string, unknown[]>;
    try {
      decoded = await net.predict(x, { iterations, bnKey: options.bnKey, transforms: batch.transforms, mirror: options.mirror });
    } finally {
      x.dispose();
    }
    const outputs = Object.fromEntries(plugins.map((p) => [p.name, decoded[p.name][0]]));
    let overlay = image;
    for (const p of plugins) if (p.visualize) overlay = p.visualize(overlay, outputs[p.name]);
    const result: Prediction = { file: sample.id, width: image.width, height: image.height, outputs, overlay, ...(warnings.length ? { warnings } : {}) };
    if (options.outDir) await writePrediction(options.outDir, result, iterations);
    out.push(result);
  }
  return out;
}

export interface PredictFacesOptions extends Omit<PredictOptions, 'onError'>, Pick<AnalyzeFacesOptions, 'detector' | 'minScore' | 'maxFaces' | 'align'> {
  /**
   * Faces given as framing boxes, which skip detection: the same boxes for every file, or a function
   * of the file (`undefined`: detect in that file).
   */
  boxes?: readonly FaceBox[] | ((file: string) => readonly FaceBox[] | undefined);
  /** A file that cannot be read: `skip` (default here) leaves it out and reports it; `error` stops. */
  onError?: 'error' | 'skip';
}

/** One photo's faces. */
export interface FacesPrediction {
  file: string;
  width: number;
  height: number;
  /** Where the faces came from. */
  source: 'detector' | 'boxes';
  /** One result per face, empty when no face was found. */
  faces: FaceResult[];
  /** The photo with every face drawn. */
  overlay: RawImage;
  /** What makes results doubtful (a photo or a face far smaller than the network's input). */
  warnings?: string[];
}

/**
 * Every face of every photo: found by `detector` (or given by `boxes`), framed as training framed
 * faces (the model's saved crop margin), all faces of a photo in one batch, results in the photo's
 * coordinates. A photo without faces is a result with no faces. Unreadable files are skipped and
 * reported to `onSkip` (unless `onError: 'error'`); the run goes on.
 */
export async function predictFaces(model: LoadedModel, files: readonly string[], options: PredictFacesOptions = {}): Promise<FacesPrediction[]> {
  const iterations = options.iterations ?? model.net.config.iterations;
  const out: FacesPrediction[] = [];
  if (options.outDir) await mkdir(options.outDir, { recursive: true });
  const collector = new SkipCollector(options.onError ?? 'skip');
  for (const file of files) {
    const before = collector.skipped.length;
    const image = await collector.attemptAsync(() => decodeImage(file, { limitInputPixels: options.limitInputPixels }));
    if (!image) {
      for (const f of collector.skipped.slice(before)) options.onSkip?.(f);
      continue;
    }
    const boxes = typeof options.boxes === 'function' ? options.boxes(file) : options.boxes;
    const r = await analyzeFaces(image, {
      model,
      detector: options.detector,
      boxes,
      minScore: options.minScore,
      maxFaces: options.maxFaces,
      align: options.align,
      iterations,
      bnKey: options.bnKey,
      mirror: options.mirror,
    });
    const S = model.net.inputSize;
    const warnings: string[] = [];
    if (Math.min(image.width, image.height) < S / 4) {
      warnings.push(`${file} is ${image.width}x${image.height} pixels, far smaller than the network's ${S}x${S} input: too small to find or analyse faces in`);
    }
    for (const f of r.faces) {
      const side = Math.hypot(f.crop[1][0] - f.crop[0][0], f.crop[1][1] - f.crop[0][1]);
      if (side < S / 4) {
        warnings.push(`face ${f.index + 1} of ${file} is ${side.toFixed(0)} pixels across, far smaller than the network's ${S}x${S} input: it is enlarged more than 4 times and its results mean little`);
      }
    }
    const result: FacesPrediction = {
      file,
      width: image.width,
      height: image.height,
      source: r.source,
      faces: r.faces,
      overlay: r.overlay!,
      ...(warnings.length ? { warnings } : {}),
    };
    if (options.outDir) await writeFacesPrediction(options.outDir, result, iterations);
    out.push(result);
  }
  return out;
}

function fileStem(file: string): string {
  return basename(file, extname(file)).replace(/[^\w.-]+/g, '_');
}

/** `<name>.json` with one entry per face (label maps as `<name>.face<k>.<task>.png`) and `<name>.overlay.png`. */
async function writeFacesPrediction(dir: string, p: FacesPrediction, iterations: number): Promise<void> {
  const name = fileStem(p.file);
  const faces = [];
  for (const f of p.faces) {
    const outputs: Record<string, unknown> = {};
    for (const [task, value] of Object.entries(f.outputs)) {
      outputs[task] = await toJson(value, async (map) => {
        const png = `${name}.face${f.index + 1}.${task}.png`;
        await writeFile(join(dir, png), await encodePng(map));
        return png;
      });
    }
    faces.push({ ...f, outputs });
  }
  const json = { file: p.file, width: p.width, height: p.height, iterations, source: p.source, faceCount: p.faces.length, faces, overlay: `${name}.overlay.png`, ...(p.warnings ? { warnings: p.warnings } : {}) };
  await writeFile(join(dir, `${name}.json`), JSON.stringify(json, null, 2));
  await writeFile(join(dir, `${name}.overlay.png`), await encodePng(p.overlay));
}

/** `<name>.json` (label maps as `<name>.<task>.png` beside it) and `<name>.overlay.png`. */
async function writePrediction(dir: string, p: Prediction, iterations: number): Promise<void> {
  const name = fileStem(p.file);
  const outputs: Record<string, unknown> = {};
  for (const [task, value] of Object.entries(p.outputs)) {
    outputs[task] = await toJson(value, async (map) => {
      const file = `${name}.${task}.png`;
      await writeFile(join(dir, file), await encodePng(map));
      return file;
    });
  }
  const json = { file: p.file, width: p.width, height: p.height, iterations, outputs, overlay: `${name}.overlay.png`, ...(p.warnings ? { warnings: p.warnings } : {}) };
  await writeFile(join(dir, `${name}.json`), JSON.stringify(json, null, 2));
  await writeFile(join(dir, `${name}.overlay.png`), await encodePng(p.overlay));
}

type LabelMapLike = { width: number; height: number; data: Uint8Array };

function isLabelMap(v: unknown): v is LabelMapLike {
  const m = v as LabelMapLike;
  return typeof m === 'object' && m !== null && m.data instanceof Uint8Array && m.data.length === m.width * m.height;
}

/** A result as JSON: class maps become PNG files (`writeMap` returns the file name), typed arrays plain arrays. */
async function toJson(v: unknown, writeMap: (m: LabelMapLike) => Promise<string>): Promise<unknown> {
  if (isLabelMap(v)) return { png: await writeMap(v), width: v.width, height: v.height };
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return Promise.all(v.map((x) => toJson(x, writeMap)));
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = await toJson(x, writeMap);
    return o;
  }
  return v;
}
