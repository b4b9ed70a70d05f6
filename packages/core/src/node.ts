/**
 * `@ifan/core/node`: the Node-only half of core (sharp, the file system). Importing it also lets
 * `saveNetwork` / `loadNetwork` take `file://` URLs.
 */
import { registerFileRouter } from './node/model-io';

export { fileSystemHandler, registerFileRouter } from './node/model-io';
export {
  DEFAULT_LIMIT_INPUT_PIXELS,
  DatasetError,
  IMAGE_EXTENSIONS,
  IMAGE_FORMATS,
  SkipCollector,
  decodeImage,
  decodeLabelImage,
  encodePng,
  isDirectory,
  isFile,
  listFiles,
  numberedLines,
  readTextFile,
  resolveInside,
  scanDataset,
  shuffle,
  splitDataset,
  writePng,
} from './node/image-io';
export type { DecodeOptions, LabelImage, ScanOptions, SkippedFile, SplitOptions } from './node/image-io';
export { csvRows } from './node/csv';
export type { CsvRow } from './node/csv';
export { formatRegistry } from './node/formats';
export type { FormatLoader, FormatRegistry, FormatRegistryOptions } from './node/formats';

registerFileRouter();
