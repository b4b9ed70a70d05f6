/**
 * The trainer's configuration as one set of zod schemas: the settings of {@link TrainerOptions}
 * (network, schedule, optimizer, augmentation, crop, checkpoints) and the run-configuration file of
 * `ifan train --config`, which adds where each task's data is. A refusal is a {@link ConfigError}
 * naming the field's path (`schedule.finetuneLr.to`); the file's types are inferred from its schema,
 * and its JSON Schema (`schema/run-config.schema.json`, {@link runConfigJsonSchema}) is what editors
 * validate config files against.
 */
import { BACKBONE_PRESETS, type BackbonePresetName, type NetworkConfig } from '@ifan/core';
import { z } from 'zod';
import { ConfigError } from './errors';
import { taskEntry, taskNames } from './tasks';
import type { AugmentConfig, CheckpointConfig, CropConfig, LossWeightingConfig, LrSchedule, OptimizerConfig, ScheduleConfig } from './types';

// ---------------------------------------------------------------------------------------------------
// Messages: "must be <what>, got <value>", or "is missing"

/** A value as the user wrote it (`Infinity`, not JSON's `null`). */
const show = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : (JSON.stringify(v) ?? String(v)));

/** `a, b or c`. */
const list = (xs: readonly unknown[]): string => {
  const s = xs.map((x) => (typeof x === 'string' ? `"${x}"` : show(x)));
  return s.length < 2 ? s.join('') : `${s.slice(0, -1).join(', ')} or ${s[s.length - 1]}`;
};

const expecting =
  (what: string) =>
  (iss: { input?: unknown }): string =>
    iss.input === undefined ? `is missing: give ${what}` : `must be ${what}, got ${show(iss.input)}`;

function int(min: number, max?: number) {
  const error = expecting(`an integer from ${min}${max !== undefined ? ` to ${max}` : ''}`);
  const n = z.int({ error }).min(min, { error });
  return max === undefined ? n : n.max(max, { error });
}

function num(range: { min?: number; greaterThan?: number; max?: number; lessThan?: number } = {}) {
  const bounds = [
    range.min !== undefined && `>= ${range.min}`,
    range.greaterThan !== undefined && `> ${range.greaterThan}`,
    range.max !== undefined && `<= ${range.max}`,
    range.lessThan !== undefined && `< ${range.lessThan}`,
  ];
  const error = expecting(`a finite number${bounds.some(Boolean) ? ` ${bounds.filter(Boolean).join(' and ')}` : ''}`);
  let n = z.number({ error });
  if (range.min !== undefined) n = n.min(range.min, { error });
  if (range.greaterThan !== undefined) n = n.gt(range.greaterThan, { error });
  if (range.max !== undefined) n = n.max(range.max, { error });
  if (range.lessThan !== undefined) n = n.lt(range.lessThan, { error });
  return n;
}

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: expecting(list(values)) });
const bool = () => z.boolean({ error: expecting('true or false') });
const seed = () => int(0, 0xffffffff);
/** The share of a data set carved out for validation or testing. */
const fraction = () => num({ min: 0, max: 0.9 });

/** An object's shape in a message: `{ type, from, to? }`. */
const objectError = (shape: string) => (iss: { code?: string; input?: unknown }) => (iss.code === 'invalid_type' ? expecting(shape)(iss) : undefined);

const NOUNS: Record<string, string> = { object: 'an object', record: 'an object', string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false', array: 'a list' };

/** Every message the schemas leave to zod, in the same words. */
function reason(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return expecting(NOUNS[iss.expected] ?? iss.expected)(iss);
    case 'invalid_value':
      return expecting(list(iss.values))(iss);
    case 'unrecognized_keys': {
      const shape = (iss.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape;
      const known = shape ? Object.keys(shape).filter((k) => !k.startsWith('$')) : [];
      return `unknown setting; known settings are ${known.join(', ')}`;
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// Issues -> ConfigError

/** `['augment', 'geometry', 'scale', 1]` -> `augment.geometry.scale[1]`. */
function fieldOf(path: readonly PropertyKey[], prefix: string): string {
  let s = prefix;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(config)';
}

type Issue = z.core.$ZodIssue;

/**
 * A failed union says which branch was meant where only one branch got past the value's type (an
 * object with a bad field is the object branch's error, not "no branch matched").
 */
function unfold(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const atRoot = (i: Issue) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value');
  const meant = issue.errors.filter((branch) => !branch.every(atRoot));
  if (meant.length !== 1) return [issue];
  return meant[0].flatMap((i) => unfold({ ...i, path: [...issue.path, ...i.path] } as Issue));
}

/** Parses `value`, or throws a {@link ConfigError} naming the first wrong field (after `prefix`) and listing the others. */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const r = schema.safeParse(value, { error: reason });
  if (r.success) return r.data;
  const problems = r.error.issues
    .flatMap(unfold)
    .flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k]) : [i.path]).map((path) => ({ field: fieldOf(path, prefix), reason: i.message })));
  const [first, ...more] = problems;
  const also = more.length ? `\n${more.slice(0, 9).map((p) => `  also ${p.field}: ${p.reason}`).join('\n')}${more.length > 9 ? `\n  and ${more.length - 9} more` : ''}` : '';
  throw new ConfigError(first.field, `${first.reason}${also}`);
}

