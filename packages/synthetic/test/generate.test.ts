import { createHash } from 'node:crypto';
import { Rng } from '@ifan/core';
import { describe, expect, it } from 'vitest';
import { CLASS, DOMAINS, EXPRESSIONS, SeededRandom, generateFace, imagePasses, setImagePasses, syntheticDataset, syntheticDomains } from '../src/index';
import { DEFAULT_IMAGING, develop } from '../src/imaging';
import { pixelHeap, resetPixelHeap } from '../src/pixels';
import { drawSettings } from '../src/raster';

function sameFace(a: ReturnType<typeof generateFace>, b: ReturnType<typeof generateFace>) {
  expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
  expect(Object.keys(a.labels)).toEqual(Object.keys(b.labels));
  if (a.labels.parsing) expect(Buffer.from(a.labels.parsing.mask.data).equals(Buffer.from(b.labels.parsing!.mask.data))).toBe(true);
  expect(a.labels.landmarks).toEqual(b.labels.landmarks);
  expect(a.labels.emotion).toEqual(b.labels.emotion);
  expect(a.faceBox).toEqual(b.faceBox);
  expect(a.attributes).toEqual(b.attributes);
}

describe('generateFace', () => {
  it('is deterministic for a seed, whatever was generated before', () => {
    const a = generateFace(42, { size: 96 });
    generateFace(7, { size: 64 });
    generateFace(8, { size: 96, imaging: { grey: true, gamma: 1.3 } });
    sameFace(a, generateFace(42, { size: 96 }));
    const b = generateFace(43, { size: 96 });
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(false);
  });

  it("draws from core's Rng, or one seed from any other random source", () => {
    const a = generateFace(new Rng(5), { size: 64 });
    const b = generateFace(new Rng(5), { size: 64 });
    sameFace(a, b);
    const rng = { next: () => 0.25 };
    sameFace(generateFace(rng, { size: 64 }), generateFace(rng, { size: 64 }));
    // the old name is core's generator
    expect(SeededRandom).toBe(Rng);
    sameFace(generateFace(new SeededRandom(5), { size: 64 }), a);
  });

  it('draws the faces it drew before the generator moved to core (the random stream is pinned)', () => {
    // printed with @ifan/synthetic's own SeededRandom and mixSeed at bb58a8b
    const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex').slice(0, 16);
    const f = generateFace(42, { size: 64 });
    expect(sha(f.image.data)).toBe('dd44bda6cb6ad31e');
    expect(sha(f.labels.parsing!.mask.data)).toBe('4b0e3f48ccf52914');
    const points = [
      [24.0709791003687, 23.16808232509887],
      [36.89970259815957, 26.111603063890488],
      [28.130649827275686, 31.2860095401695],
      [23.133797545491497, 37.01796151991245],
      [30.902508161399282, 38.80313259293651],
    ];
    f.labels.landmarks!.points.forEach((p, i) => {
      expect(p[0]).toBeCloseTo(points[i][0], 9);
      expect(p[1]).toBeCloseTo(points[i][1], 9);
    });
    expect(sha(generateFace(new Rng(5), { size: 48 }).image.data)).toBe('c520c006df5f38a5');
  });

  it('fills a data set with the faces it filled it with before', async () => {
    const ds = syntheticDataset({ count: 4, seed: 3, domain: 'parsing', facesPerIdentity: 2 });
    const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex').slice(0, 16);
    const images = await Promise.all(ds.samples.map(async (s) => sha((await s.load()).image.data)));
    expect(images).toEqual(['d9b558a128c4c719', '665461064f5d6575', '5a2088307423de9e', 'b07ee1db034a7a87']);
  });

  it('makes RGB images and labels of the requested size', () => {
    const f = generateFace(1, { size: [80, 60] });
    expect(f.image).toMatchObject({ width: 80, height: 60, channels: 3 });
    expect(f.image.data).toBeInstanceOf(Uint8Array);
    expect(f.image.data.length).toBe(80 * 60 * 3);
    expect(f.labels.parsing!.mask).toMatchObject({ width: 80, height: 60 });
    expect(f.labels.landmarks!.points).toHaveLength(5);
    expect(f.labels.emotion!.classIndex).toBeGreaterThanOrEqual(0);
    expect(Math.max(...f.labels.parsing!.mask.data)).toBeLessThanOrEqual(10);
  });

  it('attaches only the requested labels and honours a fixed expression', () => {
    const f = generateFace(3, { size: 48, tasks: ['emotion'], expression: 'surprise' });
    expect(Object.keys(f.labels)).toEqual(['emotion']);
    expect(f.labels.emotion!.classIndex).toBe(EXPRESSIONS.indexOf('surprise'));
  });

  it('explains bad options', () => {
    expect(() => generateFace(1, { expression: 'bored' })).toThrow(/expression/);
    expect(() => generateFace(1, { size: 3 })).toThrow(/size/);
    expect(() => generateFace(1, { tasks: ['pose' as never] })).toThrow(/tasks/);
    expect(() => generateFace(1, { expressionWeights: [1, 1] })).toThrow(/expressionWeights/);
  });

  it('decides 4x4 blocks exactly: masks match a per-pixel render', () => {
    try {
      for (let seed = 0; seed < 60; seed++) {
        const size = [48, 96, 128][seed % 3];
        drawSettings.blocks = true;
        const fast = generateFace(seed, { size });
        drawSettings.blocks = false;
        const slow = generateFace(seed, { size });
        expect(Buffer.from(fast.labels.parsing!.mask.data).equals(Buffer.from(slow.labels.parsing!.mask.data))).toBe(true);
      }
    } finally {
      drawSettings.blocks = true;
    }
  });
});

