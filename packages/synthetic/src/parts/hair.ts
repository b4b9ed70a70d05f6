/**
 * The hair: the part behind the head (long, bob, curly and bun styles) and the part over it, with
 * its hairline, side locks, strands and sheen. Hair is its own class; buzz cuts are translucent.
 */
import { CLASS } from '../constants';
import { type Canvas, SPAN_D, SPAN_RGB, SPAN_U, SPAN_V, type Shape, boxDist, draw, ellipseDist, fastSin, sinOfMultiple, smoothstep } from '../raster';
import { fbm2, valueNoise } from '../rng';
import type { HairStyle } from '../types';
import { type FaceFrame, headShade } from './frame';

/**
 * The hair over the head as a shape, and whether it is opaque (it then hides the face beneath: see
 * {@link Canvas.cover}), or null for a bald head. Made before anything is drawn, drawn after the mouth.
 */
export function frontHair(face: FaceFrame): { shape: Shape; opaque: boolean } | null {
  const { F, scale: s, faceA: a, sinY, id, light, hairSeed } = face;
  const hair = id.hair;
  if (id.hairStyle === 'bald') return null;
  const spec = hairlineSpec(id.hairStyle, id.hairPart);
  const shift = 0.5 * sinY;
  const curly = id.hairStyle === 'curly';
  const capA = a + (curly ? 0.13 : 0.05);
  const capB = curly ? 1.18 : 1.07;
  const capCY = curly ? -0.08 : -0.02;
  const alpha = id.hairStyle === 'buzz' ? 0.55 : 1;
  const phase = (id.textureSeed % 1000) / 100;
  // The hairline: a gentle curve y(u) over the forehead (tabulated, with its slope, so that the
  // vertical distance can be turned into a near-true distance), and side locks as rounded
  // quarter-planes on either side, so that the whole distance stays Lipschitz.
  const lutN = 128;
  const lut0 = -capA - 0.05;
  const lutStep = (2 * capA + 0.1) / (lutN - 1);
  const lut = new Float64Array(lutN);
  const slopeNorm = new Float64Array(lutN);
  for (let i = 0; i < lutN; i++) {
    const xn = (lut0 + i * lutStep - shift) / a;
    lut[i] = spec.top + spec.curve * xn * xn + spec.tilt * xn + spec.wave * Math.sin(xn * spec.waveFreq + phase);
  }
  for (let i = 0; i < lutN; i++) {
    const g = (lut[Math.min(i + 1, lutN - 1)] - lut[Math.max(i - 1, 0)]) / (2 * lutStep);
    slopeNorm[i] = 1 / Math.sqrt(1 + g * g);
  }
  const lockInner = a * (spec.sideStart + 0.07);
  const lockBottom = spec.top + spec.curve * spec.sideStart * spec.sideStart + spec.sideDrop;
  const lockR = 0.07;
  let lowest = lockBottom;
  for (let i = 0; i < lutN; i++) lowest = Math.max(lowest, lut[i]);
  const early = 0.6 / s;

  const lum = 0.3 * hair[0] + 0.59 * hair[1] + 0.11 * hair[2];
  const sheen = lum < 60 ? 40 : 25;
  // everything the pixel loops read, copied into locals once per batch or run (see HeadLight)
  const cap = { lut0, lutStep, lockInner, lockBottom, lockR, shift, early, capA, capB, capCY, cosPhase: Math.cos(phase), sinPhase: Math.sin(phase) };
  const look = { seed: hairSeed, sheen, hairR: hair[0], hairG: hair[1], hairB: hair[2] };
  const shape: Shape = {
    toPixel: F,
    bounds: [-capA - 0.05, capCY - capB - 0.05, capA + 0.05, Math.min(1.1, lowest + 0.05)],
    scale: s,
    cls: CLASS.hair,
    opacity: Math.fround(alpha),
    lipschitz: curly ? 3.5 : 2.5,
    distSpan(n) {
      const { lut0, lutStep, lockInner, lockBottom, lockR, shift, early, capA, capB, capCY, cosPhase, sinPhase } = cap;
      const ys = lut;
      const norms = slopeNorm;
      const last = lutN - 1.001;
      const wavy = curly;
      for (let k = 0; k < n; k++) {
        const u = SPAN_U[k];
        const v = SPAN_V[k];
        // signed distance to the hair side of the hairline (negative in the hair)
        let f = (u - lut0) / lutStep;
        f = f < 0 ? 0 : f > last ? last : f;
        const i = f | 0;
        const t = f - i;
        const top = (v - (ys[i] + (ys[i + 1] - ys[i]) * t)) * (norms[i] + (norms[i + 1] - norms[i]) * t);
        const qx = lockInner - Math.abs(u - shift) + lockR;
        const qy = v - lockBottom + lockR;
        const ox = qx > 0 ? qx : 0;
        const oy = qy > 0 ? qy : 0;
        const lock = Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0) - lockR;
        const below = top < lock ? top : lock;
        if (below > early) {
          SPAN_D[k] = below;
          continue;
        }
        const e = ellipseDist(u, v - capCY, capA, capB);
        const bump = wavy ? 0.025 * sinOfMultiple(u, v - capCY, 14, cosPhase, sinPhase) : 0;
        SPAN_D[k] = Math.max(e + bump, below);
      }
    },
    colourSpan(n) {
      const { chin, turn, invWidth, ambient, lx, ly, lz } = light;
      const { seed, sheen, hairR, hairG, hairB } = look;
      const wavy = curly;
      for (let q = 0; q < n; q++) {
        const u = SPAN_U[q];
        const v = SPAN_V[q];
        const du = u;
        const dv = v + 1.1;
        const ang = du / (Math.abs(dv) + 0.3);
        const r = Math.sqrt(du * du + dv * dv);
        const nz = wavy ? fbm2(u * 22, v * 22, seed) : valueNoise(ang * 36, r * 5, seed);
        const k = (0.55 + 0.5 * nz) * (0.75 + 0.3 * headShade(u * 0.7, v * 0.7, chin, turn, invWidth, ambient, lx, ly, lz));
        const b2 = (r - 0.75) * (r - 0.75) * (1 / 0.012);
        const band = b2 < 1 ? (1 - b2) * (1 - b2) * Math.max(0, -lx * u + 0.4) : 0;
        SPAN_RGB[3 * q] = hairR * k + sheen * band;
        SPAN_RGB[3 * q + 1] = hairG * k + sheen * band;
        SPAN_RGB[3 * q + 2] = hairB * k + sheen * band * 0.9;
      }
    },
  };
  return { shape, opaque: alpha >= 1 };
}