// ---------------------------------------------------------------------------------------------------
// The trainer's settings (TrainerOptions): complete once the defaults are filled in

const PRESETS = Object.keys(BACKBONE_PRESETS) as [BackbonePresetName, ...BackbonePresetName[]];

const backboneLayout = z
  .strictObject({
    inputSize: int(1).describe('Input size in pixels (square); a multiple of 2^blocks.'),
    blocks: int(1).describe('Dense blocks in each path.'),
    layersPerBlock: z
      .union([int(1), z.array(int(1)).min(1)], { error: expecting('a positive integer, or one per block ([2, 3, 4, 6])') })
      .describe('BN-ReLU-3x3 conv layers per dense block: one number, or one per down-path block from the finest (mirrored by the up path).'),
    growthRate: int(1).describe('Channels each dense layer adds (k).'),
    stemChannels: int(1).describe('Output channels of the 7x7 stem convolution.'),
    upChannels: int(1).optional().describe("Channels after each sub-pixel upsampling; default the up-path block's layers * growthRate."),
  })
  .refine((b) => !Array.isArray(b.layersPerBlock) || b.layersPerBlock.length === b.blocks, {
    path: ['layersPerBlock'],
    error: (iss) => {
      const b = iss.input as { layersPerBlock: number[]; blocks: number };
      return `${b.layersPerBlock.length} depths for ${b.blocks} blocks: give one per block, or one number for all`;
    },
  })
  .refine((b) => b.inputSize % 2 ** b.blocks === 0, {
    path: ['inputSize'],
    error: (iss) => {
      const b = iss.input as { inputSize: number; blocks: number };
      return `${b.inputSize} is not divisible by 2^blocks = ${2 ** b.blocks}: choose a multiple of ${2 ** b.blocks} or fewer blocks`;
    },
  });

const network = z.strictObject({
  backbone: z
    .union([z.enum(PRESETS), backboneLayout], {
      error: (iss) =>
        typeof iss.input === 'string'
          ? `unknown backbone preset ${show(iss.input)}: use one of ${PRESETS.join(', ')} or a layout { inputSize, blocks, layersPerBlock, growthRate, stemChannels }`
          : expecting(`a preset (${PRESETS.join(', ')}) or a layout { inputSize, blocks, layersPerBlock, growthRate, stemChannels }`)(iss),
    })
    .describe(`Backbone preset (${PRESETS.join(', ')}) or a layout. Default "small".`),
  iterations: int(0, 16).describe('ITER: interaction iterations after the first prediction (paper eqn 4). Default 2.'),
  reencoder: oneOf(['learned', 'resize']).describe('"learned" (default): each task\'s re-encoder; "resize": prediction maps resized to each feedback size (paper 4.3.2).'),
  sharedBatchNorm: bool().describe('One batch-norm parameter set for every key (paper 4.3.3). Default false.'),
  initialFeedback: oneOf(['none', 'prior']).describe('What iteration 0 sees as feedback: "none" (default, eqn 4) or each task\'s re-encoded prior.'),
  seed: seed().describe('Seed of the weight initialisation and dropout. Default 1.'),
  colour: z
    .union([oneOf(['rgb', 'grey']), z.record(z.string(), oneOf(['rgb', 'grey']))], { error: expecting('"rgb", "grey" or one of them per batch-norm key ({ "emotion": "grey" })') })
    .describe('"rgb" (default), or "grey": every input turned to its luminance first, for networks that learn from grey images only (FER2013), so colour photos look like their training faces. Or one of them per batch-norm key, e.g. { "emotion": "grey" } for an integrated network whose emotion data are grey while parsing and landmarks learn from colour: each key\'s forward pass sees its input so (keys left out are "rgb").'),
}) satisfies z.ZodType<NetworkConfig>;

