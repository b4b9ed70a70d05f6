import type { RawImage } from './data/types';
import type { TaskPlugin } from './plugin';

/**
 * One picture for all tasks: applies each plugin's `visualize` in turn (plugins in the given order,
 * those without `visualize` or without a result skipped) to a copy of the image. Results must be in the
 * image's own coordinates (`decodeOutput` with the image's transform).
 */
export function composeOverlays(image: RawImage, results: Record<string, unknown>, plugins: readonly TaskPlugin[]): RawImage {
  let out: RawImage = { ...image, data: new Uint8Array(image.data) };
  for (const p of plugins) {
    const r = results[p.name];
    if (r === undefined || !p.visualize) continue;
    out = p.visualize(out, r);
  }
  return out;
}
