/**
 * `@ifan/task-landmarks/node`: everything of `@ifan/task-landmarks` plus data loading, which needs the file
 * system and sharp: the MTFL, 300-W `.pts` and CSV loaders, and `landmarkTask` whose plugin also loads data sets
 * (`formats`, `loadDataset`). The main entry is the model side only and runs in a browser.
 */
import type { LoadingTaskPlugin } from '@ifan/core';
import { loadLandmarkDataset, LANDMARK_FORMATS } from './loaders';
import { landmarkTask as modelTask, type LandmarkTaskOptions } from './plugin';
import { MTFL_5 } from './sets';
import type { LandmarkLabel, LandmarkOutput } from './types';

export * from './index';
export * from './loaders';

/**
 * The landmarks task of `@ifan/task-landmarks` that also reads data sets: `loadDataset(format, root)` labels
 * them with this plugin's name and landmarkSet. Its recipe rebuilds it from this entry.
 */
export function landmarkTask(options: LandmarkTaskOptions = {}): LoadingTaskPlugin<LandmarkLabel, LandmarkOutput> {
  const plugin = modelTask(options);
  const set = options.landmarkSet ?? MTFL_5;
  return {
    ...plugin,
    formats: LANDMARK_FORMATS,
    // how the trainer's batch worker makes this plugin again
    recipe: { module: '@ifan/task-landmarks/node', export: 'landmarkTask', args: [{ ...options }] },
    loadDataset: (format, root, opts) => loadLandmarkDataset(format, root, { ...opts, taskName: plugin.name, landmarkSet: set }),
  };
}