const LR_TYPES = ['constant', 'linear', 'exponential', 'cosine'] as const;

/** `to` is checked by `type` (the final rate of an exponential schedule is > 0), and dropped from a constant one. */
const lrSchedule = z
  .strictObject(
    {
      type: oneOf(LR_TYPES).describe('constant: from; linear: from -> to; exponential: from * (to / from) ^ p; cosine: to + (from - to) (1 + cos(pi p)) / 2.'),
      from: num({ greaterThan: 0 }).describe('Rate at the stage\'s first step.'),
      to: z.number().optional().describe('Rate at the stage\'s last step (not for constant; > 0 for exponential).'),
    },
    { error: objectError('{ type, from, to? }') },
  )
  .superRefine((s, ctx) => {
    if (s.type === 'constant') return;
    const r = (s.type === 'exponential' ? num({ greaterThan: 0 }) : num({ min: 0 })).safeParse(s.to);
    if (!r.success) ctx.addIssue({ code: 'custom', path: ['to'], input: s.to, message: r.error.issues[0].message });
  })
  .transform(({ type, from, to }): LrSchedule => (type === 'constant' ? { type, from } : { type, from, to }))
  .meta({ id: 'LrSchedule' });

const schedule = z.strictObject({
  pretrainEpochs: int(0).describe('E_P: epochs of task-wise pre-training per data set (stage 1). Paper: 30. Default 2.'),
  rounds: int(0).describe('Rounds of batch-wise alternating fine-tuning (stage 2); in a round every data set trains one batch. Default 20.'),
  pretrainLr: lrSchedule.describe('Stage-1 rate, run from start to end for each source in turn. Default constant 1e-3.'),
  finetuneLr: lrSchedule.describe('Stage-2 rate. Default exponential from 1e-3 to 1e-6.'),
});

const optimizer = z.strictObject({
  type: oneOf(['rmsprop', 'adam', 'sgd']).optional().describe('"rmsprop" (the paper\'s, default), "adam" or "sgd" (with momentum and nesterov).'),
  decay: num({ min: 0, max: 1 }).describe('RMSprop decay. Default 0.9.'),
  momentum: num({ min: 0, max: 1 }).describe('RMSprop\'s and SGD\'s momentum. Default 0.'),
  epsilon: num({ greaterThan: 0 }).describe('RMSprop\'s and Adam\'s epsilon. Default 1e-7.'),
  beta1: num({ min: 0, lessThan: 1 }).optional().describe('Adam\'s first-moment decay. Default 0.9.'),
  beta2: num({ min: 0, lessThan: 1 }).optional().describe('Adam\'s second-moment decay. Default 0.999.'),
  nesterov: bool().optional().describe('SGD: Nesterov momentum. Default false.'),
  weightDecay: num({ min: 0 }).optional().describe('L2 weight decay added to the gradients of convolution and dense kernels (not batch norm or biases). Default 0.'),
}) satisfies z.ZodType<OptimizerConfig>;

const scaleRange = z
  .tuple([num({ greaterThan: 0 }), num()], { error: expecting('[min, max]') })
  .superRefine(([lo, hi], ctx) => {
    const r = num({ min: lo }).safeParse(hi);
    if (!r.success) ctx.addIssue({ code: 'custom', path: [1], input: hi, message: r.error.issues[0].message });
  });

const geometry = z.strictObject({
  scale: scaleRange.optional().describe('Zoom factor drawn from [min, max] (> 1 zooms in).'),
  shift: num({ min: 0, max: 1 }).optional().describe('Translation drawn from +-shift times the output size, per axis.'),
  rotationDeg: num({ min: 0, max: 180 }).optional().describe('Rotation drawn from +-rotationDeg degrees.'),
  flip: z.union([z.boolean(), num({ min: 0, max: 1 })], { error: expecting('true, false or a probability from 0 to 1') }).optional().describe('Probability of a horizontal flip (true = 0.5).'),
});

