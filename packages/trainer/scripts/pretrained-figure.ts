/**
 * The README's picture of the shipped models on a real photo: face-api's MIT-licensed demo photo
 * `sample6.jpg` (committed as docs/photos/sample6.jpg, 1000 px wide; no data set's faces), every face
 * found by `@ifan/detect`, each shipped model's overlay stacked, cropped to the faces
 * (`pretrainedPhoto` of src/pretrained-photo.ts, which `ifan demo` also ends with).
 *
 *   node --conditions=@ifan/source --import tsx packages/trainer/scripts/pretrained-figure.ts [--photo FILE] [--out FILE]
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { selectBackend } from '@ifan/core';
import { decodeImage } from '@ifan/core/node';
import { describeFace, encodeJpeg, pretrainedPhoto } from '../src/pretrained-photo';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { photo: { type: 'string' }, out: { type: 'string' } } });
const photoPath = values.photo ?? join(here, '..', '..', '..', 'docs', 'photos', 'sample6.jpg');
const out = values.out ?? join(here, '..', '..', '..', 'docs', 'pretrained-real-photo.jpg');

await selectBackend({ log: false });
const result = await pretrainedPhoto(await decodeImage(photoPath));
if (!result.picture) throw new Error(`no face found in ${photoPath}`);
await writeFile(out, await encodeJpeg(result.picture, 82));
console.log(`figure: ${result.faces.length} faces, ${result.models.join(' + ')} -> ${out}`);
for (const face of result.faces) console.log(`  ${describeFace(face)}`);
