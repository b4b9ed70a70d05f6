import { Rng, mixSeed, type RandomSource } from '@ifan/core/rng';
import { EXPRESSIONS } from './constants';
import { expressionShape, sampleIdentity } from './face';
import { DEFAULT_IMAGING, type ResolvedImaging, develop } from './imaging';
import { Canvas } from './raster';
import { type SceneOptions, renderFace } from './render';
import { toRandom } from './rng';
import type { FaceAttributes, FaceOptions, SyntheticFace, SyntheticLabels, TaskName } from './types';

export const ALL_TASKS: readonly TaskName[] = ['parsing', 'landmarks', 'emotion'];

/** Defaults of {@link FaceOptions}, documented on each field there. */
export const DEFAULT_FACE_OPTIONS = {
  size: 128,
  intensity: [0.55, 1] as [number, number],
  pose: { maxRoll: 15, maxYaw: 25, scale: [0.27, 0.36] as [number, number], maxShift: 0.06 },
  occlusion: 0.2,
  clutter: 1,
  glasses: 0.12,
};

interface ResolvedFaceOptions {
  width: number;
  height: number;
  expression: number | null;
  expressionWeights: number[];
  intensity: [number, number];
  scene: SceneOptions;
  imaging: ResolvedImaging;
  tasks: TaskName[];
  identitySeed: number | undefined;
}

/** Checks a user's options and fills in the defaults; errors name the offending field. */
export function resolveFaceOptions(options: FaceOptions = {}): ResolvedFaceOptions {
  const size = options.size ?? DEFAULT_FACE_OPTIONS.size;
  const [width, height] = typeof size === 'number' ? [size, size] : size;
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 8 || v > 4096) throw new Error(`size: ${name} must be an integer in 8..4096, got ${v}`);
  }
  let expression: number | null = null;
  if (options.expression !== undefined) {
    expression = typeof options.expression === 'number' ? options.expression : EXPRESSIONS.indexOf(options.expression as (typeof EXPRESSIONS)[number]);
    if (!Number.isInteger(expression) || expression < 0 || expression >= EXPRESSIONS.length) {
      throw new Error(`expression: expected an index 0..6 or one of ${EXPRESSIONS.join(', ')}, got ${JSON.stringify(options.expression)}`);
    }
  }
  const expressionWeights = options.expressionWeights ?? EXPRESSIONS.map(() => 1);
  if (expressionWeights.length !== EXPRESSIONS.length || expressionWeights.some((w) => !(w >= 0)) || expressionWeights.every((w) => w === 0)) {
    throw new Error(`expressionWeights: expected ${EXPRESSIONS.length} non-negative weights, not all zero (order ${EXPRESSIONS.join(', ')})`);
  }
  const intensity = options.intensity ?? DEFAULT_FACE_OPTIONS.intensity;
  if (!(intensity[0] > 0 && intensity[1] <= 1 && intensity[0] <= intensity[1])) {
    throw new Error(`intensity: expected [lo, hi] with 0 < lo <= hi <= 1, got [${intensity}]`);
  }
  const pose = { ...DEFAULT_FACE_OPTIONS.pose, ...options.pose };
  if (!(pose.scale[0] > 0 && pose.scale[0] <= pose.scale[1])) throw new Error(`pose.scale: expected [lo, hi] with 0 < lo <= hi, got [${pose.scale}]`);
  const tasks = options.tasks ?? [...ALL_TASKS];
  for (const t of tasks) if (!ALL_TASKS.includes(t)) throw new Error(`tasks: unknown task ${JSON.stringify(t)}; expected some of ${ALL_TASKS.join(', ')}`);
  const imaging: ResolvedImaging = { ...DEFAULT_IMAGING, ...options.imaging };
  return {
    width,
    height,
    expression,
    expressionWeights,
    intensity,
    scene: {
      ...pose,
      occlusion: options.occlusion ?? DEFAULT_FACE_OPTIONS.occlusion,
      clutter: options.clutter ?? DEFAULT_FACE_OPTIONS.clutter,
      glasses: options.glasses ?? DEFAULT_FACE_OPTIONS.glasses,
    },
    imaging,
    tasks,
    identitySeed: options.identitySeed,
  };
}

/**
 * Draws one synthetic face with exact labels for the requested tasks.
 *
 * @param seedOrRng A seed (same seed and options give the same face, bit for bit, on every platform),
 *   an `Rng` from `@ifan/core` (the face draws from it and advances it), or any other random source,
 *   from which one 32-bit seed is drawn.
 * @param options See {@link FaceOptions}; everything has a default.
 */
export function generateFace(seedOrRng: number | RandomSource, options: FaceOptions = {}): SyntheticFace {
  return generateResolved(toRandom(seedOrRng), resolveFaceOptions(options));
}

/** @internal generation with options already resolved (the dataset resolves once). */
export function generateResolved(rng: Rng, o: ResolvedFaceOptions): SyntheticFace {
  const sceneRng = rng.fork(1);
  const exprRng = rng.fork(2);
  const imagingRng = rng.fork(3);
  const identityRng = o.identitySeed !== undefined ? new Rng(mixSeed(o.identitySeed, 0x1d3a)) : rng.fork(4);
  const identity = sampleIdentity(identityRng);
  const expression = o.expression ?? exprRng.weighted(o.expressionWeights);
  const neutral = EXPRESSIONS[expression] === 'neutral';
  const intensity = neutral ? 0 : exprRng.range(o.intensity[0], o.intensity[1]);
  const shape = expressionShape(expression, intensity, exprRng);

  const canvas = new Canvas(o.width, o.height, colourBuffer(o.width, o.height));
  const r = renderFace(canvas, identity, shape, o.scene, sceneRng);
  const data = develop(canvas.rgb, o.width, o.height, o.imaging, imagingRng);

  const labels: SyntheticLabels = {};
  if (o.tasks.includes('parsing')) labels.parsing = { mask: { width: o.width, height: o.height, data: canvas.mask } };
  if (o.tasks.includes('landmarks')) labels.landmarks = { points: r.points.map(([x, y]) => [x, y]) };
  if (o.tasks.includes('emotion')) labels.emotion = { classIndex: expression };
  const absYaw = Math.abs(r.yaw);
  const pose: FaceAttributes['pose'] = absYaw < 12 ? 3 : absYaw < 40 ? (r.yaw < 0 ? 2 : 4) : r.yaw < 0 ? 1 : 5;
  const attributes: FaceAttributes = {
    expression,
    intensity,
    gender: identity.gender,
    hairStyle: identity.hairStyle,
    glasses: r.glasses,
    smile: EXPRESSIONS[expression] === 'happy',
    yaw: r.yaw,
    roll: r.roll,
    pose,
    faceScale: r.faceScale,
    visible: r.visible,
    occluded: r.occluded,
  };
  return {
    image: { width: o.width, height: o.height, channels: 3, data },
    labels,
    faceBox: r.faceBox,
    attributes,
  };
}

let colourScratch = new Float32Array(0);

/** The float colour buffer is scratch (every pixel is overwritten by the backdrop or the head), so it is reused. */
function colourBuffer(width: number, height: number): Float32Array {
  if (colourScratch.length !== width * height * 3) colourScratch = new Float32Array(width * height * 3);
  return colourScratch;
}