const color = z.strictObject({
  brightness: num({ min: 0 }).optional().describe('Brightness factor drawn from [max(0, 1 - b), 1 + b].'),
  contrast: num({ min: 0 }).optional().describe('Contrast factor drawn from [max(0, 1 - c), 1 + c].'),
  saturation: num({ min: 0 }).optional().describe('Saturation factor drawn from [max(0, 1 - s), 1 + s].'),
});

const augment = z.strictObject({
  geometry: z.union([z.literal(false), geometry], { error: expecting('false or { scale?, shift?, rotationDeg?, flip? }') }).describe('Random scale, rotation, shift and flip of the face crop; false for none.'),
  color: z.union([z.literal(false), color], { error: expecting('false or { brightness?, contrast?, saturation? }') }).describe('Random brightness, contrast and saturation; false for none.'),
}) satisfies z.ZodType<AugmentConfig>;

const crop = z.strictObject({
  margin: num({ greaterThan: -0.5 }).describe('Context added on each side of the face box, as a fraction of its side. Default 0.'),
}) satisfies z.ZodType<CropConfig>;

const checkpoint = z.strictObject({
  everyRounds: int(1).describe('Write a checkpoint every this many stage-2 rounds (and after every stage-1 epoch). Default 10.'),
  keep: int(1).describe('Checkpoints kept besides the best one. Default 2.'),
  validateEpochs: bool().optional().describe('Validate after every stage-1 epoch too. Default false.'),
}) satisfies z.ZodType<CheckpointConfig>;

/**
 * A built-in loss weighting by name (core's loss-weighting.ts). The task names and the number of
 * iteration weights are checked against the run's tasks and network (trainer-config.ts).
 */
export const lossWeightingSchema = z
  .strictObject(
    {
      type: oneOf(['fixed']).describe('"fixed": constant weights per task and, in fine-tuning, per iteration. Every weight 1 (the default) is the paper\'s plain sum (eqns 5 and 6).'),
      tasks: z.record(z.string(), num({ min: 0 })).optional().describe('Weight of each task\'s losses, by task name. Default 1.'),
      iterations: z
        .array(num({ min: 0 }), { error: expecting('a list of weights, one per iteration 0..ITER') })
        .optional()
        .describe('Weight of the losses at each interaction iteration 0..ITER in fine-tuning (network.iterations + 1 of them), times the task weight; pre-training runs iteration 0 alone at the task weight. Default 1 each.'),
    },
    { error: objectError('{ type, tasks?, iterations? }') },
  )
  .meta({ id: 'LossWeighting' }) satisfies z.ZodType<LossWeightingConfig>;

/** The settings of {@link TrainerOptions} with the defaults filled in: what `config.json` records. */
export const trainerSettingsSchema = z.object({
  network,
  schedule: schedule.refine((s) => s.pretrainEpochs > 0 || s.rounds > 0, 'pretrainEpochs and rounds are both 0: nothing to train') satisfies z.ZodType<ScheduleConfig>,
  optimizer,
  augment,
  crop,
  checkpoint,
  seed: seed(),
  evalBatchSize: int(1).optional(),
});

/** A batch size (`batchSize`, `tasks.T.batchSize`). */
export const batchSizeSchema = int(1);

// ---------------------------------------------------------------------------------------------------
// The run-configuration file: the settings (each part optional) and where each task's data is

/**
 * `FORMAT:PATH`, `FORMAT:PATH#SPLIT` or `synthetic:COUNT` -> a {@link DataSpec}. The split is what
 * follows the last `#` (a path holding `#` is given in a config file as `{ format, path }`).
 */
export function parseDataSpec(text: string, field: string): DataSpec {
  const i = text.indexOf(':');
  if (i <= 0) throw new ConfigError(field, `"${text}" is not FORMAT:PATH[#SPLIT] (e.g. mtfl:/data/mtfl, mtfl:/data/mtfl#test, folders:/data/fer2013/train, synthetic:200)`);
  const format = text.slice(0, i);
  let rest = text.slice(i + 1);
  let split: string | undefined;
  const hash = rest.lastIndexOf('#');
  if (hash >= 0) {
    split = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
    if (split === '') throw new ConfigError(field, `"${text}" has no split after "#" (e.g. ${format}:${rest}#test)`);
  }
  if (format === 'synthetic') {
    if (split !== undefined) throw new ConfigError(field, `synthetic data has no splits ("#${split}"): give the test faces with their own synthetic:COUNT`);
    const count = Number(rest);
    if (!Number.isInteger(count) || count < 1) throw new ConfigError(field, `synthetic:COUNT needs a positive integer count, got "${rest}"`);
    return { format, count };
  }
  if (rest === '') throw new ConfigError(field, `"${text}" has no path after "${format}:"`);
  return { format, path: rest, ...(split !== undefined ? { split } : {}) };
}

