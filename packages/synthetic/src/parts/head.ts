/**
 * The head (face skin: shading, skin grain, eye sockets, jaw shadow, cheeks, blush and stubble) and
 * the ears (face skin too), in the face's frame.
 */
import { CLASS } from '../constants';
import { AT, type Canvas, SPAN_D, SPAN_RGB, SPAN_U, SPAN_V, type Shape, draw, ellipseDist, mix, smoothstep } from '../raster';
import { valueNoise } from '../rng';
import { type FaceFrame, headShade } from './frame';

/**
 * The head as a shape, made before anything is drawn (its inside blocks tell the backdrop, the hair
 * behind the head and the ears what they need not draw) and drawn after the ears.
 */
export function headShape(face: FaceFrame): Shape {
  const { F, scale: s, faceA: a, id, light, eyes, tipY, cheekRaise } = face;
  const [darkR, darkG, darkB] = mix(id.hair, [30, 25, 22], 0.5);
  const [skinR, skinG, skinB] = id.skin;
  // everything the pixel loops read, copied into locals once per batch or run (see HeadLight)
  const head = {
    a,
    jaw: id.jaw,
    chin: light.chin,
    seed: id.textureSeed,
    blush: id.blush,
    cheekRaise,
    stubble: id.stubble,
    stubbleTop: tipY + 0.06,
    e0x: eyes[0].x,
    e1x: eyes[1].x,
    ey: id.eyeY,
    cheekY: 0.3 - 0.05 * cheekRaise,
    c0x: face.proj(-0.37, 0.5),
    c1x: face.proj(0.37, 0.5),
    darkR,
    darkG,
    darkB,
    skinR,
    skinG,
    skinB,
  };
  return {
    toPixel: F,
    bounds: [-a - 0.4, -1.05, a + 0.4, 1.05],
    scale: s,
    cls: CLASS.skin,
    lipschitz: 1.6,
    distSpan(n) {
      const { a, jaw, chin } = head;
      for (let k = 0; k < n; k++) {
        const u = SPAN_U[k];
        const v = SPAN_V[k];
        const uu = u - chin * (v > 0 ? v * v : 0);
        const w = v > 0 ? Math.max(0.5, 1 - jaw * v * v) : 1;
        SPAN_D[k] = ellipseDist(uu, v, a * w, 1);
      }
    },
    colourSpan(n) {
      const { chin, turn, invWidth, ambient, lx, ly, lz } = light;
      const { seed, blush, cheekRaise, stubble, stubbleTop, e0x, e1x, ey, cheekY, c0x, c1x, darkR, darkG, darkB, skinR, skinG, skinB } = head;
      for (let q = 0; q < n; q++) {
        const u = SPAN_U[q];
        const v = SPAN_V[q];
        let k = headShade(u, v, chin, turn, invWidth, ambient, lx, ly, lz) * (0.97 + 0.06 * valueNoise(u * 30, v * 30, seed));
        // eye sockets
        // (constant divisors as products: V8 keeps `/ c` a division)
        const dy = v - ey + 0.02;
        if (dy * dy < 0.014) {
          let w = 1 - (u - e0x) * (u - e0x) * (1 / 0.04) - dy * dy * (1 / 0.014);
          if (w > 0) k *= 1 - 0.12 * w;
          w = 1 - (u - e1x) * (u - e1x) * (1 / 0.04) - dy * dy * (1 / 0.014);
          if (w > 0) k *= 1 - 0.12 * w;
        }
        // jaw shadow towards the outline
        k *= 1 - 0.12 * smoothstep(0.55, 0.95, v);
        let r = skinR * k;
        let g = skinG * k;
        let b = skinB * k;
        // cheeks
        const dc = Math.min((u - c0x) * (u - c0x), (u - c1x) * (u - c1x)) + (v - cheekY) * (v - cheekY);
        if (dc < 0.035) {
          const t = (1 - dc * (1 / 0.035)) * (blush + 0.25 * cheekRaise);
          r += 18 * t;
          g -= 8 * t;
          b -= 6 * t;
          if (cheekRaise > 0) {
            const h = 1 + 0.06 * cheekRaise * (1 - dc * (1 / 0.035));
            r *= h;
            g *= h;
            b *= h;
          }
        }
        if (stubble > 0 && v > stubbleTop) {
          const t = stubble * 0.45 * smoothstep(stubbleTop, stubbleTop + 0.12, v) * (0.5 + valueNoise(u * 90, v * 90, seed ^ 7));
          r += (darkR - r) * t;
          g += (darkG - g) * t;
          b += (darkB - b) * t;
        }
        SPAN_RGB[3 * q] = r;
        SPAN_RGB[3 * q + 1] = g;
        SPAN_RGB[3 * q + 2] = b;
      }
    },
  };
}

/** The ears, unless the hair style falls over them. */
export function drawEars(canvas: Canvas, face: FaceFrame): void {
  const { F, scale: s, faceA: a, sinY, id } = face;
  const earsCovered = id.hairStyle === 'long' || id.hairStyle === 'bob' || id.hairStyle === 'curly';
  for (const sideSign of earsCovered ? [] : [-1, 1]) {
    const ex0 = sideSign * (a - 0.02) - 0.3 * sinY;
    const ey = id.earY + 0.02;
    const ew = 0.085 * id.earSize;
    const eh = 0.17 * id.earSize;
    const skin = id.skin;
    draw(canvas, {
      toPixel: F,
      bounds: [ex0 - 0.15, ey - 0.25, ex0 + 0.15, ey + 0.25],
      scale: s,
      cls: CLASS.skin,
      lipschitz: 2,
      dist: () => {
        const u = AT[0];
        const v = AT[1];
        AT[2] = ellipseDist(u - ex0, v - ey, ew, eh);
      },
      paint(out) {
        const u = AT[0];
        const v = AT[1];
        const inner = ellipseDist(u - ex0 - sideSign * 0.02, v - ey, ew * 0.55, eh * 0.6);
        const k = face.shade(sideSign * a * 0.9, v) * (inner < 0 ? 0.72 : 0.9);
        out[0] = skin[0] * k;
        out[1] = skin[1] * k * 0.97;
        out[2] = skin[2] * k * 0.97;
      },
    });
  }
}
