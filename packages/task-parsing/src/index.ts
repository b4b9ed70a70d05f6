export type * from './types';
export { parsingTask } from './plugin';
export type { ParsingTaskOptions } from './plugin';
export * from './loaders';
export * from './transform';
export * from './metrics';
export { colorizeLabelMap, drawParsing } from './visualize';