/** Where a split's data is, as an object: a loader format and a folder, or `synthetic` faces. */
export const dataSpecSchema = z
  .strictObject(
    {
      format: z.string({ error: expecting('a format of the task (mtfl, folders, helen, ...) or "synthetic"') }).describe('A format of the task\'s plugin (mtfl, folders, helen, ...) or "synthetic".'),
      path: z.string().optional().describe('Data-set root (not for synthetic); relative paths are relative to the config file.'),
      split: z.string().optional().describe('Split passed to the loader, where the format has several (FORMAT:PATH#SPLIT in a string).'),
      count: int(1).optional().describe('synthetic: number of faces.'),
      seed: seed().optional().describe('synthetic: seed. Default the run\'s seed.'),
      face: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('synthetic: face options of @ifan/synthetic over those of the task\'s domain (e.g. { "intensity": [1, 1] }: every expression at full strength).'),
      limit: int(1).optional().describe('Use at most this many samples, a seeded random subset (taken before validation and test splits are carved).'),
    },
    { error: objectError('{ format, path }') },
  )
  .superRefine((s, ctx) => {
    if (s.format === 'synthetic' ? s.count === undefined : !s.path) {
      ctx.addIssue({ code: 'custom', path: [s.format === 'synthetic' ? 'count' : 'path'], input: undefined, message: s.format === 'synthetic' ? 'is missing: give the number of synthetic faces' : 'is missing' });
    }
  });

/** Where a split's data is: a loader format and a folder, or `synthetic` faces. */
export type DataSpec = z.infer<typeof dataSpecSchema>;

/** `FORMAT:PATH[#SPLIT]` or `synthetic:COUNT`, checked as {@link parseDataSpec} reads it. */
const dataSpecText = z
  .string()
  .superRefine((text, ctx) => {
    try {
      parseDataSpec(text, '');
    } catch (e) {
      ctx.addIssue({ code: 'custom', input: text, message: (e as ConfigError).reason });
    }
  })
  .describe('FORMAT:PATH[#SPLIT] (e.g. "mtfl:/data/mtfl", "mtfl:/data/mtfl#test", "folders:/data/fer2013/train") or "synthetic:COUNT".');

const data = z
  .union([dataSpecText, dataSpecSchema], { error: expecting('"FORMAT:PATH[#SPLIT]", "synthetic:COUNT" or { format, path }') })
  .meta({ id: 'DataSpec' });

const TASK_SHAPE = '{ train, val?, test?, options?, batchSize?, valFraction?, testFraction? }';

const taskSpec = z.strictObject(
  {
    train: data.describe('Training data: FORMAT:PATH[#SPLIT] (e.g. "mtfl:/data/mtfl"), "synthetic:COUNT", or { format, path, split?, limit? }.'),
    val: data.optional().describe('Validation data. Default: carved out of train (valFraction, by identity where known).'),
    test: data.optional().describe('Test data. Default: carved out of train (testFraction).'),
    options: z.record(z.string(), z.unknown()).optional().describe('Options of the task\'s plugin factory (e.g. parsing\'s labelSet, classWeights: "inverse-sqrt").'),
    batchSize: batchSizeSchema.optional().describe('Batch size of this task. Default the task\'s CPU-sized one (parsing 8, landmarks 16, emotion 24).'),
    valFraction: fraction().optional().describe('This task\'s share of train carved out for validation; default the run\'s valFraction.'),
    testFraction: fraction().optional().describe('This task\'s share of train carved out for testing; default the run\'s testFraction.'),
  },
  { error: objectError(TASK_SHAPE) },
).meta({ id: 'TaskSpec' });

/** A task of a run: where its data is, its plugin's options and batch size. */
export type TaskSpec = z.infer<typeof taskSpec>;

const EXAMPLE_TASKS = '{ "landmarks": { "train": "mtfl:/data/mtfl" } }';

