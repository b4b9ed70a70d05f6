import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPRESSIONS, HELEN_CLASSES, generateFace, syntheticDataset, writeHelen, writeImageFolders, writeMtfl } from '../src/node';
import type { SyntheticFace } from '../src/node';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ifan-synthetic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function grey(path: string) {
  const meta = await sharp(path).metadata();
  const { data, info } = await sharp(path).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { data, info: { ...info, channels: meta.channels } };
}

describe('writeHelen', () => {
  it('writes images, one 0/255 PNG per class and the three name lists', async () => {
    const ds = syntheticDataset({ count: 10, seed: 1, size: 40, task: 'parsing', facesPerIdentity: 2 });
    const out = join(dir, 'helen');
    const result = await writeHelen(out, ds, { split: [0.6, 0.2, 0.2] });
    const list = async (f: string) => (await readFile(join(out, f), 'utf8')).split('\n').filter(Boolean);
    const train = await list('trainnames.txt');
    const tuning = await list('tuning.txt');
    const test = await list('testnames.txt');
    expect([train.length, tuning.length, test.length]).toEqual([6, 2, 2]);
    expect(result).toEqual({ train, tuning, test });
    const names = [...train, ...tuning, ...test];
    expect(new Set(names).size).toBe(10);
    expect((await readdir(join(out, 'images'))).sort()).toEqual(names.map((n) => `${n}.jpg`).sort());
    for (const [k, name] of names.entries()) {
      const face = (await ds.samples[k].load()) as SyntheticFace;
      const meta = await sharp(join(out, 'images', `${name}.jpg`)).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['jpeg', 40, 40, 3]);
      const files = (await readdir(join(out, 'labels', name))).sort();
      expect(files).toEqual(HELEN_CLASSES.map((_, c) => `${name}_lbl${String(c).padStart(2, '0')}.png`));
      // the per-class planes partition the image and give back the mask
      const mask = face.labels.parsing!.mask.data;
      const decoded = new Uint8Array(mask.length).fill(255);
      let bad = 0;
      for (let c = 0; c < HELEN_CLASSES.length; c++) {
        const { data, info } = await grey(join(out, 'labels', name, files[c]));
        expect([info.width, info.height, info.channels]).toEqual([40, 40, 1]);
        for (let i = 0; i < mask.length; i++) {
          if (data[i] !== 0 && data[i] !== 255) bad++;
          if (data[i] === 255) decoded[i] = decoded[i] === 255 ? c : 254;
        }
      }
      expect(bad).toBe(0);
      expect(Buffer.from(decoded).equals(Buffer.from(mask))).toBe(true);
    }
  });

  it('refuses images without a parsing label', async () => {
    await expect(writeHelen(join(dir, 'bad'), [generateFace(1, { size: 32, tasks: ['emotion'] })])).rejects.toThrow(/parsing/);
  });
});

describe('writeMtfl', () => {
  it('writes training.txt / testing.txt in the MTFL format with the images', async () => {
    const ds = syntheticDataset({ count: 10, seed: 2, size: 64, tasks: ['landmarks'], expressionWeights: [0, 0, 0, 1, 1, 0, 0], glasses: 0.5 });
    const out = join(dir, 'mtfl');
    await writeMtfl(out, ds, { trainFraction: 0.7 });
    const faces = await Promise.all(ds.samples.map((s) => s.load()));
    let k = 0;
    for (const [file, count] of [
      ['training.txt', 7],
      ['testing.txt', 3],
    ] as const) {
      const text = await readFile(join(out, file), 'utf8');
      expect(text.endsWith('\r\n')).toBe(true);
      const lines = text.split('\r\n').slice(0, -1);
      expect(lines).toHaveLength(count);
      expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      for (const [n, line] of lines.entries()) {
        expect(line.startsWith(' ')).toBe(n > 0);
        const fields = line.trim().split(' ');
        expect(fields).toHaveLength(15);
        const [path, ...rest] = fields;
        expect(path).toMatch(file === 'training.txt' ? /^lfw_5590\\Synth_\w+_\d{4}\.jpg$/ : /^AFLW\\image\d{5}\.jpg$/);
        const nums = rest.map(Number);
        const face = faces[k++];
        const points = face.labels.landmarks!.points;
        for (let p = 0; p < 5; p++) {
          expect(nums[p]).toBeCloseTo(points[p][0], 2);
          expect(nums[5 + p]).toBeCloseTo(points[p][1], 2);
        }
        const [gender, smile, glasses, pose] = nums.slice(10);
        expect(gender).toBe(face.attributes.gender === 'male' ? 1 : 2);
        expect(smile).toBe(EXPRESSIONS[face.attributes.expression] === 'happy' ? 1 : 2);
        expect(glasses).toBe(face.attributes.glasses ? 1 : 2);
        expect(pose).toBe(face.attributes.pose);
        expect([1, 2, 3, 4, 5]).toContain(pose);
        const image = join(out, ...path.split('\\'));
        expect((await stat(image)).size).toBeGreaterThan(0);
        expect((await sharp(image).metadata()).width).toBe(64);
      }
    }
  });
});

describe('writeImageFolders', () => {
  it('writes FER-style grey JPEGs into one folder per class', async () => {
    const ds = syntheticDataset({ count: 14, seed: 3, domain: 'emotion' });
    const out = join(dir, 'fer');
    const result = await writeImageFolders(out, ds);
    expect(result.train).toHaveLength(11);
    expect(result.test).toHaveLength(3);
    for (const split of ['train', 'test']) expect((await readdir(join(out, split))).sort()).toEqual([...EXPRESSIONS].sort());
    for (const [k, entry] of [...result.train, ...result.test].entries()) {
      const face = await ds.samples[k].load();
      expect(entry.file).toBe(`${k < 11 ? 'train' : 'test'}/${EXPRESSIONS[face.labels.emotion!.classIndex]}/${k}.jpg`);
      const meta = await sharp(join(out, entry.file)).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['jpeg', 48, 48, 1]);
    }
  });
});
