import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError, scanDataset } from '@ifan/core/node';
import {
  IBUG_68,
  MTFL_5,
  PTS_OFFSET,
  fivePointBox,
  lfwIdentity,
  mtflIdentity,
  loadLandmarkCsv,
  loadLandmarkDataset,
  loadMtfl,
  loadPts,
  parsePts,
  reduce68To5,
} from '../src/node';
import type { LandmarkLabel } from '../src/types';

let root: string;

async function image(rel: string, w: number, h: number, base = root): Promise<void> {
  const file = join(base, rel);
  await mkdir(dirname(file), { recursive: true });
  await sharp({ create: { width: w, height: h, channels: 3, background: { r: 90, g: 60, b: 30 } } }).jpeg().toFile(file);
}

async function text(rel: string, content: string, base = root): Promise<void> {
  await mkdir(dirname(join(base, rel)), { recursive: true });
  await writeFile(join(base, rel), content);
}

/** An MTFL line: Windows path, 10 coordinates, 4 attribute codes. */
const line = (path: string, rest = '10.5 30.25 20 12 28 12 12.5 22 30 30 1 2 2 3') => `${path} ${rest}`;

/** MTFL's quirks: CRLF, every line after the first starts with a space, `\` paths. */
const mtfl = (lines: string[]) => lines.map((l, i) => (i === 0 ? l : ` ${l}`)).join('\r\n') + '\r\n';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ifan-landmarks-'));
  await image('mtfl/lfw_5590/Aaron_Eckhart_0001.jpg', 40, 40);
  await image('mtfl/lfw_5590/Aaron_Eckhart_0002.jpg', 40, 40);
  await image('mtfl/lfw_5590/Zoe_Ball_0001.jpg', 40, 40);
  await image('mtfl/net_7876/_-40_2651_0.jpg', 30, 40);
  await text('mtfl/corrupt.jpg', 'this is not a JPEG');
  await text(
    'mtfl/training.txt',
    mtfl([
      line('lfw_5590\\Aaron_Eckhart_0001.jpg'),
      line('lfw_5590\\Aaron_Eckhart_0002.jpg', '10 30 20 12 28 12 12 22 30 30 2 1 1 5'),
      line('lfw_5590\\Zoe_Ball_0001.jpg'),
      line('net_7876\\_-40_2651_0.jpg', '5 25 15 8 22 10 10 20 30 30 1 2 2 1'),
    ]),
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('landmark sets', () => {
  it('IBUG_68 flip pairs are a symmetric involution that leaves the centre line alone', () => {
    expect(IBUG_68.points).toHaveLength(68);
    const partner = new Map<number, number>();
    for (const [a, b] of IBUG_68.flipPairs) {
      expect(partner.has(a) || partner.has(b)).toBe(false);
      partner.set(a, b);
      partner.set(b, a);
    }
    // unpaired: chin 8, nose bridge 27-30, nostril 33, lip centres 51, 57, 62, 66
    const unpaired = IBUG_68.points.map((_, i) => i).filter((i) => !partner.has(i));
    expect(unpaired).toEqual([8, 27, 28, 29, 30, 33, 51, 57, 62, 66]);
    expect(partner.get(36)).toBe(45);
    expect(partner.get(48)).toBe(54);
    for (const [a, b] of IBUG_68.flipPairs) {
      const part = (i: number) => IBUG_68.points[i].replace(/ \d+$/, '');
      if (part(a).startsWith('left')) expect(part(b)).toBe(part(a).replace('left', 'right'));
    }
    expect(IBUG_68.leftEye).toEqual([36, 37, 38, 39, 40, 41]);
    expect(MTFL_5.flipPairs).toEqual([[0, 1], [3, 4]]);
  });

  it('reduces 68 points to MTFL 5', () => {
    const pts = Array.from({ length: 68 }, (_, i) => [i, 2 * i] as [number, number]);
    expect(reduce68To5(pts)).toEqual([[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]]);
    expect(() => reduce68To5(pts.slice(1))).toThrow(/68/);
  });

  it('finds LFW identities', () => {
    expect(lfwIdentity('lfw_5590\\Aaron_Eckhart_0001.jpg')).toBe('Aaron_Eckhart');
    expect(lfwIdentity('net_7876/_-40_2651_0.jpg')).toBeUndefined();
    expect(mtflIdentity('lfw_5590\\Aaron_Eckhart_0001.jpg')).toBe('Aaron_Eckhart');
    expect(mtflIdentity('net_7876\\5151_2_0.jpg')).toBe('net:5151');
    expect(mtflIdentity('net_7876/_-40_2651_0.jpg')).toBe('net:_-40_2651');
    expect(mtflIdentity('other/x.jpg')).toBeUndefined();
  });
});

describe('loadMtfl', () => {
  it('reads the real layout: CRLF, leading spaces, Windows paths, attributes, identities', async () => {
    const ds = await loadMtfl(join(root, 'mtfl'));
    expect(ds.name).toBe('mtfl/train');
    expect(ds.tasks).toEqual(['landmarks', 'attributes']);
    expect(ds.samples.map((s) => s.id)).toEqual([
      'lfw_5590/Aaron_Eckhart_0001.jpg',
      'lfw_5590/Aaron_Eckhart_0002.jpg',
      'lfw_5590/Zoe_Ball_0001.jpg',
      'net_7876/_-40_2651_0.jpg',
    ]);
    expect(ds.samples.map((s) => s.identity)).toEqual(['Aaron_Eckhart', 'Aaron_Eckhart', 'Zoe_Ball', 'net:_-40_2651']);
    expect(ds.skipped).toBeUndefined();
    const li = await ds.samples[0].load();
    expect([li.image.width, li.image.height, li.image.channels]).toEqual([40, 40, 3]);
    expect((li.labels.landmarks as LandmarkLabel).points).toEqual([[10.5, 12], [30.25, 12.5], [20, 22], [12, 30], [28, 30]]);
    expect(li.labels.attributes).toEqual({ gender: 'male', smile: false, glasses: false, pose: 3 });
    expect((await ds.samples[1].load()).labels.attributes).toEqual({ gender: 'female', smile: true, glasses: true, pose: 5 });
    // framed by its points: 3.2 x the eye distance (19.756 > 17.754 eyes-to-mouth), centred a third of
    // the way from the eyes' midpoint (20.375, 12.25) to the mouth's (20, 30)
    const side = 3.2 * Math.hypot(19.75, 0.5);
    const box = li.faceBox!;
    [20.25 - side / 2, 12.25 + 17.75 / 3 - side / 2, side, side].forEach((v, i) => expect(box[i]).toBeCloseTo(v, 9));
    const whole = await loadMtfl(join(root, 'mtfl'), { boxFromPoints: false });
    expect((await whole.samples[0].load()).faceBox).toBeUndefined();
  });

  it('uses the task key it is given and is reachable by format name', async () => {
    const ds = await loadLandmarkDataset('mtfl', join(root, 'mtfl'), { taskName: 'lm5' });
    expect(Object.keys((await ds.samples[0].load()).labels)).toEqual(['lm5', 'attributes']);
    await expect(loadMtfl(join(root, 'mtfl'), { landmarkSet: IBUG_68 })).rejects.toThrow(/MTFL has 5 points but the landmark set "ibug-68" has 68/);
    await expect(loadLandmarkDataset('nope', root)).rejects.toThrow(/unknown landmark data set format "nope"/);
  });

  it('names the annotation file when it is missing, and refuses unknown splits', async () => {
    await expect(loadMtfl(join(root, 'mtfl'), { split: 'test' })).rejects.toThrow(/testing\.txt: file is missing/);
    await expect(loadMtfl(join(root, 'mtfl'), { split: 'val' })).rejects.toThrow(/unknown split "val"/);
  });

  const bad: [string, string, RegExp][] = [
    ['too few numbers', line('lfw_5590\\Zoe_Ball_0001.jpg', '1 2 3 4 5 6 7 8 9 1 1 1 1'), /bad\.txt:2: expected an image path and 14 numbers .*found 13 numbers/],
    ['non-numeric', line('lfw_5590\\Zoe_Ball_0001.jpg', '1 2 3 4 5 6 7 eight 9 10 1 1 1 1'), /bad\.txt:2: y3 is not a number: "eight"/],
    ['attribute code', line('lfw_5590\\Zoe_Ball_0001.jpg', '1 2 3 4 5 6 7 8 9 10 1 1 1 6'), /bad\.txt:2: pose must be an integer from 1 to 5, got 6/],
    ['escaping path', line('..\\..\\etc\\passwd'), /bad\.txt:2: path "\.\.\\\.\.\\etc\\passwd" escapes the data set root/],
    ['absolute path', line('/etc/passwd'), /bad\.txt:2: path "\/etc\/passwd" is absolute/],
    ['missing image', line('lfw_5590\\Nobody_0001.jpg'), /Nobody_0001\.jpg: image file is missing \(listed at .*bad\.txt:2\)/],
  ];
  for (const [what, badLine, message] of bad) {
    it(`fails on ${what}, naming file and line`, async () => {
      await text('mtfl/bad.txt', mtfl([line('lfw_5590\\Zoe_Ball_0001.jpg'), badLine]));
      const err = await loadMtfl(join(root, 'mtfl'), { file: 'bad.txt' }).catch((e) => e);
      expect(err).toBeInstanceOf(DatasetError);
      expect(err.message).toMatch(message);
    });
  }

  it('finds out-of-image points, corrupt images and images over the pixel limit when loading', async () => {
    await text(
      'mtfl/late.txt',
      mtfl([
        line('lfw_5590\\Zoe_Ball_0001.jpg', '10 30 20 12 28 12 12 22 30 60 1 2 2 3'),
        line('corrupt.jpg'),
        line('lfw_5590\\Aaron_Eckhart_0001.jpg'),
      ]),
    );
    const ds = await loadMtfl(join(root, 'mtfl'), { file: 'late.txt' });
    expect(ds.samples).toHaveLength(3);
    await expect(ds.samples[0].load()).rejects.toThrow(/late\.txt:1: point 5 \(28, 60\) lies outside the 40x40 image lfw_5590\/Zoe_Ball_0001\.jpg/);
    await expect(ds.samples[1].load()).rejects.toThrow(/corrupt\.jpg: not an image/);
    const limited = await loadMtfl(join(root, 'mtfl'), { file: 'late.txt', limitInputPixels: 1000 });
    await expect(limited.samples[2].load()).rejects.toThrow(/Aaron_Eckhart_0001\.jpg: image is over the pixel limit \(40x40 = 1600 pixels > 1000\)/);
  });

  it('tolerates points just outside the image (faces cut by the border)', async () => {
    await text('mtfl/edge.txt', mtfl([line('lfw_5590\\Zoe_Ball_0001.jpg', '-1 30 20 12 41 12 12 22 30 30 1 2 2 3')]));
    const ds = await loadMtfl(join(root, 'mtfl'), { file: 'edge.txt' });
    await expect(ds.samples[0].load()).resolves.toBeDefined();
    await expect((await loadMtfl(join(root, 'mtfl'), { file: 'edge.txt', pointTolerance: 0 })).samples[0].load()).rejects.toThrow(/outside/);
  });

  it('in skip mode reports the count and the files, at listing and at loading', async () => {
    await text(
      'mtfl/mixed.txt',
      mtfl([
        line('lfw_5590\\Zoe_Ball_0001.jpg'),
        line('lfw_5590\\Zoe_Ball_0001.jpg', '1 2 3'),
        line('lfw_5590\\Nobody_0001.jpg'),
        line('..\\outside.jpg'),
        line('corrupt.jpg'),
        line('lfw_5590\\Aaron_Eckhart_0001.jpg'),
      ]),
    );
    const ds = await loadMtfl(join(root, 'mtfl'), { file: 'mixed.txt', onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['lfw_5590/Zoe_Ball_0001.jpg', 'corrupt.jpg', 'lfw_5590/Aaron_Eckhart_0001.jpg']);
    expect(ds.skipped).toHaveLength(3);
    expect(ds.skipped![0]).toEqual({ file: join(root, 'mtfl', 'mixed.txt'), reason: expect.stringMatching(/^line 2: expected an image path and 14 numbers/) });
    expect(ds.skipped![1].reason).toMatch(/^line 4: path .* escapes/);
    expect(ds.skipped![2].file).toBe(join(root, 'mtfl', 'lfw_5590', 'Nobody_0001.jpg'));
    const scanned = await scanDataset(ds, { onError: 'skip' });
    expect(scanned.loaded).toBe(2);
    expect(scanned.dataset.skipped).toHaveLength(4);
    expect(scanned.dataset.skipped![3].file).toBe(join(root, 'mtfl', 'corrupt.jpg'));
  });
});

const pts68 = (f: (i: number) => [number, number]) =>
  `version: 1\nn_points:  68\n{\n${Array.from({ length: 68 }, (_, i) => f(i).join(' ')).join('\n')}\n}\n`;

describe('loadPts', () => {
  beforeAll(async () => {
    await image('300w/lfpw/trainset/image_0001.png', 120, 100);
    await text('300w/lfpw/trainset/image_0001.pts', pts68((i) => [10 + i, 20 + (i % 7)]));
    await image('300w/ibug/image_003_1.jpg', 120, 100);
    await text('300w/ibug/image_003_1.pts', pts68((i) => [50.5, 40 + i / 2]).replace(/\n/g, '\r\n'));
  });

  it('reads .pts files beside their images, 1-based coordinates shifted to pixel centres', async () => {
    const ds = await loadPts(join(root, '300w'));
    expect(ds.samples.map((s) => s.id)).toEqual(['ibug/image_003_1.jpg', 'lfpw/trainset/image_0001.png']);
    const li = await ds.samples[1].load();
    const pts = (li.labels.landmarks as LandmarkLabel).points;
    expect(pts).toHaveLength(68);
    expect(pts[0]).toEqual([10 + PTS_OFFSET, 20 + PTS_OFFSET]);
    expect(li.faceBox).toEqual(fivePointBox(reduce68To5(pts)));
    const noBox = await loadPts(join(root, '300w'), { boxFromPoints: false });
    expect((await noBox.samples[1].load()).faceBox).toBeUndefined();
  });

  it('reads only the split folders and reduces to 5 points', async () => {
    const ds = await loadPts(join(root, '300w'), { split: 'ibug', landmarkSet: MTFL_5 });
    expect(ds.samples.map((s) => s.id)).toEqual(['ibug/image_003_1.jpg']);
    const pts = ((await ds.samples[0].load()).labels.landmarks as LandmarkLabel).points;
    expect(pts).toHaveLength(5);
    expect(pts[2]).toEqual([50, 40 + 15 - 0.5]);
    await expect(loadPts(join(root, '300w'), { split: '../..' })).rejects.toThrow(/escapes the data set root/);
    await expect(loadPts(join(root, '300w'), { split: 'helen' })).rejects.toThrow(/helen: folder is missing/);
  });

  it('checks the syntax of every file', () => {
    expect(() => parsePts('version: 1\nn_points: 2\n{\n1 2\n}\n', 'a.pts')).toThrow('a.pts: n_points says 2 but 1 points are listed');
    expect(() => parsePts('version: 1\nn_points: 1\n{\n1 2 3\n}\n', 'a.pts')).toThrow('a.pts:4: expected two numbers "x y", found 3 values');
    expect(() => parsePts('version: 1\nn_points: 1\n{\n1 y\n}\n', 'a.pts')).toThrow('a.pts:4: y is not a number: "y"');
    expect(() => parsePts('version: 1\nn_points: 1\n{\n1 2\n', 'a.pts')).toThrow('no "}"');
    expect(() => parsePts('version: 1\n{\n1 2\n}', 'a.pts')).toThrow('no n_points');
    expect(() => parsePts('garbage\n', 'a.pts')).toThrow('a.pts:1: expected a header line');
  });

  it('fails on a .pts without image and on the wrong number of points; skips them in skip mode', async () => {
    const base = join(root, '300w-bad');
    await image('a.jpg', 50, 50, base);
    await text('a.pts', pts68(() => [5, 5]), base);
    await text('b.pts', pts68(() => [5, 5]), base);
    await image('c.jpg', 50, 50, base);
    await text('c.pts', 'version: 1\nn_points: 2\n{\n1 1\n2 2\n}\n', base);
    await expect(loadPts(base)).rejects.toThrow(/b\.pts: no image b\.jpg, \.jpeg or \.png beside the \.pts file/);
    const ds = await loadPts(base, { onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['a.jpg']);
    expect(ds.skipped!.map((s) => s.reason)).toEqual([
      expect.stringMatching(/no image/),
      expect.stringMatching(/2 points but the landmark set "ibug-68" has 68/),
    ]);
  });
});

describe('loadLandmarkCsv', () => {
  it('reads path,x1,y1,... with a header and infers the set from the count', async () => {
    await image('csv/img/a.jpg', 32, 32);
    await text('csv/landmarks.csv', 'path,x1,y1,x2,y2,x3,y3,x4,y4,x5,y5\nimg/a.jpg,1,2,3,4,5,6,7,8,9,10\n"img/a.jpg",2,2,3,4,5,6,7,8,9,10\n');
    const ds = await loadLandmarkCsv(join(root, 'csv'));
    expect(ds.samples.map((s) => s.id)).toEqual(['img/a.jpg', 'img/a.jpg#2']);
    expect(((await ds.samples[0].load()).labels.landmarks as LandmarkLabel).points).toEqual([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
  });

  it('reads a quoted path holding a comma and a line break, and names the line a later bad row starts on', async () => {
    await image('csv/img/smiling, take 2\nfinal.jpg', 32, 32);
    const points = '1,2,3,4,5,6,7,8,9,10';
    await text('csv/quoted.csv', `path,x1,y1,x2,y2,x3,y3,x4,y4,x5,y5\r\n"img/smiling, take 2\nfinal.jpg",${points}\r\n\r\nimg/a.jpg,1,2,3\r\nimg/a.jpg,"${points}"\r\n`);
    const ds = await loadLandmarkCsv(join(root, 'csv'), { file: 'quoted.csv', onError: 'skip' });
    expect(ds.samples.map((s) => s.id)).toEqual(['img/smiling, take 2\nfinal.jpg']);
    expect(((await ds.samples[0].load()).labels.landmarks as LandmarkLabel).points).toEqual([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
    // the last row's coordinates are one quoted field: 1 number, not 10
    expect(ds.skipped!.map((s) => s.reason)).toEqual([
      expect.stringMatching(/^line 5: expected a path and an even number of coordinates .*found 3/),
      expect.stringMatching(/^line 6: expected a path and an even number of coordinates .*found 1/),
    ]);
    // a quote never closed cannot be skipped: the rest of the file would be one field
    await text('csv/open.csv', `img/a.jpg,${points}\n"img/a.jpg,${points}\nimg/a.jpg,${points}\n`);
    await expect(loadLandmarkCsv(join(root, 'csv'), { file: 'open.csv', onError: 'skip' })).rejects.toThrow(/open\.csv:2: a quoted field is never closed/);
  });

  it('names file and line for bad rows', async () => {
    await text('csv/bad.csv', 'img/a.jpg,1,2,3,4,5,6,7,8,9,10\nimg/a.jpg,1,2,3\n');
    await expect(loadLandmarkCsv(join(root, 'csv'), { file: 'bad.csv' })).rejects.toThrow(/bad\.csv:2: expected a path and an even number of coordinates .*found 3/);
    await text('csv/bad2.csv', 'img/a.jpg,1,2,3,4,5,6,7,8,9,10\nimg/a.jpg,1,2,3,4,5,6,7,8,9,10,11,12\n');
    await expect(loadLandmarkCsv(join(root, 'csv'), { file: 'bad2.csv' })).rejects.toThrow(/bad2\.csv:2: expected 10 coordinates for the set "mtfl-5", found 12/);
    await text('csv/bad3.csv', 'img/a.jpg,1,2,3,4,5,6,7,8,9,x\n');
    await expect(loadLandmarkCsv(join(root, 'csv'), { file: 'bad3.csv' })).rejects.toThrow(/bad3\.csv:1: y5 is not a number: "x"/);
    await text('csv/bad4.csv', 'img/missing.jpg,1,2,3,4,5,6,7,8,9,10\n');
    await expect(loadLandmarkCsv(join(root, 'csv'), { file: 'bad4.csv' })).rejects.toThrow(/missing\.jpg: image file is missing \(listed at .*bad4\.csv:1\)/);
    await text('csv/bad5.csv', '../../x.jpg,1,2,3,4,5,6,7,8,9,10\n');
    await expect(loadLandmarkCsv(join(root, 'csv'), { file: 'bad5.csv' })).rejects.toThrow(/bad5\.csv:1: path .* escapes/);
  });
});
