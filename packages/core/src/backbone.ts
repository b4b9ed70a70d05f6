import * as tf from '@tensorflow/tfjs-core';
import type { ForwardContext } from './nn/context';
import { BatchNorm, BnReluConv, Conv2D, type CostedLayer } from './nn/layers';
import type { ParamScope } from './nn/params';

/**
 * FC-DenseNet backbone (Jégou et al. 2017) as iFAN uses it (paper 4.1.2): a 7x7 stem convolution, a down
 * path of dense blocks each followed by 2x average pooling, an up path of dense blocks each followed by
 * sub-pixel upsampling and a convolution, and skip connections between matching resolutions.
 */
export interface BackboneConfig {
  /** Input size in pixels (square); must be divisible by 2^blocks. */
  inputSize: number;
  /** Dense blocks in each path. */
  blocks: number;
  /**
   * BN-ReLU-3x3 conv layers per dense block: one number for every block, or one per down-path block
   * from the finest to the coarsest (FC-DenseNet103's [4, 5, 7, 10, 12]), mirrored by the up path (its
   * first block, at the bottom, as deep as the coarsest down block). Deeper coarse blocks add capacity
   * where a layer costs least.
   */
  layersPerBlock: number | number[];
  /** Channels each dense layer adds (k). */
  growthRate: number;
  /** Output channels of the 7x7 stem convolution. */
  stemChannels: number;
  /**
   * Channels after each sub-pixel upsampling; default what the up-path dense block before it adds, its
   * layers times `growthRate` (as in FC-DenseNet's transition up).
   */
  upChannels?: number;
}

/** Layers of down-path block `i` (0 the finest). */
export function downBlockLayers(c: BackboneConfig, i: number): number {
  return typeof c.layersPerBlock === 'number' ? c.layersPerBlock : c.layersPerBlock[i];
}

/** Layers of up-path block `j` (0 at the bottom): those of the down block it mirrors. */
export function upBlockLayers(c: BackboneConfig, j: number): number {
  return downBlockLayers(c, c.blocks - 1 - j);
}

/** Channels after up-path block `j`'s sub-pixel upsampling. */
export function upBlockChannels(c: BackboneConfig, j: number): number {
  return c.upChannels ?? upBlockLayers(c, j) * c.growthRate;
}

export type BackbonePresetName = 'paper' | 'small' | 'tiny';

/**
 * Named configurations. `paper` is the paper's network (128 px, 5 blocks of 3 layers each way, growth
 * 12; the stem width, which the paper does not give, is FC-DenseNet's 48). `small` (64 px) and `tiny`
 * (32 px) train on a 2-core CPU. `ifan info --preset NAME` prints the FLOPs and parameters of each.
 */
export const BACKBONE_PRESETS: Record<BackbonePresetName, BackboneConfig> = {
  paper: { inputSize: 128, blocks: 5, layersPerBlock: 3, growthRate: 12, stemChannels: 48 },
  small: { inputSize: 64, blocks: 4, layersPerBlock: 2, growthRate: 8, stemChannels: 16 },
  tiny: { inputSize: 32, blocks: 3, layersPerBlock: 2, growthRate: 4, stemChannels: 8 },
};

