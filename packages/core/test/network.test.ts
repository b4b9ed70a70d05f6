import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { discardMovingStatUpdates, IntegratedNetwork, selectBackend, SHARED_BN_KEY, type LabelTransform, type NetworkConfig } from '../src/index';
import { luminance } from '../src/network';
import { mapTask, vectorTask } from './dummy-plugins';
import { expectFiniteDifferences } from './numeric';

beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: false });
});

const tinyConfig: Partial<NetworkConfig> = { backbone: 'tiny', iterations: 1, seed: 3 };

function images(b: number, size: number, seed = 7): tf.Tensor4D {
  return tf.randomUniform([b, size, size, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

function targets(net: IntegratedNetwork, labels: Record<string, (number | undefined)[]>) {
  return Object.fromEntries(
    Object.entries(labels).map(([task, l]) => [task, net.plugin(task).encodeTargets(l, net.inputSize)]),
  );
}

function snapshot(net: IntegratedNetwork, filter: (name: string) => boolean): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of net.params.variables) if (filter(name)) out[name] = v.dataSync() as Float32Array;
  return out;
}

function changed(a: Record<string, Float32Array>, b: Record<string, Float32Array>): string[] {
  return Object.keys(a).filter((k) => a[k].some((x, i) => x !== b[k][i]));
}

/** One plain SGD step of the given variables on the summed loss; returns the loss. */
function sgdStep(net: IntegratedNetwork, x: tf.Tensor4D, t: ReturnType<typeof targets>, bnKey: string, vars: tf.Variable[], iterations?: number) {
  const { grads, total } = net.computeGradients(x, t, { bnKey, variables: vars, iterations });
  for (const v of vars) {
    const g = grads[v.name];
    if (g) v.assign(tf.tidy(() => tf.sub(v, tf.mul(g, 0.1))));
  }
  tf.dispose(Object.values(grads));
  return total;
}

describe('backbone feature shapes', () => {
  it.each([
    // site channels: down sites carry the running dense concatenation (stem + k*L per block); up sites
    // carry the upsampled u = k*L channels plus the skip from the down block of that size
    ['tiny', 32, 3, [[32, 8], [16, 16], [8, 24], [4, 32], [8, 8 + 32], [16, 8 + 24], [32, 8 + 16]]],
    ['small', 64, 4, [[64, 16], [32, 32], [16, 48], [8, 64], [4, 80], [8, 16 + 80], [16, 16 + 64], [32, 16 + 48], [64, 16 + 32]]],
  ] as const)('preset %s has the documented sites and shapes', (preset, S, blocks, expected) => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { backbone: preset, iterations: 0 });
    expect(net.inputSize).toBe(S);
    expect(net.backbone.sites.length).toBe(2 * blocks + 1);
    expect(net.backbone.sites.map((s) => [s.size, s.channels])).toEqual(expected);
    const shapes = tf.tidy(() => {
      const ctx = net.context();
      const f = net.backbone.apply(tf.zeros([2, S, S, 3]) as tf.Tensor4D, ctx, (_k, h) => h);
      return f.sites.map((t) => t.shape);
    });
    expect(shapes).toEqual(expected.map(([s, c]) => [2, s, s, c]));
    const r = tf.tidy(() => {
      const out = net.forward(images(2, S), net.context());
      return [out.raw[0].map.shape, out.raw[0].vector.shape];
    });
    expect(r).toEqual([[2, S, S, 3], [2, 4]]);
    net.dispose();
  });

  it('builds the up path only as far as a task reads it, and computes the same without the rest', () => {
    const full = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, iterations: 1 });
    const pruned = new IntegratedNetwork([vectorTask()], { ...tinyConfig, iterations: 1 });
    expect(full.backbone.upBlocks).toBe(3);
    expect(pruned.backbone.upBlocks).toBe(0);
    expect(pruned.backbone.sites.map((s) => s.path)).toEqual(['down', 'down', 'down', 'down']);
    expect([...pruned.params.variables.keys()].some((k) => k.includes('/up'))).toBe(false);
    // the pruned network's parameters into the full one: the vector task then gets the same outputs,
    // whatever the up path of the full network holds
    for (const [name, v] of pruned.params.variables) {
      const twin = full.params.variables.get(name);
      if (twin && twin.shape.join() === v.shape.join()) twin.assign(v);
    }
    const x = images(2, 32);
    const [a, b] = [pruned, full].map((net) =>
      tf.tidy(() => net.forward(x, net.context({ bnKey: 'vector' }), 0).raw[0].vector.dataSync() as Float32Array),
    );
    expect(Array.from(b)).toEqual(Array.from(a));
    x.dispose();
    full.dispose();
    pruned.dispose();
  });

  it('takes a depth per block (FC-DenseNet103-style), mirrored by the up path, with sites, shapes and MACs to match', () => {
    // stem 4; down blocks of 1, 2, 3 layers at growth 2: 4 -> 6 -> 10 -> 16 channels; the up path's
    // first block (at the bottom) mirrors the coarsest down block: 3 layers, u = 6, then 2 (u = 4), 1 (u = 2)
    const backbone = { inputSize: 16, blocks: 3, layersPerBlock: [1, 2, 3], growthRate: 2, stemChannels: 4 };
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { backbone, iterations: 0 });
    expect(net.backbone.down.map((b) => b.layers.length)).toEqual([1, 2, 3]);
    expect(net.backbone.up.map((b) => b.layers.length)).toEqual([3, 2, 1]);
    const expected = [[16, 4], [8, 6], [4, 10], [2, 16], [4, 6 + 16], [8, 4 + 10], [16, 2 + 6]];
    expect(net.backbone.sites.map((s) => [s.size, s.channels])).toEqual(expected);
    const shapes = tf.tidy(() => net.backbone.apply(tf.zeros([2, 16, 16, 3]) as tf.Tensor4D, net.context(), (_k, h) => h).sites.map((t) => t.shape));
    expect(shapes).toEqual(expected.map(([z, c]) => [2, z, z, c]));
    // down block 1 (8 x 8, two 3x3 layers reading 6 then 8 channels, 2 out each), by hand
    expect(net.backbone.down[1].macs).toBe(8 * 8 * 9 * (6 + 8) * 2);
    // the up path's first transition: a 1x1 conv 6 -> 4u = 24 at 2 x 2, then a 3x3 conv 6 -> 6 at 4 x 4
    expect(net.backbone.transitions[0].macs).toBe(2 * 2 * 6 * 24 + 4 * 4 * 9 * 6 * 6);
    expect(net.backboneConfig.layersPerBlock).toEqual([1, 2, 3]);
    net.dispose();
  });

  it('refuses depths that are not one per block, naming how many it needs', () => {
    const at = (layersPerBlock: number | number[]) => () => new IntegratedNetwork([mapTask()], { backbone: { inputSize: 16, blocks: 3, layersPerBlock, growthRate: 2, stemChannels: 4 } });
    expect(at([1, 2])).toThrow(/layersPerBlock must be a positive integer or 3 of them \(one per block\), got \[1,2\]/);
    expect(at([1, 0, 2])).toThrow(/3 of them/);
    expect(at(1.5)).toThrow(/got 1.5/);
  });

  it('refuses an input size that the blocks cannot halve', () => {
    expect(() => new IntegratedNetwork([mapTask()], { backbone: { inputSize: 40, blocks: 4, layersPerBlock: 1, growthRate: 4, stemChannels: 4 } })).toThrow(
      /not divisible by 2\^blocks = 16/,
    );
  });

  it('refuses images of the wrong size with the expected shape', () => {
    const net = new IntegratedNetwork([mapTask()], tinyConfig);
    expect(() => tf.tidy(() => {
      net.forward(tf.zeros([1, 31, 31, 3]), net.context());
    })).toThrow(/\[batch, 32, 32, 3\]/);
    net.dispose();
  });

  it('counts FLOPs linearly in the iterations and parameters exactly', () => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, iterations: 2 });
    const f0 = net.flops(0);
    const f1 = net.flops(1);
    const f2 = net.flops(2);
    expect(f0).toBeGreaterThan(0);
    expect(f2 - f1).toBeCloseTo(f1 - f0, 0);
    // stem alone: 32*32 outputs x 7*7*3 inputs x 8 channels, times 2 for multiply + add
    expect(net.backbone.stem.macs).toBe(32 * 32 * 7 * 7 * 3 * 8);
    const counted = [...net.params.variables.values()].reduce((a, v) => a + v.size, 0);
    expect(net.parameterCount().total).toBe(counted);
    net.dispose();
  });
});