/** Draws the hair behind the head, for the styles that have any. */
export function drawBackHair(canvas: Canvas, face: FaceFrame): void {
  const { F, scale: s, faceA: a, id, light, hairSeed } = face;
  const hair = id.hair;
  const hairBack = backHair(id.hairStyle, a, id.hairPart);
  if (!hairBack) return;
  draw(canvas, {
    toPixel: F,
    bounds: hairBack.bounds,
    scale: s,
    cls: CLASS.hair,
    lipschitz: hairBack.lipschitz,
    distSpan: hairBack.distSpan,
    colourSpan(n) {
      const { chin, turn, invWidth, ambient, lx, ly, lz } = light;
      const seed = hairSeed;
      const [hairR, hairG, hairB] = hair;
      for (let k = 0; k < n; k++) {
        const u = SPAN_U[k];
        const v = SPAN_V[k];
        const nz = valueNoise(u * 38 + v * 3 * u, v * 2.5, seed);
        const sh = (0.5 + 0.45 * nz) * (0.75 + 0.25 * headShade(u * 0.8, v * 0.5, chin, turn, invWidth, ambient, lx, ly, lz));
        SPAN_RGB[3 * k] = hairR * sh;
        SPAN_RGB[3 * k + 1] = hairG * sh;
        SPAN_RGB[3 * k + 2] = hairB * sh;
      }
    },
  });
}

/**
 * A hair style's hairline over the forehead, `top + curve x^2 + tilt x + wave sin(waveFreq x)` in
 * head half-widths `x`, and its side locks: where they start (`sideStart`, head half-widths) and how
 * far they fall below the hairline (`sideDrop`).
 */
interface HairlineSpec {
  top: number;
  curve: number;
  tilt: number;
  wave: number;
  waveFreq: number;
  sideDrop: number;
  sideStart: number;
}

