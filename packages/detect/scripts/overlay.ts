/**
 * Draws what the detector finds on a picture: the detector's box (grey), the framing box the models are
 * trained on (green), the aligned crop (yellow, turned by the roll) and the keypoints (eyes red, nose
 * blue, mouth magenta, ears cyan). Writes a PNG, or a JPEG when OUT ends in .jpg.
 *
 *   node --conditions=@ifan/source --import tsx scripts/overlay.ts IN OUT.png
 */
import { writeFileSync } from 'node:fs';
import { applyAffine, invertTransform, selectBackend, type RawImage } from '@ifan/core';
import { decodeImage, encodePng } from '@ifan/core/node';
import { encodeJpeg } from '@ifan/synthetic/node';
import { createDetector, faceTransform } from '../src/node';

const [input, output] = process.argv.slice(2);
await selectBackend({ log: false });
const image = await decodeImage(input);
const detector = await createDetector();
const faces = await detector.detect(image);
detector.dispose();
const out: RawImage = { ...image, data: Uint8Array.from(image.data) };

function dot(x: number, y: number, c: number[], r = 1): void {
  for (let j = Math.floor(y - r); j <= Math.ceil(y + r); j++) {
    for (let i = Math.floor(x - r); i <= Math.ceil(x + r); i++) {
      if (i < 0 || j < 0 || i >= out.width || j >= out.height || (i + 0.5 - x) ** 2 + (j + 0.5 - y) ** 2 > r * r + 0.5) continue;
      out.data.set(c, 3 * (j * out.width + i));
    }
  }
}
function line(a: [number, number], b: [number, number], c: number[]): void {
  const n = Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) * 2);
  for (let k = 0; k <= n; k++) dot(a[0] + ((b[0] - a[0]) * k) / n, a[1] + ((b[1] - a[1]) * k) / n, c, 0.6);
}
function polygon(ps: [number, number][], c: number[]): void {
  ps.forEach((p, k) => line(p, ps[(k + 1) % ps.length], c));
}
const corners = ([x, y, w, h]: number[]): [number, number][] => [[x, y], [x + w, y], [x + w, y + h], [x, y + h]];

for (const f of faces) {
  polygon(corners(f.box), [160, 160, 160]);
  polygon(corners(f.framingBox), [40, 220, 60]);
  const t = faceTransform(f, [image.width, image.height], { size: 64, align: true });
  const back = invertTransform(t).affine;
  polygon(corners([0, 0, 64, 64]).map(([x, y]) => applyAffine(back, x, y)), [250, 210, 40]);
  const k = f.keypoints;
  for (const [p, c] of [[k.leftEye, [230, 40, 40]], [k.rightEye, [230, 40, 40]], [k.nose, [40, 90, 240]], [k.mouth, [220, 40, 220]], [k.leftEar, [40, 220, 220]], [k.rightEar, [40, 220, 220]]] as const) dot(p[0], p[1], [...c], 2);
}
writeFileSync(output, output.endsWith('.jpg') ? await encodeJpeg(out, 90) : await encodePng(out));
console.log(`${faces.length} face(s): ${faces.map((f) => `score ${f.score.toFixed(2)}, roll ${((f.roll * 180) / Math.PI).toFixed(1)} deg`).join('; ')} -> ${output}`);
