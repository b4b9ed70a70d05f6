export type * from './types';
export { emotionTask } from './plugin';
export type { EmotionTaskOptions } from './plugin';
export * from './loaders';
export * from './metrics';
export { drawEmotion, EMOTION_COLORS } from './visualize';
