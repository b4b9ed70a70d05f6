import * as tf from '@tensorflow/tfjs-core';
import { checkFraming, type Framing } from './data/geometry';
import type { Recipe } from './data/types';
import { type NetworkConfig, IntegratedNetwork } from './network';
import type { TaskPlugin } from './plugin';

/** `modelTopology.format` of a saved network. */
export const NETWORK_FORMAT = 'ifan-integrated-network';
export const NETWORK_FORMAT_VERSION = 1;

/** What `model.json`'s `modelTopology` holds for an integrated network. */
export interface SavedTopology {
  format: typeof NETWORK_FORMAT;
  formatVersion: number;
  network: NetworkConfig;
  plugins: SavedPlugin[];
  /** How faces are framed for the network ({@link IntegratedNetwork.framing}); absent in models saved before it was recorded. */
  framing?: Framing;
  /**
   * SHA-256 (hex) of the concatenated weight bytes, to detect corrupted weight files; absent where
   * Web Crypto was not available to the saver (a browser page served over plain http).
   */
  weightsSha256?: string;
  /** CRC-32 of the weight bytes, what models saved before `weightsSha256` record instead; still checked when loading them. */
  weightsCrc32?: number;
  weightsByteLength: number;
}

/** A task plugin as saved: what loading checks, and the recipe that makes it again. */
export interface SavedPlugin {
  name: string;
  bnKey: string;
  decodeFrom: TaskPlugin['decodeFrom'];
  config: Record<string, unknown>;
  /**
   * The plugin's factory and options (its {@link TaskPlugin.recipe}), so that a loader can create the
   * plugin without being told which (the trainer's `loadModel` does); absent for plugins without one.
   */
  recipe?: Recipe;
}

/**
 * Saves a network through a tfjs IO handler or URL (`file://dir` after importing `@ifan/core/node`,
 * `downloads://name` in a browser, ...): `model.json` with the network config and plugin names in
 * `modelTopology` (with each plugin's recipe and the network's framing), and the weights as one binary file in TensorFlow.js's weights-manifest format.
 */
export async function saveNetwork(net: IntegratedNetwork, destination: string | tf.io.IOHandler): Promise<tf.io.SaveResult> {
  const handler = typeof destination === 'string' ? firstHandler(tf.io.getSaveHandlers(destination), destination, 'save') : destination;
  if (!handler.save) throw new Error('this IO handler cannot save');
  const named = [...net.params.variables.entries()].map(([name, tensor]) => ({ name, tensor }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data as ArrayBuffer);
  const digest = await sha256Hex(bytes);
  if (digest === undefined) console.warn(`saveNetwork: the weights are saved without a checksum: ${NO_WEB_CRYPTO}`);
  const topology: SavedTopology = {
    format: NETWORK_FORMAT,
    formatVersion: NETWORK_FORMAT_VERSION,
    network: { ...net.config, backbone: net.backboneConfig },
    plugins: net.plugins.map((p) => ({ name: p.name, bnKey: p.bnKey, decodeFrom: p.decodeFrom, config: p.config, ...(p.recipe ? { recipe: p.recipe } : {}) })),
    framing: checkFraming(net.framing, 'net.framing'),
    ...(digest !== undefined ? { weightsSha256: digest } : {}),
    weightsByteLength: bytes.byteLength,
  };
  return handler.save({
    modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'],
    format: NETWORK_FORMAT,
    generatedBy: '@ifan/core',
    weightSpecs: specs,
    weightData: data,
  });
}

export interface LoadNetworkOptions {
  /**
   * When given, the saved network config must equal it in every field given (e.g. `{ iterations: 2 }`);
   * a difference is an error naming the field.
   */
  expectConfig?: Partial<NetworkConfig>;
}

/**
 * Loads a saved network with the plugins it was saved with (same names, order and configs; a
 * mismatch is an error that names it). Works with any tfjs IO handler: `file://` in Node (after
 * importing `@ifan/core/node`), `tf.io.http(url)` or a URL in a browser.
 */
export async function loadNetwork(
  source: string | tf.io.IOHandler,
  plugins: readonly TaskPlugin[],
  options: LoadNetworkOptions = {},
): Promise<IntegratedNetwork> {
  const handler = typeof source === 'string' ? firstHandler(tf.io.getLoadHandlers(source), source, 'load') : source;
  if (!handler.load) throw new Error('this IO handler cannot load');
  const artifacts = await handler.load();
  const where = typeof source === 'string' ? source : 'the model';
  const topo = artifacts.modelTopology as unknown as SavedTopology | undefined;
  if (!topo || topo.format !== NETWORK_FORMAT) {
    throw new Error(`${where} is not a saved iFAN network (modelTopology.format is ${JSON.stringify(topo?.format)})`);
  }
  if (topo.formatVersion > NETWORK_FORMAT_VERSION) {
    throw new Error(`${where} was saved in format version ${topo.formatVersion}; this @ifan/core reads up to ${NETWORK_FORMAT_VERSION}: upgrade @ifan/core`);
  }
  checkPlugins(topo, plugins, where);
  for (const [key, value] of Object.entries(options.expectConfig ?? {})) {
    const saved = (topo.network as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(saved) !== JSON.stringify(value)) {
      throw new Error(`${where} has network.${key} = ${JSON.stringify(saved)}, expected ${JSON.stringify(value)}`);
    }
  }
  if (!artifacts.weightSpecs || !artifacts.weightData) throw new Error(`${where} has no weights`);
  const bytes = joinWeightData(artifacts.weightData);
  if (bytes.byteLength !== topo.weightsByteLength) {
    throw new Error(
      `the weights of ${where} are ${bytes.byteLength} bytes, the manifest says ${topo.weightsByteLength}: ` +
        'the weights file is truncated or belongs to another model; save the network again',
    );
  }
  await checkWeights(bytes, topo, where);
  const decoded = tf.io.decodeWeights(bytes.slice().buffer as ArrayBuffer, artifacts.weightSpecs);
  const net = new IntegratedNetwork(plugins, topo.network);
  try {
    if (topo.framing !== undefined) net.framing = checkFraming(topo.framing, `${where}: framing`);
    const expected = net.params.variables;
    for (const name of Object.keys(decoded)) {
      if (!expected.has(name)) throw new Error(`${where} has a weight "${name}" that this network does not have: the plugins or their configs differ from the saved ones`);
    }
    for (const [name, v] of expected) {
      const t = decoded[name];
      if (!t) throw new Error(`${where} lacks the weight "${name}": the plugins or their configs differ from the saved ones`);
      if (t.shape.join('x') !== v.shape.join('x')) {
        throw new Error(`weight "${name}" is [${t.shape}] in ${where} but [${v.shape}] in this network`);
      }
      v.assign(t);
    }
  } catch (e) {
    net.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(decoded));
  }
  return net;
}

