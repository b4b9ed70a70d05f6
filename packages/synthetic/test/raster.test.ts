import { describe, expect, it } from 'vitest';
import { AT, Canvas, SPAN_D, SPAN_RGB, SPAN_U, SPAN_V, type Shape, draw, ellipseDist, frame } from '../src/raster';

/** A tilted ellipse, 30 by 18 pixels (15 pixels a local unit), shaded across: its colour at a local point. */
const scale = 15;
const colour = (u: number, v: number, c: number) => [200 * (0.5 + 0.4 * u), 120 + 60 * v, 80][c];
const base = { toPixel: frame(24, 20, 0.4, scale, scale), bounds: [-1.05, -0.65, 1.05, 0.65] as [number, number, number, number], scale, cls: 3, lipschitz: 1.2 };

/** A grey canvas with a class-1 band, so that blending and the mask show. */
function canvas(): Canvas {
  const c = new Canvas(48, 40);
  c.rgb.fill(90);
  c.mask.fill(1, 0, 48 * 20);
  return c;
}

describe('draw', () => {
  for (const opacity of [1, 0.55]) {
    it(`a shape with its own loops (distSpan, colourSpan) draws what the same shape one point at a time does, opacity ${opacity}, and colours only the pixels it covers`, () => {
      const onePoint: Shape = {
        ...base,
        dist() {
          AT[2] = ellipseDist(AT[0], AT[1], 1, 0.6);
        },
        paint(out) {
          for (let c = 0; c < 3; c++) out[c] = colour(AT[0], AT[1], c);
          out[3] = Math.fround(opacity);
        },
      };
      let coloured = 0;
      let farthest = -Infinity;
      const ownLoops: Shape = {
        ...base,
        opacity: Math.fround(opacity),
        distSpan(n) {
          for (let k = 0; k < n; k++) SPAN_D[k] = ellipseDist(SPAN_U[k], SPAN_V[k], 1, 0.6);
        },
        colourSpan(n) {
          for (let k = 0; k < n; k++) {
            for (let c = 0; c < 3; c++) SPAN_RGB[3 * k + c] = colour(SPAN_U[k], SPAN_V[k], c);
            farthest = Math.max(farthest, ellipseDist(SPAN_U[k], SPAN_V[k], 1, 0.6) * scale);
          }
          coloured += n;
        },
      };
      const a = canvas();
      const b = canvas();
      draw(a, onePoint);
      draw(b, ownLoops);
      expect(Array.from(b.rgb)).toEqual(Array.from(a.rgb));
      expect(Array.from(b.mask)).toEqual(Array.from(a.mask));
      // every pixel it changed was coloured, and nothing else: no colour is worked out for a pixel outside
      const changed = Array.from({ length: 48 * 40 }, (_, i) => i).filter((i) => [0, 1, 2].some((c) => a.rgb[3 * i + c] !== 90));
      expect(changed.length).toBeGreaterThan(300);
      expect(coloured).toBe(changed.length);
      expect(farthest).toBeLessThan(0.5);
      expect(b.mask.filter((m) => m === 3).length).toBeGreaterThan(300);
    });
  }
});
