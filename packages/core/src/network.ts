import * as tf from '@tensorflow/tfjs-core';
import './nn/gradients';
import { Backbone, type BackboneConfig, type BackbonePresetName, resolveBackboneConfig } from './backbone';
import type { BatchSlice, ForwardContext } from './nn/context';
import { applyMovingStatUpdates, BatchNorm, Conv2D, discardMovingStatUpdates, SHARED_BN_KEY } from './nn/layers';
import { ParamStore, Rng } from './nn/params';
import type { HeadCost, TaskHead, TaskPlugin } from './plugin';
import type { LabelTransform } from './data/types';
import { checkLossWeights, type LossWeights } from './loss-weighting';
import { DEFAULT_FRAMING, type Framing } from './data/geometry';

export interface NetworkConfig {
  /** Backbone preset name or a full configuration. Default `'small'`. */
  backbone: BackbonePresetName | BackboneConfig;
  /** ITER: interaction iterations after the first prediction (paper eqn 4). Default 2. */
  iterations: number;
  /**
   * `'learned'` (default): each task's re-encoder turns its prediction into a feature pyramid.
   * `'resize'`: prediction maps are resized (tiled, for vectors) to each feedback size instead
   * (the paper's 4.3.2 ablation).
   */
  reencoder: 'learned' | 'resize';
  /** One batch-norm parameter set for every key (the paper's 4.3.3 ablation). Default false. */
  sharedBatchNorm: boolean;
  /**
   * What iteration 0 sees as feedback. `'none'` (default, eqn 4): no feedback, so ITER = 0 is plain
   * multi-task prediction. `'prior'`: the re-encoded prior of each task (the official code's
   * data-set-mean start).
   */
  initialFeedback: 'none' | 'prior';
  /** Seed of the weight initialisation and dropout. Default 1. */
  seed: number;
  /**
   * `'rgb'` (default): the network sees colour. `'grey'`: every input is turned to its luminance
   * (ITU-R BT.601 weights, in all three channels) before the backbone, for networks that learnt from
   * grey images only (FER2013): a colour photo then looks to them as their training faces did.
   *
   * Or one of them per batch-norm key, `{ emotion: 'grey' }` (keys left out are `'rgb'`; a key the
   * network does not have is an error): each forward pass sees its input as its key
   * ({@link ForwardOptions.bnKey}) says, so an integrated network whose emotion data are grey (FER2013)
   * while parsing and landmarks learn from colour photos reads emotion from the luminance and the
   * other tasks from colour, in training and in inference (one pass per key). This holds with
   * `sharedBatchNorm` too (a pass keeps its task's key, only the batch-norm parameters are shared);
   * a pass through a key that is not one of the network's (`SHARED_BN_KEY`) needs every key to have
   * the same colour.
   */
  colour: ColourMode | Record<string, ColourMode>;
}

/** How a forward pass sees its input: in colour, or as its luminance ({@link NetworkConfig.colour}). */
export type ColourMode = 'rgb' | 'grey';

export const DEFAULT_NETWORK_CONFIG: NetworkConfig = {
  backbone: 'small',
  iterations: 2,
  reencoder: 'learned',
  sharedBatchNorm: false,
  initialFeedback: 'none',
  seed: 1,
  colour: 'rgb',
};

export interface ForwardOptions {
  /** Batch statistics, dropout and moving-statistics updates. Default false. */
  training?: boolean;
  /** Batch-norm key; default the first plugin's. It also decides whether the input is turned grey ({@link NetworkConfig.colour}). */
  bnKey?: string;
  /** Interaction iterations for this pass; default the network's ITER. */
  iterations?: number;
  /** This batch is part of a larger one split between threads (dropout draws the whole batch's mask; see nn/batch-sync.ts). */
  batchSlice?: BatchSlice;
}

