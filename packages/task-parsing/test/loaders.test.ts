import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, scanDataset, writePng } from '@ifan/core/node';
import {
  CELEBAMASK_19,
  FASSEG_6,
  HELEN_11,
  colorMaskToLabels,
  formatLabelSet,
  loadCelebAMask,
  loadFasseg,
  loadHelen,
  loadIndexedMasks,
  loadParsingDataset,
  parseHelenNames,
  parsingLabelSet,
  resolveParsingLabelSet,
} from '../src/node';
import { parsingTask } from '../src/node';
import type { ParsingLabel } from '../src/types';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ifan-parsing-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function photo(file: string, w: number, h: number): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const img = sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 150, b: 100 } } });
  await (file.endsWith('.png') ? img.png() : img.jpeg()).toFile(file);
}

async function grey(file: string, w: number, h: number, value: (x: number, y: number) => number): Promise<void> {
  const data = Uint8Array.from({ length: w * h }, (_, p) => value(p % w, Math.floor(p / w)));
  await writePng(file, { width: w, height: h, data });
}

async function colour(file: string, w: number, h: number, value: (x: number, y: number) => number[]): Promise<void> {
  const data = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) data.set(value(p % w, Math.floor(p / w)), 3 * p);
  await writePng(file, { width: w, height: h, channels: 3, data });
}

async function text(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
}

const maskOf = (li: { labels: Record<string, unknown> }) => [...(li.labels.parsing as ParsingLabel).mask.data];

describe('label sets', () => {
  it('HELEN_11 follows the order of the label images, with its flip pairs and groups', () => {
    expect(HELEN_11.classes).toEqual(['background', 'face skin', 'left brow', 'right brow', 'left eye', 'right eye', 'nose', 'upper lip', 'inner mouth', 'lower lip', 'hair']);
    expect(HELEN_11.flipPairs).toEqual([[2, 3], [4, 5]]);
    expect(HELEN_11.groups).toEqual({ eyes: [4, 5], brows: [2, 3], 'mouth-all': [7, 8, 9], overall: [2, 3, 4, 5, 6, 7, 8, 9] });
    expect(HELEN_11.colors).toHaveLength(11);
    expect(FASSEG_6.colors[1]).toEqual([127, 0, 0]);
  });

  it('builds a set from a user list, finding left/right pairs by name', () => {
    const set = parsingLabelSet(['background', 'Left eye', 'Right eye', 'l_brow', 'r_brow', 'nose'], { name: 'mine' });
    expect(set.flipPairs).toEqual([[1, 2], [3, 4]]);
    expect(set.groups).toEqual({ overall: [1, 2, 3, 4, 5] });
    expect(set.colors).toHaveLength(6);
    expect(new Set(set.colors.map((c) => c.join())).size).toBe(6);
    expect(() => parsingLabelSet(['a', 'a'])).toThrow(/twice/);
    expect(() => parsingLabelSet(['a', 'b'], { colors: [[0, 0, 0]] })).toThrow(/colours/);
    expect(parsingLabelSet(Array.from({ length: 40 }, (_, i) => `c${i}`)).colors).toHaveLength(40);
  });

  it('names a set as JSON can: a built-in name, class names, or a partial set', () => {
    expect(resolveParsingLabelSet('fasseg-6')).toBe(FASSEG_6);
    expect(resolveParsingLabelSet('FASSEG_6')).toBe(FASSEG_6);
    expect(resolveParsingLabelSet('celebamask')).toBe(CELEBAMASK_19);
    expect(resolveParsingLabelSet(HELEN_11)).toBe(HELEN_11);
    expect(resolveParsingLabelSet(['background', 'skin', 'hair']).classes).toEqual(['background', 'skin', 'hair']);
    const partial = resolveParsingLabelSet({ name: 'mine', classes: ['background', 'left eye', 'right eye'] } as never);
    expect(partial).toMatchObject({ name: 'mine', flipPairs: [[1, 2]], groups: { overall: [1, 2] } });
    expect(() => resolveParsingLabelSet('lapa-11')).toThrow(/unknown parsing label set "lapa-11": the built-in sets are helen-11, fasseg-6, celebamask-19/);
    expect(parsingTask({ labelSet: 'fasseg-6' }).config.classes).toEqual(FASSEG_6.classes);
  });

  it('knows the set each format is drawn in', () => {
    expect(formatLabelSet('helen')).toBe(HELEN_11);
    expect(formatLabelSet('fasseg')).toBe(FASSEG_6);
    expect(formatLabelSet('celebamask-hq')).toBe(CELEBAMASK_19);
    expect(formatLabelSet('indexed')).toBeUndefined();
  });
});

