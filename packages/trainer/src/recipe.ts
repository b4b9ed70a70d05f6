/**
 * Makes an object from its recipe (`{ module, export, args }`): how the batch and gradient workers
 * rebuild plugins and data sets, and how `loadModel` creates the plugins a model was saved with.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Recipe } from '@ifan/core';

/**
 * `await (await import(module))[export](...args)`. The module is resolved from this package (which
 * depends on the built-in task packages), else from the working directory (a user's own plugin
 * package, installed in their project).
 */
export async function fromRecipe<T>(recipe: Recipe): Promise<T> {
  const mod = await importModule(recipe.module);
  const factory = mod[recipe.export];
  if (typeof factory !== 'function') throw new Error(`module ${recipe.module} has no function export "${recipe.export}"`);
  return (await factory(...recipe.args)) as T;
}

async function importModule(specifier: string): Promise<Record<string, unknown>> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (first) {
    if ((first as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw first;
    let path: string;
    try {
      path = createRequire(join(process.cwd(), 'package.json')).resolve(specifier);
    } catch {
      throw new Error(`cannot find module "${specifier}" (from @ifan/trainer or from ${process.cwd()}): install the package that provides it`);
    }
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  }
}
