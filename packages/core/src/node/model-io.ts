import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

/**
 * A tfjs IO handler that saves to and loads from a directory (`model.json` + `weights.bin`), the
 * layout `tf.io.http` and `tfjs-node`'s `file://` handler read. Files are written to temporary names
 * and renamed, so a crash never leaves a half-written model.
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  const root = resolve(dir.replace(/^file:\/\//, ''));
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await mkdir(root, { recursive: true });
      const data = artifacts.weightData;
      const weights = Array.isArray(data) ? Buffer.concat(data.map((b) => Buffer.from(b))) : Buffer.from(data ?? new ArrayBuffer(0));
      const modelJson = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
      };
      const tmpW = join(root, `.${WEIGHTS_BIN}.${process.pid}.tmp`);
      const tmpM = join(root, `.${MODEL_JSON}.${process.pid}.tmp`);
      await writeFile(tmpW, weights);
      await writeFile(tmpM, JSON.stringify(modelJson));
      await rename(tmpW, join(root, WEIGHTS_BIN));
      await rename(tmpM, join(root, MODEL_JSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const path = join(root, MODEL_JSON);
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(path, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT') throw new Error(`no model at ${root}: ${MODEL_JSON} is missing`);
        throw new Error(`${path} is not readable JSON: ${err.message}`);
      }
      const manifest = json.weightsManifest ?? [];
      const specs = manifest.flatMap((g) => g.weights);
      const buffers: Buffer[] = [];
      for (const group of manifest) {
        for (const p of group.paths) {
          const file = resolve(root, p);
          if (!file.startsWith(root)) throw new Error(`${path}: weights path "${p}" escapes the model directory`);
          try {
            buffers.push(await readFile(file));
          } catch {
            throw new Error(`${path} names weights file ${p}, which cannot be read`);
          }
        }
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

let routed = false;

/** Lets `saveNetwork(net, 'file://dir')` and `loadNetwork('file://dir', plugins)` work in Node. */
export function registerFileRouter(): void {
  if (routed) return;
  routed = true;
  const router = (url: string | string[]) => {
    const u = Array.isArray(url) ? url[0] : url;
    // tfjs's router type says IOHandler, but routers answer null for URLs they do not handle
    return (typeof u === 'string' && u.startsWith('file://') ? fileSystemHandler(u) : null) as tf.io.IOHandler;
  };
  tf.io.registerSaveRouter(router);
  tf.io.registerLoadRouter(router);
}
