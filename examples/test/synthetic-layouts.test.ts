import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticDataset, writeHelen, writeImageFolders, writeMtfl } from '@ifan/synthetic/node';
import { emotionTask, type EmotionLabel } from '@ifan/task-emotion/node';
import { landmarkTask, type LandmarkLabel } from '@ifan/task-landmarks/node';
import { parsingTask, type ParsingLabel } from '@ifan/task-parsing/node';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ifan-layout-'));
  dirs.push(d);
  return d;
}
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

// The synthetic writers and the task packages' real loaders agree: what is written loads with no
// error and with the labels the generator drew.
describe('synthetic data sets through the real loaders', () => {
  it('Helen layout -> parsing loader: identical masks', async () => {
    const dir = await tmp();
    const source = syntheticDataset({ count: 10, seed: 3, domain: 'parsing' });
    await writeHelen(dir, source, { split: [0.6, 0.2, 0.2] });
    const loaded = await parsingTask().loadDataset('helen', dir, { split: 'train' });
    expect(loaded.samples.length).toBe(6);
    // the batch worker rebuilds it from the Node entry, where the loaders are
    expect(loaded.recipe).toMatchObject({ module: '@ifan/task-parsing/node', export: 'loadParsingDataset' });
    const a = await loaded.samples[0].load();
    const b = await source.samples[0].load();
    const ma = (a.labels.parsing as ParsingLabel).mask;
    const mb = (b.labels.parsing as ParsingLabel).mask;
    expect([ma.width, ma.height]).toEqual([mb.width, mb.height]);
    expect(Buffer.from(ma.data).equals(Buffer.from(mb.data))).toBe(true);
  });

  it('MTFL format -> landmark loader: the same points, plus attributes', async () => {
    const dir = await tmp();
    const source = syntheticDataset({ count: 10, seed: 4, domain: 'landmarks' });
    await writeMtfl(dir, source, { trainFraction: 0.8 });
    const train = await landmarkTask().loadDataset('mtfl', dir, { split: 'train' });
    const test = await landmarkTask().loadDataset('mtfl', dir, { split: 'test' });
    expect([train.samples.length, test.samples.length]).toEqual([8, 2]);
    const a = await train.samples[0].load();
    const b = await source.samples[0].load();
    const pa = (a.labels.landmarks as LandmarkLabel).points;
    const pb = (b.labels.landmarks as LandmarkLabel).points;
    pa.forEach(([x, y], k) => {
      // MTFL stores coordinates with a few decimals
      expect(x).toBeCloseTo(pb[k][0], 1);
      expect(y).toBeCloseTo(pb[k][1], 1);
    });
    expect(a.labels.attributes).toBeDefined();
  });

  it('folder per class -> emotion loader: the same classes', async () => {
    const dir = await tmp();
    const source = syntheticDataset({ count: 14, seed: 5, domain: 'emotion' });
    await writeImageFolders(dir, source, { trainFraction: 1 });
    const loaded = await emotionTask().loadDataset('folders', dir, { split: 'train' });
    expect(loaded.samples.length).toBe(14);
    const want: number[] = [];
    for (const s of source.samples) want.push(((await s.load()).labels.emotion as EmotionLabel).classIndex);
    const got: number[] = [];
    for (const s of loaded.samples) got.push(((await s.load()).labels.emotion as EmotionLabel).classIndex);
    expect(got.sort()).toEqual(want.sort());
  });
});