function checkPlugins(topo: SavedTopology, plugins: readonly TaskPlugin[], where: string): void {
  const saved = topo.plugins.map((p) => p.name);
  const given = plugins.map((p) => p.name);
  if (saved.join(',') !== given.join(',')) {
    throw new Error(`${where} was saved with tasks [${saved.join(', ')}] but loaded with [${given.join(', ')}]: pass the same task plugins in the same order`);
  }
  topo.plugins.forEach((s, i) => {
    const p = plugins[i];
    if (s.bnKey !== p.bnKey) throw new Error(`task "${p.name}": saved with bnKey "${s.bnKey}", loaded with "${p.bnKey}"`);
    if (JSON.stringify(s.decodeFrom) !== JSON.stringify(p.decodeFrom)) {
      throw new Error(`task "${p.name}": saved decoding from ${JSON.stringify(s.decodeFrom)}, loaded with ${JSON.stringify(p.decodeFrom)}`);
    }
    const keys = new Set([...Object.keys(s.config ?? {}), ...Object.keys(p.config ?? {})]);
    for (const k of keys) {
      const a = JSON.stringify(s.config?.[k]);
      const b = JSON.stringify(p.config?.[k]);
      if (a !== b) throw new Error(`task "${p.name}": config.${k} was ${a} when saved but is ${b} now: create the plugin with the saved options`);
    }
  });
}

function firstHandler<T>(handlers: T[], url: string, what: string): T {
  if (handlers.length === 0) {
    throw new Error(`no tfjs IO handler can ${what} "${url}": in Node import '@ifan/core/node' for file:// paths, in a browser use an http(s) URL`);
  }
  return handlers[0];
}

function joinWeightData(data: tf.io.WeightData): Uint8Array<ArrayBuffer> {
  if (Array.isArray(data)) {
    const total = data.reduce((a, b) => a + b.byteLength, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const b of data) {
      out.set(new Uint8Array(b), o);
      o += b.byteLength;
    }
    return out;
  }
  return new Uint8Array(data);
}

const NO_WEB_CRYPTO = 'this page has no Web Crypto (browsers offer crypto.subtle on https pages and localhost only)';

/** SHA-256 of `bytes` in hex by Web Crypto, or `undefined` where the platform withholds it. */
async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return undefined;
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Checks the weights against the checksum model.json records: SHA-256, or the CRC-32 of models saved before it. */
async function checkWeights(bytes: Uint8Array<ArrayBuffer>, topo: SavedTopology, where: string): Promise<void> {
  const corrupted = () => new Error(`the weights of ${where} are corrupted (checksum mismatch); save the network again`);
  if (topo.weightsSha256 !== undefined) {
    const digest = await sha256Hex(bytes);
    if (digest === undefined) console.warn(`loadNetwork: the weights of ${where} are not verified: ${NO_WEB_CRYPTO}`);
    else if (digest !== topo.weightsSha256) throw corrupted();
  } else if (topo.weightsCrc32 !== undefined) {
    if (crc32(bytes) !== topo.weightsCrc32) throw corrupted();
  }
  // neither: saved where Web Crypto was unavailable; the byte length was checked
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3) of bytes: only to verify models saved before `weightsSha256` (they record `weightsCrc32`). */
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