/** Options of inference ({@link IntegratedNetwork.predict} and its kin): always in inference mode. */
export interface InferenceOptions extends Omit<ForwardOptions, 'training'> {
  /** Only these tasks (by name). Default every task. */
  tasks?: readonly string[];
  /**
   * Each image's transform from its original to the network input (the crop's): decoded outputs are
   * mapped back to the original images (`TaskPlugin.decodeOutput`). Default network-input coordinates.
   */
  transforms?: LabelTransform[];
  /**
   * Test-time mirroring: each image is also run mirrored left to right, and each task's prediction is
   * the mean of the two (the mirrored one turned back by `TaskPlugin.mirrorPrediction`). Twice the
   * compute; every selected task must implement `mirrorPrediction`. Default false.
   */
  mirror?: boolean;
}

/** Outputs of one forward pass: for each iteration 0..ITER, each task's raw output and prediction. */
export interface ForwardResult {
  raw: Record<string, tf.Tensor>[];
  predictions: Record<string, tf.Tensor>[];
}

/** Which variables a training step may update. */
export interface VariableSelection {
  /** Shared convolutions of the backbone, with the batch-norm parameters of `bnKey` only. */
  backbone?: boolean;
  /** Batch-norm key whose backbone gamma/beta are trainable. */
  bnKey?: string;
  /** Tasks whose decoders are updated. */
  decoders?: string[];
  /** Tasks whose re-encoders are updated, plus the integrator's projections. */
  reencoders?: string[];
}

/**
 * The integrated face analytics network: a shared backbone, one decoder and re-encoder per task
 * plugin, and the task integrator that feeds every task's re-encoded prediction back into the backbone.
 *
 * Integration. The paper concatenates the re-encoded features with the backbone's at each feedback
 * site. Here the integrator adds a 1x1 convolution of the concatenated pyramids of all tasks to the
 * backbone's features instead: the backbone's own layers keep their shapes whatever the iteration, and
 * with no feedback (iteration 0) the network is exactly the network without an integrator. It is not
 * the same model as concatenation: every site but the last feeds a BN-ReLU-conv layer, whose batch
 * norm normalises backbone and feedback together in the backbone's channels (after a concatenation the
 * feedback would have channels, and statistics, of its own). The feedback therefore moves that layer's
 * batch statistics, and its moving statistics are updated once per iteration (docs/architecture.md).
 */
export class IntegratedNetwork {
  readonly config: NetworkConfig;
  readonly backboneConfig: BackboneConfig;
  readonly plugins: readonly TaskPlugin[];
  readonly params: ParamStore;
  readonly backbone: Backbone;
  readonly heads: Record<string, TaskHead> = {};
  /** One 1x1 projection per backbone site (absent for `ITER = 0` networks without `'prior'`). */
  readonly integrator: Conv2D[] = [];
  readonly bnKeys: string[];
  private readonly tapIndex: Record<string, number> = {};
  /** Source of dropout seeds; its state is part of an exact training resume. */
  readonly rng: Rng;
  /**
   * How this network's faces are framed (crop margin, keypoint box): saved in `model.json` with the
   * weights, read by every consumer that crops faces for it. The trainer sets it from its `crop`.
   */
  framing: Framing = { ...DEFAULT_FRAMING };
  private disposed = false;

