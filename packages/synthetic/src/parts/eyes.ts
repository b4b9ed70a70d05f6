/**
 * The eyes: lids shaped by the expression (opening, lower lid raised by the cheeks), the white with
 * darker corners, the iris and pupil looking where the gaze points, a catch light, and the lash line,
 * the crease above and the lower lid's line. The iris centres are the eye landmarks.
 */
import type { Rng } from '@ifan/core/rng';
import { CLASS } from '../constants';
import { AT, type Canvas, type Mat, type RGB, apply, clamp, draw, mix, smoothstep } from '../raster';
import { valueNoise } from '../rng';
import type { FaceFrame } from './frame';

/** `x^(3/4)` for x >= 0, without `Math.pow` (which is slow in hot paths). */
const pow34 = (x: number) => Math.sqrt(x * Math.sqrt(x));

/** Draws the eyes of `face`, the gaze drawn from `rng`; returns the iris centres in pixels, image-left first. */
export function drawEyes(canvas: Canvas, face: FaceFrame, rng: Rng): [number, number][] {
  const { scale: s, id, ex, eyes } = face;
  const { lx } = face.light;
  const eyeCentres: [number, number][] = [];
  const gazeX = rng.sym(0.22) * id.eyeHW;
  const gazeY = rng.sym(0.008);
  const eyeAlpha = 0.5 + 0.5 * rng.next();
  for (const e of eyes) {
    const hw = id.eyeHW;
    const up = id.eyeUp * ex.eyeOpen;
    const low = id.eyeLow * (1 - 0.45 * ex.lowerLid) * (0.85 + 0.15 * ex.eyeOpen);
    const yU = (t: number) => {
      const q = 1 - t * t;
      return q <= 0 ? 0 : -up * pow34(q) * (1 + 0.12 * t);
    };
    const yL = (t: number) => {
      const q = 1 - t * t;
      return q <= 0 ? 0 : low * q * (1.15 - 0.15 * q) * (1 - 0.12 * t);
    };
    const toPixel = face.featureFrame(e.x, e.y, e.sideSign, id.eyeTilt, e.kx);
    const irisR = hw * 0.42;
    const gx = clamp(gazeX * e.sideSign, -0.4 * hw, 0.4 * hw);
    const tg = gx / hw;
    const lidTop = yU(tg);
    const lidBottom = yL(tg);
    const gy = clamp((id.eyeLow - id.eyeUp) / 2 + gazeY, lidTop + 0.35 * (lidBottom - lidTop), lidBottom - 0.35 * (lidBottom - lidTop));
    const iris = id.iris;
    const shade = face.shade(e.x, e.y) * 1.05;
    const aaW = 0.7 / s;
    const hlx = -0.3 * irisR * e.sideSign * (lx >= 0 ? 1 : -1);
    const hly = -0.35 * irisR;
    const seed = id.textureSeed ^ 0x3e;
    const pupil = irisR * (0.36 + 0.08 * eyeAlpha);
    draw(canvas, {
      toPixel,
      bounds: [-hw - 0.01, -up - 0.01, hw + 0.01, low + 0.01],
      scale: s,
      cls: e.sideSign < 0 ? CLASS.leftEye : CLASS.rightEye,
      dist() {
        const u = AT[0];
        const v = AT[1];
        const t = u / hw;
        if (t <= -1 || t >= 1) {
          const du = Math.abs(u) - hw;
          AT[2] = Math.sqrt(du * du + v * v);
          return;
        }
        AT[2] = Math.max(yU(t) - v, v - yL(t), Math.abs(u) - hw);
      },
      paint(out) {
        const u = AT[0];
        const v = AT[1];
        const t = u / hw;
        const corner = 1 - 0.3 * Math.abs(t * t * t);
        const lid = 1 - 0.4 * (1 - smoothstep(0, 0.45 * up, v - yU(t)));
        let r = 228 * corner;
        let g = 222 * corner;
        let b = 214 * corner;
        const du = u - gx;
        const dv = v - gy;
        const d = Math.sqrt(du * du + dv * dv);
        if (d < irisR + aaW) {
          const n = 0.85 + 0.3 * valueNoise(du * 260, dv * 260, seed);
          const ring = d > irisR * 0.8 ? 0.6 : 1;
          let ir = iris[0] * n * ring;
          let ig = iris[1] * n * ring;
          let ib = iris[2] * n * ring;
          const tp = smoothstep(pupil + aaW, pupil - aaW, d);
          ir += (12 - ir) * tp;
          ig += (10 - ig) * tp;
          ib += (10 - ib) * tp;
          const ti = smoothstep(irisR + aaW, irisR - aaW, d);
          r += (ir - r) * ti;
          g += (ig - g) * ti;
          b += (ib - b) * ti;
          const hd = (du - hlx) * (du - hlx) + (dv - hly) * (dv - hly);
          if (hd < irisR * irisR * 0.05) {
            r = g = b = 245;
          }
        }
        const k = shade * lid;
        out[0] = r * k;
        out[1] = g * k;
        out[2] = b * k;
      },
    });
    // lash line along the upper lid
    const lash: RGB = mix(id.brow, [20, 15, 14], 0.6);
    const lashW = 0.016 + 0.006 * (id.gender === 'female' ? 1 : 0);
    draw(canvas, {
      toPixel,
      bounds: [-hw * 1.15, -up - 0.05, hw * 1.15, 0.03],
      scale: s,
      cls: -1,
      dist() {
        const u = AT[0];
        const v = AT[1];
        const t = clamp(u / hw, -1, 1);
        const w = lashW * (0.55 + 0.6 * Math.max(0, t + 0.3));
        const c = yU(t) - w / 2 + 0.002;
        AT[2] = Math.max(Math.abs(v - c) - w / 2, Math.abs(u) - hw * 1.06);
      },
      paint(out) {
        out[0] = lash[0];
        out[1] = lash[1];
        out[2] = lash[2];
        out[3] = 0.9;
      },
    });
    // the crease above and the lower lid's line
    shadowLine(canvas, toPixel, s, [-hw, -up * 1.6 - 0.06, hw, 0], {
      hw,
      centre: (t) => yU(t * 0.95) * 1.25 - 0.028,
      half: 0.006,
      reach: hw * 0.85,
      fade: hw * 0.85,
      colour: face.shadowSkin(0.72),
      opacity: 0.45,
    });
    shadowLine(canvas, toPixel, s, [-hw, 0, hw, low + 0.03], {
      hw,
      centre: (t) => yL(t) + 0.006,
      half: 0.005,
      reach: hw * 0.9,
      fade: hw,
      colour: face.shadowSkin(0.78),
      opacity: 0.4,
    });
    eyeCentres.push(apply(toPixel, gx, gy));
  }
  return eyeCentres;
}

/**
 * A shadow line along an eye of half-width `hw`, in the eye's frame: centred on `centre(u / hw)`, `half`
 * thick on either side, out to `|u| = reach`, in `colour` at `opacity` in the middle, fading to nothing
 * at `|u| = fade`.
 */
function shadowLine(
  canvas: Canvas,
  toPixel: Mat,
  s: number,
  bounds: [number, number, number, number],
  line: { hw: number; centre: (t: number) => number; half: number; reach: number; fade: number; colour: RGB; opacity: number },
): void {
  const { hw, centre, half, reach, fade, colour, opacity } = line;
  draw(canvas, {
    toPixel,
    bounds,
    scale: s,
    cls: -1,
    dist() {
      const u = AT[0];
      AT[2] = Math.max(Math.abs(AT[1] - centre(u / hw)) - half, Math.abs(u) - reach);
    },
    paint(out) {
      const t = AT[0] / fade;
      out[0] = colour[0];
      out[1] = colour[1];
      out[2] = colour[2];
      out[3] = opacity * (1 - t * t);
    },
  });
}
