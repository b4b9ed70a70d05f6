/**
 * Writes built-in synthetic faces in the real data sets' layouts (Helen, MTFL, one folder per class), so
 * that the examples read them exactly as they would read the real data: point the loaders at your own
 * copy of Helen, MTFL or FER2013 instead and nothing else changes.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { syntheticDataset, writeHelen, writeImageFolders, writeMtfl } from '@ifan/synthetic/node';

export interface SyntheticLayouts {
  helen: string;
  mtfl: string;
  fer: string;
}

/** `count` faces per data set, each data set in its own domain (image statistics) and layout. */
export async function writeSyntheticLayouts(dir: string, count: number, seed = 1): Promise<SyntheticLayouts> {
  const out = { helen: join(dir, 'helen'), mtfl: join(dir, 'mtfl'), fer: join(dir, 'fer') };
  await mkdir(dir, { recursive: true });
  await writeHelen(out.helen, syntheticDataset({ count, seed, domain: 'parsing' }), { split: [0.8, 0, 0.2] });
  await writeMtfl(out.mtfl, syntheticDataset({ count, seed: seed + 1, domain: 'landmarks' }));
  await writeImageFolders(out.fer, syntheticDataset({ count, seed: seed + 2, domain: 'emotion' }));
  return out;
}
