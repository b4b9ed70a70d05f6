import { describe, expect, it } from 'vitest';
import {
  DEFAULT_AUGMENT,
  applyAffine,
  augmentTransform,
  colorJitter,
  composeAffine,
  faceBoxFromKeypoints,
  faceCrop,
  flipTransform,
  invertAffine,
  invertTransform,
  prepareSample,
  rotation,
  scaling,
  sourceSizeOf,
  translation,
  warpFloatMap,
  warpImage,
  warpLabelMap,
} from '../src/data/geometry';
import type { LabelMap, LabelTransform, RawImage } from '../src/data/types';
import { Rng } from '../src/nn/params';

function close(a: number[], b: number[], digits = 9): void {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(v).toBeCloseTo(b[i], digits));
}

/** An RGB image whose red channel is the column index and green the row index. */
function gradient(w: number, h: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x, y, 7], (y * w + x) * 3);
  return { width: w, height: h, channels: 3, data };
}

const px = (im: RawImage, x: number, y: number) => [...im.data.subarray((y * im.width + x) * 3, (y * im.width + x) * 3 + 3)];

describe('affine maps', () => {
  it('composes in application order and inverts', () => {
    const m = composeAffine(scaling(2), translation(3, -1)); // scale first, then translate
    expect(applyAffine(m, 1, 1)).toEqual([5, 1]);
    const r = composeAffine(rotation(0.3, 4, 5), scaling(1.5, 0.5), translation(2, 7));
    const back = applyAffine(invertAffine(r), ...applyAffine(r, -3, 11));
    close(back, [-3, 11]);
    close(composeAffine(r, invertAffine(r)), [1, 0, 0, 0, 1, 0]);
  });

  it('rotates about the given centre, clockwise on screen', () => {
    close(applyAffine(rotation(Math.PI / 2, 1, 1), 2, 1), [1, 2]);
    close(applyAffine(rotation(Math.PI / 2, 1, 1), 1, 1), [1, 1]);
  });

  it('refuses to invert a singular map', () => {
    expect(() => invertAffine([1, 2, 0, 2, 4, 0])).toThrow(/singular/);
  });
});

describe('faceCrop', () => {
  it('grows only a face box by the margin: an image without one is taken as already framed', () => {
    expect(faceCrop([100, 80], undefined, { size: 40, margin: 0.25 }).affine).toEqual(faceCrop([100, 80], undefined, { size: 40 }).affine);
  });

  it('maps the face box, grown by the margin, onto the output square', () => {
    const t = faceCrop([640, 480], [100, 50, 200, 100], { size: 128, margin: 0.25 });
    // square of side 200 * 1.5 = 300 centred on (200, 100)
    close(applyAffine(t.affine, 50, -50), [0, 0]);
    close(applyAffine(t.affine, 350, 250), [128, 128]);
    close(applyAffine(t.affine, 200, 100), [64, 64]);
    expect(t.outSize).toEqual([128, 128]);
    expect(t.flipped).toBe(false);
  });

  it('without a box takes the centred square of the image', () => {
    const t = faceCrop([363, 512], undefined, { size: 64 });
    close(applyAffine(t.affine, 0, (512 - 363) / 2), [0, 0]);
    close(applyAffine(t.affine, 363, (512 + 363) / 2), [64, 64]);
  });

  it('rejects bad sizes and boxes', () => {
    expect(() => faceCrop([10, 10], undefined, { size: 0 })).toThrow(/size/);
    expect(() => faceCrop([10, 10], [0, 0, 0, 5], { size: 8 })).toThrow(/face box/);
    expect(() => faceCrop([10, 10], undefined, { size: 8, margin: -1 })).toThrow(/margin/);
  });
});

describe('faceBoxFromKeypoints', () => {
  it('frames a frontal face by its eye distance, a third of the way from the eyes to the mouth', () => {
    // eyes 20 apart at y 40, mouth 18 below: side 3.2 * 20 = 64, centre (50, 46)
    expect(faceBoxFromKeypoints([40, 40], [60, 40], [50, 58])).toEqual([18, 14, 64, 64]);
  });

  it('keeps the size of a turned head by the eye-to-mouth distance', () => {
    // eyes only 6 apart (profile), mouth 24 below their midpoint: side 3.2 * 24
    const [x, y, w, h] = faceBoxFromKeypoints([47, 40], [53, 40], [50, 64]);
    expect(w).toBeCloseTo(76.8, 9);
    expect(h).toBe(w);
    expect(x + w / 2).toBeCloseTo(50, 9);
    expect(y + h / 2).toBeCloseTo(48, 9);
  });

  it('puts the eyes about 0.31 of the crop apart with faceCrop, whatever the face size', () => {
    for (const scale of [0.5, 1, 3]) {
      const le: [number, number] = [100 * scale, 80 * scale];
      const re: [number, number] = [140 * scale, 80 * scale];
      const t = faceCrop([400 * scale, 400 * scale], faceBoxFromKeypoints(le, re, [120 * scale, 118 * scale]), { size: 64 });
      const [ax] = applyAffine(t.affine, ...le);
      const [bx] = applyAffine(t.affine, ...re);
      expect((bx - ax) / 64).toBeCloseTo(1 / 3.2, 9);
    }
  });

  it('refuses points that are not numbers', () => {
    expect(() => faceBoxFromKeypoints([Number.NaN, 0], [1, 0], [0, 1])).toThrow(/finite/);
  });
});