describe('WebAssembly image passes', () => {
  /** Runs `f` with the WebAssembly heap switched on or off (IFAN_SYNTHETIC_WASM). */
  function withWasm<T>(on: boolean, f: () => T): T {
    const before = process.env.IFAN_SYNTHETIC_WASM;
    process.env.IFAN_SYNTHETIC_WASM = on ? '1' : '0';
    resetPixelHeap();
    try {
      return f();
    } finally {
      if (before === undefined) delete process.env.IFAN_SYNTHETIC_WASM;
      else process.env.IFAN_SYNTHETIC_WASM = before;
      resetPixelHeap();
    }
  }

  it('are available here and can be switched off', () => {
    expect(withWasm(true, () => pixelHeap())).not.toBeNull();
    expect(withWasm(true, () => imagePasses())).toBe('wasm-simd');
    expect(withWasm(false, () => pixelHeap())).toBeNull();
    expect(withWasm(false, () => imagePasses())).toBe('js');
  });

  it('can be chosen in code, over the environment', () => {
    const fromEnv = withWasm(false, () => generateFace(11, { size: 64 }));
    withWasm(true, () => {
      setImagePasses('js');
      expect(imagePasses()).toBe('js');
      expect(Buffer.from(generateFace(11, { size: 64 }).image.data).equals(Buffer.from(fromEnv.image.data))).toBe(true);
      setImagePasses('auto');
      expect(imagePasses()).toBe('wasm-simd');
    });
    expect(() => setImagePasses('gpu' as never)).toThrow(/setImagePasses: expected 'auto' or 'js', got "gpu"/);
  });

  it('give the pictures of the JavaScript passes (a byte now and then off by one) and the same labels', () => {
    let differing = 0;
    let total = 0;
    // odd sizes exercise the loops' partial last steps; 300 px after smaller faces needs a new memory
    const cases = [[1, 128], [2, 61], [3, 17], [4, 300], [5, 64], [6, 128]] as const;
    const js = withWasm(false, () => cases.map(([seed, size]) => generateFace(seed, { size })));
    const wasm = withWasm(true, () => cases.map(([seed, size]) => generateFace(seed, { size })));
    js.forEach((a, k) => {
      const b = wasm[k];
      expect(b.image.data.length).toBe(a.image.data.length);
      for (let i = 0; i < a.image.data.length; i++) {
        const d = Math.abs(a.image.data[i] - b.image.data[i]);
        expect(d).toBeLessThanOrEqual(1);
        differing += d;
      }
      total += a.image.data.length;
      expect(Buffer.from(b.labels.parsing!.mask.data).equals(Buffer.from(a.labels.parsing!.mask.data))).toBe(true);
      expect(b.labels.landmarks).toEqual(a.labels.landmarks);
    });
    expect(differing / total).toBeLessThan(1e-3);
  });

  it('read nothing another layout left in the heap (it is filled with NaNs here first)', () => {
    const js = withWasm(false, () => generateFace(12, { size: 72 }));
    const wasm = withWasm(true, () => {
      const heap = pixelHeap()!;
      generateFace(1, { size: 100 });
      new Uint8Array(heap.canvas().buffer).fill(0xff, heap.canvasOffset);
      return generateFace(12, { size: 72 });
    });
    for (let i = 0; i < js.image.data.length; i++) expect(Math.abs(js.image.data[i] - wasm.image.data[i])).toBeLessThanOrEqual(1);
  });

  it('develop an image that is not in the heap (copied in) as one that is', () => {
    const rng = new Rng(9);
    // random values between a band far below 0 (top rows) and one far above 255 (bottom rows)
    const rgb = new Float32Array(40 * 30 * 3).map((_, i) => (i < 40 * 3 * 5 ? -80 : i >= 40 * 3 * 25 ? 400 : rng.next() * 300 - 20));
    const imaging = { ...DEFAULT_IMAGING, blur: 0.9, noise: 0 };
    const js = withWasm(false, () => develop(rgb.slice(), 40, 30, imaging, new Rng(1)));
    const wasm = withWasm(true, () => develop(rgb.slice(), 40, 30, imaging, new Rng(1)));
    expect(Math.max(...js.map((v, i) => Math.abs(v - wasm[i])))).toBeLessThanOrEqual(1);
    // values outside 0..255 saturate
    expect(wasm.includes(0) && wasm.includes(255)).toBe(true);
  });
});

