import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/types';
import { formatRegistry } from '../src/node/formats';

const loader = (name: string) => async (root: string, options: { split?: string }): Promise<Dataset> => ({
  name: `${name}:${root}:${options.split ?? 'all'}`,
  tasks: ['t'],
  samples: [],
});

const registry = formatRegistry(
  { kind: 'toy', recipe: { module: 'toy-tasks/node', export: 'loadToyDataset' } },
  { folders: loader('folders'), 'some-csv': loader('some-csv') },
);

describe('formatRegistry', () => {
  it('lists the formats in the order given and dispatches by name with the options', async () => {
    expect(registry.formats).toEqual(['folders', 'some-csv']);
    expect((await registry.loadDataset('some-csv', 'data', { split: 'train' })).name).toBe('some-csv:data:train');
    expect((await registry.loadDataset('folders', 'data')).name).toBe('folders:data:all');
  });

  it('gives the data set a recipe that repeats the call with an absolute root', async () => {
    const options = { split: 'test' };
    const dataset = await registry.loadDataset('folders', 'data', options);
    expect(dataset.recipe).toEqual({ module: 'toy-tasks/node', export: 'loadToyDataset', args: ['folders', resolve('data'), { split: 'test' }] });
    expect(dataset.recipe!.args[2]).not.toBe(options);
    expect((await registry.loadDataset('folders', 'data')).recipe!.args).toEqual(['folders', resolve('data'), {}]);
  });

  it('rejects an unknown format, naming it and the known ones', async () => {
    const unknown = 'unknown toy data set format';
    await expect(registry.loadDataset('nope', 'data')).rejects.toThrow(`${unknown} "nope"; known: folders, some-csv`);
    // names an object has but the registry does not list are unknown too
    for (const name of ['toString', '__proto__', 'constructor']) await expect(registry.loadDataset(name, 'data')).rejects.toThrow(`${unknown} "${name}"`);
  });

  it('turns a loader that throws at once into a rejection', async () => {
    const strict = formatRegistry({ kind: 'toy', recipe: { module: 'm', export: 'e' } }, {
      picky: (): Promise<Dataset> => {
        throw new Error('picky needs options.labelSet');
      },
    });
    const pending = strict.loadDataset('picky', 'data');
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toThrow('picky needs options.labelSet');
  });
});
