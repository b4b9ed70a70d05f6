export type * from './types';
export { landmarkTask } from './plugin';
export type { LandmarkTaskOptions } from './plugin';
export * from './loaders';
export * from './transform';
export * from './metrics';
export { drawLandmarks } from './visualize';
