import type { FaceOptions, TaskName } from './types';

/** The built-in domains, modelled on the data sets the paper trains on. */
export type DomainName = 'parsing' | 'landmarks' | 'emotion';

/** A data-set domain: the task it labels and the face options (image statistics) its images share. */
export interface DomainSpec {
  name: string;
  /** Tasks labelled in this domain (the paper's setting: one each). */
  tasks: TaskName[];
  face: FaceOptions;
}

/**
 * Helen-like (parsing): sharp, well exposed colour photos at 128 px, warm cast.
 * MTFL-like (landmarks): darker, cooler, softer and noisier web photos at 96 px, more pose.
 * FER2013-like (emotion): 48 px grey, tight crops, contrasty and noisy, less pose.
 */
export const DOMAINS: Record<DomainName, DomainSpec> = {
  parsing: {
    name: 'synthetic-helen',
    tasks: ['parsing'],
    face: {
      size: 128,
      pose: { maxRoll: 15, maxYaw: 22, scale: [0.28, 0.36], maxShift: 0.05 },
      imaging: { brightness: 1.05, contrast: 1.05, colorCast: [1.05, 1.0, 0.93], blur: 0.3, noise: 2, lighting: 0.3 },
      occlusion: 0.15,
      clutter: 1,
    },
  },
  landmarks: {
    name: 'synthetic-mtfl',
    tasks: ['landmarks'],
    face: {
      size: 96,
      pose: { maxRoll: 25, maxYaw: 30, scale: [0.24, 0.33], maxShift: 0.07 },
      imaging: { brightness: 0.82, contrast: 0.85, colorCast: [0.95, 1.0, 1.08], blur: 0.8, noise: 5, gamma: 1.1, lighting: 0.45 },
      occlusion: 0.25,
      clutter: 1.3,
    },
  },
  emotion: {
    name: 'synthetic-fer',
    tasks: ['emotion'],
    face: {
      size: 48,
      pose: { maxRoll: 10, maxYaw: 18, scale: [0.38, 0.45], maxShift: 0.04 },
      imaging: { brightness: 1.0, contrast: 1.15, blur: 0.45, noise: 6, grey: true, lighting: 0.5 },
      occlusion: 0.2,
      clutter: 0.7,
    },
  },
};

/** Merges face options: `over` wins field by field, `pose` and `imaging` are merged one level deep. */
export function mergeFaceOptions(base: FaceOptions, over: FaceOptions): FaceOptions {
  return {
    ...base,
    ...defined(over),
    pose: { ...base.pose, ...defined(over.pose ?? {}) },
    imaging: { ...base.imaging, ...defined(over.imaging ?? {}) },
  };
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