  constructor(plugins: readonly TaskPlugin[], config: Partial<NetworkConfig> = {}) {
    if (plugins.length === 0) throw new Error('IntegratedNetwork needs at least one task plugin');
    const names = new Set<string>();
    for (const p of plugins) {
      if (names.has(p.name)) throw new Error(`two task plugins are named "${p.name}": task names must be unique`);
      names.add(p.name);
    }
    this.config = { ...DEFAULT_NETWORK_CONFIG, ...config };
    this.bnKeys = [...new Set(plugins.map((p) => p.bnKey))];
    validateConfig(this.config, this.bnKeys);
    // (a copy: the caller's record changing later does not change the network)
    if (typeof this.config.colour === 'object') this.config.colour = { ...this.config.colour };
    this.backboneConfig = resolveBackboneConfig(this.config.backbone);
    this.plugins = plugins;
    this.rng = new Rng(this.config.seed ^ 0x5bd1e995);
    this.params = new ParamStore(new Rng(this.config.seed));
    const bnOpts = { keys: this.bnKeys, shared: this.config.sharedBatchNorm };
    // the up path is built only as far as a task reads it: a network of down-path tasks (landmarks,
    // emotion) computes the same without it, at a fraction of the cost
    const blocks = this.backboneConfig.blocks;
    // (an up tap at 1/d needs the up blocks down to size S/d: blocks - log2 d of them)
    const upBlocks = Math.max(
      0,
      ...plugins.map(({ decodeFrom: tap }) => (tap.path === 'up' && typeof tap.downsample === 'number' ? Math.min(blocks, Math.ceil(blocks - Math.log2(tap.downsample))) : 0)),
    );
    this.backbone = new Backbone(this.params.scope('backbone'), this.backboneConfig, bnOpts, upBlocks);
    const S = this.backboneConfig.inputSize;
    const pyramidSizes = Array.from({ length: this.backboneConfig.blocks + 1 }, (_, k) => S / 2 ** k);
    for (const p of plugins) {
      const tap = p.decodeFrom;
      // a tap deeper than this backbone goes (landmarks' 1/16 on a 3-block preset) reads the deepest site
      const deepest = 2 ** this.backboneConfig.blocks;
      const downsample = tap.downsample === 'deepest' ? deepest : tap.path === 'down' ? Math.min(tap.downsample, deepest) : tap.downsample;
      const i = this.backbone.siteIndex(tap.path, downsample);
      this.tapIndex[p.name] = i;
      const site = this.backbone.sites[i];
      const scope = this.params.scope(`tasks/${p.name}`);
      const head = p.build({
        inputSize: S,
        featureShape: [site.size, site.size, site.channels],
        pyramidSizes,
        decoder: scope.child('decoder'),
        reencoder: scope.child('reencoder'),
        batchNorm: (s, name, channels) => new BatchNorm(s, name, { channels, ...bnOpts }),
      });
      const expected = this.config.reencoder === 'learned' ? head.pyramidChannels.length : pyramidSizes.length;
      if (expected !== pyramidSizes.length) {
        throw new Error(`task "${p.name}": its re-encoder makes ${head.pyramidChannels.length} pyramid levels, the backbone needs ${pyramidSizes.length} (sizes ${pyramidSizes.join(', ')})`);
      }
      this.heads[p.name] = head;
    }
    if (this.usesFeedback()) {
      const scope = this.params.scope('integrator');
      this.backbone.sites.forEach((site, k) => {
        const level = Math.log2(site.downsample);
        const inChannels = plugins.reduce((a, p) => {
          const h = this.heads[p.name];
          return a + (this.config.reencoder === 'learned' ? h.pyramidChannels[level] : h.mapChannels);
        }, 0);
        this.integrator.push(
          new Conv2D(scope, `site${k}_${site.path}${site.downsample}`, {
            inChannels,
            outChannels: site.channels,
            kernelSize: 1,
            outSize: site.size,
            useBias: false,
            init: 'glorot',
          }),
        );
      });
    }
  }

  get inputSize(): number {
    return this.backboneConfig.inputSize;
  }

  private usesFeedback(): boolean {
    return this.config.iterations > 0 || this.config.initialFeedback === 'prior';
  }

  /**
   * How a forward pass through batch-norm key `bnKey` sees its input ({@link NetworkConfig.colour}):
   * `'grey'` (turned to its luminance) or `'rgb'`. A key that is not one of the network's (a pass
   * through `SHARED_BN_KEY`, or any key with `sharedBatchNorm`) has the colour every key shares, and
   * is an error when keys differ.
   */
  colourOf(bnKey: string): ColourMode {
    const c = this.config.colour;
    if (typeof c === 'string') return c;
    if (this.bnKeys.includes(bnKey)) return c[bnKey] ?? 'rgb';
    const each = this.bnKeys.map((k) => `${k} ${c[k] ?? 'rgb'}`);
    const modes = new Set(this.bnKeys.map((k) => c[k] ?? 'rgb'));
    if (modes.size === 1) return [...modes][0];
    throw new Error(
      `a pass through batch-norm key "${bnKey}" has no colour: network.colour differs between the network's keys (${each.join(', ')}); pass one of them as bnKey`,
    );
  }

