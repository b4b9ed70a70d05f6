import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runConfigJsonSchema } from '../src/config-schema';
import { ConfigError } from '../src/errors';
import { checkRunConfig } from '../src/run-config';
import { firstDifference } from '../src/trainer-config';

const experiments = fileURLToPath(new URL('../../../reports/experiments', import.meta.url));

describe('the run-configuration schema', () => {
  it('schema/run-config.schema.json is the JSON Schema of the zod schema (stale: npx vitest run test/config-schema.test.ts -u)', async () => {
    await expect(`${JSON.stringify(runConfigJsonSchema(), null, 2)}\n`).toMatchFileSnapshot('../schema/run-config.schema.json');
  });

  it("accepts the repository's experiment configs", () => {
    const files = readdirSync(experiments).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(() => checkRunConfig(JSON.parse(readFileSync(join(experiments, f), 'utf8'))), f).not.toThrow();
  });

  const t = { emotion: { train: 'synthetic:10' } };
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 'x', /^\(config\): must be a JSON object, got "x"/],
    ['no tasks', {}, /^tasks: is missing: give at least one task/],
    ['unknown task', { tasks: { poses: { train: 'synthetic:3' } } }, /^tasks\.poses: unknown task "poses": known tasks are parsing, landmarks, emotion/],
    ['unknown nested setting', { tasks: t, schedule: { epochz: 3 } }, /^schedule\.epochz: unknown setting; known settings are pretrainEpochs, rounds, pretrainLr, finetuneLr/],
    ['data spec text', { tasks: { emotion: { train: 'mtfl:/tmp#' } } }, /^tasks\.emotion\.train: "mtfl:\/tmp#" has no split after "#"/],
    ['data spec object without a path', { tasks: { emotion: { train: { format: 'mtfl' } } } }, /^tasks\.emotion\.train\.path: is missing/],
    ['synthetic data without a count', { tasks: { emotion: { train: { format: 'synthetic' } } } }, /^tasks\.emotion\.train\.count: is missing/],
    ['neither text nor object', { tasks: { emotion: { train: 3 } } }, /^tasks\.emotion\.train: must be "FORMAT:PATH\[#SPLIT\]", "synthetic:COUNT" or \{ format, path \}, got 3/],
    ['learning-rate type', { tasks: t, schedule: { pretrainLr: { type: 'cosin', from: 1 } } }, /^schedule\.pretrainLr\.type: must be "constant", "linear", "exponential" or "cosine", got "cosin"/],
    ['backbone layout', { tasks: t, network: { backbone: { inputSize: 100, blocks: 3, layersPerBlock: 2, growthRate: 4, stemChannels: 8 } } }, /^network\.backbone\.inputSize: 100 is not divisible by 2\^blocks = 8/],
    ['depths per block, not one per block', { tasks: t, network: { backbone: { inputSize: 64, blocks: 4, layersPerBlock: [2, 3, 4], growthRate: 4, stemChannels: 8 } } }, /^network\.backbone\.layersPerBlock: 3 depths for 4 blocks: give one per block, or one number for all/],
    ['a depth that is not a positive integer', { tasks: t, network: { backbone: { inputSize: 64, blocks: 2, layersPerBlock: [2, 0], growthRate: 4, stemChannels: 8 } } }, /^network\.backbone\.layersPerBlock\[1\]: must be an integer from 1, got 0/],
    ['depths neither a number nor a list', { tasks: t, network: { backbone: { inputSize: 64, blocks: 2, layersPerBlock: '2', growthRate: 4, stemChannels: 8 } } }, /^network\.backbone\.layersPerBlock: must be a positive integer, or one per block \(\[2, 3, 4, 6\]\), got "2"/],
    ['augmentation', { tasks: t, augment: true }, /^augment: must be false or \{ geometry\?, color\? \}, got true/],
    ['not a finite number', { tasks: t, seed: Infinity }, /^seed: must be an integer from 0 to 4294967295, got Infinity/],
    ['a colour that is neither rgb nor grey', { tasks: t, network: { colour: 'gray' } }, /^network\.colour: must be "rgb", "grey" or one of them per batch-norm key \(\{ "emotion": "grey" \}\), got "gray"$/],
    ['a colour that is not a string or an object', { tasks: t, network: { colour: 3 } }, /^network\.colour: must be "rgb", "grey" or one of them per batch-norm key \(\{ "emotion": "grey" \}\), got 3$/],
    ['a bad colour of one batch-norm key', { tasks: t, network: { colour: { parsing: 'rgb', emotion: 'gray' } } }, /^network\.colour\.emotion: must be "rgb" or "grey", got "gray"$/],
    ['loss weighting by an unknown name', { tasks: t, lossWeighting: { type: 'equal' } }, /^lossWeighting\.type: must be "fixed", got "equal"/],
    ['loss weighting not an object', { tasks: t, lossWeighting: 'sum' }, /^lossWeighting: must be \{ type, tasks\?, iterations\? \}, got "sum"/],
    ['a negative task weight', { tasks: t, lossWeighting: { type: 'fixed', tasks: { emotion: -1 } } }, /^lossWeighting\.tasks\.emotion: must be a finite number >= 0, got -1/],
    ['iteration weights not a list', { tasks: t, lossWeighting: { type: 'fixed', iterations: 2 } }, /^lossWeighting\.iterations: must be a list of weights, one per iteration 0\.\.ITER, got 2/],
    ['an optimiser by an unknown name', { tasks: t, optimizer: { type: 'lamb' } }, /^optimizer\.type: must be "rmsprop", "adam" or "sgd", got "lamb"/],
    ['an Adam beta of 1 (its bias correction would divide by 0)', { tasks: t, optimizer: { type: 'adam', beta1: 1 } }, /^optimizer\.beta1: must be a finite number >= 0 and < 1, got 1/],
    ['a negative weight decay', { tasks: t, optimizer: { type: 'adam', weightDecay: -1e-4 } }, /^optimizer\.weightDecay: must be a finite number >= 0, got -0\.0001/],
    ['an unknown loss-weighting setting', { tasks: t, lossWeighting: { type: 'fixed', weights: {} } }, /^lossWeighting\.weights: unknown setting; known settings are type, tasks, iterations/],
  ];
  it.each(cases)('names the field: %s', (_name, config, message) => {
    let error: unknown;
    try {
      checkRunConfig(config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });

  it('lists every wrong field, the first one as the error\'s field', () => {
    try {
      checkRunConfig({ tasks: t, preset: 'huge', out: 3, schedule: { rounds: -1, finetuneLr: { type: 'exponential', from: 1e-3, to: 0 } } });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).field).toBe('preset');
      expect((e as Error).message.split('\n')).toEqual([
        'preset: must be "paper", "small" or "tiny", got "huge"',
        '  also schedule.rounds: must be an integer from 0, got -1',
        '  also schedule.finetuneLr.to: must be a finite number > 0, got 0',
        '  also out: must be a path, got 3',
      ]);
    }
  });

  it('accepts network.colour as "rgb", "grey" or one of them per batch-norm key', () => {
    expect(checkRunConfig({ tasks: t, network: { colour: 'grey' } }).network?.colour).toBe('grey');
    expect(checkRunConfig({ tasks: t, network: { colour: { emotion: 'grey', parsing: 'rgb' } } }).network?.colour).toEqual({ emotion: 'grey', parsing: 'rgb' });
  });

  it('accepts the optimiser by name with its own settings', () => {
    expect(checkRunConfig({ tasks: t, optimizer: { type: 'adam', beta2: 0.99, weightDecay: 1e-4 } }).optimizer).toEqual({ type: 'adam', beta2: 0.99, weightDecay: 1e-4 });
    expect(checkRunConfig({ tasks: t, optimizer: { type: 'sgd', momentum: 0.9, nesterov: true } }).optimizer).toEqual({ type: 'sgd', momentum: 0.9, nesterov: true });
  });

  it('a constant learning rate drops its unused final rate, as before', () => {
    const c = checkRunConfig({ tasks: t, schedule: { pretrainLr: { type: 'constant', from: 1e-3, to: 5 } } });
    expect(c.schedule?.pretrainLr).toEqual({ type: 'constant', from: 1e-3 });
  });

  it('resume compares configurations whatever the order of their keys', () => {
    expect(firstDifference({ network: { iterations: 1, seed: 2 } }, { network: { seed: 2, iterations: 1 } })).toBeNull();
    expect(firstDifference({ network: { iterations: 1, seed: 2 } }, { network: { seed: 3, iterations: 1 } })).toBe('network.seed');
  });
});
