import { describe, expect, it } from 'vitest';
import { CLASS, generateFace } from '../src/index';
import type { SyntheticFace } from '../src/index';

const MOUTH = new Set<number>([CLASS.upperLip, CLASS.innerMouth, CLASS.lowerLip]);

function classAt(face: SyntheticFace, [x, y]: [number, number]): number {
  const { width, data } = face.labels.parsing!.mask;
  return data[Math.floor(y) * width + Math.floor(x)];
}

/** Chebyshev distance in pixels from the point's pixel to the nearest pixel of one of `classes`. */
function nearest(face: SyntheticFace, [x, y]: [number, number], classes: Set<number>, radius: number): number {
  const { width, height, data } = face.labels.parsing!.mask;
  const px = Math.floor(x);
  const py = Math.floor(y);
  for (let r = 0; r <= radius; r++) {
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        if (Math.max(Math.abs(dx), Math.abs(dy)) !== r) continue;
        const qx = px + dx;
        const qy = py + dy;
        if (qx >= 0 && qy >= 0 && qx < width && qy < height && classes.has(data[qy * width + qx])) return r;
      }
    }
  }
  return Infinity;
}

function checkFace(face: SyntheticFace) {
  const p = face.labels.landmarks!.points;
  const vis = face.attributes.visible;
  // image-left first, as MTFL lists them
  expect(p[0][0]).toBeLessThan(p[1][0]);
  expect(p[3][0]).toBeLessThan(p[4][0]);
  if (vis[0]) expect(classAt(face, p[0])).toBe(CLASS.leftEye);
  if (vis[1]) expect(classAt(face, p[1])).toBe(CLASS.rightEye);
  if (vis[2]) expect(classAt(face, p[2])).toBe(CLASS.nose);
  if (vis[3]) expect(nearest(face, p[3], MOUTH, 2)).toBeLessThanOrEqual(2);
  if (vis[4]) expect(nearest(face, p[4], MOUTH, 2)).toBeLessThanOrEqual(2);
}

describe('labels come from the geometry that drew the picture', () => {
  it('puts every landmark on its part (no occluders)', () => {
    for (let seed = 0; seed < 80; seed++) {
      const face = generateFace(seed, { size: 128, occlusion: 0 });
      expect(face.attributes.visible.every(Boolean)).toBe(true);
      checkFace(face);
    }
  });

  it('puts every visible landmark on its part with occluders and strong poses', () => {
    let hidden = 0;
    for (let seed = 0; seed < 80; seed++) {
      const face = generateFace(1000 + seed, { size: 112, occlusion: 0.6, pose: { maxRoll: 25, maxYaw: 30 } });
      hidden += face.attributes.visible.filter((v) => !v).length;
      checkFace(face);
    }
    expect(hidden).toBeGreaterThan(0);
  });

  it('labels every Helen class somewhere and nothing outside 0..10', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 30; seed++) {
      const f = generateFace(seed, { size: 96, expression: seed % 2 ? 'surprise' : 'fear' });
      for (const c of f.labels.parsing!.mask.data) seen.add(c);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('keeps the face box around the landmarks', () => {
    for (let seed = 0; seed < 40; seed++) {
      const f = generateFace(seed, { size: 96 });
      const [x, y, w, h] = f.faceBox;
      for (const [px, py] of f.labels.landmarks!.points) {
        expect(px).toBeGreaterThan(x);
        expect(px).toBeLessThan(x + w);
        expect(py).toBeGreaterThan(y);
        expect(py).toBeLessThan(y + h);
      }
    }
  });
});