  /** A fresh forward context. */
  context(opts: ForwardOptions = {}): ForwardContext {
    const bnKey = opts.bnKey ?? this.plugins[0].bnKey;
    if (!this.config.sharedBatchNorm && !this.bnKeys.includes(bnKey) && bnKey !== SHARED_BN_KEY) {
      throw new Error(`unknown batch-norm key "${bnKey}": this network has ${this.bnKeys.join(', ')}`);
    }
    return {
      training: opts.training ?? false,
      bnKey,
      updates: [],
      nextSeed: () => this.rng.int(),
      ...(opts.batchSlice ? { batchSlice: opts.batchSlice } : {}),
    };
  }

  /**
   * Runs iterations 0..I (eqn 4) on a batch `[b, S, S, 3]` of floats in [0, 1]. Iteration 0 predicts
   * from the backbone alone (or from the re-encoded priors with `initialFeedback: 'prior'`); iteration
   * I > 0 feeds every task's iteration I-1 prediction back through its re-encoder.
   */
  forward(images: tf.Tensor4D, ctx: ForwardContext, iterations = this.config.iterations): ForwardResult {
    this.checkAlive();
    this.checkInput(images);
    if (iterations > 0 && !this.usesFeedback()) {
      throw new Error(`this network was built with iterations 0 and has no integrator; it cannot run ${iterations} iterations`);
    }
    // the pass's batch-norm key decides whether it sees colour or luminance (config.colour)
    const x = tf.mul(tf.sub(this.colourOf(ctx.bnKey) === 'grey' ? luminance(images) : images, 0.5), 2) as tf.Tensor4D;
    const batch = images.shape[0];
    const result: ForwardResult = { raw: [], predictions: [] };
    let feedback: Record<string, tf.Tensor> | null =
      this.config.initialFeedback === 'prior'
        ? Object.fromEntries(this.plugins.map((p) => [p.name, this.heads[p.name].prior(batch)]))
        : null;
    for (let it = 0; it <= iterations; it++) {
      const integrate = feedback ? this.integrateFn(feedback, ctx) : (_k: number, h: tf.Tensor4D) => h;
      const features = this.backbone.apply(x, ctx, integrate);
      const raw: Record<string, tf.Tensor> = {};
      const pred: Record<string, tf.Tensor> = {};
      for (const p of this.plugins) {
        const head = this.heads[p.name];
        raw[p.name] = head.decode(features.sites[this.tapIndex[p.name]], ctx);
        pred[p.name] = head.activate(raw[p.name]);
      }
      result.raw.push(raw);
      result.predictions.push(pred);
      feedback = pred;
    }
    return result;
  }

  private integrateFn(feedback: Record<string, tf.Tensor>, ctx: ForwardContext) {
    const pyramids = this.plugins.map((p) => {
      const head = this.heads[p.name];
      if (this.config.reencoder === 'learned') return head.reencode(feedback[p.name], ctx);
      const map = head.toMap(feedback[p.name]);
      return this.backbone.sites
        .filter((s) => s.path === 'down')
        .map((s) => resizeOrTile(map, s.size));
    });
    return (k: number, h: tf.Tensor4D): tf.Tensor4D => {
      const level = Math.log2(this.backbone.sites[k].downsample);
      const parts = pyramids.map((pyr) => pyr[level]);
      const joined = parts.length === 1 ? parts[0] : tf.concat(parts, 3);
      return tf.add(h, this.integrator[k].apply(joined));
    };
  }

