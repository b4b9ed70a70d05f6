import type * as tf from '@tensorflow/tfjs-core';
import type { Dataset, LabelTransform, RawImage, Recipe } from './data/types';
import type { ForwardContext } from './nn/context';
import type { BatchNorm } from './nn/layers';
import type { ParamScope } from './nn/params';

/**
 * Where in the backbone a task's decoder reads its features.
 * `down`: the output of the down path after the pooling that brings it to `inputSize / downsample`
 * (`downsample` 2, 4, ..., 2^blocks). `up`: the up path at `inputSize / downsample` (`downsample` 1 is
 * the full-resolution output at the end of the up path).
 */
export interface FeatureTap {
  path: 'down' | 'up';
  /**
   * A power of two, or `'deepest'` for the bottom of the down path whatever the preset. A `down` tap
   * deeper than the backbone goes reads the deepest site (1/16 on a 3-block backbone reads 1/8).
   */
  downsample: number | 'deepest';
}

/** What a task head is told when the network builds it. */
export interface BuildContext {
  /** Network input size in pixels (square). */
  inputSize: number;
  /** Shape `[size, size, channels]` of the feature the decoder reads ({@link TaskPlugin.decodeFrom}). */
  featureShape: [number, number, number];
  /**
   * Spatial sizes of the feedback pyramid, largest first: `inputSize, inputSize/2, ..., inputSize/2^blocks`.
   * `reencode` must return one tensor per entry.
   */
  pyramidSizes: number[];
  /** Parameters of the decoder: updated whenever this task trains. */
  decoder: ParamScope;
  /** Parameters of the re-encoder: updated only in the feedback stage (iterations > 0). */
  reencoder: ParamScope;
  /**
   * Makes a batch-norm layer that follows the network's batch-norm setting (one parameter set per key,
   * or one shared set), for decoders and re-encoders that normalise.
   */
  batchNorm(scope: ParamScope, name: string, channels: number): BatchNorm;
}

/** The task-specific modules built for one network. */
export interface TaskHead {
  /** Features -> raw output (logits, normalised coordinates, ...), the input of `loss`. */
  decode(feature: tf.Tensor4D, ctx: ForwardContext): tf.Tensor;
  /** Raw output -> prediction in the task's own space (probabilities, coordinates); what is fed back. */
  activate(raw: tf.Tensor): tf.Tensor;
  /** Prediction -> feature pyramid, one `[batch, s, s, pyramidChannels[k]]` tensor per `pyramidSizes[k]`. */
  reencode(prediction: tf.Tensor, ctx: ForwardContext): tf.Tensor4D[];
  /** Channels of each pyramid level that `reencode` produces. */
  readonly pyramidChannels: number[];
  /**
   * Prediction as a map `[batch, h, w, mapChannels]` for the re-encoder ablation (paper 4.3.2): the
   * network resizes (bilinear) or tiles (h = w = 1) it to every pyramid size instead of re-encoding.
   */
  toMap(prediction: tf.Tensor): tf.Tensor4D;
  readonly mapChannels: number;
  /**
   * The prior prediction fed back before any prediction exists, when the network's `initialFeedback`
   * is `'prior'` (the official iFAN code starts from the data-set mean): a `[batch, ...]` prediction.
   */
  prior(batch: number): tf.Tensor;
  /** Multiply-adds per image of the decoder and the re-encoder, for the network's FLOP count. */
  readonly cost?: HeadCost;
}

export interface HeadCost {
  decoder: number;
  reencoder: number;
}

/** Update per batch, report per split. */
export interface MetricAccumulator<L = unknown, O = unknown> {
  /** Adds a batch of outputs (in original-image coordinates) and their ground-truth labels. */
  update(outputs: O[], labels: L[]): void;
  /** Named figures: scalars, per-class tables, curves. */
  report(): MetricReport;
  reset(): void;
}

export type MetricValue = number | number[] | number[][] | Record<string, number>;
export interface MetricReport {
  /** The single figure used to pick the best checkpoint. */
  primary: { name: string; value: number; higherIsBetter: boolean };
  values: Record<string, MetricValue>;
}