describe('batch norm per key', () => {
  it('a step under key A leaves key B untouched, with separate keys', () => {
    const net = new IntegratedNetwork([mapTask('a'), vectorTask('b')], tinyConfig);
    const isB = (n: string) => n.startsWith('backbone/') && n.includes('/b/');
    const isA = (n: string) => n.startsWith('backbone/') && n.includes('/a/');
    const beforeB = snapshot(net, isB);
    const beforeA = snapshot(net, isA);
    expect(Object.keys(beforeB).length).toBeGreaterThan(0);
    const x = images(2, 32);
    const vars = net.variables({ backbone: true, bnKey: 'a', decoders: ['a'], reencoders: ['a', 'b'] });
    expect(vars.some((v) => /\/bn\/b\//.test(net.params.nameOf(v)))).toBe(false);
    sgdStep(net, x, targets(net, { a: [0, 1] }), 'a', vars);
    expect(changed(beforeB, snapshot(net, isB))).toEqual([]);
    const changedA = changed(beforeA, snapshot(net, isA));
    expect(changedA.some((n) => n.endsWith('moving_mean'))).toBe(true);
    expect(changedA.some((n) => n.endsWith('gamma'))).toBe(true);
    x.dispose();
    net.dispose();
  });

  it('with sharedBatchNorm a step under either key changes the one shared set', () => {
    const net = new IntegratedNetwork([mapTask('a'), vectorTask('b')], { ...tinyConfig, sharedBatchNorm: true });
    const names = [...net.params.variables.keys()].filter((n) => n.startsWith('backbone/') && /\/bn\//.test(n));
    expect(names.every((n) => n.includes('/bn/shared/'))).toBe(true);
    const before = snapshot(net, (n) => n.includes('/bn/shared/'));
    const x = images(2, 32);
    sgdStep(net, x, targets(net, { b: [1, 2] }), 'b', net.variables({ backbone: true, bnKey: 'b', decoders: ['b'] }), 0);
    const diff = changed(before, snapshot(net, (n) => n.includes('/bn/shared/')));
    expect(diff.some((n) => n.endsWith('moving_variance'))).toBe(true);
    expect(diff.some((n) => n.endsWith('beta'))).toBe(true);
    x.dispose();
    net.dispose();
  });

  it('an unknown key is refused with the keys there are', () => {
    const net = new IntegratedNetwork([mapTask('a')], tinyConfig);
    expect(() => net.context({ bnKey: 'zzz' })).toThrow(/unknown batch-norm key "zzz".*a/);
    net.dispose();
  });
});

describe('taskPredictions', () => {
  it('reads each task through its own batch-norm key (one pass per key), or all through a given key', () => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { backbone: 'tiny', iterations: 1, seed: 4 });
    // give the vector key statistics of its own, so the keys differ
    for (const [name, v] of net.params.variables) if (name.includes('vector') && name.endsWith('moving_mean')) v.assign(tf.fill(v.shape, 0.25));
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const own = net.taskPredictions(x);
    const byKey = (key: string, task: string) => tf.tidy(() => Array.from(net.forward(x, net.context({ bnKey: key }), 1).predictions[1][task].dataSync()));
    expect(Array.from(own.map.dataSync())).toEqual(byKey('map', 'map'));
    expect(Array.from(own.vector.dataSync())).toEqual(byKey('vector', 'vector'));
    expect(Array.from(own.vector.dataSync())).not.toEqual(byKey('map', 'vector'));
    const forced = net.taskPredictions(x, { bnKey: 'map' });
    expect(Array.from(forced.vector.dataSync())).toEqual(byKey('map', 'vector'));
    tf.dispose([...Object.values(own), ...Object.values(forced)]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    net.dispose();
  });
});

describe('iterationPredictions, predictIterations', () => {
  /** The network of the taskPredictions test, its vector key with statistics of its own. */
  function twoKeyNet(seen: LabelTransform[][]) {
    const vector = vectorTask();
    const spied = { ...vector, decodeOutput: async (p: tf.Tensor, size: number, transforms?: LabelTransform[]) => (seen.push(transforms ?? []), vector.decodeOutput(p, size)) };
    const net = new IntegratedNetwork([mapTask(), spied], { backbone: 'tiny', iterations: 2, seed: 4 });
    for (const [name, v] of net.params.variables) if (name.includes('vector') && name.endsWith('moving_mean')) v.assign(tf.fill(v.shape, 0.25));
    return net;
  }

  it('every iteration of every task from one pass per key, as forward computes them; taskPredictions is the last', () => {
    const net = twoKeyNet([]);
    const x = images(2, 32, 5);
    const before = tf.memory().numTensors;
    const all = net.iterationPredictions(x);
    expect(all).toHaveLength(3);
    const byKey = (key: string, it: number, task: string) => tf.tidy(() => Array.from(net.forward(x, net.context({ bnKey: key }), 2).predictions[it][task].dataSync()));
    for (let it = 0; it <= 2; it++) {
      expect(Array.from(all[it].map.dataSync())).toEqual(byKey('map', it, 'map'));
      expect(Array.from(all[it].vector.dataSync())).toEqual(byKey('vector', it, 'vector'));
    }
    const last = net.taskPredictions(x);
    expect(Array.from(last.vector.dataSync())).toEqual(Array.from(all[2].vector.dataSync()));
    // one task: only its key's pass, only its tensors
    const vectorAt1 = tf.tidy(() => Array.from(net.forward(x, net.context({ bnKey: 'vector' }), 1).predictions[1].vector.dataSync()));
    let passes = 0;
    const forward = net.forward.bind(net);
    net.forward = (...args) => (passes++, forward(...args));
    const one = net.iterationPredictions(x, { tasks: ['vector'], iterations: 1 });
    expect(passes).toBe(1);
    expect(one.map((r) => Object.keys(r))).toEqual([['vector'], ['vector']]);
    expect(Array.from(one[1].vector.dataSync())).toEqual(vectorAt1);
    tf.dispose([...all.flatMap((r) => Object.values(r)), ...Object.values(last), ...one.flatMap((r) => Object.values(r))]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    net.dispose();
  });

  it('predictIterations decodes each iteration with the given transforms, predict the last, and neither leaves a tensor', async () => {
    const seen: LabelTransform[][] = [];
    const net = twoKeyNet(seen);
    const x = images(2, 32, 5);
    const before = tf.memory().numTensors;
    const transforms: LabelTransform[] = [0.5, 0.25].map((k) => ({ affine: [k, 0, 0, 0, k, 0], outSize: [32, 32], flipped: false }));
    const decoded = await net.predictIterations(x, { tasks: ['vector'], transforms });
    expect(tf.memory().numTensors).toBe(before);
    expect(decoded.map((r) => Object.keys(r))).toEqual([['vector'], ['vector'], ['vector']]);
    expect(seen).toEqual([transforms, transforms, transforms]);
    const tensors = net.iterationPredictions(x, { tasks: ['vector'] });
    for (let it = 0; it <= 2; it++) expect(decoded[it].vector).toEqual(await vectorTask().decodeOutput(tensors[it].vector, 32));
    tf.dispose(tensors.flatMap((r) => Object.values(r)));
    const last = await net.predict(x);
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(last)).toEqual(['map', 'vector']);
    expect(last.vector).toEqual(decoded[2].vector);
    x.dispose();
    net.dispose();
  });
});

describe('test-time mirroring', () => {
  /** mapTask whose mirrored prediction turns back as a map does (mirrored back, no classes swap), and vectorTask, whose does not change. */
  function mirroringNet() {
    const map = { ...mapTask(), mirrorPrediction: (p: tf.Tensor) => tf.reverse(p, 2) };
    const vector = { ...vectorTask(), mirrorPrediction: (p: tf.Tensor) => p };
    return new IntegratedNetwork([map, vector], { backbone: 'tiny', iterations: 1, seed: 4 });
  }

  it('averages each prediction with the mirrored image\'s, turned back, at every iteration, and leaves no tensor', () => {
    const net = mirroringNet();
    const x = images(2, 32, 5);
    const before = tf.memory().numTensors;
    const mirrored = net.iterationPredictions(x, { mirror: true });
    const plain = net.iterationPredictions(x);
    const xf = tf.reverse(x, 2);
    const flipped = net.iterationPredictions(xf);
    xf.dispose();
    for (let it = 0; it <= 1; it++) {
      const expectMap = tf.tidy(() => tf.mul(tf.add(plain[it].map, tf.reverse(flipped[it].map, 2)), 0.5));
      const expectVector = tf.tidy(() => tf.mul(tf.add(plain[it].vector, flipped[it].vector), 0.5));
      expect(mirrored[it].map.shape).toEqual(plain[it].map.shape);
      expectClose(mirrored[it].map, expectMap);
      expectClose(mirrored[it].vector, expectVector);
      // and it is not the plain prediction (the tiny random network is not symmetric)
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(mirrored[it].vector, plain[it].vector))).dataSync()[0])).toBeGreaterThan(1e-4);
      tf.dispose([expectMap, expectVector]);
    }
    tf.dispose([mirrored, plain, flipped].flatMap((all) => all.flatMap((r) => Object.values(r))));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    net.dispose();
  });

  it('is equivariant: the mirrored image\'s mirrored prediction is the prediction turned back', async () => {
    const net = mirroringNet();
    const x = images(1, 32, 9);
    const a = net.taskPredictions(x, { mirror: true });
    const xf = tf.reverse(x, 2);
    const b = net.taskPredictions(xf, { mirror: true });
    xf.dispose();
    const back = tf.tidy(() => tf.reverse(b.map, 2));
    expectClose(back, a.map);
    expectClose(b.vector, a.vector);
    tf.dispose([...Object.values(a), ...Object.values(b), back]);
    const before = tf.memory().numTensors;
    const decoded = await net.predict(x, { mirror: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(Object.keys(decoded)).toEqual(['map', 'vector']);
    x.dispose();
    net.dispose();
  });

  it('refuses a task whose plugin cannot turn a mirrored prediction back, naming it', () => {
    const net = new IntegratedNetwork([{ ...mapTask(), mirrorPrediction: (p: tf.Tensor) => tf.reverse(p, 2) }, vectorTask()], { backbone: 'tiny', iterations: 1, seed: 4 });
    const x = images(1, 32, 9);
    const before = tf.memory().numTensors;
    expect(() => net.iterationPredictions(x, { mirror: true })).toThrow(/task vector cannot turn a mirrored image's prediction back/);
    expect(tf.memory().numTensors).toBe(before);
    // the tasks that can are fine on their own
    const only = net.taskPredictions(x, { mirror: true, tasks: ['map'] });
    expect(Object.keys(only)).toEqual(['map']);
    tf.dispose(Object.values(only));
    x.dispose();
    net.dispose();
  });
});

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-5): void {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
  expect(d).toBeLessThan(tol);
}

