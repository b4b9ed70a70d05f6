import * as tf from '@tensorflow/tfjs-core';
import { IntegratedNetwork, selectBackend } from '@ifan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BNU_LSVED_7, emotionTask } from '../src/index';

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: false });
});

describe('emotion plugin', () => {
  it.each([
    ['tiny', 32],
    ['small', 64],
  ] as const)('decoder and re-encoder shapes on the %s preset', (preset, S) => {
    const net = new IntegratedNetwork([emotionTask()], { backbone: preset, iterations: 1 });
    const shapes = tf.tidy(() => {
      const r = net.forward(tf.zeros([3, S, S, 3]), net.context());
      const p = r.predictions[1].emotion;
      return {
        raw: r.raw[0].emotion.shape,
        sums: Array.from(tf.sum(p, 1).dataSync()),
        pyramid: net.heads.emotion.reencode(p, net.context()).map((t) => t.shape),
        map: net.heads.emotion.toMap(p).shape,
      };
    });
    expect(shapes.raw).toEqual([3, 7]);
    shapes.sums.forEach((s) => expect(s).toBeCloseTo(1, 5));
    const sizes = net.backbone.sites.filter((s) => s.path === 'down').map((s) => s.size);
    expect(shapes.pyramid).toEqual(sizes.map((s) => [3, s, s, 8]));
    expect(shapes.map).toEqual([3, 1, 1, 7]);
    // the deepest feature: 4x4 on both presets
    expect(net.backbone.sites[net.backboneConfig.blocks].size).toBe(4);
    net.dispose();
  });

  it('takes any label set and refuses labels outside it', () => {
    const plugin = emotionTask({ labelSet: BNU_LSVED_7 });
    expect(plugin.config.classes).toEqual(BNU_LSVED_7.classes);
    expect(() => plugin.encodeTargets([{ classIndex: 7 }], 32)).toThrow(/class index 7 is outside the label set/);
  });

  it('cross-entropy over labelled samples matches hand computation and finite differences', () => {
    const plugin = emotionTask();
    const { target, mask } = plugin.encodeTargets([{ classIndex: 3 }, undefined, { classIndex: 0 }], 32);
    expect(Array.from(mask.dataSync())).toEqual([1, 0, 1]);
    const raw = tf.randomNormal([3, 7], 0, 1, 'float32', 5);
    const r = raw.arraySync() as number[][];
    const ce = (row: number[], k: number) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) - row[k];
    expect(plugin.loss(raw, target, mask).dataSync()[0]).toBeCloseTo((ce(r[0], 3) + ce(r[2], 0)) / 2, 5);
    const g = tf.grad((x: tf.Tensor) => plugin.loss(x, target, mask))(raw).dataSync();
    const values = raw.dataSync();
    for (const i of [0, 3, 8, 14, 20]) {
      const at = (d: number) => {
        const v = values.slice();
        v[i] += d;
        return plugin.loss(tf.tensor2d(v, [3, 7]), target, mask).dataSync()[0];
      };
      expect((at(1e-2) - at(-1e-2)) / 2e-2).toBeCloseTo(g[i], 3);
    }
    // the unlabelled sample gets no gradient
    expect(Array.from(g.slice(7, 14)).every((v) => v === 0)).toBe(true);
  });

  it('label smoothing: the loss of a target 1 - e on the label plus e / 7 everywhere, by hand; out of range is refused', () => {
    const e = 0.1;
    const plugin = emotionTask({ labelSmoothing: e });
    // the unlabelled middle sample's smoothed target is e / 7 everywhere: the mask must still leave it out
    const { target, mask } = plugin.encodeTargets([{ classIndex: 2 }, undefined, { classIndex: 6 }], 32);
    const raw = tf.randomNormal([3, 7], 0, 2, 'float32', 7);
    const r = raw.arraySync() as number[][];
    const logSoftmax = (row: number[]) => row.map((v) => v - Math.log(row.reduce((a, x) => a + Math.exp(x), 0)));
    const smoothedCe = (row: number[], k: number) => -logSoftmax(row).reduce((a, l, j) => a + ((j === k ? 1 - e : 0) + e / 7) * l, 0);
    const loss = plugin.loss(raw, target, mask).dataSync()[0];
    expect(loss).toBeCloseTo((smoothedCe(r[0], 2) + smoothedCe(r[2], 6)) / 2, 5);
    // differs from the plain loss, which it equals at 0
    expect(Math.abs(loss - emotionTask().loss(raw, target, mask).dataSync()[0])).toBeGreaterThan(1e-3);
    expect(emotionTask({ labelSmoothing: 0 }).loss(raw, target, mask).dataSync()[0]).toBeCloseTo(emotionTask().loss(raw, target, mask).dataSync()[0], 6);
    for (const bad of [-0.1, 1, Number.NaN]) expect(() => emotionTask({ labelSmoothing: bad })).toThrow(/labelSmoothing must be in \[0, 1\)/);
    tf.dispose([raw, target, mask]);
  });

  it('reads a mirrored face\'s expression as it is (test-time mirroring changes nothing to turn back)', () => {
    const p = tf.tensor2d([[0.1, 0.05, 0.05, 0.6, 0.1, 0.05, 0.05]]);
    const back = emotionTask().mirrorPrediction!(p);
    expect(Array.from(back.dataSync())).toEqual(Array.from(p.dataSync()));
    tf.dispose([p, back]);
  });

  it('decodes the argmax, its class name and the probabilities', async () => {
    const [out] = await emotionTask().decodeOutput(tf.tensor2d([[0.1, 0.05, 0.05, 0.6, 0.1, 0.05, 0.05]]), 32);
    expect(out.classIndex).toBe(3);
    expect(out.className).toBe('happy');
    expect(out.probabilities[3]).toBeCloseTo(0.6, 6);
  });
});
