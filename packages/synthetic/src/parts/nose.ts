/**
 * The nose: a ridge widening from the bridge to the wings, shaded on the side away from the light,
 * with a highlight on the tip, the wings' creases and the nostrils; wrinkled in disgust. Its tip is
 * the nose landmark.
 */
import { CLASS } from '../constants';
import { AT, type Canvas, type Mat, apply, compose, draw, frame, smoothstep } from '../raster';
import type { FaceFrame } from './frame';
import { arcStroke } from './skin-lines';

/** Draws the nose of `face`; returns its tip in pixels. */
export function drawNose(canvas: Canvas, face: FaceFrame): [number, number] {
  const { F, scale: s, cosY, id, ex, tipX, bridgeX, tipY } = face;
  const { lx } = face.light;
  const top = id.noseTop - tipY;
  const bottom = 0.055;
  const wing = id.noseWing * (1 + 0.1 * ex.noseWrinkle + 0.06 * ex.nasolabial);
  const wTop = 0.042;
  const shear = (bridgeX - tipX) / top;
  const toPixel = compose(F, [cosY, shear, tipX, 0, 1, tipY] as Mat);
  const skin = id.skin;
  const halfWidth = (v: number) => {
    if (v < -0.03) {
      const t = smoothstep(top, -0.03, v);
      return wTop + (wing - wTop) * t * t;
    }
    const q = (v + 0.03) / (bottom + 0.03);
    return q >= 1 ? 0 : wing * Math.sqrt(1 - q * q);
  };
  const darkSide = lx > 0 ? -1 : 1;
  draw(canvas, {
    toPixel,
    bounds: [-wing - 0.02, top - 0.02, wing + 0.02, bottom + 0.02],
    scale: s,
    cls: CLASS.nose,
    dist: () => {
      const u = AT[0];
      const v = AT[1];
      AT[2] = Math.max(Math.abs(u) - halfWidth(v), top - v, v - bottom);
    },
    paint(out) {
      const u = AT[0];
      const v = AT[1];
      const hw = halfWidth(v);
      const q = Math.abs(u) / Math.max(hw, 1e-3);
      let k = face.shade(tipX + u * 0.5, tipY + v);
      k *= 1 - (u * darkSide > 0 ? 0.28 : 0.12) * smoothstep(0.45, 1, q);
      if (v < -0.05 && q < 0.35) k *= 1.04;
      const tip = (u * u) / 0.0012 + ((v + 0.02) * (v + 0.02)) / 0.0009;
      if (tip < 1) k *= 1 + 0.1 * (1 - tip);
      const crease = Math.abs(((Math.abs(u) - wing * 0.6) * (Math.abs(u) - wing * 0.6)) / (wing * wing * 0.18) + ((v + 0.005) * (v + 0.005)) / 0.0022 - 1);
      if (crease < 0.3 && v > -0.06) k *= 0.92 + 0.08 * (crease / 0.3);
      let r = skin[0] * k;
      let g = skin[1] * k;
      let b = skin[2] * k;
      const du = Math.abs(u) - wing * 0.47;
      const nos = (du * du) / (wing * wing * 0.09) + ((v - 0.03) * (v - 0.03)) / 0.00028;
      if (nos < 1) {
        const t = smoothstep(1, 0.4, nos) * 0.85;
        r += (35 - r) * t;
        g += (20 - g) * t;
        b += (18 - b) * t;
      }
      out[0] = r;
      out[1] = g;
      out[2] = b;
    },
  });
  if (ex.noseWrinkle > 0.1) {
    for (let k = 0; k < 2; k++) {
      draw(canvas, arcStroke(compose(toPixel, frame(0, top * (0.55 - 0.12 * k), 0)), s, 0.045, -3, 0.008, face.shadowSkin(0.6), 0.5 * ex.noseWrinkle));
    }
  }
  return apply(face.featureFrame(tipX, tipY, 1, 0, cosY, 0), 0, 0);
}
