/**
 * Data types shared by every task package. Images are plain RGB byte arrays so that loaders,
 * augmentation and the synthetic generator never need tfjs.
 */

/** An RGB image, row-major HWC, 3 bytes per pixel. */
export interface RawImage {
  width: number;
  height: number;
  /** Always 3: grey images are expanded, alpha is dropped when decoding. */
  channels: 3;
  data: Uint8Array;
}

/** A map of class indices, one byte per pixel, row-major. */
export interface LabelMap {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * One image with the labels it carries, keyed by task name (`labels.landmarks`, `labels.parsing`, ...).
 * A data set that labels one task carries one key; a data set that labels several carries several,
 * and a task whose key is absent simply adds no loss for that sample.
 */
export interface LabelledImage {
  image: RawImage;
  labels: Record<string, unknown>;
  /**
   * The face box in image pixels `[x, y, width, height]`, when the data set knows one. The face crop
   * ({@link faceCrop}) uses it; without it the crop is the centred square of the image.
   */
  faceBox?: [number, number, number, number];
}

/** A lazily loaded sample: loaders list samples cheaply and decode on demand. */
export interface Sample {
  /** Unique within its data set, e.g. the relative image path. */
  id: string;
  /** The person in the image, where the data set has identities (used for identity-disjoint splits). */
  identity?: string;
  load(): Promise<LabelledImage>;
}

/**
 * How to make an object again in another thread (the trainer's batch worker): `await
 * (await import(module))[export](...args)`. `module` must be importable from there: a package the
 * importing code can resolve (the built-in plugins name their own package), or an absolute `file:`
 * URL (a module's own `import.meta.url`); `args` must survive `structuredClone` (plain data).
 */
export interface Recipe {
  module: string;
  export: string;
  args: unknown[];
}

/** A {@link Recipe} that makes a data set, optionally keeping only some of its samples. */
export interface DatasetRecipe extends Recipe {
  /** Indices of the samples kept, in order (a split or subset of the data set the call makes). */
  pick?: number[];
}

/** A list of samples with a name; `tasks` names the labels its samples carry. */
export interface Dataset {
  name: string;
  tasks: string[];
  samples: Sample[];
  /** Files skipped by a loader in `skip` mode, with the reason. */
  skipped?: { file: string; reason: string }[];
  /**
   * How to rebuild this data set (same samples, same order) in another thread; set by the built-in
   * loaders and `syntheticDataset`, kept by `subsetDataset` / `splitDataset`. A data set without one
   * is prepared on the training thread. Copying a data set with other samples must drop or update it.
   */
  recipe?: DatasetRecipe;
}

/**
 * A 2-D affine map from source pixel coordinates to destination pixel coordinates:
 * `x' = a*x + b*y + c`, `y' = d*x + e*y + f`. Pixel centres are at integer + 0.5.
 */
export type Affine = [a: number, b: number, c: number, d: number, e: number, f: number];

/** How an image was geometrically transformed; task plugins apply the same to their labels. */
export interface LabelTransform {
  /** Source pixel -> destination pixel (already includes the flip when `flipped`). */
  affine: Affine;
  /** Destination size `[width, height]`. */
  outSize: [number, number];
  /** True when the transform mirrors left and right: left/right labels must be swapped. */
  flipped: boolean;
  /**
   * `[width, height]` of the image the transform applies to, which mapping a result back to the
   * original image needs (set by `faceCrop`, kept by flips and augmentation).
   */
  sourceSize?: [number, number];
}
