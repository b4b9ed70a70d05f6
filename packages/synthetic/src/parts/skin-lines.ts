/**
 * Lines in the skin that expressions deepen: forehead wrinkles, the frown between the brows, the
 * nasolabial folds, and the shadow under the nose. No class of their own (the mask keeps face skin).
 */
import { AT, type Canvas, type Mat, type RGB, type Shape, compose, draw, ellipseDist, frame } from '../raster';
import type { FaceFrame } from './frame';

/** Draws the skin lines of `face` over its head. */
export function drawSkinLines(canvas: Canvas, face: FaceFrame): void {
  const { F, scale: s, id, ex, tipY, mouthY } = face;
  const fw = ex.foreheadWrinkle;
  if (fw > 0.1) {
    for (let k = 0; k < 3; k++) {
      const y = id.eyeY - id.browLift + ex.browRaise - 0.12 - 0.075 * k;
      draw(canvas, arcStroke(compose(F, frame(face.proj(0, 0.7), y, 0)), s, 0.28 - 0.04 * k, 0.5, 0.011, face.shadowSkin(0.7), 0.45 * fw));
    }
  }
  if (ex.frown > 0.1) {
    for (const sg of [-1, 1]) {
      const x = face.proj(sg * 0.045, 0.72);
      const y = id.eyeY - id.browLift + 0.1;
      draw(canvas, arcStroke(compose(F, frame(x, y, Math.PI / 2 + sg * 0.15)), s, 0.055, 0.8, 0.01, face.shadowSkin(0.65), 0.55 * ex.frown));
    }
  }
  const nl = 0.1 + 0.4 * ex.nasolabial + 0.1 * id.stubble;
  for (const sg of [-1, 1]) {
    const x0 = face.proj(sg * (id.noseWing + 0.035), 0.8);
    const y0 = tipY + 0.01;
    const x1 = face.proj(sg * (id.mouthHW * ex.width + 0.045), 0.65);
    const y1 = mouthY - ex.curve * 0.8;
    const len = Math.hypot(x1 - x0, y1 - y0);
    const ang = Math.atan2(y1 - y0, x1 - x0);
    // bulge away from the mouth: the parabola opens towards the face centre
    const k = (ang > -Math.PI / 2 && ang < Math.PI / 2 ? 1 : -1) * sg * -0.9;
    draw(canvas, arcStroke(compose(F, frame((x0 + x1) / 2, (y0 + y1) / 2, ang)), s, len / 2, k, 0.016, face.shadowSkin(0.72), nl));
  }
  const sub = face.shadowSkin(0.6);
  draw(canvas, {
    toPixel: compose(F, frame(face.proj(0, 0.85), tipY + 0.065, 0)),
    bounds: [-0.2, -0.08, 0.2, 0.08],
    scale: s,
    cls: -1,
    dist: () => {
      const u = AT[0];
      const v = AT[1];
      AT[2] = ellipseDist(u, v, id.noseWing * 0.9, 0.032);
    },
    paint(out) {
      const u = AT[0];
      const v = AT[1];
      out[0] = sub[0];
      out[1] = sub[1];
      out[2] = sub[2];
      out[3] = 0.35 * (1 - Math.min(1, (u * u) / (id.noseWing * id.noseWing * 0.8) + (v * v) / 0.001));
    },
  });
}

/** A stroke along the parabola `v = k*u^2` for `|u| < half`, `width` thick, fading at its ends. */
export function arcStroke(toPixel: Mat, scale: number, half: number, k: number, width: number, colour: RGB, alpha: number): Shape {
  const pad = width + Math.abs(k) * half * half;
  return {
    toPixel,
    bounds: [-half - width, -pad, half + width, pad],
    scale,
    cls: -1,
    dist() {
      const u = AT[0];
      const v = AT[1];
      const c = k * u * u;
      const g = 2 * k * u;
      AT[2] = Math.max(Math.abs(v - c) / Math.sqrt(1 + g * g) - width / 2, Math.abs(u) - half);
    },
    paint(out) {
      const u = AT[0];
      out[0] = colour[0];
      out[1] = colour[1];
      out[2] = colour[2];
      const t = u / half;
      out[3] = alpha * Math.sqrt(Math.max(0, 1 - t * t));
    },
  };
}
