import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_FRAMING, IntegratedNetwork, loadNetwork, saveNetwork, selectBackend } from '../src/index';
import { fileSystemHandler, registerFileRouter } from '../src/node/model-io';
import { mapTask, vectorTask } from './dummy-plugins';

let dir: string;
beforeAll(async () => {
  await selectBackend({ backend: 'wasm', log: false });
  dir = await mkdtemp(join(tmpdir(), 'ifan-io-'));
  registerFileRouter();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const config = { backbone: 'tiny' as const, iterations: 1, seed: 9 };

async function trainedNetwork(): Promise<IntegratedNetwork> {
  const net = new IntegratedNetwork([mapTask(), vectorTask()], config);
  // move the moving statistics and weights off their initial values so a lost weight would show
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const t = { vector: net.plugin('vector').encodeTargets([1, 2], 32) };
  const vars = net.variables({ backbone: true, bnKey: 'vector', decoders: ['vector'], reencoders: ['map', 'vector'] });
  const { grads } = net.computeGradients(x, t, { bnKey: 'vector', variables: vars });
  tf.train.sgd(0.1).applyGradients(grads);
  tf.dispose([...Object.values(grads), x, t.vector.target, t.vector.mask]);
  return net;
}

async function outputs(net: IntegratedNetwork, x: tf.Tensor4D, bnKey: string) {
  return tf.tidy(() => {
    const r = net.forward(x, net.context({ bnKey }));
    return [r.predictions[1].map, r.predictions[1].vector].map((t) => Array.from(t.dataSync()));
  });
}

describe('save and load', () => {
  it('round-trips through a directory with identical predictions', async () => {
    const net = await trainedNetwork();
    const path = join(dir, 'a');
    await saveNetwork(net, `file://${path}`);
    const json = JSON.parse(await readFile(join(path, 'model.json'), 'utf8'));
    expect(json.modelTopology.format).toBe('ifan-integrated-network');
    expect(json.modelTopology.plugins.map((p: { name: string }) => p.name)).toEqual(['map', 'vector']);
    expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);
    const loaded = await loadNetwork(`file://${path}`, [mapTask(), vectorTask()]);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    for (const key of ['map', 'vector']) expect(await outputs(loaded, x, key)).toEqual(await outputs(net, x, key));
    expect(loaded.config).toEqual({ ...net.config, backbone: net.backboneConfig });
    x.dispose();
    net.dispose();
    loaded.dispose();
  });

  it('round-trips a backbone with a depth per block', async () => {
    const backbone = { inputSize: 16, blocks: 2, layersPerBlock: [1, 3], growthRate: 2, stemChannels: 4 };
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { backbone, iterations: 1, seed: 5 });
    const path = join(dir, 'depths');
    await saveNetwork(net, `file://${path}`);
    const loaded = await loadNetwork(`file://${path}`, [mapTask(), vectorTask()]);
    expect(loaded.backboneConfig).toEqual(backbone);
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    for (const key of ['map', 'vector']) expect(await outputs(loaded, x, key)).toEqual(await outputs(net, x, key));
    x.dispose();
    net.dispose();
    loaded.dispose();
  });

  it('saves the framing and each plugin\'s recipe in model.json, and loading restores the framing', async () => {
    const net = await trainedNetwork();
    net.framing = { margin: 0.15, keypointBoxScale: 2.9 };
    const recipe = { module: 'my-tasks', export: 'vectorTask', args: [{ size: 2 }] };
    const withRecipe = Object.assign(vectorTask(), { recipe });
    const net2 = new IntegratedNetwork([mapTask(), withRecipe], { ...config, colour: 'grey' });
    net2.framing = net.framing;
    const path = join(dir, 'framed');
    await saveNetwork(net2, fileSystemHandler(path));
    const topo = JSON.parse(await readFile(join(path, 'model.json'), 'utf8')).modelTopology;
    expect(topo.framing).toEqual({ margin: 0.15, keypointBoxScale: 2.9 });
    expect(topo.plugins[0].recipe).toBeUndefined();
    expect(topo.plugins[1].recipe).toEqual(recipe);
    const loaded = await loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()]);
    expect(loaded.framing).toEqual({ margin: 0.15, keypointBoxScale: 2.9 });
    expect(loaded.config.colour).toBe('grey');
    delete topo.network.colour;
    // a model saved before the framing was recorded loads with the defaults
    delete topo.framing;
    await writeFile(join(path, 'model.json'), JSON.stringify({ ...JSON.parse(await readFile(join(path, 'model.json'), 'utf8')), modelTopology: topo }));
    const old = await loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()]);
    expect(old.framing).toEqual(DEFAULT_FRAMING);
    // and with colour input, which models saved before `colour` existed were
    expect(old.config.colour).toBe('rgb');
    topo.framing = { margin: -1, keypointBoxScale: 3 };
    await writeFile(join(path, 'model.json'), JSON.stringify({ ...JSON.parse(await readFile(join(path, 'model.json'), 'utf8')), modelTopology: topo }));
    await expect(loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()])).rejects.toThrow(/framing\.margin must be a finite number above -0\.5, got -1/);
    for (const n of [net, net2, loaded, old]) n.dispose();
  });

  it('keeps a colour per batch-norm key through save and load, each key\'s pass as before', async () => {
    const net = new IntegratedNetwork([mapTask(), vectorTask()], { ...config, colour: { vector: 'grey' } });
    const path = join(dir, 'colour-by-key');
    await saveNetwork(net, fileSystemHandler(path));
    const topo = JSON.parse(await readFile(join(path, 'model.json'), 'utf8')).modelTopology;
    expect(topo.network.colour).toEqual({ vector: 'grey' });
    const loaded = await loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()], { expectConfig: { colour: { vector: 'grey' } } });
    expect(loaded.config.colour).toEqual({ vector: 'grey' });
    expect([loaded.colourOf('map'), loaded.colourOf('vector')]).toEqual(['rgb', 'grey']);
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    for (const key of ['map', 'vector']) expect(await outputs(loaded, x, key)).toEqual(await outputs(net, x, key));
    // a model whose record names a key its plugins do not have is refused, naming the keys
    topo.network.colour = { vectr: 'grey' };
    await writeFile(join(path, 'model.json'), JSON.stringify({ ...JSON.parse(await readFile(join(path, 'model.json'), 'utf8')), modelTopology: topo }));
    await expect(loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()])).rejects.toThrow(/network\.colour names batch-norm key "vectr", which this network does not have: its keys are map, vector/);
    x.dispose();
    net.dispose();
    loaded.dispose();
  });

  it('round-trips through an in-memory handler (what a browser uses)', async () => {
    const net = await trainedNetwork();
    let saved: tf.io.ModelArtifacts | undefined;
    await saveNetwork(net, tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const loaded = await loadNetwork(tf.io.fromMemory(saved!), [mapTask(), vectorTask()]);
    const x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    expect(await outputs(loaded, x, 'map')).toEqual(await outputs(net, x, 'map'));
    x.dispose();
    net.dispose();
    loaded.dispose();
  });

  it('names the mismatch when plugins or config differ', async () => {
    const net = await trainedNetwork();
    const path = join(dir, 'b');
    await saveNetwork(net, fileSystemHandler(path));
    net.dispose();
    await expect(loadNetwork(fileSystemHandler(path), [mapTask()])).rejects.toThrow(/saved with tasks \[map, vector\] but loaded with \[map\]/);
    await expect(loadNetwork(fileSystemHandler(path), [vectorTask(), mapTask()])).rejects.toThrow(/same task plugins in the same order/);
    await expect(loadNetwork(fileSystemHandler(path), [mapTask('map', 5), vectorTask()])).rejects.toThrow(/task "map": config.classes was 3 when saved but is 5 now/);
    await expect(loadNetwork(fileSystemHandler(path), [mapTask('map', 3, 'other'), vectorTask()])).rejects.toThrow(/bnKey "map", loaded with "other"/);
    await expect(loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()], { expectConfig: { iterations: 2 } })).rejects.toThrow(/network.iterations = 1, expected 2/);
    await expect(loadNetwork(fileSystemHandler(join(dir, 'nothing')), [mapTask()])).rejects.toThrow(/model.json is missing/);
  });

  it('refuses truncated and corrupted weights with a clear error', async () => {
    const net = await trainedNetwork();
    const path = join(dir, 'c');
    await saveNetwork(net, fileSystemHandler(path));
    net.dispose();
    const weights = join(path, 'weights.bin');
    const good = await readFile(weights);
    // the checksum is the SHA-256 of the weight bytes (Web Crypto), in hex
    const topo = (await readJson(join(path, 'model.json'))).modelTopology;
    expect(topo.weightsSha256).toBe(createHash('sha256').update(good).digest('hex'));
    expect(topo).not.toHaveProperty('weightsCrc32');
    await truncate(weights, good.byteLength - 100);
    await expect(loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()])).rejects.toThrow(/truncated/);
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 2)] ^= 0xff;
    await writeFile(weights, bad);
    await expect(loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()])).rejects.toThrow(/corrupted \(checksum mismatch\)/);
    const before = tf.memory().numTensors;
    await writeFile(weights, good);
    const ok = await loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()]);
    ok.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('loads models saved before SHA-256 by their CRC-32, and still detects their corrupted weights', async () => {
    const net = await trainedNetwork();
    const path = join(dir, 'legacy');
    await saveNetwork(net, fileSystemHandler(path));
    const weights = join(path, 'weights.bin');
    const good = await readFile(weights);
    // model.json as @ifan/core 0.1 wrote it: weightsCrc32 (zlib's CRC-32 is the same IEEE 802.3 one), no weightsSha256
    const json = await readJson(join(path, 'model.json'));
    delete json.modelTopology.weightsSha256;
    json.modelTopology.weightsCrc32 = crc32(good);
    await writeFile(join(path, 'model.json'), JSON.stringify(json));
    const old = await loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()]);
    const x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    expect(await outputs(old, x, 'vector')).toEqual(await outputs(net, x, 'vector'));
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length / 3)] ^= 0x01;
    await writeFile(weights, bad);
    await expect(loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()])).rejects.toThrow(/corrupted \(checksum mismatch\)/);
    for (const d of [x, net, old]) d.dispose();
  });

  it('without Web Crypto (a browser page over plain http) saves without a checksum and loads unverified, saying so', async () => {
    const net = await trainedNetwork();
    const path = join(dir, 'no-web-crypto');
    await saveNetwork(net, fileSystemHandler(path));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    vi.stubGlobal('crypto', undefined);
    try {
      const loaded = await loadNetwork(fileSystemHandler(path), [mapTask(), vectorTask()]);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/loadNetwork: the weights of the model are not verified: .*crypto\.subtle on https pages and localhost only/));
      loaded.dispose();
      const unsigned = join(dir, 'unsigned');
      await saveNetwork(net, fileSystemHandler(unsigned));
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/saveNetwork: the weights are saved without a checksum/));
      const topo = (await readJson(join(unsigned, 'model.json'))).modelTopology;
      expect(topo).not.toHaveProperty('weightsSha256');
      expect(topo).not.toHaveProperty('weightsCrc32');
      vi.unstubAllGlobals();
      // such a model loads anywhere; its byte length is still checked
      (await loadNetwork(fileSystemHandler(unsigned), [mapTask(), vectorTask()])).dispose();
      await truncate(join(unsigned, 'weights.bin'), 10);
      await expect(loadNetwork(fileSystemHandler(unsigned), [mapTask(), vectorTask()])).rejects.toThrow(/truncated/);
    } finally {
      vi.unstubAllGlobals();
      warn.mockRestore();
      net.dispose();
    }
  });
});

async function readJson(file: string) {
  return JSON.parse(await readFile(file, 'utf8'));
}
