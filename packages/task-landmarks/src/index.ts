/**
 * `@ifan/task-landmarks`: the landmarks task's model side (plugin, label transforms, metrics, drawing) and its
 * label sets. Browser-safe; the data-set loaders are in `@ifan/task-landmarks/node`.
 */
export type * from './types';
export { landmarkTask } from './plugin';
export type { LandmarkTaskOptions } from './plugin';
export * from './sets';
export * from './transform';
export * from './metrics';
export { drawLandmarks } from './visualize';