describe('loadHelen (Smith et al. layout)', () => {
  const W = 6;
  const H = 4;
  /** Class of each pixel; pixel (5, 3) has every probability 0 and must come out background. */
  const truth = (x: number, y: number) => (x === 5 && y === 3 ? 0 : (x + 2 * y) % 11);
  let helen: string;

  async function writeHelenSample(base: string, name: string): Promise<void> {
    await photo(join(base, 'images', `${name}.jpg`), W, H);
    for (let k = 0; k < 11; k++) {
      const file = join(base, 'labels', name, `${name}_lbl${String(k).padStart(2, '0')}.png`);
      // the true class gets 200, the others a smaller, varying amount (soft probabilities)
      await grey(file, W, H, (x, y) => (x === 5 && y === 3 ? 0 : truth(x, y) === k ? 200 : (x * 7 + y * 3 + k * 11) % 150));
    }
  }

  beforeAll(async () => {
    helen = join(root, 'helen');
    for (const n of ['100032540_1', '10405146_1', '1691766_1']) await writeHelenSample(helen, n);
    await text(join(helen, 'trainnames.txt'), '1 , 100032540_1\r\n2 , 10405146_1\r\n');
    await text(join(helen, 'testnames.txt'), '1691766_1\n');
  });

  it('takes the per-pixel argmax of the eleven probability images', async () => {
    const ds = await loadHelen(helen, { split: 'train' });
    expect(ds.name).toBe('helen/train');
    expect(ds.tasks).toEqual(['parsing']);
    expect(ds.samples.map((s) => s.id)).toEqual(['100032540_1', '10405146_1']);
    const li = await ds.samples[0].load();
    expect([li.image.width, li.image.height]).toEqual([W, H]);
    expect(maskOf(li)).toEqual(Array.from({ length: W * H }, (_, p) => truth(p % W, Math.floor(p / W))));
    expect((await loadHelen(helen, { split: 'test' })).samples.map((s) => s.id)).toEqual(['1691766_1']);
    expect((await loadHelen(helen)).samples).toHaveLength(3);
  });

  it('parses split lists with or without an index', () => {
    expect(parseHelenNames('1 , a_1\n\n b_2 \r\n3,c_3.jpg', 'x').map((n) => [n.name, n.line])).toEqual([['a_1', 1], ['b_2', 3], ['c_3', 4]]);
    expect(() => parseHelenNames('1 , a b', 'list.txt')).toThrow('list.txt:1: expected "name" or "index , name"');
  });

  it('reports missing lists, images and label images, escaping names, and mask size mismatches', async () => {
    await expect(loadHelen(helen, { split: 'tuning' })).rejects.toThrow(/tuning\.txt: file is missing/);
    await text(join(helen, 'tuning.txt'), '1 , nobody_1\n');
    await expect(loadHelen(helen, { split: 'tuning' })).rejects.toThrow(/nobody_1\.jpg: image file is missing \(listed at .*tuning\.txt:1\)/);
    await text(join(helen, 'tuning.txt'), '1 , ../../../etc/passwd\n');
    await expect(loadHelen(helen, { split: 'tuning' })).rejects.toThrow(/tuning\.txt:1: path .* escapes/);

    const broken = join(root, 'helen-broken');
    await writeHelenSample(broken, 'a_1');
    await writeHelenSample(broken, 'b_1');
    await writeHelenSample(broken, 'c_1');
    await rm(join(broken, 'labels', 'a_1', 'a_1_lbl07.png'));
    await grey(join(broken, 'labels', 'b_1', 'b_1_lbl03.png'), W + 1, H, () => 0);
    await expect(loadHelen(broken)).rejects.toThrow(/a_1_lbl07\.png: label image is missing/);
    const ds = await loadHelen(broken, { onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['b_1', 'c_1']);
    expect(ds.skipped).toEqual([{ file: join(broken, 'labels', 'a_1', 'a_1_lbl07.png'), reason: 'label image is missing' }]);
    await expect(ds.samples[0].load()).rejects.toThrow(/b_1_lbl03\.png: mask is 7x4 but its image .*b_1\.jpg is 6x4/);
    const scanned = await scanDataset(ds, { onError: 'skip' });
    expect(scanned.loaded).toBe(1);
    expect(scanned.dataset.skipped).toHaveLength(2);
  });
});

describe('loadFasseg', () => {
  const W = 5;
  const H = 3;
  let fasseg: string;
  // row 0 background red, row 1 hair with an anti-aliased pixel between hair and skin, row 2 eyes/nose/mouth
  const maskRows = [
    [[255, 0, 0], [255, 0, 0], [250, 3, 2], [255, 0, 0], [255, 0, 0]],
    [[127, 0, 0], [127, 0, 0], [200, 140, 0], [255, 255, 0], [30, 7, 5]],
    [[0, 0, 255], [0, 255, 255], [0, 255, 0], [0, 128, 128], [20, 20, 230]],
  ];
  const expected = [0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 3, 4, 5, 4, 3];

  beforeAll(async () => {
    fasseg = join(root, 'fasseg');
    for (const n of ['1', '2', '10']) {
      await photo(join(fasseg, 'Train_RGB', `${n}.png`), W, H);
      await colour(join(fasseg, 'Train_Labels', `${n}.png`), W, H, (x, y) => maskRows[y][x]);
    }
  });

  it('snaps every pixel, edges included, to the nearest of the six colours', async () => {
    const ds = await loadFasseg(fasseg);
    expect(ds.samples.map((s) => s.id)).toEqual(['Train_RGB/1.png', 'Train_RGB/2.png', 'Train_RGB/10.png']);
    expect(maskOf(await ds.samples[2].load())).toEqual(expected);
    expect((await loadParsingDataset('fasseg', fasseg)).samples).toHaveLength(3);
  });

  it('refuses an unknown colour, naming file, colour and position', () => {
    const data = Uint8Array.from(maskRows.flat(2));
    data.set([255, 255, 255], 3 * 7);
    data.set([255, 0, 255], 3 * 8);
    expect(() => colorMaskToLabels({ width: W, height: H, channels: 3, data }, FASSEG_6, 'm.png')).toThrow(
      /^m\.png: unknown class colour \(255, 255, 255\) at pixel \(2, 1\), 2 pixels in all \(the fasseg-6 colours are background \(255,0,0\), hair \(127,0,0\)/,
    );
    expect(() => colorMaskToLabels({ width: 1, height: 1, channels: 1, data: Uint8Array.of(0) }, FASSEG_6, 'g.png')).toThrow(/g\.png: mask is grey/);
  });

  it('reports a missing mask, a size mismatch and an unknown colour from the files', async () => {
    const bad = join(root, 'fasseg-bad');
    await photo(join(bad, 'Train_RGB', '1.png'), W, H);
    await colour(join(bad, 'Train_Labels', '1.png'), W, H + 1, () => [255, 0, 0]);
    await photo(join(bad, 'Train_RGB', '2.png'), W, H);
    await colour(join(bad, 'Train_Labels', '2.png'), W, H, () => [255, 255, 255]);
    await photo(join(bad, 'Train_RGB', '3.png'), W, H);
    await expect(loadFasseg(bad)).rejects.toThrow(/Train_Labels\/3\.png: mask file is missing/);
    const ds = await loadFasseg(bad, { onError: 'skip' });
    expect(ds.skipped).toHaveLength(1);
    await expect(ds.samples[0].load()).rejects.toThrow(/Train_Labels\/1\.png: mask is 5x4 but its image .*Train_RGB\/1\.png is 5x3/);
    await expect(ds.samples[1].load()).rejects.toThrow(/Train_Labels\/2\.png: unknown class colour \(255, 255, 255\) at pixel \(0, 0\), 15 pixels/);
    await expect(loadFasseg(join(root, 'nothing'))).rejects.toThrow(/Train_RGB: folder is missing/);
  });
});

describe('loadCelebAMask', () => {
  let celeba: string;
  const anno = () => join(celeba, 'CelebAMask-HQ-mask-anno');
  const part = (folder: number, id: number, name: string) => join(anno(), String(folder), `${String(id).padStart(5, '0')}_${name}.png`);

  beforeAll(async () => {
    celeba = join(root, 'celeba');
    // image 0: 16 x 16 image, 8 x 8 masks. skin everywhere in rows 0-5, hair rows 0-1 (on top of skin),
    // glasses on row 3, left eye at (1, 3), cloth rows 6-7.
    await photo(join(celeba, 'CelebA-HQ-img', '0.jpg'), 16, 16);
    await grey(part(0, 0, 'skin'), 8, 8, (_, y) => (y < 6 ? 255 : 0));
    await grey(part(0, 0, 'hair'), 8, 8, (_, y) => (y < 2 ? 255 : 0));
    await grey(part(0, 0, 'eye_g'), 8, 8, (_, y) => (y === 3 ? 255 : 0));
    await colour(part(0, 0, 'l_eye'), 8, 8, (x, y) => (x === 1 && y === 3 ? [255, 255, 255] : [0, 0, 0]));
    await grey(part(0, 0, 'cloth'), 8, 8, (_, y) => (y >= 6 ? 255 : 0));
    // image 2001 lives in folder 1
    await photo(join(celeba, 'CelebA-HQ-img', '2001.jpg'), 8, 8);
    await grey(part(1, 2001, 'skin'), 8, 8, () => 255);
  });

  it('merges part masks in the official order and shrinks the 2x image to the masks', async () => {
    const ds = await loadCelebAMask(celeba);
    expect(ds.samples.map((s) => s.id)).toEqual(['0.jpg', '2001.jpg']);
    const li = await ds.samples[0].load();
    expect([li.image.width, li.image.height]).toEqual([8, 8]);
    const m = maskOf(li);
    const cls = (name: string) => CELEBAMASK_19.classes.indexOf(name);
    expect(m[0]).toBe(cls('hair'));
    expect(m[2 * 8]).toBe(cls('skin'));
    expect(m[3 * 8]).toBe(cls('eye glasses'));
    expect(m[3 * 8 + 1]).toBe(cls('left eye'));
    expect(m[7 * 8]).toBe(cls('cloth'));
    expect(new Set(maskOf(await ds.samples[1].load()))).toEqual(new Set([cls('skin')]));
  });

  it('merges into Helen classes: unpainted parts leave what is under them', async () => {
    const ds = await loadParsingDataset('celebamask-hq', celeba, { labelSet: HELEN_11 });
    const m = maskOf(await ds.samples[0].load());
    const cls = (name: string) => HELEN_11.classes.indexOf(name);
    expect(m[0]).toBe(cls('hair'));
    expect(m[3 * 8]).toBe(cls('face skin')); // glasses are not a Helen class: skin shows
    expect(m[3 * 8 + 1]).toBe(cls('left eye'));
    expect(m[7 * 8]).toBe(cls('background')); // cloth not painted
    await expect(loadCelebAMask(celeba, { labelSet: HELEN_11, partMap: { hat: 'cap' } })).rejects.toThrow(/"hat" maps to "cap", which is not a class/);
  });

  it('reads CelebA splits through the HQ-to-CelebA mapping', async () => {
    await text(join(celeba, 'CelebA-HQ-to-CelebA-mapping.txt'), 'idx orig_idx orig_file\n0 119613 119614.jpg\n2001 99 000100.jpg\n');
    await text(join(celeba, 'list_eval_partition.txt'), '000100.jpg 0\n119614.jpg 2\n');
    expect((await loadCelebAMask(celeba, { split: 'train' })).samples.map((s) => s.id)).toEqual(['2001.jpg']);
    expect((await loadCelebAMask(celeba, { split: 'test' })).samples.map((s) => s.id)).toEqual(['0.jpg']);
    expect((await loadCelebAMask(celeba, { split: 'val' })).samples).toEqual([]);
  });

  it('reports images without masks, unknown parts, and size problems', async () => {
    const bad = join(root, 'celeba-bad');
    const badPart = (id: number, name: string) => join(bad, 'CelebAMask-HQ-mask-anno', '0', `${String(id).padStart(5, '0')}_${name}.png`);
    await photo(join(bad, 'CelebA-HQ-img', '5.jpg'), 8, 8);
    await photo(join(bad, 'CelebA-HQ-img', '6.jpg'), 12, 8);
    await grey(badPart(6, 'skin'), 8, 8, () => 255);
    await photo(join(bad, 'CelebA-HQ-img', '7.jpg'), 8, 8);
    await grey(badPart(7, 'skin'), 8, 8, () => 255);
    await grey(badPart(7, 'hair'), 4, 4, () => 255);
    await grey(badPart(8, 'wings'), 8, 8, () => 255);
    await expect(loadCelebAMask(bad)).rejects.toThrow(/00008_wings\.png: unknown part "wings"/);
    const ds = await loadCelebAMask(bad, { onError: 'skip' });
    expect(ds.skipped!.map((s) => s.reason)).toEqual(['unknown part "wings"', expect.stringMatching(/^no part masks found \(expected .*0\/00005_<part>\.png\)/)]);
    expect(ds.samples.map((s) => s.id)).toEqual(['6.jpg', '7.jpg']);
    await expect(ds.samples[0].load()).rejects.toThrow(/00006_skin\.png: mask is 8x8 but its image .*6\.jpg is 12x8/);
    await expect(ds.samples[1].load()).rejects.toThrow(/00007_hair\.png: mask is 4x4 but .*00007_skin\.png is 8x8/);
  });
});

describe('loadIndexedMasks', () => {
  it('reads grey class-index masks and validates them', async () => {
    const base = join(root, 'indexed');
    const set = parsingLabelSet(['background', 'skin', 'hair']);
    await photo(join(base, 'images', 'a.jpg'), 4, 2);
    await grey(join(base, 'masks', 'a.png'), 4, 2, (x) => x % 3);
    await photo(join(base, 'images', 'b.png'), 4, 2);
    await grey(join(base, 'masks', 'b.png'), 4, 2, (x) => (x === 3 ? 7 : 0));
    await photo(join(base, 'images', 'c.jpg'), 4, 2);
    await colour(join(base, 'masks', 'c.png'), 4, 2, () => [1, 2, 3]);
    await photo(join(base, 'images', 'd.jpg'), 4, 2);
    await grey(join(base, 'masks', 'd.png'), 2, 2, () => 0);
    await photo(join(base, 'images', 'e.jpg'), 4, 2);
    await expect(loadIndexedMasks(base, { labelSet: set })).rejects.toThrow(/masks\/e\.png: mask file is missing/);
    const ds = await loadIndexedMasks(base, { labelSet: set, onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['a.jpg', 'b.png', 'c.jpg', 'd.jpg']);
    expect(maskOf(await ds.samples[0].load())).toEqual([0, 1, 2, 0, 0, 1, 2, 0]);
    await expect(ds.samples[1].load()).rejects.toThrow(/b\.png: class index 7 at pixel \(3, 0\) but the label set "custom" has 3 classes/);
    await expect(ds.samples[2].load()).rejects.toThrow(/c\.png: mask is a colour \(or palette\) image/);
    await expect(ds.samples[3].load()).rejects.toThrow(/d\.png: mask is 2x2 but its image .*d\.jpg is 4x2/);
    await expect(loadParsingDataset('indexed', base)).rejects.toThrow(/needs options\.labelSet/);
    await expect(loadParsingDataset('helen', base, { labelSet: set })).rejects.toThrow(/labelled with "helen-11"/);
    await expect(loadParsingDataset('voc', base)).rejects.toThrow(/unknown parsing data set format "voc"/);
  });

  it('refuses corrupt images and images over the pixel limit at load', async () => {
    const base = join(root, 'indexed-corrupt');
    await text(join(base, 'images', 'x.jpg'), 'garbage');
    await grey(join(base, 'masks', 'x.png'), 4, 2, () => 0);
    await photo(join(base, 'images', 'y.jpg'), 40, 40);
    await grey(join(base, 'masks', 'y.png'), 40, 40, () => 0);
    const ds = await loadIndexedMasks(base, { labelSet: HELEN_11, limitInputPixels: 1000 });
    const err = await ds.samples[0].load().catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/x\.jpg: not an image/);
    await expect(ds.samples[1].load()).rejects.toThrow(/y\.jpg: image is over the pixel limit/);
  });
});
