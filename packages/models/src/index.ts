/**
 * `@ifan/models`: pretrained iFAN networks whose weights ship inside this package (no download at run
 * time). Browser-safe: `loadPretrained(name, { from })` takes the URL where your app serves the model's
 * files (copy `node_modules/@ifan/models/models/<name>/`), or any tfjs IO handler. In Node,
 * `@ifan/models/node`'s `loadPretrained(name)` reads the installed files.
 */
import * as tf from '@tensorflow/tfjs-core';
import catalog from '../models/catalog.json' with { type: 'json' };
import { loadPretrainedFrom, type PretrainedModel } from './load';

export { loadPretrainedFrom } from './load';
export type { PretrainedModel } from './load';

/** One shipped model, as its model card summarises it (`models/catalog.json`). */
export interface PretrainedInfo {
  name: string;
  /** The tasks it predicts, in its network's order. */
  tasks: string[];
  description: string;
  /** Backbone preset or layout, and its input side. */
  preset: string;
  inputSize: number;
  /** Interaction iterations (ITER) of the network. */
  iterations: number;
  /** Validation figures per task (metric name -> value), from the training run that made it. */
  figures: Record<string, Record<string, number>>;
  /** Training data per task, with its licence terms. */
  data: Record<string, string>;
  /** Training CPU time, hours. */
  cpuHours: number;
  /** The command that trains it again from this repository. */
  command: string;
  /** Bytes of its files. */
  bytes: number;
}

/** Every shipped model. */
export const PRETRAINED: readonly PretrainedInfo[] = catalog as unknown as PretrainedInfo[];

/** The model loaded when none is named (the integrated 3-task network once shipped, else the first). */
export const DEFAULT_PRETRAINED: string = (PRETRAINED.find((m) => m.tasks.length === 3) ?? PRETRAINED[0]).name;

/** A shipped model's card; an error listing the shipped names for an unknown one. */
export function pretrainedInfo(name: string): PretrainedInfo {
  const info = PRETRAINED.find((m) => m.name === name);
  if (!info) throw new Error(`@ifan/models: no pretrained model "${name}"; shipped: ${PRETRAINED.map((m) => m.name).join(', ')}`);
  return info;
}

export interface LoadPretrainedOptions {
  /**
   * Where the model's files are: the URL of its `model.json` (e.g. `/models/landmarks/model.json`, with
   * `weights.bin` beside it), or a tfjs IO handler. Required in a browser.
   */
  from: string | tf.io.IOHandler;
}

/** Loads a shipped model in a browser (or from any handler). */
export async function loadPretrained(name: string, options: LoadPretrainedOptions): Promise<PretrainedModel> {
  pretrainedInfo(name);
  if (!options?.from) {
    throw new Error(`loadPretrained("${name}"): pass { from: URL of its model.json } (serve node_modules/@ifan/models/models/${name}/), or in Node import loadPretrained from '@ifan/models/node', which reads the installed files`);
  }
  const handler = typeof options.from === 'string' ? tf.io.http(options.from) : options.from;
  return loadPretrainedFrom(handler, typeof options.from === 'string' ? options.from : name);
}