  /**
   * Every task's prediction tensors for a batch `[b, S, S, 3]` in [0, 1] after each interaction
   * iteration 0..`iterations` (`[I][task]`), in inference mode: each task read through its own
   * batch-norm key, as it was trained (one forward pass per key), or every task through `opts.bnKey`;
   * only `opts.tasks` when given (and only their keys' passes). The one forward loop of inference:
   * {@link taskPredictions}, {@link predict} and {@link predictIterations} read it. The caller disposes
   * the tensors.
   */
  iterationPredictions(images: tf.Tensor4D, opts: Omit<InferenceOptions, 'transforms'> = {}): Record<string, tf.Tensor>[] {
    const iterations = opts.iterations ?? this.config.iterations;
    const plugins = this.selectPlugins(opts.tasks);
    const keyOf = (p: TaskPlugin) => opts.bnKey ?? p.bnKey;
    if (opts.mirror) {
      const missing = plugins.filter((p) => !p.mirrorPrediction).map((p) => p.name);
      if (missing.length) throw new Error(`mirror: task ${missing.join(', ')} cannot turn a mirrored image's prediction back (its plugin has no mirrorPrediction)`);
    }
    const b = images.shape[0];
    const out: Record<string, tf.Tensor>[] = Array.from({ length: iterations + 1 }, () => ({}));
    tf.tidy(() => {
      // mirrored: the images and their mirror images in one batch (inference's batch norm uses the moving
      // statistics, so the batch's makeup changes nothing)
      const input = opts.mirror ? tf.concat([images, tf.reverse(images, 2)], 0) : images;
      for (const key of new Set(plugins.map(keyOf))) {
        const r = this.forward(input, this.context({ ...opts, training: false, bnKey: key }), iterations);
        for (const p of plugins) {
          if (keyOf(p) !== key) continue;
          r.predictions.forEach((pred, it) => {
            const x = pred[p.name];
            if (!opts.mirror) {
              out[it][p.name] = tf.keep(x);
              return;
            }
            const [plain, mirrored] = tf.split(x, [b, b], 0);
            out[it][p.name] = tf.keep(tf.mul(tf.add(plain, p.mirrorPrediction!(mirrored)), 0.5));
          });
        }
      }
    });
    return out;
  }

  /**
   * Each task's prediction tensor after the last interaction iteration: {@link iterationPredictions}'
   * last entry. The caller disposes the tensors.
   */
  taskPredictions(images: tf.Tensor4D, opts: Omit<InferenceOptions, 'transforms'> = {}): Record<string, tf.Tensor> {
    const all = this.iterationPredictions(images, opts);
    tf.dispose(all.slice(0, -1).flatMap((r) => Object.values(r)));
    return all[all.length - 1];
  }

  /**
   * Predictions for a batch `[b, S, S, 3]` in [0, 1]: each task's decoded results after `iterations`
   * interaction iterations, in network-input coordinates or, given `opts.transforms`, mapped back to the
   * original images; each task read through its own batch-norm key unless `opts.bnKey` is given
   * ({@link iterationPredictions}). Leaves no tensor behind.
   */
  async predict(images: tf.Tensor4D, opts: InferenceOptions = {}): Promise<Record<string, unknown[]>> {
    const preds = this.taskPredictions(images, opts);
    try {
      return await this.decodePredictions(preds, opts);
    } finally {
      tf.dispose(Object.values(preds));
    }
  }

  /**
   * {@link predict} after every interaction iteration 0..`iterations` (`[I][task][image]`), from one
   * forward pass per batch-norm key: what evaluation scores. Leaves no tensor behind.
   */
  async predictIterations(images: tf.Tensor4D, opts: InferenceOptions = {}): Promise<Record<string, unknown[]>[]> {
    const preds = this.iterationPredictions(images, opts);
    try {
      const out: Record<string, unknown[]>[] = [];
      for (const it of preds) out.push(await this.decodePredictions(it, opts));
      return out;
    } finally {
      tf.dispose(preds.flatMap((r) => Object.values(r)));
    }
  }

  private async decodePredictions(preds: Record<string, tf.Tensor>, opts: InferenceOptions): Promise<Record<string, unknown[]>> {
    const out: Record<string, unknown[]> = {};
    for (const p of this.selectPlugins(opts.tasks)) out[p.name] = await p.decodeOutput(preds[p.name], this.inputSize, opts.transforms);
    return out;
  }

  private selectPlugins(tasks: readonly string[] | undefined): readonly TaskPlugin[] {
    return tasks ? tasks.map((t) => this.plugin(t)) : this.plugins;
  }