describe('feedback loop', () => {
  it('ITER = 0 equals the network built without feedback', () => {
    const withFeedback = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, iterations: 2 });
    const without = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, iterations: 0 });
    expect(without.integrator.length).toBe(0);
    expect(withFeedback.integrator.length).toBe(withFeedback.backbone.sites.length);
    const x = images(2, 32);
    const [a, b] = tf.tidy((): tf.Tensor[] => {
      const ra = withFeedback.forward(x, withFeedback.context(), 0);
      const rb = without.forward(x, without.context(), 0);
      expect(ra.raw.length).toBe(1);
      const flat = (r: typeof ra) => tf.concat([tf.reshape(r.raw[0].map, [-1]), tf.reshape(r.raw[0].vector, [-1])]);
      return [flat(ra), flat(rb)];
    });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b, x]);
    withFeedback.dispose();
    without.dispose();
  });

  it('returns every iteration, and feedback changes later iterations', () => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, iterations: 2 });
    const x = images(2, 32);
    const diffs = tf.tidy(() => {
      const r = net.forward(x, net.context());
      expect(r.raw.length).toBe(3);
      expect(r.predictions.length).toBe(3);
      return [tf.max(tf.abs(tf.sub(r.raw[1].vector, r.raw[0].vector))).dataSync()[0], tf.max(tf.abs(tf.sub(r.raw[2].map, r.raw[1].map))).dataSync()[0]];
    });
    expect(diffs[0]).toBeGreaterThan(1e-6);
    expect(diffs[1]).toBeGreaterThan(1e-6);
    x.dispose();
    net.dispose();
  });

  it("adds the feedback into the backbone's own channels: the batch norm after a site normalises both together", () => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], tinyConfig);
    const x = images(4, 32);
    // site 0 (the stem's features, plus the feedback from iteration 1 on) is read by the first BN-ReLU-conv
    // layer of the first down block; its batch norm has the site's channels, none of the feedback's own
    const bn = net.backbone.down[0].layers[0].bn;
    expect(bn.args.channels).toBe(net.backbone.sites[0].channels);
    const stats = () => {
      const ctx = net.context({ training: true, bnKey: 'map' });
      tf.tidy(() => void net.forward(x, ctx));
      const mine = ctx.updates.filter((u) => u.mean === bn.params('map').movingMean);
      const means = mine.map((u) => Array.from(u.batchMean.dataSync()));
      discardMovingStatUpdates(ctx);
      return means;
    };
    const [before, after] = stats();
    // iteration 0: the statistics of the stem's features alone
    const stem = tf.tidy(() => Array.from(tf.moments(net.backbone.stem.apply(tf.mul(tf.sub(x, 0.5), 2) as tf.Tensor4D), [0, 1, 2]).mean.dataSync()));
    before.forEach((m, c) => expect(m).toBeCloseTo(stem[c], 5));
    // iteration 1: the feedback moves them (one update per iteration, so the moving statistics blend both)
    expect(Math.max(...after.map((m, c) => Math.abs(m - before[c])))).toBeGreaterThan(1e-3);
    // and only through the integrator's sum: without its projection at site 0, the same statistics
    const kernel = net.integrator[0].kernel;
    const saved = kernel.clone();
    kernel.assign(tf.zerosLike(kernel));
    const [, unfed] = stats();
    expect(unfed).toEqual(before);
    kernel.assign(saved);
    tf.dispose([saved, x]);
    net.dispose();
  });

  it.each(['learned', 'resize'] as const)('gradients reach the re-encoders and the backbone through the loop (%s)', (reencoder) => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, reencoder });
    const x = images(2, 32);
    const t = targets(net, { vector: [1, 3] });
    const vars = net.variables({ backbone: true, bnKey: 'vector', decoders: ['vector'], reencoders: ['map', 'vector'] });
    // the loss of iteration 1 only: every gradient to a re-encoder or the integrator comes through the loop
    const { grads } = tf.variableGrads(() => {
      const r = net.forward(x, net.context({ training: true, bnKey: 'vector' }));
      return net.plugin('vector').loss(r.raw[1].vector, t.vector.target, t.vector.mask);
    }, vars);
    const norm = (prefix: string) =>
      Object.entries(grads)
        .filter(([n]) => net.params.nameOf(n).startsWith(prefix))
        .reduce((a, [, g]) => a + tf.sum(tf.square(g)).dataSync()[0], 0);
    if (reencoder === 'learned') {
      expect(norm('tasks/map/reencoder/')).toBeGreaterThan(0);
      expect(norm('tasks/vector/reencoder/')).toBeGreaterThan(0);
    }
    expect(norm('integrator/')).toBeGreaterThan(0);
    expect(norm('backbone/stem/')).toBeGreaterThan(0);
    tf.dispose([...Object.values(grads), x, t.vector.target, t.vector.mask]);
    net.dispose();
  });

  it('initialFeedback "prior" feeds the re-encoded priors into iteration 0', () => {
    const base = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, iterations: 0 });
    const prior = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, iterations: 0, initialFeedback: 'prior' });
    expect(prior.integrator.length).toBeGreaterThan(0);
    const x = images(1, 32);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(base.forward(x, base.context()).raw[0].vector, prior.forward(x, prior.context()).raw[0].vector))).dataSync()[0]);
    expect(d).toBeGreaterThan(1e-6);
    x.dispose();
    base.dispose();
    prior.dispose();
  });
});