export function resolveBackboneConfig(config: BackbonePresetName | BackboneConfig): BackboneConfig {
  const c = typeof config === 'string' ? BACKBONE_PRESETS[config] : config;
  if (!c) {
    throw new Error(`unknown backbone preset "${String(config)}": use one of ${Object.keys(BACKBONE_PRESETS).join(', ')} or a BackboneConfig`);
  }
  for (const key of ['inputSize', 'blocks', 'growthRate', 'stemChannels'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 1) throw new Error(`backbone.${key} must be a positive integer, got ${String(v)}`);
  }
  const layers = c.layersPerBlock;
  if (Array.isArray(layers)) {
    if (layers.length !== c.blocks || !layers.every((v) => Number.isInteger(v) && v >= 1)) {
      throw new Error(`backbone.layersPerBlock must be a positive integer or ${c.blocks} of them (one per block), got ${JSON.stringify(layers)}`);
    }
  } else if (!Number.isInteger(layers) || layers < 1) {
    throw new Error(`backbone.layersPerBlock must be a positive integer or ${c.blocks} of them (one per block), got ${String(layers)}`);
  }
  if (c.inputSize % 2 ** c.blocks !== 0) {
    throw new Error(
      `backbone.inputSize ${c.inputSize} is not divisible by 2^blocks = ${2 ** c.blocks}: ` +
        `choose an input size that is a multiple of ${2 ** c.blocks} or fewer blocks`,
    );
  }
  // one depth for every block: the up-path width is one number too, recorded as models always had it
  if (typeof layers === 'number') return { ...c, upChannels: c.upChannels ?? layers * c.growthRate };
  return { ...c, layersPerBlock: [...layers] };
}

/** A place in the backbone where features are read or feedback enters. */
export interface Site {
  path: 'down' | 'up';
  /** inputSize / spatial size. */
  downsample: number;
  size: number;
  channels: number;
}

class DenseBlock implements CostedLayer {
  readonly layers: BnReluConv[] = [];
  readonly outChannels: number;
  constructor(scope: ParamScope, name: string, inChannels: number, size: number, layers: number, growthRate: number, bn: BnOpts, readonly keepInput: boolean) {
    const s = scope.child(name);
    let ch = inChannels;
    for (let l = 0; l < layers; l++) {
      this.layers.push(new BnReluConv(s, `layer${l}`, { inChannels: ch, outChannels: growthRate, kernelSize: 3, outSize: size }, bn));
      ch += growthRate;
    }
    this.outChannels = keepInput ? ch : layers * growthRate;
  }
  get macs(): number {
    return this.layers.reduce((a, l) => a + l.macs, 0);
  }
  /** Dense connectivity: every layer sees the concatenation of the block input and all earlier outputs. */
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    let all = x;
    const added: tf.Tensor4D[] = [];
    for (const layer of this.layers) {
      const y = layer.apply(all, ctx);
      added.push(y);
      all = tf.concat([all, y], 3);
    }
    return this.keepInput ? all : added.length === 1 ? added[0] : tf.concat(added, 3);
  }
}

/** Sub-pixel upsampling (Shi et al. 2016): a 1x1 conv to 4u channels, depth-to-space, then BN-ReLU-3x3 conv. */
class TransitionUp implements CostedLayer {
  readonly subpixel: BnReluConv;
  readonly conv: BnReluConv;
  constructor(scope: ParamScope, name: string, inChannels: number, outSize: number, u: number, bn: BnOpts) {
    const s = scope.child(name);
    this.subpixel = new BnReluConv(s, 'subpixel', { inChannels, outChannels: 4 * u, kernelSize: 1, outSize: outSize / 2 }, bn);
    this.conv = new BnReluConv(s, 'conv', { inChannels: u, outChannels: u, kernelSize: 3, outSize }, bn);
  }
  get macs(): number {
    return this.subpixel.macs + this.conv.macs;
  }
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return this.conv.apply(tf.depthToSpace(this.subpixel.apply(x, ctx), 2), ctx);
  }
}

type BnOpts = { keys: readonly string[]; shared: boolean };

/**
 * Hook called where feedback enters: receives the features at a site and returns the integrated
 * features (same shape). The network passes the identity at iteration 0.
 */
export type IntegrateFn = (siteIndex: number, x: tf.Tensor4D) => tf.Tensor4D;

export interface BackboneFeatures {
  /** Features at every site, in {@link Backbone.sites} order, after integration. */
  sites: tf.Tensor4D[];
}

export class Backbone implements CostedLayer {
  readonly config: BackboneConfig;
  readonly stem: Conv2D;
  readonly down: DenseBlock[] = [];
  readonly up: DenseBlock[] = [];
  readonly transitions: TransitionUp[] = [];
  /**
   * Sites in forward order: `down` sites at sizes S, S/2, ..., S/2^blocks (the input of each down
   * block, then the bottom), then `up` sites at S/2^(blocks-1), ..., S (after each upsampling and skip).
   * Feedback enters at every site; decoders read from any.
   */
  readonly sites: Site[] = [];

