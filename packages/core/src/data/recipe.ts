import type { Dataset } from './types';

/**
 * The data set of `dataset.samples[i]` for each of `indices`, in that order, named `name`. Its
 * recipe, when `dataset` has one, rebuilds the same samples (`pick` composes over nested subsets).
 */
export function subsetDataset(dataset: Dataset, indices: readonly number[], name = dataset.name): Dataset {
  const n = dataset.samples.length;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`subsetDataset: index ${i} is outside data set "${dataset.name}" (${n} samples)`);
  }
  const { recipe, ...rest } = dataset;
  const parentPick = recipe?.pick;
  return {
    ...rest,
    name,
    samples: indices.map((i) => dataset.samples[i]),
    ...(recipe ? { recipe: { ...recipe, pick: indices.map((i) => (parentPick ? parentPick[i] : i)) } } : {}),
  };
}
