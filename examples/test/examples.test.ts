import { describe, expect, it } from 'vitest';
import { trainWithAttributes } from '../custom-task/train-with-attributes';
import { trainLandmarksAndParsing } from '../train-landmarks-parsing';

// Both examples end to end on a handful of synthetic faces: written in the real layouts, read by the
// real loaders, trained with the hybrid strategy and evaluated with each task's metric.
describe('examples', () => {
  it('trains and evaluates landmarks + parsing (2T)', async () => {
    const { result, markdown } = await trainLandmarksAndParsing({ count: 20, preset: 'tiny', pretrainEpochs: 1, rounds: 2, progress: false });
    expect(Object.keys(result.tasks).sort()).toEqual(['landmarks', 'parsing']);
    expect(result.tasks.parsing.images).toBe(4);
    expect(result.tasks.landmarks.reports.length).toBe(2);
    expect(Number.isFinite(result.tasks.landmarks.reports[1].primary.value)).toBe(true);
    expect(markdown).toMatch(/iFAN 2T Iter1/);
  });

  it('trains a custom plugin with the three built-in tasks, MTFL labelling two tasks at once', async () => {
    const { result, sources } = await trainWithAttributes({ count: 20, preset: 'tiny', pretrainEpochs: 1, rounds: 1, progress: false });
    expect(sources.find((s) => s.tasks.includes('attributes'))?.tasks.sort()).toEqual(['attributes', 'landmarks']);
    expect(Object.keys(result.tasks).sort()).toEqual(['attributes', 'emotion', 'landmarks', 'parsing']);
    const acc = result.tasks.attributes.reports[0].primary.value;
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
  });
});
