import * as tf from '@tensorflow/tfjs-core';
import { applyMovingStatUpdates, faceCrop, flipTransform, IntegratedNetwork, selectBackend } from '@ifan/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { IBUG_68, landmarkTask } from '../src/index';

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: false });
});

describe('landmark plugin', () => {
  it.each([
    ['tiny', 32, 4],
    ['small', 64, 4],
  ] as const)('decoder and re-encoder shapes on the %s preset', (preset, S, deepestSize) => {
    const plugin = landmarkTask();
    const net = new IntegratedNetwork([plugin], { backbone: preset, iterations: 1 });
    const head = net.heads.landmarks;
    const shapes = tf.tidy(() => {
      const r = net.forward(tf.zeros([2, S, S, 3]), net.context());
      const pyramid = head.reencode(r.predictions[0].landmarks, net.context());
      return { raw: r.raw[1].landmarks.shape, pyramid: pyramid.map((t) => t.shape), map: head.toMap(r.predictions[0].landmarks).shape };
    });
    expect(shapes.raw).toEqual([2, 10]);
    const sizes = net.backbone.sites.filter((s) => s.path === 'down').map((s) => s.size);
    expect(shapes.pyramid).toEqual(sizes.map((s) => [2, s, s, 8]));
    expect(shapes.map).toEqual([2, S, S, 5]);
    // 1/16 of the input, or the deepest site when the preset stops earlier
    expect(net.backbone.sites.some((s) => s.path === 'down' && s.size === Math.max(S / 16, deepestSize))).toBe(true);
    net.dispose();
  });

  it('starts from the mean shape and takes any number of points', () => {
    const net = new IntegratedNetwork([landmarkTask({ landmarkSet: IBUG_68, decodeFrom: { path: 'down', downsample: 8 } })], { backbone: 'tiny', iterations: 0 });
    const raw = tf.tidy(() => net.forward(tf.zeros([1, 32, 32, 3]), net.context()).raw[0].landmarks.arraySync() as number[][]);
    expect(raw[0].length).toBe(136);
    net.dispose();
    const five = new IntegratedNetwork([landmarkTask()], { backbone: 'tiny', iterations: 0, seed: 4 });
    const p = tf.tidy(() => five.forward(tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D, five.context()).raw[0].landmarks.arraySync() as number[][]);
    // the last layer starts near the template: left eye near (0.34, 0.4)
    expect(Math.abs(p[0][0] - 0.34)).toBeLessThan(0.2);
    five.dispose();
  });

  it('draws each point as a disk of radius 5 px at 128 px in the re-encoder input', () => {
    const net = new IntegratedNetwork([landmarkTask()], { backbone: { inputSize: 128, blocks: 1, layersPerBlock: 1, growthRate: 2, stemChannels: 2 }, iterations: 1 });
    const maps = tf.tidy(() => net.heads.landmarks.toMap(tf.tensor2d([[0.25, 0.5, 0.75, 0.5, 0.5, 0.5, 0.3, 0.8, 0.7, 0.8]])).arraySync() as number[][][][]);
    // point 0 at (32, 64) px; pixel x has its centre at x + 0.5 and the disk's edge is a sigmoid 1 px
    // wide: sigmoid(5 - 0.5) = 0.989 at the point, sigmoid(5 - 3.5) = 0.82 inside, 0.5 on the rim,
    // sigmoid(5 - 9.5) = 0.011 beyond it
    expect(maps[0][64][32][0]).toBeGreaterThan(0.98);
    expect(maps[0][64][35][0]).toBeGreaterThan(0.8);
    expect(maps[0][64][41][0]).toBeLessThan(0.02);
    expect(maps[0][64][32][1]).toBeLessThan(0.01);
    net.dispose();
  });

  it('encodes targets with a mask and its Euclidean loss matches finite differences', () => {
    const plugin = landmarkTask();
    const { target, mask } = plugin.encodeTargets([{ points: [[8, 8], [24, 8], [16, 16], [10, 24], [22, 24]] }, undefined], 32);
    expect(Array.from(mask.dataSync())).toEqual([1, 0]);
    expect(Array.from(target.dataSync()).slice(0, 4)).toEqual([0.25, 0.25, 0.75, 0.25]);
    const raw = tf.randomUniform([2, 10], 0, 1, 'float32', 3);
    // hand-computed: 0.5 * sum of squared differences, over the one labelled sample
    const expected = 0.5 * tf.sum(tf.square(tf.sub(raw.slice([0, 0], [1, 10]), target.slice([0, 0], [1, 10])))).dataSync()[0];
    expect(plugin.loss(raw, target, mask).dataSync()[0]).toBeCloseTo(expected, 5);
    const g = tf.grad((r: tf.Tensor) => plugin.loss(r, target, mask))(raw).dataSync();
    const values = raw.dataSync();
    for (const i of [0, 3, 9, 12]) {
      const at = (d: number) => {
        const v = values.slice();
        v[i] += d;
        return plugin.loss(tf.tensor2d(v, [2, 10]), target, mask).dataSync()[0];
      };
      expect((at(1e-2) - at(-1e-2)) / 2e-2).toBeCloseTo(g[i], 3);
    }
    expect(() => plugin.encodeTargets([{ points: [[1, 1]] }], 32)).toThrow(/1 points, the set "mtfl-5" has 5|has 5/);
  });

  it('decodes to pixel coordinates and back to the original image', async () => {
    const plugin = landmarkTask();
    const pred = tf.tensor2d([[0.25, 0.5, 0.75, 0.5, 0.5, 0.5, 0.3, 0.8, 0.7, 0.8]]);
    const [inNet] = await plugin.decodeOutput(pred, 32);
    expect(inNet.points[0]).toEqual([8, 16]);
    // a 64x64 image cropped whole (no margin) to 32 px: coordinates double
    const t = faceCrop([64, 64], undefined, { size: 32, margin: 0 });
    const [orig] = await plugin.decodeOutput(pred, 32, [t]);
    expect(orig.points[0][0]).toBeCloseTo(16, 4);
    expect(orig.points[0][1]).toBeCloseTo(32, 4);
  });

  it('turns a mirrored image\'s points back: x -> 1 - x, left and right swapped (test-time mirroring)', () => {
    const plugin = landmarkTask();
    // left eye, right eye, nose, left mouth corner, right mouth corner of the mirrored image
    const seen = tf.tensor2d([[0.3, 0.4, 0.7, 0.42, 0.5, 0.6, 0.35, 0.8, 0.66, 0.81]]);
    const back = plugin.mirrorPrediction!(seen);
    // the mirrored image's left eye at x 0.3 is the right eye at 0.7
    const want = [0.3, 0.42, 0.7, 0.4, 0.5, 0.6, 0.34, 0.81, 0.65, 0.8];
    Array.from(back.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    expect(back.shape).toEqual([1, 10]);
    tf.dispose([seen, back]);
  });

  it('mirrorPrediction undoes what a flip does to a label (68 points: jaw, brows, eyes and mouth swap)', () => {
    const plugin = landmarkTask({ landmarkSet: IBUG_68 });
    const S = 32;
    const points = Array.from({ length: 68 }, (_, k) => [4 + ((k * 7) % 23), 3 + ((k * 5) % 26)] as [number, number]);
    const flip = flipTransform(faceCrop([S, S], undefined, { size: S, margin: 0 }));
    const flipped = plugin.transformLabel({ points }, flip);
    const { target: plain, mask: m1 } = plugin.encodeTargets([{ points }], S);
    const { target: mirrored, mask: m2 } = plugin.encodeTargets([flipped], S);
    const back = plugin.mirrorPrediction!(mirrored);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(back, plain))).dataSync()[0]);
    expect(d).toBeLessThan(1e-6);
    // and the flip did move them (the check is not of an identity)
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(mirrored, plain))).dataSync()[0])).toBeGreaterThan(0.1);
    tf.dispose([plain, mirrored, back, m1, m2]);
  });

  it('leaves no tensor behind once the network is disposed (the mean-shape start included)', async () => {
    const start = tf.memory().numTensors;
    const net = new IntegratedNetwork([landmarkTask()], { backbone: 'tiny', iterations: 1, initialFeedback: 'prior', seed: 5 });
    // the network holds its variables and nothing else
    expect(tf.memory().numTensors).toBe(start + net.params.variables.size);
    const images = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const ctx = net.context({ training: true });
    tf.tidy(() => {
      net.forward(images, ctx);
    });
    applyMovingStatUpdates(ctx);
    const [p] = (await net.predict(images)).landmarks as { points: [number, number][] }[];
    expect(p.points.length).toBe(5);
    images.dispose();
    net.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
