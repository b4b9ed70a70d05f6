/**
 * The README's picture of the shipped models on a real photo: face-api's MIT-licensed demo photo
 * `sample6.jpg` (installed with the bench's `@vladmandic/face-api`; no data set's faces), every face
 * found by `@ifan/detect`, each shipped single-task model's overlay stacked, cropped to the faces.
 *
 *   node --conditions=@ifan/source --import tsx packages/trainer/scripts/pretrained-figure.ts [--photo FILE] [--out FILE]
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { selectBackend } from '@ifan/core';
import { decodeImage } from '@ifan/core/node';
import { createDetector } from '@ifan/detect/node';
import { loadPretrained, PRETRAINED } from '@ifan/models/node';
import { analyzeFaces } from '../src/faces';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { photo: { type: 'string' }, out: { type: 'string' } } });
const photoPath =
  values.photo ?? join(dirname(createRequire(join(here, '..', '..', '..', 'bench', 'package.json')).resolve('@vladmandic/face-api')), '..', 'demo', 'sample6.jpg');
const out = values.out ?? join(here, '..', '..', '..', 'docs', 'pretrained-real-photo.jpg');

await selectBackend({ log: false });
const photo = await decodeImage(photoPath);
const detector = await createDetector();
const faces = await detector.detect(photo);
if (faces.length === 0) throw new Error(`no face found in ${photoPath}`);
const analyses: { overlay: NonNullable<Awaited<ReturnType<typeof analyzeFaces>>['overlay']>; crops: number[][][] }[] = [];
for (const info of PRETRAINED) {
  const model = await loadPretrained(info.name);
  const result = await analyzeFaces(photo, { model, boxes: faces.map((f) => f.framingBox) });
  model.net.dispose();
  analyses.push({ overlay: result.overlay!, crops: result.faces.map((f) => f.crop) });
}
// the rows show every model's face crops and a little around them, with room above for the labels
// (each model frames a face its own way: the emotion model more loosely than the others)
const corners = analyses.flatMap((a) => a.crops.flat());
const side = Math.max(...faces.map((f) => f.box[2]));
const pad = 0.1 * side;
const left = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0])) - pad));
const top = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1])) - pad - 0.15 * side));
const width = Math.min(photo.width, Math.ceil(Math.max(...corners.map((c) => c[0])) + pad)) - left;
const height = Math.min(photo.height, Math.ceil(Math.max(...corners.map((c) => c[1])) + pad)) - top;
const rows: Buffer[] = [];
const W = 1000;
for (const { overlay } of analyses) {
  rows.push(
    await sharp(Buffer.from(overlay.data), { raw: { width: overlay.width, height: overlay.height, channels: 3 } })
      .extract({ left, top, width, height })
      .resize(W)
      .png()
      .toBuffer(),
  );
}
detector.dispose();
const heights = await Promise.all(rows.map(async (r) => (await sharp(r).metadata()).height!));
let y = 0;
await sharp({ create: { width: W, height: heights.reduce((a, h) => a + h, 0), channels: 3, background: { r: 255, g: 255, b: 255 } } })
  .composite(rows.map((r, i) => ({ input: r, left: 0, top: (y += i ? heights[i - 1] : 0) })))
  .jpeg({ quality: 82 })
  .toFile(out);
console.log(`figure: ${faces.length} faces, ${PRETRAINED.map((m) => m.name).join(' + ')} -> ${out}`);