const tasks = z
  .record(z.string(), taskSpec, {
    error: (iss) => (iss.code === 'invalid_type' ? (iss.input === undefined ? `is missing: give at least one task, e.g. ${EXAMPLE_TASKS}` : expecting(`tasks by name, e.g. ${EXAMPLE_TASKS}`)(iss)) : undefined),
  })
  .superRefine((t, ctx) => {
    if (Object.keys(t).length === 0) ctx.addIssue({ code: 'custom', input: t, message: `give at least one task, e.g. ${EXAMPLE_TASKS}` });
    for (const name of Object.keys(t)) {
      try {
        taskEntry(name);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: [name], input: t[name], message: (e as ConfigError).reason });
      }
    }
  })
  .describe(`Each task's data and settings, by task name (built in: ${taskNames().join(', ')}).`);

const partial = <T extends z.ZodRawShape>(o: z.ZodObject<T>, what: string) => o.partial().optional().describe(what);

/** The JSON of `ifan train --config FILE`: the trainer's settings plus where each task's data is; flags override it. */
export const runConfigFileSchema = z.strictObject(
  {
    $schema: z.string().optional().describe('The JSON Schema of this file, for editors (ignored by ifan).'),
    tasks,
    preset: z.enum(PRESETS, { error: expecting(list(PRESETS)) }).optional().describe('Backbone preset: shorthand for network.backbone.'),
    network: partial(network, 'The network (paper 3.1-3.2).'),
    schedule: partial(schedule, 'Algorithm 1\'s two stages and their learning rates.'),
    optimizer: partial(optimizer, 'The optimiser (RMSprop by default) and its hyper-parameters.'),
    augment: z
      .union([z.literal(false), augment.partial()], { error: expecting('false or { geometry?, color? }') })
      .optional()
      .describe('Random augmentation of training batches; false for none. Default: geometry scale [0.9, 1.1], shift 0.05, rotation 10 deg, flip 0.5, colour jitter 0.2.'),
    crop: partial(crop, 'The face crop, the same in training, evaluation and prediction.'),
    checkpoint: partial(checkpoint, 'When checkpoints are written and kept.'),
    lossWeighting: lossWeightingSchema
      .optional()
      .describe('How each step weighs its loss terms (one per task and interaction iteration) before summing them. Default { "type": "fixed" }: every weight 1, the paper\'s plain sum.'),
    init: z
      .string({ error: expecting('a model folder, a run directory or a shipped model\'s name') })
      .optional()
      .describe('Weights to start from instead of a random initialisation (fine-tuning): a model folder, a run directory (its model/) or a shipped model\'s name (ifan-3t); a path is relative to the config file. Its tasks, their weight-shaping options and its backbone must be this run\'s.'),
    seed: seed().optional().describe('Seed of data order, splits and augmentation. Default 1.'),
    evalBatchSize: batchSizeSchema.optional().describe('Batch size of validation and testing. Default 16.'),
    valFraction: fraction().optional().describe('Share of train carved out for validation when val is not given; 0 for none. Default 0.1.'),
    testFraction: fraction().optional().describe('Share of train carved out for testing when test is not given; 0 for none. Default 0.2.'),
    out: z.string({ error: expecting('a path') }).optional().describe('Run directory; relative to the config file.'),
    onError: oneOf(['error', 'skip'])
      .optional()
      .describe('A bad file: "error" (default) stops the run naming it; "skip" leaves it out and lists it (every image is decoded once before training).'),
    limitInputPixels: int(1).optional().describe('Largest image accepted, in pixels (decompression-bomb guard). Default 100000000.'),
  },
  { error: objectError('a JSON object') },
);

/** The JSON of `ifan train --config FILE`: the trainer's settings plus where each task's data is. */
export type RunConfigFile = z.input<typeof runConfigFileSchema>;

/** The JSON Schema of the run-configuration file (`schema/run-config.schema.json`). */
export function runConfigJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(runConfigFileSchema, {
    io: 'input',
    // an integer's implicit safe-integer bounds say nothing to a user
    override: ({ jsonSchema: s }) => {
      if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
      if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
    },
  });
  return { $schema, title: 'ifan train --config FILE', description: 'The run configuration of @ifan/trainer\'s ifan train: the trainer\'s settings and where each task\'s data is.', ...rest };
}
