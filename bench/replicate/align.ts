/**
 * Face alignment for the paper's Table 3 baseline: a similarity transform (rotation, uniform scale,
 * translation) fitted by least squares from a face's 5 points to a canonical template, then the image
 * warped to a square of `size` pixels. The aligned image has no face box: the crop is the whole square.
 */
import { warpImage, type Affine, type Dataset, type LabelledImage, type Sample } from '@ifan/core';

/** Canonical positions of the 5 MTFL points (left eye, right eye, nose, mouth corners) in a unit square. */
export const ALIGN_TEMPLATE: [number, number][] = [
  [0.34, 0.4],
  [0.66, 0.4],
  [0.5, 0.55],
  [0.37, 0.7],
  [0.63, 0.7],
];

/** Least-squares similarity `x' = a x - b y + tx, y' = b x + a y + ty` taking `src` onto `dst`. */
export function similarityTransform(src: readonly [number, number][], dst: readonly [number, number][]): Affine {
  const n = src.length;
  if (n < 2 || dst.length !== n) throw new Error(`similarityTransform: need >= 2 matching points, got ${n} and ${dst.length}`);
  let mx = 0, my = 0, nx = 0, ny = 0;
  for (let i = 0; i < n; i++) {
    mx += src[i][0] / n; my += src[i][1] / n; nx += dst[i][0] / n; ny += dst[i][1] / n;
  }
  let sxx = 0, num_a = 0, num_b = 0;
  for (let i = 0; i < n; i++) {
    const x = src[i][0] - mx, y = src[i][1] - my, u = dst[i][0] - nx, v = dst[i][1] - ny;
    sxx += x * x + y * y;
    num_a += x * u + y * v;
    num_b += x * v - y * u;
  }
  const a = num_a / sxx, b = num_b / sxx;
  return [a, -b, nx - (a * mx - b * my), b, a, ny - (b * mx + a * my)];
}

/** The image aligned by its points to {@link ALIGN_TEMPLATE} in a `size` x `size` square. */
export function alignFace(li: LabelledImage, points: [number, number][], size: number): LabelledImage {
  const dst = ALIGN_TEMPLATE.map(([x, y]) => [x * size, y * size] as [number, number]);
  const m = similarityTransform(points, dst);
  const { faceBox: _drop, ...rest } = li;
  return { ...rest, image: warpImage(li.image, m, size, size) };
}

/**
 * A view of `ds` whose images are aligned by `pointsOf(sample, image)` (ground-truth or predicted
 * points) and which keeps only the labels of `keep`.
 */
export function alignedDataset(
  ds: Dataset,
  size: number,
  pointsOf: (s: Sample, li: LabelledImage) => [number, number][] | Promise<[number, number][]>,
  keep: string[],
): Dataset {
  return {
    ...ds,
    name: `${ds.name}/aligned`,
    tasks: keep,
    samples: ds.samples.map((s): Sample => ({
      ...s,
      load: async () => {
        const li = await s.load();
        const aligned = alignFace(li, await pointsOf(s, li), size);
        return { ...aligned, labels: Object.fromEntries(keep.filter((k) => k in li.labels).map((k) => [k, li.labels[k]])) };
      },
    })),
  };
}
