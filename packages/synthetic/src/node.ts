/**
 * `@ifan/synthetic/node`: everything of `@ifan/synthetic` plus the writers that put synthetic faces on
 * disk in the Helen, MTFL and folder-per-class layouts (the file system and sharp).
 */
export * from './index';
export { writeHelen, writeMtfl, writeImageFolders, formatMtfl, encodeJpeg } from './writers';
export type {
  ImageSource,
  WriteOptions,
  HelenWriteOptions,
  HelenWriteResult,
  MtflWriteOptions,
  MtflRecord,
  ImageFolderWriteOptions,
} from './writers';
