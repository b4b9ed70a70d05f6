/**
 * The mouth: upper lip with its bow, the opening (dark, teeth or tongue) and the lower lip with a
 * highlight, shaped by the expression (corners up or down, open, narrowed, one side raised). Upper
 * lip, inner mouth and lower lip are classes of their own; the corners are the mouth landmarks.
 */
import { CLASS } from '../constants';
import { AT, type Canvas, apply, draw, smoothstep } from '../raster';
import { valueNoise } from '../rng';
import type { FaceFrame } from './frame';

/** `x^(5/8)` for x >= 0, without `Math.pow` (which is slow in hot paths). */
const pow58 = (x: number) => Math.sqrt(x) * Math.sqrt(Math.sqrt(Math.sqrt(x)));
/** `x^(3/8)`. */
const pow38 = (x: number) => Math.sqrt(Math.sqrt(x * Math.sqrt(x)));
/** A smooth bump: 1 at 0 falling to 0 at |x| = 1 (a cheap stand-in for a Gaussian). */
const bump = (x: number) => {
  const q = 1 - x * x;
  return q > 0 ? q * q : 0;
};

/** Draws the mouth of `face`; returns its corners in pixels, image-left first. */
export function drawMouth(canvas: Canvas, face: FaceFrame): [number, number][] {
  const { scale: s, id, ex, mouthX, mouthY, mouthK } = face;
  const hw = id.mouthHW * ex.width;
  const curve = id.restCurve + ex.curve;
  const open = ex.open;
  const raise = ex.upperRaise;
  const upperT = id.upperT * ex.lips;
  const lowerT = id.lowerT * ex.lips * (1 + 0.3 * Math.max(0, -ex.curve) / 0.065 * 0.5);
  const round = ex.width < 0.9;
  const toPixel = face.featureFrame(mouthX, mouthY, 1, 0, mouthK);
  const lip = id.lip;
  const aaW = 0.7 / s;
  const teeth = ex.teeth;
  const seed = id.textureSeed ^ 0x91;
  const shadeM = face.shade(mouthX, mouthY);
  const bend = (t: number) => -curve * t * t;
  const gap = (t: number) => {
    const q = 1 - t * t;
    return q <= 0 ? 0 : open * (round ? Math.sqrt(q) : pow58(q));
  };
  const lift = (t: number) => {
    const q = 1 - t * t;
    return q <= 0 ? 0 : Math.max(0, Math.sign(raise) * t) * Math.abs(raise) * Math.sqrt(Math.sqrt(q));
  };
  const upperInner = (t: number) => bend(t) - 0.4 * gap(t) - lift(t);
  const lowerInner = (t: number) => bend(t) + 0.6 * gap(t);
  const upperThick = (t: number) => {
    const q = 1 - t * t;
    if (q <= 0) return 0;
    const at = Math.abs(t);
    const bow = 0.78 + 0.32 * bump((at - 0.28) / 0.34) - 0.22 * bump(t / 0.15);
    return upperT * bow * pow38(q);
  };
  const lowerThick = (t: number) => {
    const q = 1 - t * t;
    return q <= 0 ? 0 : lowerT * Math.sqrt(q);
  };
  const top = -Math.max(0, curve) - 0.4 * open - Math.abs(raise) - upperT * 1.2 - 0.01;
  const bottom = Math.max(0, -curve) + 0.6 * open + lowerT + 0.01;
  draw(canvas, {
    toPixel,
    bounds: [-hw - 0.01, top, hw + 0.01, bottom],
    scale: s,
    cls: CLASS.upperLip,
    dist() {
      const u = AT[0];
      const v = AT[1];
      const t = u / hw;
      if (t <= -1 || t >= 1) {
        const du = Math.abs(u) - hw;
        const dv = v + curve;
        AT[2] = Math.sqrt(du * du + dv * dv);
        return;
      }
      const ui = upperInner(t);
      const li = lowerInner(t);
      AT[2] = Math.max(ui - upperThick(t) - v, v - li - lowerThick(t), Math.abs(u) - hw);
    },
    classAt() {
      const u = AT[0];
      const v = AT[1];
      const t = u / hw;
      if (v < upperInner(t)) return CLASS.upperLip;
      if (v < lowerInner(t)) return CLASS.innerMouth;
      return CLASS.lowerLip;
    },
    paint(out) {
      const u = AT[0];
      const v = AT[1];
      const t = u / hw;
      const ui = upperInner(t);
      const li = lowerInner(t);
      const a1 = smoothstep(ui - aaW, ui + aaW, v);
      const a2 = smoothstep(li - aaW, li + aaW, v);
      const corner = 1 - 0.35 * smoothstep(0.75, 1, Math.abs(t));
      // upper lip darker, lower lip with a highlight
      const lt = lowerThick(t);
      const hl = lt > 0 ? bump((v - li - lt * 0.4) / (lt * 0.5 + 1e-6)) : 0;
      const line = 1 - 0.45 * bump((v - (ui + li) / 2) / (aaW * 2 + 0.009));
      const ku = 0.82 * corner * line * shadeM;
      const kl = (1 + 0.14 * hl) * corner * line * shadeM;
      let ir = 48;
      let ig = 16;
      let ib = 18;
      const g = li - ui;
      if (a1 > 0 && a2 < 1 && g > 0) {
        const th = Math.min(0.04, 0.45 * g);
        const tooth = 0.88 + 0.12 * smoothstep(0.1, 0.3, Math.abs(((u / 0.036) % 1 + 1) % 1 - 0.5));
        const tc = (1 - 0.45 * smoothstep(0.45, 0.95, Math.abs(t))) * tooth;
        if (teeth >= 1 && v < ui + th) {
          ir = 230 * tc;
          ig = 224 * tc;
          ib = 208 * tc;
        } else if (teeth === 2 && v > li - th * 0.8) {
          ir = 220 * tc;
          ig = 214 * tc;
          ib = 198 * tc;
        } else if (g > 0.07 && v > li - 0.45 * g) {
          const n = valueNoise(u * 80, v * 80, seed);
          ir = 160 + 20 * n;
          ig = 62;
          ib = 68;
        }
        ir *= shadeM;
        ig *= shadeM;
        ib *= shadeM;
      }
      const wu = 1 - a1;
      const wi = a1 - a2;
      const wl = a2;
      out[0] = lip[0] * ku * wu + ir * wi + lip[0] * kl * wl;
      out[1] = lip[1] * ku * wu + ig * wi + lip[1] * kl * wl;
      out[2] = lip[2] * ku * wu + ib * wi + lip[2] * kl * wl;
    },
  });
  return [apply(toPixel, -hw, -curve), apply(toPixel, hw, -curve)];
}