describe('colour', () => {
  it("'grey' sees a colour image as its luminance: the same output as the grey image, which an 'rgb' network also gives", () => {
    const grey = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig, colour: 'grey' });
    const rgb = new IntegratedNetwork([mapTask(), vectorTask()], { ...tinyConfig });
    const x = images(2, 32);
    // luminance by hand, for one pixel too: (0.299 r + 0.587 g + 0.114 b) in every channel
    const [r, g, b] = Array.from(x.slice([0, 0, 0, 0], [1, 1, 1, 3]).dataSync());
    const y = tf.tidy(() => tf.tile(tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), -1, true), [1, 1, 1, 3])) as tf.Tensor4D;
    expect(y.slice([0, 0, 0, 0], [1, 1, 1, 3]).dataSync()[2]).toBeCloseTo(0.299 * r + 0.587 * g + 0.114 * b, 6);
    const before = tf.memory().numTensors;
    const out = (net: IntegratedNetwork, input: tf.Tensor4D) => tf.tidy(() => Array.from(net.forward(input, net.context()).raw.at(-1)!.vector.dataSync()));
    const onColour = out(grey, x);
    expect(tf.memory().numTensors).toBe(before);
    const onGrey = out(grey, y);
    onColour.forEach((v, i) => expect(v).toBeCloseTo(onGrey[i], 5));
    // same weights (same seed): an rgb network given the grey image answers the same; given colour, not
    out(rgb, y).forEach((v, i) => expect(v).toBeCloseTo(onGrey[i], 5));
    expect(Math.max(...out(rgb, x).map((v, i) => Math.abs(v - onColour[i])))).toBeGreaterThan(1e-4);
    expect(() => new IntegratedNetwork([mapTask()], { ...tinyConfig, colour: 'gray' as 'grey' })).toThrow(/network.colour must be 'rgb' or 'grey'/);
    tf.dispose([x, y]);
    grey.dispose();
    rgb.dispose();
  });

  describe('per batch-norm key', () => {
    // an integrated network whose emotion data are grey (FER2013) and whose parsing data are colour
    const tasks = () => [mapTask('parsing'), vectorTask('emotion')];
    /** Every task's raw outputs at the last iteration of one pass through `bnKey`. */
    const pass = (net: IntegratedNetwork, input: tf.Tensor4D, bnKey: string) =>
      tf.tidy(() => {
        const raw = net.forward(input, net.context({ bnKey })).raw.at(-1)!;
        return { parsing: Array.from(raw.parsing.dataSync()), emotion: Array.from(raw.emotion.dataSync()) };
      });
    const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

    it("{ emotion: 'grey' }: the emotion key's pass sees the luminance, the other key's pass colour (same weights, exactly)", () => {
      const mixed = new IntegratedNetwork(tasks(), { ...tinyConfig, colour: { emotion: 'grey' } });
      const rgb = new IntegratedNetwork(tasks(), { ...tinyConfig });
      expect(mixed.colourOf('emotion')).toBe('grey');
      expect(mixed.colourOf('parsing')).toBe('rgb');
      const x = images(2, 32);
      const y = luminance(x);
      // through emotion: what the same weights answer to the grey image, bit for bit, and not what they answer to colour
      const emotion = pass(mixed, x, 'emotion');
      expect(emotion).toEqual(pass(rgb, y, 'emotion'));
      expect(maxDiff(emotion.emotion, pass(rgb, x, 'emotion').emotion)).toBeGreaterThan(1e-4);
      // through parsing (not listed: rgb): the colour answer, bit for bit, and not the grey one
      const parsing = pass(mixed, x, 'parsing');
      expect(parsing).toEqual(pass(rgb, x, 'parsing'));
      expect(maxDiff(parsing.parsing, pass(rgb, y, 'parsing').parsing)).toBeGreaterThan(1e-4);
      tf.dispose([x, y]);
      mixed.dispose();
      rgb.dispose();
    });

    it('taskPredictions reads each task through its own key with that key\'s colour (and every task with the colour of a bnKey given)', () => {
      const mixed = new IntegratedNetwork(tasks(), { ...tinyConfig, colour: { emotion: 'grey', parsing: 'rgb' } });
      const rgb = new IntegratedNetwork(tasks(), { ...tinyConfig });
      const x = images(2, 32, 9);
      const y = luminance(x);
      const read = (preds: Record<string, tf.Tensor>) => {
        const out = Object.fromEntries(Object.entries(preds).map(([k, t]) => [k, Array.from(t.dataSync())]));
        tf.dispose(Object.values(preds));
        return out;
      };
      const last = (net: IntegratedNetwork, input: tf.Tensor4D, bnKey: string, task: string) =>
        tf.tidy(() => Array.from(net.forward(input, net.context({ bnKey })).predictions.at(-1)![task].dataSync()));
      const preds = read(mixed.taskPredictions(x));
      expect(preds.parsing).toEqual(last(rgb, x, 'parsing', 'parsing'));
      expect(preds.emotion).toEqual(last(rgb, y, 'emotion', 'emotion'));
      // one key for every task: that key's colour for all of them
      const throughEmotion = read(mixed.taskPredictions(x, { bnKey: 'emotion' }));
      expect(throughEmotion.parsing).toEqual(last(rgb, y, 'emotion', 'parsing'));
      expect(maxDiff(throughEmotion.parsing, last(rgb, x, 'emotion', 'parsing'))).toBeGreaterThan(1e-4);
      tf.dispose([x, y]);
      mixed.dispose();
      rgb.dispose();
    });

    it('refuses a key the network does not have, naming its keys, and a colour that is not rgb or grey, naming the key', () => {
      expect(() => new IntegratedNetwork(tasks(), { ...tinyConfig, colour: { emotoin: 'grey' } })).toThrow(
        /^network\.colour names batch-norm key "emotoin", which this network does not have: its keys are parsing, emotion$/,
      );
      expect(() => new IntegratedNetwork(tasks(), { ...tinyConfig, colour: { emotion: 'gray' as 'grey' } })).toThrow(/^network\.colour\.emotion must be 'rgb' or 'grey', got "gray"$/);
      expect(() => new IntegratedNetwork(tasks(), { ...tinyConfig, colour: ['grey'] as unknown as 'grey' })).toThrow(/^network\.colour must be 'rgb' or 'grey', or one of them per batch-norm key \(\{ parsing: 'grey' \}\), got \["grey"\]$/);
      expect(() => new IntegratedNetwork(tasks(), { ...tinyConfig, colour: null as unknown as 'grey' })).toThrow(/^network\.colour must be/);
      // the network keeps its own copy of the record
      const colour: Record<string, 'rgb' | 'grey'> = { emotion: 'grey' };
      const net = new IntegratedNetwork(tasks(), { ...tinyConfig, iterations: 0, colour });
      colour.parsing = 'grey';
      expect(net.colourOf('parsing')).toBe('rgb');
      net.dispose();
    });

    it('with shared batch norm each pass still sees its own key\'s colour; a pass through the shared key needs one colour for all keys', () => {
      const shared = new IntegratedNetwork(tasks(), { ...tinyConfig, sharedBatchNorm: true, colour: { emotion: 'grey' } });
      const rgb = new IntegratedNetwork(tasks(), { ...tinyConfig, sharedBatchNorm: true });
      const x = images(1, 32, 5);
      const y = luminance(x);
      expect(pass(shared, x, 'emotion')).toEqual(pass(rgb, y, 'emotion'));
      expect(pass(shared, x, 'parsing')).toEqual(pass(rgb, x, 'parsing'));
      expect(() => pass(shared, x, SHARED_BN_KEY)).toThrow(
        /^a pass through batch-norm key "shared" has no colour: network\.colour differs between the network's keys \(parsing rgb, emotion grey\); pass one of them as bnKey$/,
      );
      const allGrey = new IntegratedNetwork(tasks(), { ...tinyConfig, sharedBatchNorm: true, colour: { emotion: 'grey', parsing: 'grey' } });
      expect(allGrey.colourOf(SHARED_BN_KEY)).toBe('grey');
      expect(pass(allGrey, x, SHARED_BN_KEY)).toEqual(pass(rgb, y, SHARED_BN_KEY));
      tf.dispose([x, y]);
      for (const n of [shared, rgb, allGrey]) n.dispose();
    });
  });
});