/** Options every data set loader accepts. */
export interface LoadOptions {
  /** `error` (default) stops at the first bad file; `skip` records it in `Dataset.skipped` and goes on. */
  onError?: 'error' | 'skip';
  /** Which split to read where the format has several (e.g. `train`, `test`). */
  split?: string;
  /** Largest image accepted, in pixels (decompression-bomb guard). Default 100 megapixels. */
  limitInputPixels?: number;
}

/**
 * Data loading of a task, separate from its model side ({@link TaskPlugin}) so that the model can run
 * where there is no file system: the task packages' Node entry points (`@ifan/task-landmarks/node`, ...)
 * make plugins that also load data sets ({@link LoadingTaskPlugin}).
 */
export interface DatasetLoading {
  /** Data-set formats `loadDataset` reads, e.g. `['mtfl', 'pts', 'csv']`. */
  readonly formats: readonly string[];
  /** Reads a data set of one of {@link formats} from a folder or file, labelled for this task. */
  loadDataset(format: string, root: string, options?: LoadOptions): Promise<Dataset>;
}

/** A task plugin that also loads data sets (what the task packages' `/node` entry points make). */
export type LoadingTaskPlugin<L = unknown, O = unknown> = TaskPlugin<L, O> & DatasetLoading;

/**
 * Everything the integrated network needs to know about one task: the model side (head, targets,
 * loss, decoding, label transforms, metric). Data loading is {@link DatasetLoading}. Nothing in core names a task:
 * a new task is a new object implementing this interface.
 *
 * @typeParam L the ground-truth label of one image
 * @typeParam O the decoded result for one image
 */
export interface TaskPlugin<L = unknown, O = unknown> {
  /** Unique task name; also the key of this task's labels in {@link LabelledImage.labels}. */
  readonly name: string;
  /** Batch-norm key this task trains and evaluates under (its data set's statistics). */
  readonly bnKey: string;
  /** Which backbone feature the decoder reads. */
  readonly decodeFrom: FeatureTap;
  /**
   * Everything that changes the shape or meaning of this task's parameters and outputs (label set,
   * number of points, ...), as JSON. Saved with a model and compared when loading it.
   */
  readonly config: Record<string, unknown>;
  /** Builds decoder and re-encoder parameters for one network. */
  build(ctx: BuildContext): TaskHead;
  /**
   * Labels of a batch -> target tensor and a `[batch]` 0/1 mask (0 where the sample has no label for
   * this task). Labels are already in network-input coordinates (see {@link transformLabel}).
   */
  encodeTargets(labels: (L | undefined)[], inputSize: number): { target: tf.Tensor; mask: tf.Tensor1D };
  /** Mean loss over the samples whose mask is 1 (0 when none is). */
  loss(raw: tf.Tensor, target: tf.Tensor, mask: tf.Tensor1D): tf.Scalar;
  /**
   * Predictions of a batch (`activate`d) -> one result per image. With `transforms`, results are mapped
   * back from network-input coordinates to each original image (inverse of its crop transform).
   */
  decodeOutput(prediction: tf.Tensor, inputSize: number, transforms?: LabelTransform[]): Promise<O[]>;
  /**
   * A batch of predictions (`activate`d) of mirrored images, turned into predictions of the images as
   * they were: mirrored back and left/right swapped (a left eye seen in a mirror is the right one).
   * Enables test-time mirroring (`mirror` of the network's inference options); optional.
   */
  mirrorPrediction?(prediction: tf.Tensor): tf.Tensor;
  /** Applies an image transform (crop, resize, flip) to a label of this task. */
  transformLabel(label: L, transform: LabelTransform): L;
  createMetric(): MetricAccumulator<L, O>;
  /** Draws a result on an image (optional). */
  visualize?(image: RawImage, output: O): RawImage;
  /**
   * How to make this plugin again in another thread (the factory and its options), so that batches
   * can be prepared there; the built-in plugins set it. Without one, batches are prepared on the
   * training thread.
   */
  readonly recipe?: Recipe;
}