  /** Up-path blocks built and run: all of them, or fewer when no task reads the finer up sites. */
  readonly upBlocks: number;

  /**
   * @param upBlocks how many up-path blocks to build, from the bottom (default all): a network whose
   *   tasks read only down-path features needs none, and computes exactly the same without them.
   */
  constructor(scope: ParamScope, config: BackboneConfig, bn: BnOpts, upBlocks?: number) {
    const c = resolveBackboneConfig(config);
    this.config = c;
    this.upBlocks = upBlocks ?? c.blocks;
    if (!Number.isInteger(this.upBlocks) || this.upBlocks < 0 || this.upBlocks > c.blocks) {
      throw new Error(`Backbone: upBlocks must be an integer from 0 to ${c.blocks}, got ${String(upBlocks)}`);
    }
    const S = c.inputSize;
    this.stem = new Conv2D(scope, 'stem', { inChannels: 3, outChannels: c.stemChannels, kernelSize: 7, outSize: S });
    let ch = c.stemChannels;
    const skipChannels: number[] = [];
    for (let i = 0; i < c.blocks; i++) {
      const size = S / 2 ** i;
      this.sites.push({ path: 'down', downsample: 2 ** i, size, channels: ch });
      const block = new DenseBlock(scope, `down${i}`, ch, size, downBlockLayers(c, i), c.growthRate, bn, true);
      this.down.push(block);
      ch = block.outChannels;
      skipChannels.push(ch);
    }
    this.sites.push({ path: 'down', downsample: 2 ** c.blocks, size: S / 2 ** c.blocks, channels: ch });
    for (let j = 0; j < this.upBlocks; j++) {
      const size = S / 2 ** (c.blocks - j);
      const block = new DenseBlock(scope, `up${j}`, ch, size, upBlockLayers(c, j), c.growthRate, bn, false);
      this.up.push(block);
      const u = upBlockChannels(c, j);
      this.transitions.push(new TransitionUp(scope, `transition_up${j}`, block.outChannels, size * 2, u, bn));
      ch = u + skipChannels[c.blocks - 1 - j];
      this.sites.push({ path: 'up', downsample: 2 ** (c.blocks - 1 - j), size: size * 2, channels: ch });
    }
  }

  get macs(): number {
    return (
      this.stem.macs +
      [...this.down, ...this.up, ...this.transitions].reduce((a, l) => a + l.macs, 0)
    );
  }

  /** Index in {@link sites} of a site, or a clear error listing the sites there are. */
  siteIndex(path: 'down' | 'up', downsample: number): number {
    const i = this.sites.findIndex((s) => s.path === path && s.downsample === downsample);
    if (i < 0) {
      const have = this.sites.map((s) => `${s.path}/${s.downsample}`).join(', ');
      throw new Error(`the backbone has no ${path} feature at 1/${downsample} of the input; it has ${have}`);
    }
    return i;
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext, integrate: IntegrateFn): BackboneFeatures {
    const c = this.config;
    const sites: tf.Tensor4D[] = [];
    let h = this.stem.apply(x);
    const skips: tf.Tensor4D[] = [];
    for (let i = 0; i < c.blocks; i++) {
      h = integrate(sites.length, h);
      sites.push(h);
      h = this.down[i].apply(h, ctx);
      skips.push(h);
      h = tf.avgPool(h, 2, 2, 'valid');
    }
    h = integrate(sites.length, h);
    sites.push(h);
    for (let j = 0; j < this.upBlocks; j++) {
      const y = this.transitions[j].apply(this.up[j].apply(h, ctx), ctx);
      h = tf.concat([y, skips[c.blocks - 1 - j]], 3);
      h = integrate(sites.length, h);
      sites.push(h);
    }
    return { sites };
  }
}

export { BatchNorm };