  /**
   * One gradient step's worth of work without the optimiser: the loss summed over iterations 0..I for
   * every task with a target (eqns 5 and 6), its gradients for the selected variables, and the moving
   * statistics updated. Returns per-task, per-iteration losses as numbers, and the total.
   *
   * `lossWeights` multiplies each task's loss at each iteration before the sum (see
   * ./loss-weighting.ts; default 1, the paper's plain sum): `total` is the weighted sum, what the
   * gradients are of, while `losses` stay unweighted.
   *
   * `lossScale` multiplies each task's loss (default 1): a part of a batch split between threads
   * passes its share of the task's masked samples, so that the parts' losses and gradients add up to
   * the whole batch's (every plugin's loss is a masked mean, see `TaskPlugin.loss`).
   */
  computeGradients(
    images: tf.Tensor4D,
    targets: Record<string, { target: tf.Tensor; mask: tf.Tensor1D }>,
    opts: ForwardOptions & { variables: tf.Variable[]; lossWeights?: LossWeights; lossScale?: Record<string, number> },
  ): { grads: tf.NamedTensorMap; total: number; losses: Record<string, number[]> } {
    const ctx = this.context({ ...opts, training: opts.training ?? true });
    const iterations = opts.iterations ?? this.config.iterations;
    const weights = opts.lossWeights ?? {};
    checkLossWeights(weights, this.plugins.map((p) => p.name), iterations);
    let lossTensors: Record<string, tf.Scalar[]> = {};
    const { value, grads } = tf.variableGrads(() => {
      const r = this.forward(images, ctx, iterations);
      lossTensors = {};
      let total: tf.Scalar = tf.scalar(0);
      for (const [task, t] of Object.entries(targets)) {
        const plugin = this.plugin(task);
        const scale = opts.lossScale?.[task];
        const w = weights[task] ?? 1;
        lossTensors[task] = r.raw.map((raw) => {
          const l = plugin.loss(raw[task], t.target, t.mask);
          return tf.keep(scale === undefined ? l : tf.mul(l, scale));
        });
        lossTensors[task].forEach((l, i) => {
          // (a weight of 1 adds the loss itself: the paper's sum, bit for bit)
          const wi = typeof w === 'number' ? w : w[i];
          total = tf.add(total, wi === 1 ? l : tf.mul(l, wi));
        });
      }
      return total;
    }, opts.variables);
    if (ctx.training) applyMovingStatUpdates(ctx);
    else discardMovingStatUpdates(ctx);
    const total = value.dataSync()[0];
    value.dispose();
    const losses: Record<string, number[]> = {};
    for (const [task, ls] of Object.entries(lossTensors)) {
      losses[task] = ls.map((l) => l.dataSync()[0]);
      tf.dispose(ls);
    }
    return { grads, total, losses };
  }

  plugin(name: string): TaskPlugin {
    const p = this.plugins.find((q) => q.name === name);
    if (!p) throw new Error(`no task "${name}" in this network; it has ${this.plugins.map((q) => q.name).join(', ')}`);
    return p;
  }

  /**
   * The trainable variables a training step updates (paper Algorithm 1): the backbone's convolutions
   * and the batch-norm parameters of one key, the named decoders, the named re-encoders with the
   * integrator.
   */
  variables(sel: VariableSelection): tf.Variable[] {
    const activeKey = this.config.sharedBatchNorm ? SHARED_BN_KEY : sel.bnKey;
    const keys = new Set([...this.bnKeys, SHARED_BN_KEY]);
    const out: tf.Variable[] = [];
    for (const [name, v] of this.params.variables) {
      if (!v.trainable) continue;
      // batch-norm gamma/beta live under `<layer>/<key>/`: only the active key's set trains
      const bn = /\/([^/]+)\/(gamma|beta)$/.exec(name);
      if (bn && keys.has(bn[1]) && activeKey !== undefined && bn[1] !== activeKey) continue;
      if (name.startsWith('backbone/')) {
        if (sel.backbone) out.push(v);
      } else if (name.startsWith('integrator/')) {
        if (sel.reencoders?.length) out.push(v);
      } else {
        const m = /^tasks\/([^/]+)\/(decoder|reencoder)\//.exec(name);
        const list = m?.[2] === 'decoder' ? sel.decoders : sel.reencoders;
        if (m && list?.includes(m[1])) out.push(v);
      }
    }
    return out;
  }

