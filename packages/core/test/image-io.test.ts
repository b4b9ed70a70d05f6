import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset, Sample } from '../src/data/types';
import {
  DatasetError,
  SkipCollector,
  decodeImage,
  decodeLabelImage,
  encodePng,
  listFiles,
  numberedLines,
  readTextFile,
  resolveInside,
  scanDataset,
  shuffle,
  splitDataset,
  writePng,
} from '../src/node/image-io';
import { Rng } from '../src/nn/params';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ifan-image-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Left half red, right half blue, `w` x `h`. */
function halves(w: number, h: number, channels = 3): Buffer {
  const b = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = (y * w + x) * channels;
    if (x < w / 2) b[o] = 255;
    else b[o + 2] = 255;
    if (channels === 4) b[o + 3] = 10;
  }
  return b;
}

const at = (data: Uint8Array, w: number, x: number, y: number, c = 3) => [...data.subarray((y * w + x) * c, (y * w + x + 1) * c)];

describe('decodeImage', () => {
  it('decodes PNG, JPEG, TIFF and WebP to RGB', async () => {
    const raw = { raw: { width: 16, height: 8, channels: 3 as const } };
    for (const fmt of ['png', 'jpeg', 'tiff', 'webp'] as const) {
      const file = join(dir, `halves.${fmt}`);
      await sharp(halves(16, 8), raw).toFormat(fmt, { quality: 100, lossless: true }).toFile(file);
      const im = await decodeImage(file);
      expect([im.width, im.height, im.channels, im.data.length]).toEqual([16, 8, 3, 16 * 8 * 3]);
      const left = at(im.data, 16, 2, 4);
      const right = at(im.data, 16, 13, 4);
      expect(left[0]).toBeGreaterThan(200);
      expect(left[2]).toBeLessThan(50);
      expect(right[2]).toBeGreaterThan(200);
      expect(right[0]).toBeLessThan(50);
    }
  });

  it('expands grey to 3 equal channels', async () => {
    const file = join(dir, 'grey.png');
    await sharp(Buffer.from([0, 50, 100, 250]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toFile(file);
    const meta = await sharp(file).metadata();
    expect(meta.channels).toBe(1);
    const im = await decodeImage(file);
    expect([...im.data]).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 250, 250, 250]);
  });

  it('drops alpha without premultiplying', async () => {
    const file = join(dir, 'rgba.png');
    await sharp(halves(4, 2, 4), { raw: { width: 4, height: 2, channels: 4 } }).png().toFile(file);
    const im = await decodeImage(file);
    expect(im.channels).toBe(3);
    expect(at(im.data, 4, 0, 0)).toEqual([255, 0, 0]);
    expect(at(im.data, 4, 3, 1)).toEqual([0, 0, 255]);
  });

  it('applies EXIF orientation', async () => {
    const file = join(dir, 'rotated.jpg');
    // stored 32x16, red left / blue right; orientation 6 = display rotated 90 degrees clockwise
    await sharp(halves(32, 16), { raw: { width: 32, height: 16, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    expect((await sharp(file).metadata()).orientation).toBe(6);
    const im = await decodeImage(file);
    expect([im.width, im.height]).toEqual([16, 32]);
    expect(at(im.data, 16, 8, 4)[0]).toBeGreaterThan(200); // top: was the left half
    expect(at(im.data, 16, 8, 28)[2]).toBeGreaterThan(200); // bottom: was the right half
  });

  it('decodes buffers too', async () => {
    const buf = await sharp(halves(4, 2), { raw: { width: 4, height: 2, channels: 3 } }).png().toBuffer();
    expect((await decodeImage(buf)).width).toBe(4);
  });

  it('names the file and the reason for every failure', async () => {
    const missing = join(dir, 'nope.jpg');
    await expect(decodeImage(missing)).rejects.toThrow(`${missing}: image file is missing`);
    await expect(decodeImage(dir)).rejects.toThrow(/image is a directory, not a file/);

    const text = join(dir, 'text.jpg');
    await writeFile(text, 'not an image at all');
    await expect(decodeImage(text)).rejects.toThrow(`${text}: not an image (unrecognised format)`);

    const full = await sharp(halves(64, 64), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const truncated = join(dir, 'truncated.jpg');
    await writeFile(truncated, full.subarray(0, full.length - 300));
    const err = await decodeImage(truncated).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.file).toBe(truncated);
    expect(err.message).toMatch(/truncated\.jpg: corrupt image: .*premature end/i);

    const gif = join(dir, 'anim.gif');
    await sharp(halves(4, 2), { raw: { width: 4, height: 2, channels: 3 } }).gif().toFile(gif);
    await expect(decodeImage(gif)).rejects.toThrow(/anim\.gif: unsupported image format "gif"/);

    // SVG could reference other files: refused by sharp's format (from the header) before it is rendered
    const svg = join(dir, 'face.png');
    await writeFile(svg, '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
    await expect(decodeImage(svg)).rejects.toThrow(/face\.png: unsupported image format "svg"/);
    await expect(decodeLabelImage(svg)).rejects.toThrow(/face\.png: unsupported image format "svg"/);
    const avif = await sharp(halves(4, 2), { raw: { width: 4, height: 2, channels: 3 } }).avif().toBuffer();
    await expect(decodeImage(avif, { name: 'photo.avif' })).rejects.toThrow(/photo\.avif: unsupported image format "heif" \(supported: JPEG, PNG, TIFF, WebP\)/);
    const empty = join(dir, 'empty.jpg');
    await writeFile(empty, '');
    await expect(decodeImage(empty)).rejects.toThrow(/empty\.jpg: image file is empty/);
    await expect(decodeLabelImage(text)).rejects.toThrow(/text\.jpg: not an image/);
  });

  it('goes by the content, not the extension', async () => {
    const png = join(dir, 'really-a-png.jpg');
    await sharp(halves(4, 2), { raw: { width: 4, height: 2, channels: 3 } }).png().toFile(png);
    expect(at((await decodeImage(png)).data, 4, 0, 0)).toEqual([255, 0, 0]);
  });

  it('refuses images over the pixel limit before decoding (decompression bomb)', async () => {
    const bomb = join(dir, 'bomb.png');
    // 6000 x 6000 grey zeros: 36 megapixels in a few kilobytes
    await sharp({ create: { width: 6000, height: 6000, channels: 3, background: { r: 0, g: 0, b: 0 } } }).toColourspace('b-w').png({ compressionLevel: 9 }).toFile(bomb);
    const err = await decodeImage(bomb, { limitInputPixels: 1_000_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/bomb\.png: image is over the pixel limit \(6000x6000 = 36000000 pixels > 1000000\)/);
    expect(err.hint).toMatch(/limitInputPixels/);
  });

  it('reports unreadable files', async () => {
    // a symbolic link to itself: no one can open it, root included (CI runs as root)
    const loop = join(dir, 'loop.png');
    await symlink('loop.png', loop);
    const err = await decodeImage(loop).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/loop\.png: image file is unreadable \(ELOOP\)/);
    await expect(decodeLabelImage(loop)).rejects.toThrow(/loop\.png: image file is unreadable/);
    const folder = join(dir, 'folder.png');
    await mkdir(folder);
    await expect(decodeImage(folder)).rejects.toThrow(/folder\.png: image is a directory, not a file/);
    // no permission: only where it can be denied (root reads any file)
    if (process.getuid?.() !== 0) {
      const file = join(dir, 'locked.png');
      await writePng(file, { width: 1, height: 1, data: Uint8Array.of(1) });
      await chmod(file, 0o000);
      await expect(decodeImage(file)).rejects.toThrow(/locked\.png: image file is unreadable \(permission denied\)/);
      await chmod(file, 0o644);
    }
  });
});

describe('decodeLabelImage, encodePng, writePng', () => {
  it('keeps grey masks as one channel with exact values', async () => {
    const file = join(dir, 'masks', 'm.png');
    const map = { width: 3, height: 2, data: Uint8Array.from([0, 1, 2, 3, 10, 255]) };
    await writePng(file, map);
    const m = await decodeLabelImage(file);
    expect(m.channels).toBe(1);
    expect([...m.data]).toEqual([0, 1, 2, 3, 10, 255]);
  });

  it('keeps colour (and palette) masks as 3 channels, alpha dropped', async () => {
    const rgb = Uint8Array.from([255, 0, 0, 127, 0, 0, 255, 255, 0, 0, 0, 255]);
    const colour = await decodeLabelImage(await encodePng({ width: 2, height: 2, channels: 3, data: rgb }));
    expect(colour.channels).toBe(3);
    expect([...colour.data]).toEqual([...rgb]);
    const palette = await sharp(Buffer.from(rgb), { raw: { width: 2, height: 2, channels: 3 } }).png({ palette: true, colours: 4 }).toBuffer();
    expect([...(await decodeLabelImage(palette)).data]).toEqual([...rgb]);
    const rgba = await sharp(halves(4, 2, 4), { raw: { width: 4, height: 2, channels: 4 } }).png().toBuffer();
    const m = await decodeLabelImage(rgba);
    expect(m.channels).toBe(3);
    expect(at(m.data, 4, 0, 0)).toEqual([255, 0, 0]);
  });

  it('round-trips an RGB image through PNG', async () => {
    const im = { width: 5, height: 3, channels: 3 as const, data: Uint8Array.from({ length: 45 }, (_, i) => i * 5) };
    const back = await decodeImage(await encodePng(im));
    expect(back.data).toEqual(im.data);
  });
});

describe('errors and skip mode', () => {
  it('formats file, line, reason and hint', () => {
    const e = new DatasetError('a/training.txt', 'expected 14 numbers, found 13', { line: 7, hint: 'check the line' });
    expect(e.message).toBe('a/training.txt:7: expected 14 numbers, found 13 (check the line)');
    expect([e.file, e.line, e.reason, e.hint]).toEqual(['a/training.txt', 7, 'expected 14 numbers, found 13', 'check the line']);
  });

  it('throws in error mode, records in skip mode, never swallows other errors', () => {
    const strict = new SkipCollector('error');
    expect(() => strict.attempt(() => { throw new DatasetError('x', 'bad'); })).toThrow('x: bad');
    const lax = new SkipCollector('skip');
    expect(lax.attempt(() => { throw new DatasetError('x.jpg', 'bad', { line: 3 }); })).toBeUndefined();
    expect(lax.attempt(() => 5)).toBe(5);
    expect(lax.skipped).toEqual([{ file: 'x.jpg', reason: 'line 3: bad' }]);
    expect(lax.summary()).toBe('skipped 1 file: x.jpg (line 3: bad)');
    expect(() => lax.attempt(() => { throw new TypeError('bug'); })).toThrow(TypeError);
  });

  it('readTextFile names a missing file', async () => {
    await expect(readTextFile(join(dir, 'missing.txt'), 'download it')).rejects.toThrow(/missing\.txt: file is missing \(download it\)/);
  });
});

describe('resolveInside', () => {
  it('accepts relative paths with either separator', () => {
    expect(resolveInside('/data/mtfl', 'lfw_5590\\Aaron_Eckhart_0001.jpg')).toBe('/data/mtfl/lfw_5590/Aaron_Eckhart_0001.jpg');
    expect(resolveInside('/data', 'a/../b.jpg')).toBe('/data/b.jpg');
  });

  it('rejects paths escaping the root, absolute paths and NUL bytes', () => {
    for (const p of ['../secret.jpg', '..\\..\\etc\\passwd', 'a/../../b.jpg', '/etc/passwd', 'C:\\x.jpg', 'a\0b', '.', '']) {
      expect(() => resolveInside('/data', p, { file: '/data/list.txt', line: 4 })).toThrow(DatasetError);
    }
    expect(() => resolveInside('/data', '../x.jpg', { file: '/data/list.txt', line: 4 })).toThrow(
      /^\/data\/list\.txt:4: path "\.\.\/x\.jpg" escapes the data set root/,
    );
  });
});

describe('text helpers', () => {
  it('numbers lines across CRLF and skips blanks', () => {
    expect(numberedLines('a\r\n\r\n b\rc\n')).toEqual([
      { line: 1, text: 'a' },
      { line: 3, text: ' b' },
      { line: 4, text: 'c' },
    ]);
  });

  it('lists files sorted, skipping hidden ones, and names a missing folder', async () => {
    const root = join(dir, 'tree');
    await mkdir(join(root, 'sub'), { recursive: true });
    for (const f of ['b.jpg', 'a.PNG', '.DS_Store', 'notes.txt', 'sub/c.jpg']) await writeFile(join(root, f), '');
    expect(await listFiles(root, { extensions: ['.jpg', '.png'] })).toEqual(['a.PNG', 'b.jpg']);
    expect(await listFiles(root, { recursive: true, extensions: ['.jpg'] })).toEqual(['b.jpg', 'sub/c.jpg']);
    await expect(listFiles(join(root, 'nothing'))).rejects.toThrow(/nothing: folder is missing/);
  });
});

function fakeDataset(n: number, identity: (i: number) => string | undefined, fail = new Set<number>()): Dataset {
  const samples: Sample[] = Array.from({ length: n }, (_, i) => ({
    id: `img${i}.jpg`,
    identity: identity(i),
    load: async () => {
      if (fail.has(i)) throw new DatasetError(`img${i}.jpg`, 'corrupt image');
      return { image: { width: 1, height: 1, channels: 3, data: new Uint8Array(3) }, labels: { n: i } };
    },
  }));
  return { name: 'fake', tasks: ['n'], samples };
}

describe('shuffle and splitDataset', () => {
  it('shuffles deterministically into a permutation', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = shuffle(items, new Rng(7));
    expect(a).toEqual(shuffle(items, new Rng(7)));
    expect(a).not.toEqual(items);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(items[0]).toBe(0); // input untouched
  });

  it('splits by identity: no person on both sides, about the requested fraction', () => {
    const ds = fakeDataset(300, (i) => `person${i % 37}`);
    const { train, validation } = splitDataset(ds, { fraction: 0.2, seed: 1 });
    expect(train.samples.length + validation.samples.length).toBe(300);
    const trainIds = new Set(train.samples.map((s) => s.identity));
    for (const s of validation.samples) expect(trainIds.has(s.identity)).toBe(false);
    expect(validation.samples.length).toBeGreaterThanOrEqual(60);
    expect(validation.samples.length).toBeLessThan(60 + 10);
    expect(validation.name).toBe('fake/validation');
  });

  it('is independent of listing order and seed-dependent', () => {
    const ds = fakeDataset(100, (i) => (i < 50 ? `p${i % 10}` : undefined));
    const reversed = { ...ds, samples: [...ds.samples].reverse() };
    const ids = (d: Dataset) => d.samples.map((s) => s.id).sort();
    expect(ids(splitDataset(ds, { fraction: 0.3, seed: 4 }).validation)).toEqual(ids(splitDataset(reversed, { fraction: 0.3, seed: 4 }).validation));
    expect(ids(splitDataset(ds, { fraction: 0.3, seed: 4 }).validation)).not.toEqual(ids(splitDataset(ds, { fraction: 0.3, seed: 5 }).validation));
  });

  it('splits sample by sample when asked or when there are no identities', () => {
    const ds = fakeDataset(40, (i) => `same`);
    expect(splitDataset(ds, { fraction: 0.25, byIdentity: false }).validation.samples.length).toBe(10);
    expect(splitDataset(fakeDataset(40, () => undefined), { fraction: 0.25 }).validation.samples.length).toBe(10);
    expect(() => splitDataset(ds, { fraction: 1 })).toThrow(/fraction/);
  });
});

describe('scanDataset', () => {
  it('loads everything, and in skip mode drops and records failures', async () => {
    const ds = fakeDataset(10, () => undefined, new Set([3, 7]));
    await expect(scanDataset(ds)).rejects.toThrow('img3.jpg: corrupt image');
    const seen: number[] = [];
    const { dataset, loaded } = await scanDataset(ds, { onError: 'skip', concurrency: 3, onSample: (li) => seen.push(li.labels.n as number) });
    expect(loaded).toBe(8);
    expect(dataset.samples.map((s) => s.id)).not.toContain('img3.jpg');
    expect(dataset.skipped).toEqual([
      { file: 'img3.jpg', reason: 'corrupt image' },
      { file: 'img7.jpg', reason: 'corrupt image' },
    ]);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 4, 5, 6, 8, 9]);
  });
});
