/**
 * The brows: a tapering band along an arch, raised, lowered, arched or pulled together by the
 * expression, with hair texture and soft edges. Left and right brow are classes of their own.
 */
import { CLASS } from '../constants';
import { AT, type Canvas, clamp, draw } from '../raster';
import { valueNoise } from '../rng';
import type { FaceFrame } from './frame';

/** Draws the brows of `face`. */
export function drawBrows(canvas: Canvas, face: FaceFrame): void {
  const { scale: s, id, ex, eyes } = face;
  for (const e of eyes) {
    const x0 = e.sideSign * (id.eyeX + id.browOut);
    const bx = face.proj(x0, 0.64);
    const by = id.eyeY - id.browLift + ex.browRaise + 0.02 * ex.lowerLid;
    const hw = id.browHW;
    const arch = id.browArch + ex.browArch;
    const inner = ex.browInner;
    const th = id.browThick * (1 + 0.1 * ex.frown);
    const toPixel = face.featureFrame(bx, by, e.sideSign, id.browTilt, face.fore(x0));
    const colour = id.brow;
    const seed = id.textureSeed ^ 0xb7;
    const centre = (t: number) => -arch * (1 - t * t) + inner * (1 - t) * 0.5;
    const thick = (t: number) => {
      const x = (t + 1) / 2;
      return th * (1.15 - 0.55 * x * Math.sqrt(x));
    };
    draw(canvas, {
      toPixel,
      bounds: [-hw - 0.01, -arch - th - 0.02 - Math.abs(inner), hw + 0.01, th + 0.02 + Math.abs(inner)],
      scale: s,
      cls: e.sideSign < 0 ? CLASS.leftBrow : CLASS.rightBrow,
      dist() {
        const u = AT[0];
        const v = AT[1];
        const t = clamp(u / hw, -1, 1);
        AT[2] = Math.max(Math.abs(v - centre(t)) - thick(t) / 2, Math.abs(u) - hw);
      },
      paint(out) {
        const u = AT[0];
        const v = AT[1];
        const t = clamp(u / hw, -1, 1);
        const n = valueNoise(u * 110 + v * 40, v * 30, seed);
        const k = 0.8 + 0.45 * n;
        out[0] = colour[0] * k;
        out[1] = colour[1] * k;
        out[2] = colour[2] * k;
        const edge = Math.abs(v - centre(t)) / (thick(t) / 2);
        out[3] = (0.95 - 0.25 * edge * edge) * (1 - 0.3 * ((t + 1) / 2) * ((t + 1) / 2));
      },
    });
  }
}
