/**
 * `@ifan/task-parsing/node`: everything of `@ifan/task-parsing` plus data loading, which needs the file
 * system and sharp: the Helen, FASSEG, CelebAMask-HQ and indexed-PNG loaders, and `parsingTask` whose plugin also loads data sets
 * (`formats`, `loadDataset`). The main entry is the model side only and runs in a browser.
 */
import type { LoadingTaskPlugin } from '@ifan/core';
import { loadParsingDataset, PARSING_FORMATS } from './loaders';
import { parsingTask as modelTask, type ParsingTaskOptions } from './plugin';
import { HELEN_11, resolveParsingLabelSet } from './sets';
import type { ParsingLabel, ParsingOutput } from './types';

export * from './index';
export * from './loaders';

/**
 * The parsing task of `@ifan/task-parsing` that also reads data sets: `loadDataset(format, root)` labels
 * them with this plugin's name and labelSet. Its recipe rebuilds it from this entry.
 */
export function parsingTask(options: ParsingTaskOptions = {}): LoadingTaskPlugin<ParsingLabel, ParsingOutput> {
  const plugin = modelTask(options);
  const set = resolveParsingLabelSet(options.labelSet ?? HELEN_11);
  return {
    ...plugin,
    formats: PARSING_FORMATS,
    // how the trainer's batch worker makes this plugin again
    recipe: { module: '@ifan/task-parsing/node', export: 'parsingTask', args: [{ ...options }] },
    loadDataset: (format, root, opts) => loadParsingDataset(format, root, { ...opts, taskName: plugin.name, labelSet: set }),
  };
}
