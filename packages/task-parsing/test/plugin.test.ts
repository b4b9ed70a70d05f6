import * as tf from '@tensorflow/tfjs-core';
import { faceCrop, IntegratedNetwork, selectBackend } from '@ifan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FASSEG_6, HELEN_11, parsingTask } from '../src/index';

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: false });
});

describe('parsing plugin', () => {
  it.each([
    ['tiny', 32],
    ['small', 64],
  ] as const)('decoder and re-encoder shapes on the %s preset', (preset, S) => {
    const net = new IntegratedNetwork([parsingTask()], { backbone: preset, iterations: 1 });
    const shapes = tf.tidy(() => {
      const r = net.forward(tf.zeros([2, S, S, 3]), net.context());
      const p = r.predictions[1].parsing;
      return { raw: r.raw[0].parsing.shape, pyramid: net.heads.parsing.reencode(p, net.context()).map((t) => t.shape), map: net.heads.parsing.toMap(p).shape };
    });
    expect(shapes.raw).toEqual([2, S, S, 11]);
    const sizes = net.backbone.sites.filter((s) => s.path === 'down').map((s) => s.size);
    expect(shapes.pyramid).toEqual(sizes.map((s) => [2, s, s, 8]));
    expect(shapes.map).toEqual([2, S, S, 11]);
    net.dispose();
  });

  it('per-pixel cross-entropy matches hand computation and finite differences', () => {
    const plugin = parsingTask({ labelSet: FASSEG_6 });
    const mask0 = { width: 2, height: 2, data: Uint8Array.from([0, 1, 2, 5]) };
    const { target, mask } = plugin.encodeTargets([{ mask: mask0 }, undefined], 2);
    expect(target.shape).toEqual([2, 2, 2, 6]);
    const raw = tf.randomNormal([2, 2, 2, 6], 0, 1, 'float32', 8);
    const r = raw.arraySync() as number[][][][];
    const ce = (row: number[], k: number) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[k];
    const expected = (ce(r[0][0][0], 0) + ce(r[0][0][1], 1) + ce(r[0][1][0], 2) + ce(r[0][1][1], 5)) / 4;
    expect(plugin.loss(raw, target, mask).dataSync()[0]).toBeCloseTo(expected, 5);
    const g = tf.grad((x: tf.Tensor) => plugin.loss(x, target, mask))(raw).dataSync();
    const values = raw.dataSync();
    for (const i of [0, 7, 13, 23]) {
      const at = (d: number) => {
        const v = values.slice();
        v[i] += d;
        return plugin.loss(tf.tensor4d(v, [2, 2, 2, 6]), target, mask).dataSync()[0];
      };
      expect((at(1e-2) - at(-1e-2)) / 2e-2).toBeCloseTo(g[i], 3);
    }
    expect(() => plugin.encodeTargets([{ mask: mask0 }], 4)).toThrow(/2x2, the network needs 4x4/);
    expect(() => plugin.encodeTargets([{ mask: { width: 1, height: 1, data: Uint8Array.from([6]) } }], 1)).toThrow(/class 6 .* outside the label set/);
  });

  it('classWeights multiply the cross-entropy of each pixel by the weight of its true class; without them nothing changes', () => {
    const weights = [0.5, 1, 2, 1, 1, 4];
    const plain = parsingTask({ labelSet: FASSEG_6 });
    const weighted = parsingTask({ labelSet: FASSEG_6, classWeights: weights });
    // training only: the saved configuration (what loading compares) is the same
    expect(weighted.config).toEqual(plain.config);
    const { target, mask } = plain.encodeTargets([{ mask: { width: 2, height: 2, data: Uint8Array.from([0, 1, 2, 5]) } }], 2);
    const raw = tf.randomNormal([1, 2, 2, 6], 0, 1, 'float32', 3);
    const r = raw.arraySync() as number[][][][];
    const ce = (row: number[], k: number) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[k];
    const terms = [ce(r[0][0][0], 0), ce(r[0][0][1], 1), ce(r[0][1][0], 2), ce(r[0][1][1], 5)];
    expect(plain.loss(raw, target, mask).dataSync()[0]).toBeCloseTo(terms.reduce((a, v) => a + v) / 4, 5);
    expect(weighted.loss(raw, target, mask).dataSync()[0]).toBeCloseTo((0.5 * terms[0] + terms[1] + 2 * terms[2] + 4 * terms[3]) / 4, 5);
    expect(weighted.recipe?.args).toEqual([{ labelSet: FASSEG_6, classWeights: weights }]);
    expect(() => parsingTask({ labelSet: FASSEG_6, classWeights: [1, 2] })).toThrow(/6 non-negative numbers/);
  });

  it('decodes at network resolution, and at the original size through the crop', async () => {
    const plugin = parsingTask({ labelSet: FASSEG_6 });
    // 2x2 map: classes 1, 2 / 3, 4
    const probs = tf.oneHot(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 6).reshape([1, 2, 2, 6]).toFloat();
    const [small] = await plugin.decodeOutput(probs, 2);
    expect(Array.from(small.mask.data)).toEqual([1, 2, 3, 4]);
    const t = faceCrop([4, 4], undefined, { size: 2, margin: 0 });
    const [big] = await plugin.decodeOutput(probs, 2, [t]);
    expect([big.mask.width, big.mask.height]).toEqual([4, 4]);
    expect(big.mask.data[0]).toBe(1);
    expect(big.mask.data[15]).toBe(4);
    // each result names its classes; FASSEG has no Helen reading
    expect(small.classes).toEqual(FASSEG_6.classes);
    expect(small.helenClasses).toBeUndefined();
  });

  it('turns a mirrored image\'s map back: columns reversed, left and right classes swapped (test-time mirroring)', () => {
    const plugin = parsingTask({ labelSet: HELEN_11 });
    // a 1x2 map of the mirrored image: left eye (4) in the left column, nose (6) in the right one
    const seen = tf.oneHot(tf.tensor2d([[4, 6]], [1, 2], 'int32'), 11).reshape([1, 1, 2, 11]).toFloat();
    const back = plugin.mirrorPrediction!(seen);
    // as the image was: nose on the left, and the eye on the right is the right eye (5)
    const cls = tf.tidy(() => Array.from(tf.argMax(back, -1).dataSync()));
    expect(cls).toEqual([6, 5]);
    expect(back.shape).toEqual([1, 1, 2, 11]);
    // probabilities move with their class, none is lost
    expect(tf.tidy(() => tf.sum(back).dataSync()[0])).toBeCloseTo(2, 6);
    tf.dispose([seen, back]);
  });

  it('decisionWeights multiply each class\'s probability before the arg-max, in predictions and (through decodeOutput) evaluation', async () => {
    // two pixels of 3 classes (of FASSEG's 6): [0.5, 0.3, 0.2] and [0.4, 0.35, 0.25]
    const rows = [
      [0.5, 0.3, 0.2, 0, 0, 0],
      [0.4, 0.35, 0.25, 0, 0, 0],
    ];
    // a 2x2 map of those pixels in turn; plain: class 0 everywhere; weights [1, 1.5, 1, ...]: 0.5 vs 0.45
    // keeps 0, 0.4 vs 0.525 turns to 1
    const square = tf.tensor4d([...rows.flat(), ...rows.flat()], [1, 2, 2, 6]);
    const [a] = await parsingTask({ labelSet: FASSEG_6 }).decodeOutput(square, 2);
    expect(Array.from(a.mask.data)).toEqual([0, 0, 0, 0]);
    const weighted = parsingTask({ labelSet: FASSEG_6, decisionWeights: [1, 1.5, 1, 1, 1, 1] });
    const [b] = await weighted.decodeOutput(square, 2);
    expect(Array.from(b.mask.data)).toEqual([0, 1, 0, 1]);
    // and the probabilities handed in are left as they were
    expect(Array.from(square.dataSync().slice(6, 9))).toEqual([0.4, 0.35, 0.25].map(Math.fround));
    // they are part of the recipe: a shipped model keeps them
    expect(weighted.recipe?.args).toEqual([{ labelSet: FASSEG_6, decisionWeights: [1, 1.5, 1, 1, 1, 1] }]);
    expect(() => parsingTask({ labelSet: FASSEG_6, decisionWeights: [1, 0, 1, 1, 1, 1] })).toThrow(/decisionWeights must be 6 positive numbers/);
    square.dispose();
  });

  it('names each class in the label set\'s terms and in Helen\'s (issue 13)', async () => {
    const plugin = parsingTask({ labelSet: 'celebamask-19' });
    const probs = tf.oneHot(tf.tensor2d([[4, 3], [11, 13]], [2, 2], 'int32'), 19).reshape([1, 2, 2, 19]).toFloat();
    const [out] = await plugin.decodeOutput(probs, 2);
    const own = Array.from(out.mask.data).map((c) => out.classes![c]);
    const helen = Array.from(out.mask.data).map((c) => out.helenClasses![c]);
    expect(own).toEqual(['left eye', 'eye glasses', 'upper lip', 'hair']);
    expect(helen).toEqual(['left eye', null, 'upper lip', 'hair']);
    // every Helen term is a helen-11 class
    for (const t of out.helenClasses!) if (t !== null) expect(HELEN_11.classes).toContain(t);
    const [h] = await parsingTask().decodeOutput(tf.zeros([1, 2, 2, 11]), 2);
    expect(h.helenClasses).toEqual(HELEN_11.classes);
  });
});
