/**
 * Writes the detector tests' pictures to test/fixtures/ (JPEG, quality 92; committed: the tests never regenerate them, so
 * a change to the synthetic generator does not move them) from `@ifan/synthetic` faces, which are
 * ours to commit, with the faces' true eye and mouth points in fixtures.json:
 *
 *   one-face.jpg      160 x 160, one frontal face
 *   three-faces.jpg   480 x 240, three faces of different sizes, the right one turned by 20 degrees
 *   tilted-face.jpg   200 x 200, one face turned by 25 degrees (clockwise on screen)
 *   no-face.jpg       200 x 150, gradient, discs and noise: no face
 *
 *   pnpm --filter @ifan/detect exec node --conditions=@ifan/source --import tsx scripts/make-fixtures.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyAffine, composeAffine, Rng, rotation, scaling, translation, warpImage, warpLabelMap, type Affine, type RawImage } from '@ifan/core';
import { encodeJpeg, generateFace } from '@ifan/synthetic/node';

type P = [number, number];
interface Truth {
  leftEye: P;
  rightEye: P;
  mouth: P;
}

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures');
const rng = new Rng(1414);
const frontal = { pose: { maxRoll: 0, maxYaw: 0 }, occlusion: 0, glasses: 0 };

function background(width: number, height: number, discs = 0): RawImage {
  const data = new Uint8Array(width * height * 3);
  const c0 = [70, 110, 150];
  const c1 = [190, 170, 120];
  const spots = Array.from({ length: discs }, () => ({ x: rng.next() * width, y: rng.next() * height, r: 8 + rng.next() * 30, c: [0, 1, 2].map(() => 255 * rng.next()) }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      const o = 3 * (y * width + x);
      const spot = spots.find((s) => (x - s.x) ** 2 + (y - s.y) ** 2 < s.r ** 2);
      for (let k = 0; k < 3; k++) data[o + k] = Math.max(0, Math.min(255, Math.round((spot ? spot.c[k] : c0[k] * (1 - t) + c1[k] * t) + 10 * (rng.next() - 0.5))));
    }
  }
  return { width, height, channels: 3, data };
}

function truthOf(points: P[], a: Affine = [1, 0, 0, 0, 1, 0]): Truth {
  const [le, re, , ml, mr] = points.map(([x, y]) => applyAffine(a, x, y));
  return { leftEye: le, rightEye: re, mouth: [(ml[0] + mr[0]) / 2, (ml[1] + mr[1]) / 2] };
}

/** Pastes `tile` into `canvas` through `a` (tile -> canvas pixels). */
function paste(canvas: RawImage, tile: RawImage, a: Affine): void {
  const warped = warpImage(tile, a, canvas.width, canvas.height);
  const ones = { width: tile.width, height: tile.height, data: new Uint8Array(tile.width * tile.height).fill(1) };
  const mask = warpLabelMap(ones, a, canvas.width, canvas.height);
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) for (let k = 0; k < 3; k++) canvas.data[3 * i + k] = warped.data[3 * i + k];
}

const truth: Record<string, Truth[]> = {};

const one = generateFace(3, { size: 160, ...frontal });
writeFileSync(join(out, 'one-face.jpg'), await encodeJpeg(one.image));
truth['one-face.jpg'] = [truthOf(one.labels.landmarks!.points)];

const three = background(480, 240);
truth['three-faces.jpg'] = [];
for (const [seed, size, cx, cy, deg] of [
  [2, 150, 90, 120, 0],
  [12, 120, 240, 110, 0],
  [13, 110, 390, 125, 20],
] as const) {
  const f = generateFace(seed, { size, ...frontal });
  const a = composeAffine(translation(-size / 2, -size / 2), rotation((deg * Math.PI) / 180), translation(cx, cy));
  paste(three, f.image, a);
  truth['three-faces.jpg'].push(truthOf(f.labels.landmarks!.points, a));
}
writeFileSync(join(out, 'three-faces.jpg'), await encodeJpeg(three));

const tilted = background(200, 200);
const t = generateFace(21, { size: 150, ...frontal });
const ta = composeAffine(translation(-75, -75), scaling(1), rotation((25 * Math.PI) / 180), translation(100, 100));
paste(tilted, t.image, ta);
writeFileSync(join(out, 'tilted-face.jpg'), await encodeJpeg(tilted));
truth['tilted-face.jpg'] = [truthOf(t.labels.landmarks!.points, ta)];

writeFileSync(join(out, 'no-face.jpg'), await encodeJpeg(background(200, 150, 12)));
truth['no-face.jpg'] = [];

writeFileSync(join(out, 'fixtures.json'), `${JSON.stringify(truth, (_, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v), 2)}\n`);
console.log(`wrote ${Object.keys(truth).join(', ')} to ${out}`);