  /** Multiply-adds x 2 per image for a forward pass with `iterations` interaction iterations. */
  flops(iterations = this.config.iterations): number {
    return 2 * this.macs(iterations);
  }

  private macs(iterations: number): number {
    const passes = iterations + 1;
    const feedbackPasses = iterations + (this.config.initialFeedback === 'prior' ? 1 : 0);
    const integrator = this.integrator.reduce((a, c) => a + c.macs, 0);
    const heads = this.plugins.reduce((a, p) => a + (headMacs(this.heads[p.name]).decoder), 0);
    const reenc = this.config.reencoder === 'learned' ? this.plugins.reduce((a, p) => a + headMacs(this.heads[p.name]).reencoder, 0) : 0;
    return passes * (this.backbone.macs + heads) + feedbackPasses * (integrator + reenc);
  }

  /** Number of trainable parameters and of all stored values (moving statistics included). */
  parameterCount(): { trainable: number; total: number } {
    let trainable = 0;
    let total = 0;
    for (const v of this.params.variables.values()) {
      total += v.size;
      if (v.trainable) trainable += v.size;
    }
    return { trainable, total };
  }

  dispose(): void {
    this.params.dispose();
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('this IntegratedNetwork was disposed');
  }

  private checkInput(images: tf.Tensor4D): void {
    const S = this.inputSize;
    const [, h, w, c] = images.shape;
    if (images.rank !== 4 || h !== S || w !== S || c !== 3) {
      throw new Error(`expected images of shape [batch, ${S}, ${S}, 3], got [${images.shape.join(', ')}]: crop and resize faces with faceCrop/prepareSample first`);
    }
  }
}


function headMacs(head: TaskHead): HeadCost {
  return head.cost ?? { decoder: 0, reencoder: 0 };
}

function resizeOrTile(map: tf.Tensor4D, size: number): tf.Tensor4D {
  const [, h, w] = map.shape;
  if (h === size && w === size) return map;
  if (h === 1 && w === 1) return tf.tile(map, [1, size, size, 1]);
  return tf.image.resizeBilinear(map, [size, size], false, true);
}

/** Each pixel's luminance (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B) in all three channels: grey pixels stay as they are. */
export function luminance(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const y = tf.sum(tf.mul(images, tf.tensor1d([0.299, 0.587, 0.114])), -1, true);
    return tf.tile(y, [1, 1, 1, 3]) as tf.Tensor4D;
  });
}

const COLOUR_MODES: readonly string[] = ['rgb', 'grey'] satisfies ColourMode[];

function validateConfig(c: NetworkConfig, bnKeys: readonly string[]): void {
  const colour: unknown = c.colour;
  if (typeof colour === 'object' && colour !== null && !Array.isArray(colour)) {
    for (const [key, mode] of Object.entries(colour)) {
      if (!bnKeys.includes(key)) {
        throw new Error(`network.colour names batch-norm key "${key}", which this network does not have: its keys are ${bnKeys.join(', ')}`);
      }
      if (!COLOUR_MODES.includes(mode as string)) throw new Error(`network.colour.${key} must be 'rgb' or 'grey', got ${JSON.stringify(mode) ?? String(mode)}`);
    }
  } else if (!COLOUR_MODES.includes(colour as string)) {
    throw new Error(`network.colour must be 'rgb' or 'grey', or one of them per batch-norm key ({ ${bnKeys[0]}: 'grey' }), got ${JSON.stringify(colour) ?? String(colour)}`);
  }
  if (!Number.isInteger(c.iterations) || c.iterations < 0 || c.iterations > 16) {
    throw new Error(`network.iterations must be an integer from 0 to 16, got ${String(c.iterations)}`);
  }
  if (c.reencoder !== 'learned' && c.reencoder !== 'resize') {
    throw new Error(`network.reencoder must be 'learned' or 'resize', got ${String(c.reencoder)}`);
  }
  if (c.initialFeedback !== 'none' && c.initialFeedback !== 'prior') {
    throw new Error(`network.initialFeedback must be 'none' or 'prior', got ${String(c.initialFeedback)}`);
  }
  if (!Number.isInteger(c.seed)) throw new Error(`network.seed must be an integer, got ${String(c.seed)}`);
}
