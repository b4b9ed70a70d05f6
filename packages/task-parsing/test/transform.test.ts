import { describe, expect, it } from 'vitest';
import { faceCrop, flipTransform, scaling } from '@ifan/core';
import type { FloatMap, LabelMap, LabelTransform } from '@ifan/core';
import { HELEN_11 } from '../src/sets';
import { argmaxClasses, flipClassTable, parsingToOriginal, probabilitiesToOriginal, transformParsing } from '../src/transform';

const C = Object.fromEntries(HELEN_11.classes.map((c, i) => [c, i]));

/** A 6 x 2 Helen mask: left brow, left eye, nose, nose, right eye, right brow / skin, hair, skin ... */
const MASK: LabelMap = {
  width: 6,
  height: 2,
  data: Uint8Array.from([
    C['left brow'], C['left eye'], C.nose, C.nose, C['right eye'], C['right brow'],
    C['face skin'], C.hair, C['upper lip'], C['inner mouth'], C['lower lip'], C.background,
  ]),
};

const identity = (w: number, h: number): LabelTransform => ({ affine: [1, 0, 0, 0, 1, 0], outSize: [w, h], flipped: false });

describe('transformParsing', () => {
  it('warps by nearest neighbour to the output size', () => {
    const t: LabelTransform = { affine: scaling(2), outSize: [12, 4], flipped: false };
    const out = transformParsing({ mask: MASK }, t, HELEN_11).mask;
    expect([out.width, out.height]).toEqual([12, 4]);
    expect(out.data[0]).toBe(C['left brow']);
    expect(out.data[1]).toBe(C['left brow']);
    expect(out.data[2]).toBe(C['left eye']);
    expect(out.data[3 * 12 + 3]).toBe(C.hair);
  });

  it('under a flip, mirrors and swaps left/right classes so the left eye stays on the left', () => {
    const out = transformParsing({ mask: MASK }, flipTransform(identity(6, 2)), HELEN_11).mask;
    expect([...out.data.subarray(0, 6)]).toEqual([C['left brow'], C['left eye'], C.nose, C.nose, C['right eye'], C['right brow']]);
    // row 2 is only mirrored (no left/right classes)
    expect([...out.data.subarray(6)]).toEqual([C.background, C['lower lip'], C['inner mouth'], C['upper lip'], C.hair, C['face skin']]);
    expect(MASK.data[0]).toBe(C['left brow']); // input untouched
  });

  it('fills outside the source with background', () => {
    const t = faceCrop([6, 2], undefined, { size: 4 }); // the centred 2 x 2 square, scaled by 2
    const out = transformParsing({ mask: MASK }, t, HELEN_11).mask;
    expect([...out.data.subarray(0, 4)]).toEqual([C.nose, C.nose, C.nose, C.nose]);
    const wide = faceCrop([6, 2], [0, 0, 6, 2], { size: 6 }); // a 6 x 6 square centred on a 6 x 2 image
    const w = transformParsing({ mask: MASK }, wide, HELEN_11).mask;
    expect(w.data[0]).toBe(C.background);
    expect(w.data[2 * 6]).toBe(C['left brow']);
  });

  it('flipClassTable swaps exactly the pairs', () => {
    const t = flipClassTable(HELEN_11);
    expect([...t.subarray(0, 11)]).toEqual([0, 1, 3, 2, 5, 4, 6, 7, 8, 9, 10]);
    expect(t[200]).toBe(200);
  });
});

describe('mapping outputs back to the original image', () => {
  const t = flipTransform(faceCrop([6, 2], [0, 0, 6, 2], { size: 12 })); // 12 x 12 covering a 6 x 6 square, mirrored

  it('parsingToOriginal undoes the crop and the flip', () => {
    const onNetwork = transformParsing({ mask: MASK }, t, HELEN_11).mask;
    const back = parsingToOriginal(onNetwork, t, HELEN_11);
    expect([...back.data]).toEqual([...MASK.data]);
  });

  it('probabilitiesToOriginal undoes crop and flip bilinearly and swaps the channels', () => {
    const onNetwork = transformParsing({ mask: MASK }, t, HELEN_11).mask;
    const probs: FloatMap = { width: 12, height: 12, channels: 11, data: new Float32Array(12 * 12 * 11) };
    for (let p = 0; p < 144; p++) probs.data[p * 11 + onNetwork.data[p]] = 1;
    const back = probabilitiesToOriginal(probs, t, HELEN_11);
    expect([back.width, back.height, back.channels]).toEqual([6, 2, 11]);
    expect([...argmaxClasses(back).data]).toEqual([...MASK.data]);
    // each pixel is still a distribution
    for (let p = 0; p < 12; p++) expect(back.data.subarray(p * 11, p * 11 + 11).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(() => probabilitiesToOriginal({ ...probs, channels: 3, data: new Float32Array(432) }, t, HELEN_11)).toThrow(/3 channels/);
  });

  it('outside the crop is certain background', () => {
    const crop = faceCrop([6, 2], undefined, { size: 2 }); // the centred 2 x 2 square
    const probs: FloatMap = { width: 2, height: 2, channels: 11, data: new Float32Array(44) };
    for (let p = 0; p < 4; p++) probs.data[p * 11 + C.nose] = 1;
    const back = argmaxClasses(probabilitiesToOriginal(probs, { affine: crop.affine, outSize: crop.outSize, flipped: false }, HELEN_11, [6, 2]));
    expect([...back.data]).toEqual([0, 0, C.nose, C.nose, 0, 0, 0, 0, C.nose, C.nose, 0, 0]);
  });

  it('argmaxClasses picks the first class on ties', () => {
    expect([...argmaxClasses({ width: 2, height: 1, channels: 3, data: Float32Array.from([0.2, 0.5, 0.5, 0, 0, 0]) }).data]).toEqual([1, 0]);
  });
});
