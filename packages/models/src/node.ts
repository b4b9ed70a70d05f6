/**
 * `@ifan/models/node`: {@link loadPretrained} reads a shipped model from the installed package's
 * `models/` folder. Node only (the file system); the main entry stays browser-safe.
 */
import { fileURLToPath } from 'node:url';
import { fileSystemHandler } from '@ifan/core/node';
import { pretrainedInfo } from './index';
import { loadPretrainedFrom, type PretrainedModel } from './load';

export * from './index';

/** The folder of a shipped model's files (`model.json`, `weights.bin`, `expected.json`). */
export function pretrainedDir(name: string): string {
  pretrainedInfo(name);
  return fileURLToPath(new URL(`../models/${name}/`, import.meta.url));
}

/** Loads a shipped model from the installed files: `await loadPretrained('landmarks')`. */
export async function loadPretrained(name: string): Promise<PretrainedModel> {
  return loadPretrainedFrom(fileSystemHandler(pretrainedDir(name)), `@ifan/models ${name}`);
}