describe('syntheticDataset', () => {
  it('lists samples cheaply and loads them deterministically', async () => {
    const a = syntheticDataset({ count: 6, seed: 9, size: 64, task: 'landmarks' });
    const b = syntheticDataset({ count: 20, seed: 9, size: 64, task: 'landmarks' });
    expect(a.samples).toHaveLength(6);
    expect(a.tasks).toEqual(['landmarks']);
    expect(a.samples[0].id).toBe('synthetic/000000');
    for (const k of [0, 5, 3]) sameFace(await a.samples[k].load(), await b.samples[k].load());
    const other = syntheticDataset({ count: 6, seed: 10, size: 64, task: 'landmarks' });
    const [x, y] = [await a.samples[0].load(), await other.samples[0].load()];
    expect(Buffer.from(x.image.data).equals(Buffer.from(y.image.data))).toBe(false);
  });

  it('keeps identities across consecutive samples when asked', async () => {
    const ds = syntheticDataset({ count: 6, seed: 1, size: 64, facesPerIdentity: 3 });
    expect(ds.samples.map((s) => s.identity)).toEqual([0, 0, 0, 1, 1, 1].map((p) => `synthetic/person0000${p}`));
    const faces = await Promise.all(ds.samples.map((s) => s.load()));
    expect(faces[1].attributes.gender).toBe(faces[0].attributes.gender);
    expect(faces[1].attributes.hairStyle).toBe(faces[0].attributes.hairStyle);
  });

  it('makes one data set per domain, each labelled for one task, deterministic per domain', async () => {
    const sets = syntheticDomains({ count: 4, seed: 2 });
    expect(sets.map((s) => s.tasks)).toEqual([['parsing'], ['landmarks'], ['emotion']]);
    expect(sets.map((s) => s.name)).toEqual([DOMAINS.parsing.name, DOMAINS.landmarks.name, DOMAINS.emotion.name]);
    const again = syntheticDomains({ count: 4, seed: 2 });
    for (let d = 0; d < 3; d++) {
      const [f, g] = [await sets[d].samples[1].load(), await again[d].samples[1].load()];
      sameFace(f, g);
      expect(Object.keys(f.labels)).toEqual(sets[d].tasks);
    }
    const emotion = await sets[2].samples[0].load();
    expect(emotion.image.width).toBe(48);
    const d = emotion.image.data;
    for (let i = 0; i < d.length; i += 3) expect(d[i] === d[i + 1] && d[i] === d[i + 2]).toBe(true);
  });

  it('gives domains different image statistics', async () => {
    const stats = async (domain: 'parsing' | 'landmarks') => {
      const ds = syntheticDataset({ count: 24, seed: 4, domain, size: 64 });
      let sum = 0;
      let blue = 0;
      let n = 0;
      for (const s of ds.samples) {
        const d = (await s.load()).image.data;
        for (let i = 0; i < d.length; i += 3) {
          sum += d[i] + d[i + 1] + d[i + 2];
          blue += d[i + 2] - d[i];
          n++;
        }
      }
      return { brightness: sum / (3 * n), blueCast: blue / n };
    };
    const helen = await stats('parsing');
    const mtfl = await stats('landmarks');
    expect(helen.brightness - mtfl.brightness).toBeGreaterThan(5);
    expect(mtfl.blueCast - helen.blueCast).toBeGreaterThan(5);
  });
});

describe('expressions', () => {
  it('are balanced over a few hundred samples', async () => {
    const ds = syntheticDataset({ count: 350, seed: 3, domain: 'emotion', size: 32 });
    const counts = new Array(7).fill(0);
    for (const s of ds.samples) counts[(await s.load()).labels.emotion!.classIndex]++;
    for (const c of counts) {
      expect(c).toBeGreaterThan(30);
      expect(c).toBeLessThan(72);
    }
  });

  it('move the mouth: smiles lift the corners, sadness drops them, surprise opens the mouth', () => {
    const measure = (expression: string) => {
      let lift = 0;
      let inner = 0;
      const n = 16;
      for (let seed = 0; seed < n; seed++) {
        const f = generateFace(seed, { size: 96, expression, occlusion: 0, intensity: [0.9, 1] });
        const { width, data } = f.labels.parsing!.mask;
        let cy = 0;
        let count = 0;
        for (let i = 0; i < data.length; i++) {
          if (data[i] === CLASS.upperLip || data[i] === CLASS.lowerLip || data[i] === CLASS.innerMouth) {
            cy += Math.floor(i / width) + 0.5;
            count++;
          }
          if (data[i] === CLASS.innerMouth) inner++;
        }
        const p = f.labels.landmarks!.points;
        lift += (cy / count - (p[3][1] + p[4][1]) / 2) / f.attributes.faceScale;
      }
      return { lift: lift / n, inner: inner / n };
    };
    const happy = measure('happy');
    const sad = measure('sad');
    const neutral = measure('neutral');
    const surprise = measure('surprise');
    expect(happy.lift).toBeGreaterThan(neutral.lift + 0.03);
    expect(sad.lift).toBeLessThan(neutral.lift - 0.03);
    expect(surprise.inner).toBeGreaterThan(neutral.inner * 5 + 20);
  });
});
