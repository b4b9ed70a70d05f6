/**
 * `@ifan/task-parsing`: the parsing task's model side (plugin, label transforms, metrics, drawing) and its
 * label sets. Browser-safe; the data-set loaders are in `@ifan/task-parsing/node`.
 */
export type * from './types';
export { parsingTask } from './plugin';
export type { ParsingTaskOptions } from './plugin';
export * from './sets';
export * from './transform';
export * from './metrics';
export { colorizeLabelMap, drawParsing } from './visualize';