describe('flip, inverse and augmentation', () => {
  it('flipTransform mirrors the output and toggles flipped', () => {
    const t = faceCrop([100, 100], undefined, { size: 50 });
    const f = flipTransform(t);
    expect(f.flipped).toBe(true);
    close(applyAffine(f.affine, 10, 20), [45, 10]);
    expect(flipTransform(f).flipped).toBe(false);
    close(flipTransform(f).affine, t.affine);
  });

  it('invertTransform maps network coordinates back to the original image', () => {
    const t = faceCrop([300, 200], [40, 30, 120, 150], { size: 96, margin: 0.1 });
    const inv = invertTransform(flipTransform(t), [300, 200]);
    expect(inv.outSize).toEqual([300, 200]);
    expect(inv.flipped).toBe(true);
    close(applyAffine(inv.affine, ...applyAffine(flipTransform(t).affine, 77, 88)), [77, 88]);
  });

  it('faceCrop carries the source size through flip and augmentation, for mapping back', () => {
    const t = augmentTransform(flipTransform(faceCrop([300, 200], undefined, { size: 64 })), new Rng(2), DEFAULT_AUGMENT);
    expect(t.sourceSize).toEqual([300, 200]);
    expect(sourceSizeOf(t)).toEqual([300, 200]);
    expect(invertTransform(t).outSize).toEqual([300, 200]);
    expect(() => invertTransform({ affine: [1, 0, 0, 0, 1, 0], outSize: [4, 4], flipped: false })).toThrow(/original image size is unknown/);
  });

  it('is deterministic for a seed and stays within the configured ranges', () => {
    const crop = faceCrop([100, 100], undefined, { size: 100 });
    const opts = { scale: [0.8, 1.2] as [number, number], shift: 0.1, rotationDeg: 15, flip: 0.5 };
    const a = augmentTransform(crop, new Rng(3), opts);
    const b = augmentTransform(crop, new Rng(3), opts);
    expect(a).toEqual(b);
    let flips = 0;
    const rng = new Rng(11);
    for (let i = 0; i < 400; i++) {
      const t = augmentTransform(crop, rng, opts);
      const [a0, b0, , d0, e0] = t.affine;
      const det = a0 * e0 - b0 * d0;
      const s = Math.sqrt(Math.abs(det));
      expect(s).toBeGreaterThanOrEqual(0.8 - 1e-9);
      expect(s).toBeLessThanOrEqual(1.2 + 1e-9);
      expect(Math.sign(det)).toBe(t.flipped ? -1 : 1);
      // the image centre moves at most shift * size (scale/rotation are about the centre)
      const [cx, cy] = applyAffine(t.affine, 50, 50);
      expect(Math.abs(cx - 50)).toBeLessThanOrEqual(10 + 1e-9);
      expect(Math.abs(cy - 50)).toBeLessThanOrEqual(10 + 1e-9);
      if (t.flipped) flips++;
    }
    expect(flips).toBeGreaterThan(150);
    expect(flips).toBeLessThan(250);
  });

  it('with no options is the crop itself', () => {
    const crop = faceCrop([80, 60], undefined, { size: 32 });
    close(augmentTransform(crop, new Rng(1), {}).affine, crop.affine);
  });
});

