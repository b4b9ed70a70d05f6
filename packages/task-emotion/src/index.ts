/**
 * `@ifan/task-emotion`: the emotion task's model side (plugin, label transforms, metrics, drawing) and its
 * label sets. Browser-safe; the data-set loaders are in `@ifan/task-emotion/node`.
 */
export type * from './types';
export { emotionTask } from './plugin';
export type { EmotionTaskOptions } from './plugin';
export * from './sets';
export * from './metrics';
export { drawEmotion, EMOTION_COLORS } from './visualize';
