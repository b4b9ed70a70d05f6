/**
 * Data-set formats by name: a task's Node entry lists its loaders once and gets the `formats` list and
 * a `loadDataset(format, root, options)` that dispatches to them, so that no task writes its own switch.
 */
import { resolve } from 'node:path';
import type { Dataset, Recipe } from '../data/types';

/** Reads a data set of one format from a folder (or file) `root`. */
export type FormatLoader<O> = (root: string, options: O) => Promise<Dataset>;

export interface FormatRegistryOptions {
  /** What the data sets label, for errors: `landmark` gives `unknown landmark data set format "x"`. */
  kind: string;
  /**
   * Module and export of the function that calls {@link FormatRegistry.loadDataset} with its own
   * arguments `(format, root, options)`: a data set's recipe names it, so that the trainer's batch
   * worker lists the same samples again.
   */
  recipe: Omit<Recipe, 'args'>;
}

export interface FormatRegistry<F extends string, O> {
  /** The format names, in the order the loaders were given. */
  readonly formats: readonly F[];
  /**
   * Reads a data set by format name, with a recipe that repeats the call (`root` made absolute);
   * an unknown name is an error that lists the known ones.
   */
  loadDataset(format: string, root: string, options?: O): Promise<Dataset>;
}

/**
 * A registry of the data-set formats of one task: `loaders` maps each format name to its loader.
 * ```ts
 * const registry = formatRegistry({ kind: 'emotion', recipe: { module: '@ifan/task-emotion/node', export: 'loadEmotionDataset' } },
 *   { folders: loadEmotionFolders, 'fer2013-csv': loadFer2013Csv, csv: loadEmotionCsv });
 * ```
 */
export function formatRegistry<F extends string, O extends object>(options: FormatRegistryOptions, loaders: Record<F, FormatLoader<O>>): FormatRegistry<F, O> {
  const formats = Object.keys(loaders) as F[];
  return {
    formats,
    async loadDataset(format, root, opts = {} as O) {
      if (!Object.hasOwn(loaders, format)) throw new Error(`unknown ${options.kind} data set format "${format}"; known: ${formats.join(', ')}`);
      const dataset = await loaders[format as F](root, opts);
      return { ...dataset, recipe: { ...options.recipe, args: [format, resolve(root), { ...opts }] } };
    },
  };
}
