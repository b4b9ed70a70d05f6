/**
 * The framing of a data set of ready-cropped faces that has no points (FER2013's 48 px crops): finds
 * each face's eyes and mouth with `@ifan/detect` and prints the keypoint box scale that frames a photo's
 * face as the data set's crops frame theirs (what `packages/models/scripts/add-model.ts --keypoint-box-scale` takes).
 *
 *   node --conditions=@ifan/source --import tsx packages/trainer/scripts/measure-framing.ts DIR [--per-folder 40]
 *
 * DIR holds images, or class folders of images (the `folders` layout). Images are enlarged to 192 px for
 * the detector, which finds few faces at 48 px.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_FRAMING, selectBackend } from '@ifan/core';
const KEYPOINT_BOX_SCALE = DEFAULT_FRAMING.keypointBoxScale;
import { createDetector } from '@ifan/detect/node';

const { values, positionals } = parseArgs({ options: { 'per-folder': { type: 'string', default: '40' } }, allowPositionals: true });
if (positionals.length !== 1) throw new Error('measure-framing: give the folder of face crops');
const root = positionals[0];
const perFolder = Number(values['per-folder']);
const isImage = (f: string) => /\.(png|jpe?g|webp)$/i.test(f);
const folders = [root, ...readdirSync(root).map((d) => join(root, d)).filter((d) => statSync(d).isDirectory())];
const files = folders.flatMap((d) => readdirSync(d).filter(isImage).sort().slice(0, perFolder).map((f) => join(d, f)));

await selectBackend({ log: false });
const detector = await createDetector();
const S = 192;
const sides: number[] = [];
for (const file of files) {
  const data = await sharp(file).resize(S, S).removeAlpha().toColourspace('srgb').raw().toBuffer();
  const faces = await detector.detect({ width: S, height: S, channels: 3, data: new Uint8Array(data) }, { minScore: 0.3 });
  // the framing box (side KEYPOINT_BOX_SCALE x the larger of eye distance and eye-to-mouth distance) as a share of the crop
  if (faces.length) sides.push(faces[0].framingBox[2] / S);
}
detector.dispose();
if (!sides.length) throw new Error(`measure-framing: no face found in ${files.length} images`);
sides.sort((a, b) => a - b);
const q = (p: number) => sides[Math.min(sides.length - 1, Math.floor(p * sides.length))];
console.log(
  `${sides.length} of ${files.length} crops with a face: the ${KEYPOINT_BOX_SCALE} box is ${q(0.5).toFixed(3)} of the crop's side (10%-90%: ${q(0.1).toFixed(3)}-${q(0.9).toFixed(3)}); ` +
    `keypoint box scale matching the crops: ${(KEYPOINT_BOX_SCALE / q(0.5)).toFixed(2)}`,
);