describe('warping', () => {
  it('identity warp reproduces the image exactly', () => {
    const im = gradient(7, 5);
    expect(warpImage(im, [1, 0, 0, 0, 1, 0], 7, 5).data).toEqual(im.data);
  });

  it('translation by whole pixels shifts and fills with black', () => {
    const out = warpImage(gradient(6, 4), translation(2, 1), 6, 4);
    expect(px(out, 2, 1)).toEqual([0, 0, 7]);
    expect(px(out, 5, 3)).toEqual([3, 2, 7]);
    expect(px(out, 0, 0)).toEqual([0, 0, 0]);
    expect(px(out, 1, 3)).toEqual([0, 0, 0]);
  });

  it('upscaling by 2 interpolates bilinearly between pixel centres', () => {
    const out = warpImage(gradient(4, 4), scaling(2), 8, 8);
    // destination centre 2.5 -> source 1.25 -> index coordinate 0.75 -> value 0.75 -> rounds to 1
    expect(px(out, 2, 2)).toEqual([1, 1, 7]);
    // destination centre 3.5 -> source 1.75 -> 1.25 -> 1
    expect(px(out, 3, 0)[0]).toBe(1);
    // destination centre 5.5 -> source 2.75 -> 2.25 -> 2
    expect(px(out, 5, 0)[0]).toBe(2);
  });

  it('mirrors exactly', () => {
    const im = gradient(5, 3);
    const out = warpImage(im, [-1, 0, 5, 0, 1, 0], 5, 3);
    for (let x = 0; x < 5; x++) expect(px(out, x, 1)).toEqual([4 - x, 1, 7]);
  });

  it('shrinking averages instead of aliasing', () => {
    // a 1-pixel checkerboard: plain bilinear at a factor of 4 hits one phase, area averaging gives grey
    const w = 64;
    const data = new Uint8Array(w * w * 3);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) data.fill((x + y) % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const out = warpImage({ width: w, height: w, channels: 3, data }, scaling(0.25), 16, 16);
    for (const v of out.data) expect(Math.abs(v - 128)).toBeLessThanOrEqual(1);
  });

  it('warps label maps by nearest neighbour and fills outside with 0', () => {
    const map: LabelMap = { width: 3, height: 2, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    expect([...warpLabelMap(map, scaling(2), 6, 4).data]).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6]);
    expect([...warpLabelMap(map, translation(1, 0), 3, 2).data]).toEqual([0, 1, 2, 0, 4, 5]);
    expect([...warpLabelMap(map, translation(1, 0), 3, 2, 9).data]).toEqual([9, 1, 2, 9, 4, 5]);
  });

  it('warps float maps and fills outside with the given vector', () => {
    const map = { width: 2, height: 1, channels: 2, data: Float32Array.from([0, 1, 1, 0]) };
    const out = warpFloatMap(map, translation(1, 0), 2, 1, [1, 0]);
    expect([...out.data]).toEqual([1, 0, 0, 1]);
  });

  it('warps image and label map consistently under a random augmentation', () => {
    // a square of class 1 on a 40x40 image; its warped image pixels are white where the label is 1
    const w = 40;
    const im: RawImage = { width: w, height: w, channels: 3, data: new Uint8Array(w * w * 3) };
    const map: LabelMap = { width: w, height: w, data: new Uint8Array(w * w) };
    for (let y = 10; y < 30; y++) for (let x = 12; x < 26; x++) {
      map.data[y * w + x] = 1;
      im.data.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
    const t = augmentTransform(faceCrop([w, w], undefined, { size: 32 }), new Rng(5), { scale: [0.9, 1.1], rotationDeg: 10, shift: 0.05, flip: true });
    const wi = warpImage(im, t.affine, 32, 32);
    const wm = warpLabelMap(map, t.affine, 32, 32);
    let agree = 0;
    for (let p = 0; p < 32 * 32; p++) if ((wi.data[3 * p] > 127 ? 1 : 0) === wm.data[p]) agree++;
    expect(agree / (32 * 32)).toBeGreaterThan(0.97);
  });

  it('rejects bad output sizes and inconsistent data', () => {
    expect(() => warpImage(gradient(2, 2), [1, 0, 0, 0, 1, 0], 0, 2)).toThrow(/output size/);
    expect(() => warpImage({ width: 3, height: 3, channels: 3, data: new Uint8Array(5) }, [1, 0, 0, 0, 1, 0], 2, 2)).toThrow(/bytes/);
  });
});

describe('colorJitter', () => {
  const im: RawImage = { width: 2, height: 1, channels: 3, data: Uint8Array.from([200, 100, 50, 10, 20, 30]) };

  it('with no jitter returns the same pixels', () => {
    expect(colorJitter(im, new Rng(1), {}).data).toEqual(im.data);
  });

  it('saturation 1 -> 0 can give grey; brightness scales', () => {
    const fixed = (v: number) => ({ next: () => v });
    const grey = colorJitter(im, fixed(0), { saturation: 1 });
    expect(grey.data[0]).toBe(grey.data[1]);
    expect(grey.data[1]).toBe(grey.data[2]);
    const bright = colorJitter(im, { next: (() => { const s = [1, 0.5, 0.5]; let i = 0; return () => s[i++]; })() }, { brightness: 0.5 });
    expect([...bright.data]).toEqual([255, 150, 75, 15, 30, 45]);
  });
});

describe('prepareSample', () => {
  it('warps the image and moves each label with its task, dropping the rest', () => {
    const im = gradient(20, 10);
    const t: LabelTransform = flipTransform(faceCrop([20, 10], undefined, { size: 10 }));
    const seen: LabelTransform[] = [];
    const plugin = {
      name: 'points',
      transformLabel(label: { p: [number, number] }, tr: LabelTransform) {
        seen.push(tr);
        return { p: applyAffine(tr.affine, ...label.p) };
      },
    };
    const out = prepareSample({ image: im, labels: { points: { p: [5, 5] }, other: 1 }, faceBox: [0, 0, 5, 5] }, t, [plugin]);
    expect(out.image.width).toBe(10);
    expect(out.labels).toEqual({ points: { p: [10 - 0, 5] } });
    expect(seen[0]).toBe(t);
    expect(out.transform).toBe(t);
    expect(out.sourceSize).toEqual([20, 10]);
    expect(out.faceBox).toBeUndefined();
    // the mirrored crop: output column 0 is source column 14 (the right edge of the centred square)
    expect(px(out.image, 0, 0)[0]).toBe(14);
    const keyed = prepareSample({ image: im, labels: { other: 1 } }, t, { other: (l) => (l as number) + 1 });
    expect(keyed.labels).toEqual({ other: 2 });
  });
});
