/**
 * `@ifan/task-emotion/node`: everything of `@ifan/task-emotion` plus data loading, which needs the file
 * system and sharp: the folder-per-class, FER2013 CSV and CSV loaders, and `emotionTask` whose plugin also loads data sets
 * (`formats`, `loadDataset`). The main entry is the model side only and runs in a browser.
 */
import type { LoadingTaskPlugin } from '@ifan/core';
import { loadEmotionDataset, EMOTION_FORMATS } from './loaders';
import { emotionTask as modelTask, type EmotionTaskOptions } from './plugin';
import { FER2013_7 } from './sets';
import type { EmotionLabel, EmotionOutput } from './types';

export * from './index';
export * from './loaders';

/**
 * The emotion task of `@ifan/task-emotion` that also reads data sets: `loadDataset(format, root)` labels
 * them with this plugin's name and labelSet. Its recipe rebuilds it from this entry.
 */
export function emotionTask(options: EmotionTaskOptions = {}): LoadingTaskPlugin<EmotionLabel, EmotionOutput> {
  const plugin = modelTask(options);
  const set = options.labelSet ?? FER2013_7;
  return {
    ...plugin,
    formats: EMOTION_FORMATS,
    // how the trainer's batch worker makes this plugin again
    recipe: { module: '@ifan/task-emotion/node', export: 'emotionTask', args: [{ ...options }] },
    loadDataset: (format, root, opts) => loadEmotionDataset(format, root, { ...opts, taskName: plugin.name, labelSet: set }),
  };
}
