/**
 * @ifan/synthetic: procedural faces with exact labels for face parsing (Helen classes), 5 facial
 * landmarks (MTFL order) and 7 expressions (FER2013 folder order), in domains with different image
 * statistics. Browser-safe; `@ifan/synthetic/node` adds the writers to the real data sets' disk layouts
 * (files, JPEG and PNG through sharp).
 */
export { CLASS, EXPRESSIONS, HELEN_CLASSES, HELEN_COLORS, MTFL_POINTS } from './constants';
export type { ExpressionName } from './constants';
export { generateFace, DEFAULT_FACE_OPTIONS } from './generate';
export { syntheticDataset, syntheticDomains } from './dataset';
export type { SyntheticDataset, SyntheticDatasetOptions, SyntheticDomainsOptions, SyntheticSample } from './dataset';
export { DOMAINS } from './domains';
export type { DomainName, DomainSpec } from './domains';
export { DEFAULT_IMAGING } from './imaging';
// the generator is core's Rng; these names stay for code written against earlier versions
export { mixSeed } from '@ifan/core/rng';
export type { RandomSource } from '@ifan/core/rng';
export { SeededRandom } from './rng';
export { colorizeMask, drawLandmarks } from './visualize';
export type * from './types';