function hairlineSpec(style: HairStyle, part: number): HairlineSpec {
  const base = { top: -0.5, curve: 0.15, tilt: 0, wave: 0.008, waveFreq: 20, sideDrop: 0.55, sideStart: 0.8 };
  switch (style) {
    case 'sidepart':
      return { ...base, top: -0.56, curve: 0.12, tilt: part > 0 ? 0.14 : -0.14, sideDrop: 0.5, sideStart: 0.82 };
    case 'buzz':
      return { ...base, top: -0.56, curve: 0.1, sideDrop: 0.45, sideStart: 0.85 };
    case 'long':
      return { ...base, top: -0.52, tilt: part, sideDrop: 1.12, sideStart: 0.84 };
    case 'bob':
      return { ...base, top: -0.45, curve: 0.1, tilt: part * 0.5, sideDrop: 1.0, sideStart: 0.84 };
    case 'bangs':
      return { ...base, top: -0.4, curve: 0.06, wave: 0.022, waveFreq: 24, sideDrop: 0.95, sideStart: 0.82 };
    case 'bun':
      return { ...base, top: -0.56, curve: 0.18, sideDrop: 0.42, sideStart: 0.86 };
    case 'curly':
      return { ...base, top: -0.52, curve: 0.1, wave: 0.03, waveFreq: 17, sideDrop: 0.8, sideStart: 0.84 };
    default:
      return { ...base, top: -0.5 + part * 0.2 };
  }
}

/** The hair behind the head, in face units, or null for styles that have none. */
function backHair(
  style: HairStyle,
  a: number,
  part: number,
): { distSpan: (n: number) => void; bounds: [number, number, number, number]; lipschitz: number } | null {
  // each style its own loop over the batch (see Shape.distSpan), so that V8 inlines the distances
  switch (style) {
    case 'long': {
      const len = 1.55 + Math.abs(part) * 2;
      return {
        bounds: [-a - 0.45, -1.3, a + 0.45, len + 0.2],
        lipschitz: 2.4,
        distSpan: (n) => {
          const phase = part * 40;
          const ends = len - 0.6;
          const rx = a + 0.14;
          const bw = a + 0.16;
          const mid = (len + 0.1) / 2;
          const bh = (len - 0.1) / 2;
          for (let k = 0; k < n; k++) {
            const u = SPAN_U[k];
            const v = SPAN_V[k];
            // the ends of the hair are ragged (and only they need the sine)
            const fall = v > ends ? smoothstep(ends, len, v) : 0;
            const ragged = fall > 0 ? 0.05 * fastSin(u * 9 + phase) * fall : 0;
            SPAN_D[k] = Math.min(ellipseDist(u, v + 0.06, rx, 1.12), boxDist(u, v - mid + ragged, bw + 0.06 * Math.max(0, v), bh, 0.35));
          }
        },
      };
    }
    case 'bob':
      return {
        bounds: [-a - 0.35, -1.3, a + 0.35, 0.95],
        lipschitz: 1.6,
        distSpan: (n) => {
          const rx = a + 0.17;
          const bw = a + 0.19;
          for (let k = 0; k < n; k++) {
            const u = SPAN_U[k];
            const v = SPAN_V[k];
            SPAN_D[k] = Math.min(ellipseDist(u, v + 0.05, rx, 1.12), boxDist(u, v - 0.3, bw, 0.5, 0.18));
          }
        },
      };
    case 'curly':
      return {
        bounds: [-a - 0.5, -1.5, a + 0.5, 0.8],
        lipschitz: 3,
        distSpan: (n) => {
          const rx = a + 0.3;
          const bw = a + 0.28;
          for (let k = 0; k < n; k++) {
            const u = SPAN_U[k];
            const v = SPAN_V[k];
            SPAN_D[k] = Math.min(ellipseDist(u, v + 0.15, rx, 1.26) + 0.03 * fastSin(u * 30) * fastSin(v * 30), boxDist(u, v - 0.2, bw, 0.45, 0.25));
          }
        },
      };
    case 'bun':
      return {
        bounds: [-0.45, -1.55, 0.45, -0.6],
        lipschitz: 1.6,
        distSpan: (n) => {
          for (let k = 0; k < n; k++) SPAN_D[k] = ellipseDist(SPAN_U[k], SPAN_V[k] + 1.1, 0.32, 0.28);
        },
      };
    default:
      return null;
  }
}