describe('gradient check', () => {
  it('analytic gradients match central finite differences on a tiny network', async () => {
    const net = new IntegratedNetwork([mapTask('m', 2), vectorTask('v', 3)], {
      backbone: { inputSize: 8, blocks: 1, layersPerBlock: 1, growthRate: 2, stemChannels: 2 },
      iterations: 1,
      seed: 5,
    });
    const x = images(2, 8, 11);
    const t = targets(net, { m: [0, 1], v: [2, 0] });
    // eval-mode batch norm keeps the loss a smooth function of the weights
    const lossFn = () => {
      const r = net.forward(x, net.context({ training: false, bnKey: 'm' }));
      let total = tf.scalar(0);
      for (const raw of r.raw) {
        total = tf.add(total, net.plugin('m').loss(raw.m, t.m.target, t.m.mask));
        total = tf.add(total, net.plugin('v').loss(raw.v, t.v.target, t.v.mask));
      }
      return total as tf.Scalar;
    };
    const checked = ['backbone/stem/kernel', 'backbone/down0/layer0/conv/kernel', 'integrator/site0_down1/kernel', 'tasks/v/reencoder/fc/kernel', 'tasks/m/decoder/logits/kernel'];
    const vars = checked.map((n) => net.params.variables.get(n)!);
    expectFiniteDifferences(lossFn, vars, { perVariable: 3, strideDivisor: 9, nameOf: (v) => net.params.nameOf(v) });
    tf.dispose([x, t.m.target, t.m.mask, t.v.target, t.v.mask]);
    net.dispose();
  });
});

describe('memory', () => {
  it('predict and a training step leave no tensor behind', async () => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], tinyConfig);
    const x = images(2, 32);
    const opt = tf.train.rmsprop(1e-3);
    const vars = net.variables({ backbone: true, bnKey: 'map', decoders: ['map'], reencoders: ['map', 'vector'] });
    const step = () => {
      const t = targets(net, { map: [0, 2] });
      const { grads } = net.computeGradients(x, t, { bnKey: 'map', variables: vars });
      opt.applyGradients(grads);
      tf.dispose([...Object.values(grads), t.map.target, t.map.mask]);
    };
    step(); // the optimiser creates its slots on the first step
    const before = tf.memory().numTensors;
    await net.predict(x);
    expect(tf.memory().numTensors).toBe(before);
    step();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    x.dispose();
    net.dispose();
  });
});
