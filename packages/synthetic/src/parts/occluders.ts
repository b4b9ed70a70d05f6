/**
 * Occluders over the face: a hand, an object (a cup, a phone, a microphone) or a scarf. They are
 * background in the mask, and landmarks near them are marked not visible.
 */
import type { Rng } from '@ifan/core/rng';
import { CLASS } from '../constants';
import type { Identity } from '../face';
import { AT, type Canvas, type Mat, type RGB, type Shape, boxDist, compose, draw, ellipseDist, fastSin, frame, mix, smoothstep } from '../raster';
import type { FaceFrame } from './frame';
import { patternAt, randomColour, randomPattern } from './pattern';

/** Draws one or two occluders over `face` with probability `probability` (from `rng`); returns them. */
export function drawOccluders(canvas: Canvas, face: FaceFrame, probability: number, rng: Rng): Shape[] {
  const occluders: Shape[] = [];
  if (rng.chance(probability)) {
    const n = rng.chance(0.2) ? 2 : 1;
    for (let k = 0; k < n; k++) {
      const shape = occluder(rng, face.F, face.scale, face.id, face.faceA);
      draw(canvas, shape);
      occluders.push(shape);
    }
  }
  return occluders;
}

/** A hand, an object or a scarf over part of the face. */
function occluder(rng: Rng, F: Mat, s: number, id: Identity, a: number): Shape {
  const kind = rng.weighted([0.4, 0.4, 0.2]);
  if (kind === 0) {
    // a hand: palm and four fingers, coming from below or the side
    const x = rng.sym(0.7);
    const y = rng.range(0.35, 1.05);
    const angle = rng.sym(0.9);
    const size = rng.range(0.8, 1.15);
    const skin: RGB = mix(id.skin, [200, 150, 120], rng.range(0, 0.3));
    const toPixel = compose(F, frame(x, y, angle, size, size));
    const fingerX = [-0.12, -0.04, 0.04, 0.12];
    const fingerL = [0.22, 0.28, 0.27, 0.22].map((l) => l * rng.range(0.85, 1.1));
    const bend = rng.sym(0.04);
    return {
      toPixel,
      bounds: [-0.3, -0.55, 0.3, 0.75],
      scale: s * size,
      cls: CLASS.background,
      dist() {
        const u = AT[0];
        const v = AT[1];
        let d = ellipseDist(u, v - 0.3, 0.18, 0.26);
        for (let i = 0; i < 4; i++) {
          const fx = fingerX[i] + bend * (v + 0.1);
          d = Math.min(d, boxDist(u - fx, v + fingerL[i] / 2 - 0.1, 0.036, fingerL[i] / 2 + 0.02, 0.035));
        }
        AT[2] = d;
      },
      paint(out) {
        const u = AT[0];
        const v = AT[1];
        let k = 0.75 + 0.25 * smoothstep(-0.4, 0.4, -v);
        for (const fx of fingerX) {
          const gap = Math.abs(u - fx - bend * (v + 0.1)) - 0.036;
          if (gap > -0.008 && v < 0.12) k *= 0.85;
        }
        out[0] = skin[0] * k;
        out[1] = skin[1] * k;
        out[2] = skin[2] * k;
      },
    };
  }
  if (kind === 1) {
    // an object: a cup, a phone, a microphone
    const x = rng.sym(0.65);
    const y = rng.range(-0.2, 0.95);
    const hw = rng.range(0.08, 0.22);
    const hh = rng.range(0.15, 0.45);
    const angle = rng.sym(Math.PI / 2);
    const colour = randomColour(rng);
    const pattern = randomPattern(rng, colour, s * 0.3);
    const round = Math.min(hw, hh) * rng.range(0, 0.9);
    return {
      toPixel: compose(F, frame(x, y, angle)),
      bounds: [-hw - 0.02, -hh - 0.02, hw + 0.02, hh + 0.02],
      scale: s,
      cls: CLASS.background,
      dist: () => {
        const u = AT[0];
        const v = AT[1];
        AT[2] = boxDist(u, v, hw, hh, round);
      },
      paint(out) {
        const u = AT[0];
        const v = AT[1];
        patternAt(pattern, u * s, v * s, out, 0);
        const k = 0.75 + 0.35 * smoothstep(-hw, hw, u);
        out[0] *= k;
        out[1] *= k;
        out[2] *= k;
      },
    };
  }
  // a scarf or collar over the lower face
  const y = rng.range(0.82, 1.05);
  const hh = rng.range(0.12, 0.28);
  const colour = randomColour(rng);
  const pattern = randomPattern(rng, colour, s * 0.4);
  const angle = rng.sym(0.15);
  return {
    toPixel: compose(F, frame(0, y, angle)),
    bounds: [-a - 0.3, -hh - 0.08, a + 0.3, hh + 0.08],
    scale: s,
    cls: CLASS.background,
    dist: () => {
      const u = AT[0];
      const v = AT[1];
      AT[2] = boxDist(u, v - 0.05 * fastSin(u * 3 + Math.PI / 2), a + 0.2, hh, 0.05);
    },
    paint(out) {
      const u = AT[0];
      const v = AT[1];
      patternAt(pattern, u * s, v * s, out, 0);
      const k = 0.8 + 0.2 * fastSin(u * 25 + v * 8);
      out[0] *= k;
      out[1] *= k;
      out[2] *= k;
    },
  };
}
