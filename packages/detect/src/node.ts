/**
 * `@ifan/detect/node`: the detector with its weights read from the installed `@vladmandic/human`
 * package (never downloaded at run time). Node only (the file system); the main entry stays
 * browser-safe.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { createDetector as createDetectorWith, type DetectorOptions } from './detector';
import type { Detector } from './types';

export * from './index';

/** Directory of the installed `@vladmandic/human` (its `exports` hide `package.json`: found from its entry file). */
function humanPackageDir(): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('@vladmandic/human');
  } catch {
    throw new Error('@ifan/detect/node: @vladmandic/human is not installed; it ships the BlazeFace weights (npm install @vladmandic/human)');
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === '@vladmandic/human') return dir;
    } catch {
      // no package.json here: look further up
    }
  }
  throw new Error(`@ifan/detect/node: found @vladmandic/human's entry ${entry} but not its package directory`);
}

/**
 * Path of `models/NAME.json` in the installed `@vladmandic/human` (its `.bin` lies next to it), e.g.
 * `blazeface` (the detector's) or `emotion` (human's own expression model, which `pnpm bench
 * emotion-vs-human` compares with iFAN's).
 */
export function humanModelPath(name: string): string {
  const path = join(humanPackageDir(), 'models', `${name}.json`);
  if (!existsSync(path)) throw new Error(`@ifan/detect/node: ${path} is missing: this @vladmandic/human does not ship models/${name}.json`);
  return path;
}

/** Path of `blazeface.json` in the installed `@vladmandic/human` (its `.bin` lies next to it). */
export function blazefaceModelPath(): string {
  return humanModelPath('blazeface');
}

/** A tfjs `IOHandler` that reads a graph model (`model.json` + its weight files) from disk. */
export function fileModelHandler(jsonPath: string): tf.io.IOHandler {
  return {
    async load() {
      let json: { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[]; [k: string]: unknown };
      try {
        json = JSON.parse(await readFile(jsonPath, 'utf8'));
      } catch (e) {
        throw new Error(`@ifan/detect: cannot read the model ${jsonPath}: ${(e as Error).message}`);
      }
      const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
      const buffers = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dirname(jsonPath), p))));
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: json.format as string | undefined,
        generatedBy: json.generatedBy as string | undefined,
        convertedBy: json.convertedBy as string | null | undefined,
        userDefinedMetadata: json.userDefinedMetadata as Record<string, {}> | undefined,
      };
    },
  };
}

/**
 * {@link createDetector} of the main entry, with the model defaulting to the installed
 * `@vladmandic/human`'s BlazeFace; a string `model` is a path of a `model.json` on disk here.
 */
export async function createDetector(options: DetectorOptions = {}): Promise<Detector> {
  const model = options.model ?? blazefaceModelPath();
  return createDetectorWith({ ...options, model: typeof model === 'string' && !/^[a-z]+:\/\//i.test(model) ? fileModelHandler(model) : model });
}
