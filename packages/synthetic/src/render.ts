/**
 * Draws a face into a canvas: background clutter, body, hair, head, nose, eyes, brows, mouth,
 * glasses and occluders, each an implicit shape in the face's frame. The same shapes give the mask
 * classes and the landmark positions, so labels match the picture exactly.
 */
import type { Rng } from '@ifan/core/rng';
import { CLASS } from './constants';
import type { ExpressionShape, Identity } from './face';
import {
  AT,
  Canvas,
  RUN,
  SPAN_D,
  SPAN_U,
  SPAN_V,
  type Mat,
  type RGB,
  type Shape,
  addCover,
  apply,
  blend,
  boxDist,
  clamp,
  compose,
  distanceAt,
  draw,
  ellipseDist,
  frame,
  fastSin,
  mix,
  planShape,
  sinOfMultiple,
  smoothstep,
} from './raster';
import { fbm2, valueNoise } from './rng';
import type { HairStyle } from './types';

/** Scene settings already resolved from the options. */
export interface SceneOptions {
  maxRoll: number;
  maxYaw: number;
  scale: [number, number];
  maxShift: number;
  occlusion: number;
  clutter: number;
  glasses: number;
}

export interface RenderResult {
  points: [number, number][];
  faceBox: [number, number, number, number];
  visible: boolean[];
  occluded: boolean;
  glasses: boolean;
  yaw: number;
  roll: number;
  faceScale: number;
}

const DEG = Math.PI / 180;

/** `x^(3/4)` for x >= 0, without `Math.pow` (which is slow in hot paths). */
const pow34 = (x: number) => Math.sqrt(x * Math.sqrt(x));
/** `x^(5/8)`. */
const pow58 = (x: number) => Math.sqrt(x) * Math.sqrt(Math.sqrt(Math.sqrt(x)));
/** `x^(3/8)`. */
const pow38 = (x: number) => Math.sqrt(Math.sqrt(x * Math.sqrt(x)));
/** A smooth bump: 1 at 0 falling to 0 at |x| = 1 (a cheap stand-in for a Gaussian). */
const bump = (x: number) => {
  const q = 1 - x * x;
  return q > 0 ? q * q : 0;
};

/**
 * The light on the head (see {@link headShade}). The hot pixel loops copy it into locals once per
 * run: V8 then keeps the numbers in registers instead of reloading closure variables per pixel.
 */
interface HeadLight {
  /** Horizontal shift of the normals per `v^2` below the centre (the yaw turns the chin). */
  chin: number;
  /** Horizontal shift of all the normals (the yaw). */
  turn: number;
  /** 1 / half width of the shading ellipsoid (a product per pixel instead of a division). */
  invWidth: number;
  ambient: number;
  /** Unit direction towards the light. */
  lx: number;
  ly: number;
  lz: number;
}

/** Lambert shading at face point `(u, v)` of an ellipsoid head lit by a {@link HeadLight}. */
function headShade(u: number, v: number, chin: number, turn: number, invWidth: number, ambient: number, lx: number, ly: number, lz: number): number {
  const nx = clamp((u - chin * (v > 0 ? v * v : 0) - turn) * invWidth, -1, 1);
  const ny = clamp(v * (1 / 1.05), -1, 1);
  const nz = Math.sqrt(Math.max(0, 1 - nx * nx - ny * ny));
  const d = nx * lx + ny * ly + nz * lz;
  return ambient + (1 - ambient) * (d > 0 ? d : 0) * 1.05;
}

/** A muted random colour, as found in rooms and streets. */
function randomColour(rng: Rng): RGB {
  const c: RGB = [rng.range(15, 240), rng.range(15, 240), rng.range(15, 240)];
  const grey = (c[0] + c[1] + c[2]) / 3;
  return mix(c, [grey, grey, grey], rng.range(0.1, 0.75));
}

/** A texture in pixel-scale local coordinates: solid, stripes, checks, mottled or a gradient. */
interface Pattern {
  kind: number;
  ca: number;
  sa: number;
  seed: number;
  r0: number;
  g0: number;
  b0: number;
  r1: number;
  g1: number;
  b1: number;
}

function randomPattern(rng: Rng, base: RGB, unit: number): Pattern {
  const other = rng.chance(0.5) ? randomColour(rng) : mix(base, rng.chance(0.5) ? [0, 0, 0] : [255, 255, 255], rng.range(0.2, 0.5));
  const kind = rng.int(5);
  const period = unit * rng.range(0.03, 0.15);
  const angle = rng.range(0, Math.PI);
  const ca = Math.cos(angle) / period;
  const sa = Math.sin(angle) / period;
  const seed = rng.uint32();
  return { kind, ca, sa, seed, r0: base[0], g0: base[1], b0: base[2], r1: other[0], g1: other[1], b1: other[2] };
}

/** The pattern's mix from its base (0) to its other colour (1) at `(u, v)`. */
function patternMix(p: Pattern, u: number, v: number): number {
  const ca = p.ca;
  switch (p.kind) {
    case 0:
      return 0.15 * valueNoise(u * ca, v * ca, p.seed);
    case 1:
      return smoothstep(-0.3, 0.3, fastSin((u * ca + v * p.sa) * Math.PI));
    case 2:
      return (Math.floor(u * ca) + Math.floor(v * ca)) & 1 ? 1 : 0;
    case 3:
      return fbm2(u * ca * 0.7, v * ca * 0.7, p.seed);
    default:
      return clamp((u * ca + v * p.sa) * 0.05 + 0.5, 0, 1);
  }
}

/** Pattern mixes of a run of pixels (see {@link patternRun}). */
const PATTERN_T = new Float64Array(4096);

/**
 * `PATTERN_T[k]` = the pattern's mix at `((u + k du) * mul, (v + k dv) * mul)` for `k < n` (the
 * coordinates stepped as a run steps them), one loop per kind so that V8 inlines each noise.
 */
function patternRun(p: Pattern, n: number, u: number, v: number, du: number, dv: number, mul: number): void {
  switch (p.kind) {
    case 0:
      patternNoise(p, n, u, v, du, dv, mul);
      break;
    case 1:
      patternStripes(p, n, u, v, du, dv, mul);
      break;
    case 2:
      patternChecks(p, n, u, v, du, dv, mul);
      break;
    case 3:
      patternMottled(p, n, u, v, du, dv, mul);
      break;
    default:
      patternGradient(p, n, u, v, du, dv, mul);
  }
}

function patternNoise(p: Pattern, n: number, u: number, v: number, du: number, dv: number, mul: number): void {
  const { ca, seed } = p;
  for (let k = 0; k < n; k++, u += du, v += dv) PATTERN_T[k] = 0.15 * valueNoise(u * mul * ca, v * mul * ca, seed);
}

function patternStripes(p: Pattern, n: number, u: number, v: number, du: number, dv: number, mul: number): void {
  const { ca, sa } = p;
  for (let k = 0; k < n; k++, u += du, v += dv) PATTERN_T[k] = smoothstep(-0.3, 0.3, fastSin((u * mul * ca + v * mul * sa) * Math.PI));
}

function patternChecks(p: Pattern, n: number, u: number, v: number, du: number, dv: number, mul: number): void {
  const ca = p.ca;
  for (let k = 0; k < n; k++, u += du, v += dv) PATTERN_T[k] = (Math.floor(u * mul * ca) + Math.floor(v * mul * ca)) & 1 ? 1 : 0;
}

function patternMottled(p: Pattern, n: number, u: number, v: number, du: number, dv: number, mul: number): void {
  const { ca, seed } = p;
  for (let k = 0; k < n; k++, u += du, v += dv) PATTERN_T[k] = fbm2(u * mul * ca * 0.7, v * mul * ca * 0.7, seed);
}

function patternGradient(p: Pattern, n: number, u: number, v: number, du: number, dv: number, mul: number): void {
  const { ca, sa } = p;
  for (let k = 0; k < n; k++, u += du, v += dv) PATTERN_T[k] = clamp((u * mul * ca + v * mul * sa) * 0.05 + 0.5, 0, 1);
}

/** The pattern's colour at `(u, v)` into `out[q..q+2]`. */
function patternAt(p: Pattern, u: number, v: number, out: Float32Array, q: number): void {
  const t = patternMix(p, u, v);
  out[q] = p.r0 + (p.r1 - p.r0) * t;
  out[q + 1] = p.g0 + (p.g1 - p.g0) * t;
  out[q + 2] = p.b0 + (p.b1 - p.b0) * t;
}

/** A stroke along the parabola `v = k*u^2` for `|u| < half`, `width` thick, fading at its ends. */
function arcStroke(toPixel: Mat, scale: number, half: number, k: number, width: number, colour: RGB, alpha: number): Shape {
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

/**
 * Draws one face. `rng` must be the image's stream; the identity and expression come in already
 * sampled.
 */
export function renderFace(canvas: Canvas, id: Identity, ex: ExpressionShape, opts: SceneOptions, rng: Rng): RenderResult {
  const W = canvas.width;
  const H = canvas.height;
  const side = Math.min(W, H);

  // ---- pose ----
  const s = side * rng.range(opts.scale[0], opts.scale[1]);
  const roll = rng.sym(opts.maxRoll) * DEG;
  const yaw = rng.sym(opts.maxYaw) * DEG;
  const cx = W / 2 + rng.sym(opts.maxShift) * W;
  const cy = H / 2 - 0.2 * s + rng.sym(opts.maxShift) * H;
  const F = frame(cx, cy, roll, s, s);
  const sinY = Math.sin(yaw);
  const cosY = Math.cos(yaw);
  const a = id.faceA;
  /** Projected x of a point at canonical x0 and depth z (in front of the rotation axis). */
  const proj = (x0: number, z: number) => x0 * cosY + z * sinY;
  /** Horizontal foreshortening of a feature at canonical x0. */
  const fore = (x0: number) => {
    const alpha = Math.asin(clamp(x0 / 0.8, -0.95, 0.95));
    return clamp(Math.cos(alpha + yaw) / Math.cos(alpha), 0.3, 1.15);
  };
  /** A feature frame in face units: origin, mirrored for the image-left side, tilted, foreshortened. */
  const featureFrame = (x: number, y: number, sideSign: number, tilt: number, kx: number, shear = 0): Mat => {
    const c = Math.cos(tilt);
    const sn = Math.sin(tilt);
    // canonical (u outward, v down) -> face: rotate so that u > 0 goes up by `tilt`, mirror, compress
    const local: Mat = [sideSign * kx * c, sideSign * kx * sn + shear, x, -sn, c, y];
    return compose(F, local);
  };

  // ---- light ----
  const lightAngle = rng.range(-Math.PI, Math.PI);
  const lightSide = rng.range(0.15, 0.75);
  const lx = Math.cos(lightAngle) * lightSide;
  const ly = Math.sin(lightAngle) * lightSide * 0.7 - 0.25;
  const lz = Math.sqrt(Math.max(0.1, 1 - lx * lx - ly * ly));
  const ambient = rng.range(0.38, 0.6);
  const chinShift = 0.45 * sinY;
  const light: HeadLight = { chin: chinShift, turn: 0.25 * sinY, invWidth: 1 / (a * 1.05), ambient, lx, ly, lz };
  const faceShade = (u: number, v: number) => headShade(u, v, light.chin, light.turn, light.invWidth, light.ambient, light.lx, light.ly, light.lz);

  const hairSeed = id.textureSeed ^ 0x68a1;
  const hair = id.hair;

  // ---- feature placement (face units) ----
  const eyeZ = 0.6;
  const eyes = [-1, 1].map((sideSign) => {
    const x0 = sideSign * id.eyeX;
    return { sideSign, x: proj(x0, eyeZ), y: id.eyeY, kx: fore(x0) };
  });
  const tipX = proj(0, 0.92);
  const bridgeX = proj(0, 0.72);
  const tipY = id.noseTipY;
  const mouthX = proj(0, 0.7);
  const mouthY = id.mouthY + 0.2 * ex.open;
  const mouthK = cosY;
  const cheekRaise = ex.lowerLid;

  // ---- head (face skin), made here and drawn after the ears (see the cover below) ----
  const headShape = ((): Shape => {
    const [darkR, darkG, darkB] = mix(id.hair, [30, 25, 22], 0.5);
    const [skinR, skinG, skinB] = id.skin;
    // everything the pixel loops read, copied into locals once per batch or run (see HeadLight)
    const head = {
      a,
      jaw: id.jaw,
      chin: chinShift,
      seed: id.textureSeed,
      blush: id.blush,
      cheekRaise,
      stubble: id.stubble,
      stubbleTop: tipY + 0.06,
      e0x: eyes[0].x,
      e1x: eyes[1].x,
      ey: id.eyeY,
      cheekY: 0.3 - 0.05 * cheekRaise,
      c0x: proj(-0.37, 0.5),
      c1x: proj(0.37, 0.5),
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
      span() {
        const { rgb, mask, n, du: stepU, dv: stepV, scale, inside } = RUN;
        const { chin, turn, invWidth, ambient, lx, ly, lz } = light;
        const { seed, blush, cheekRaise, stubble, stubbleTop, e0x, e1x, ey, cheekY, c0x, c1x, darkR, darkG, darkB, skinR, skinG, skinB } = head;
        const cls = CLASS.skin;
        let { i, u, v } = RUN;
        for (let p = 0; p < n; p++, i++, u += stepU, v += stepV) {
          let dp = -1;
          if (!inside) {
            dp = SPAN_D[p] * scale;
            if (dp >= 0.5) continue;
          }
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
          blend(rgb, mask, i, dp, Math.fround(r), Math.fround(g), Math.fround(b), 1, cls);
        }
      },
    };
  })();

  // ---- hair over the head, made here and drawn after the mouth ----
  let hairOpaque = false;
  const hairShape = ((): Shape | null => {
    if (id.hairStyle === 'bald') return null;
    const spec = hairlineSpec(id.hairStyle, id.hairPart);
    const shift = 0.5 * sinY;
    const curly = id.hairStyle === 'curly';
    const capA = a + (curly ? 0.13 : 0.05);
    const capB = curly ? 1.18 : 1.07;
    const capCY = curly ? -0.08 : -0.02;
    const alpha = id.hairStyle === 'buzz' ? 0.55 : 1;
    const alpha32 = Math.fround(alpha);
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
    hairOpaque = alpha >= 1;
    // everything the pixel loops read, copied into locals once per batch or run (see HeadLight)
    const cap = { lut0, lutStep, lockInner, lockBottom, lockR, shift, early, capA, capB, capCY, cosPhase: Math.cos(phase), sinPhase: Math.sin(phase) };
    const look = { seed: hairSeed, sheen, hairR: hair[0], hairG: hair[1], hairB: hair[2] };
    return {
      toPixel: F,
      bounds: [-capA - 0.05, capCY - capB - 0.05, capA + 0.05, Math.min(1.1, lowest + 0.05)],
      scale: s,
      cls: CLASS.hair,
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
      span() {
        const { rgb, mask, n, du: stepU, dv: stepV, scale, inside } = RUN;
        const { chin, turn, invWidth, ambient, lx, ly, lz } = light;
        const { seed, sheen, hairR, hairG, hairB } = look;
        const wavy = curly;
        const cls = CLASS.hair;
        let { i, u, v } = RUN;
        for (let p = 0; p < n; p++, i++, u += stepU, v += stepV) {
          let dp = -1;
          if (!inside) {
            dp = SPAN_D[p] * scale;
            if (dp >= 0.5) continue;
          }
          const du = u;
          const dv = v + 1.1;
          const ang = du / (Math.abs(dv) + 0.3);
          const r = Math.sqrt(du * du + dv * dv);
          const nz = wavy ? fbm2(u * 22, v * 22, seed) : valueNoise(ang * 36, r * 5, seed);
          const k = (0.55 + 0.5 * nz) * (0.75 + 0.3 * headShade(u * 0.7, v * 0.7, chin, turn, invWidth, ambient, lx, ly, lz));
          const b2 = (r - 0.75) * (r - 0.75) * (1 / 0.012);
          const band = b2 < 1 ? (1 - b2) * (1 - b2) * Math.max(0, -lx * u + 0.4) : 0;
          const cr = Math.fround(hairR * k + sheen * band);
          const cg = Math.fround(hairG * k + sheen * band);
          const cb = Math.fround(hairB * k + sheen * band * 0.9);
          blend(rgb, mask, i, dp, cr, cg, cb, alpha32, cls);
        }
      },
    };
  })();

  // ---- what the head and the hair over it hide: nothing drawn before them shows there ----
  // (`coverHead`: pixels inside the head or the opaque hair over it, hidden from the backdrop, the hair
  // behind the head and the ears; `coverHair`: inside the opaque hair, hidden from the face too)
  const headPlan = planShape(canvas, headShape);
  const hairPlan = hairShape ? planShape(canvas, hairShape) : null;
  const coverHair = new Int32Array(2 * H);
  if (hairPlan && hairOpaque) addCover(hairPlan, coverHair);
  const coverHead = coverHair.slice();
  addCover(headPlan, coverHead);

  // ---- background, clutter and body, drawn at half resolution (a soft, out-of-focus backdrop) ----
  const bg = backdropCanvas(W, H);
  const bgW = bg.width;
  const bgH = bg.height;
  bg.cover = backdropCover(coverHead, bgW, bgH, W, H);
  const view: Mat = [bgW / W, 0, 0, 0, bgH / H, 0];
  const viewScale = bgW / W;
  const clutter = opts.clutter;
  {
    const c0 = randomColour(rng);
    const c1 = rng.chance(0.5) ? randomColour(rng) : mix(c0, [0, 0, 0], 0.4);
    const freq = rng.range(1.5, 5) / bgW;
    const seed = rng.uint32();
    const gx = rng.sym(0.6) / bgW;
    const gy = rng.sym(0.6) / bgH;
    fillBackdrop(bg.rgb, bg.cover, bgW, bgH, freq, seed, Math.min(1, clutter + 0.3), gx, gy, c0[0], c0[1], c0[2], c1[0], c1[1], c1[2]);
    const n = Math.round(rng.range(3, 9) * clutter);
    for (let k = 0; k < n; k++) drawClutter(bg, view, viewScale, W, H, rng, side, id);
  }
  {
    const Fb = compose(view, F);
    const sb = s * viewScale;
    const clothes = randomColour(rng);
    const pattern = rng.chance(0.35) ? randomPattern(rng, clothes, s) : null;
    const neckX = -0.12 * sinY;
    const shoulderShade = faceShade(0, 0.6);
    const bodyDist = (u: number, v: number) => ellipseDist(u - neckX * 2, v - 2.1, 2.0, 0.85);
    const cr = Math.fround(clothes[0]);
    const cg = Math.fround(clothes[1]);
    const cb = Math.fround(clothes[2]);
    draw(bg, {
      toPixel: Fb,
      bounds: [-2.2, 1.2, 2.2, 3.2],
      scale: sb,
      cls: -1,
      lipschitz: 1.5,
      distSpan(n) {
        for (let k = 0; k < n; k++) SPAN_D[k] = bodyDist(SPAN_U[k], SPAN_V[k]);
      },
      span() {
        const { rgb, mask, n, du: stepU, dv: stepV, scale, inside } = RUN;
        let { i, u, v } = RUN;
        if (pattern) patternRun(pattern, n, u, v, stepU, stepV, s);
        for (let p = 0; p < n; p++, i++, u += stepU, v += stepV) {
          let dp = -1;
          if (!inside) {
            dp = SPAN_D[p] * scale;
            if (dp >= 0.5) continue;
          }
          let r = cr;
          let g = cg;
          let b = cb;
          if (pattern) {
            const t = PATTERN_T[p];
            r = Math.fround(pattern.r0 + (pattern.r1 - pattern.r0) * t);
            g = Math.fround(pattern.g0 + (pattern.g1 - pattern.g0) * t);
            b = Math.fround(pattern.b0 + (pattern.b1 - pattern.b0) * t);
          }
          const sh = shoulderShade * (0.8 + 0.2 * smoothstep(1.3, 2.0, v));
          blend(rgb, mask, i, dp, Math.fround(r * sh), Math.fround(g * sh), Math.fround(b * sh), 1, -1);
        }
      },
    });
    const neckSkin = id.skin;
    const neckShade = faceShade(0, 0.5);
    const neckW = 0.4 * (a / 0.74);
    const neckDist = (u: number, v: number) => boxDist(u - neckX, v - 1.1, neckW + 0.04 * Math.max(0, v - 1.2), 0.75, 0.1);
    draw(bg, {
      toPixel: Fb,
      bounds: [-0.7, 0.3, 0.7, 1.9],
      scale: sb,
      cls: -1,
      lipschitz: 1.5,
      distSpan(n) {
        for (let k = 0; k < n; k++) SPAN_D[k] = neckDist(SPAN_U[k], SPAN_V[k]);
      },
      span() {
        const { rgb, mask, n, du: stepU, dv: stepV, scale, inside } = RUN;
        let { i, u, v } = RUN;
        for (let p = 0; p < n; p++, i++, u += stepU, v += stepV) {
          let dp = -1;
          if (!inside) {
            dp = SPAN_D[p] * scale;
            if (dp >= 0.5) continue;
          }
          const sh = neckShade * (0.62 + 0.22 * smoothstep(0.95, 1.45, v)) * (1 - 0.1 * smoothstep(0.1, 0.4, Math.abs(u - neckX)));
          blend(rgb, mask, i, dp, Math.fround(neckSkin[0] * sh), Math.fround(neckSkin[1] * sh), Math.fround(neckSkin[2] * sh), 1, -1);
        }
      },
    });
  }
  upsample(bg, canvas, coverHead);

  canvas.cover = coverHead;
  // ---- hair behind the head ----
  const hairBack = backHair(id.hairStyle, a, id.hairPart);
  if (hairBack) {
    draw(canvas, {
      toPixel: F,
      bounds: hairBack.bounds,
      scale: s,
      cls: CLASS.hair,
      lipschitz: hairBack.lipschitz,
      distSpan: hairBack.distSpan,
      span() {
        const { rgb, mask, n, du: stepU, dv: stepV, scale, inside } = RUN;
        const { chin, turn, invWidth, ambient, lx, ly, lz } = light;
        const seed = hairSeed;
        const [hairR, hairG, hairB] = hair;
        const cls = CLASS.hair;
        let { i, u, v } = RUN;
        for (let p = 0; p < n; p++, i++, u += stepU, v += stepV) {
          let dp = -1;
          if (!inside) {
            dp = SPAN_D[p] * scale;
            if (dp >= 0.5) continue;
          }
          const nz = valueNoise(u * 38 + v * 3 * u, v * 2.5, seed);
          const sh = (0.5 + 0.45 * nz) * (0.75 + 0.25 * headShade(u * 0.8, v * 0.5, chin, turn, invWidth, ambient, lx, ly, lz));
          blend(rgb, mask, i, dp, Math.fround(hairR * sh), Math.fround(hairG * sh), Math.fround(hairB * sh), 1, cls);
        }
      },
    });
  }

  // ---- ears (face skin), hidden by hair that falls over them ----
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
        const k = faceShade(sideSign * a * 0.9, v) * (inner < 0 ? 0.72 : 0.9);
        out[0] = skin[0] * k;
        out[1] = skin[1] * k * 0.97;
        out[2] = skin[2] * k * 0.97;
      },
    });
  }

  // ---- head ----
  canvas.cover = coverHair;
  draw(canvas, headShape, headPlan);

  const shadowSkin = (k: number): RGB => {
    const sh = faceShade(0, 0.2) * k;
    return [id.skin[0] * sh, id.skin[1] * sh * 0.95, id.skin[2] * sh * 0.95];
  };
  // ---- skin lines: forehead wrinkles, frown, nasolabial folds, shadow under the nose ----
  {
    const fw = ex.foreheadWrinkle;
    if (fw > 0.1) {
      for (let k = 0; k < 3; k++) {
        const y = id.eyeY - id.browLift + ex.browRaise - 0.12 - 0.075 * k;
        draw(canvas, arcStroke(compose(F, frame(proj(0, 0.7), y, 0)), s, 0.28 - 0.04 * k, 0.5, 0.011, shadowSkin(0.7), 0.45 * fw));
      }
    }
    if (ex.frown > 0.1) {
      for (const sg of [-1, 1]) {
        const x = proj(sg * 0.045, 0.72);
        const y = id.eyeY - id.browLift + 0.1;
        draw(canvas, arcStroke(compose(F, frame(x, y, Math.PI / 2 + sg * 0.15)), s, 0.055, 0.8, 0.01, shadowSkin(0.65), 0.55 * ex.frown));
      }
    }
    const nl = 0.1 + 0.4 * ex.nasolabial + 0.1 * id.stubble;
    for (const sg of [-1, 1]) {
      const x0 = proj(sg * (id.noseWing + 0.035), 0.8);
      const y0 = tipY + 0.01;
      const x1 = proj(sg * (id.mouthHW * ex.width + 0.045), 0.65);
      const y1 = mouthY - ex.curve * 0.8;
      const len = Math.hypot(x1 - x0, y1 - y0);
      const ang = Math.atan2(y1 - y0, x1 - x0);
      // bulge away from the mouth: the parabola opens towards the face centre
      const k = (ang > -Math.PI / 2 && ang < Math.PI / 2 ? 1 : -1) * sg * -0.9;
      draw(canvas, arcStroke(compose(F, frame((x0 + x1) / 2, (y0 + y1) / 2, ang)), s, len / 2, k, 0.016, shadowSkin(0.72), nl));
    }
    const sub = shadowSkin(0.6);
    draw(canvas, {
      toPixel: compose(F, frame(proj(0, 0.85), tipY + 0.065, 0)),
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

  // ---- nose ----
  const noseFrame = featureFrame(tipX, tipY, 1, 0, cosY, 0);
  {
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
        let k = faceShade(tipX + u * 0.5, tipY + v);
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
        draw(canvas, arcStroke(compose(toPixel, frame(0, top * (0.55 - 0.12 * k), 0)), s, 0.045, -3, 0.008, shadowSkin(0.6), 0.5 * ex.noseWrinkle));
      }
    }
  }

  // ---- eyes ----
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
    const toPixel = featureFrame(e.x, e.y, e.sideSign, id.eyeTilt, e.kx);
    const irisR = hw * 0.42;
    const gx = clamp(gazeX * e.sideSign, -0.4 * hw, 0.4 * hw);
    const tg = gx / hw;
    const lidTop = yU(tg);
    const lidBottom = yL(tg);
    const gy = clamp((id.eyeLow - id.eyeUp) / 2 + gazeY, lidTop + 0.35 * (lidBottom - lidTop), lidBottom - 0.35 * (lidBottom - lidTop));
    const iris = id.iris;
    const shade = faceShade(e.x, e.y) * 1.05;
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
    // lash line along the upper lid, the crease above it and the lower lid line
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
    const crease = shadowSkin(0.72);
    draw(canvas, {
      toPixel,
      bounds: [-hw, -up * 1.6 - 0.06, hw, 0],
      scale: s,
      cls: -1,
      dist() {
        const u = AT[0];
        const v = AT[1];
        const t = u / hw;
        const c = yU(t * 0.95) * 1.25 - 0.028;
        AT[2] = Math.max(Math.abs(v - c) - 0.006, Math.abs(u) - hw * 0.85);
      },
      paint(out) {
        const u = AT[0];
        out[0] = crease[0];
        out[1] = crease[1];
        out[2] = crease[2];
        const t = u / (hw * 0.85);
        out[3] = 0.45 * (1 - t * t);
      },
    });
    const lower = shadowSkin(0.78);
    draw(canvas, {
      toPixel,
      bounds: [-hw, 0, hw, low + 0.03],
      scale: s,
      cls: -1,
      dist() {
        const u = AT[0];
        const v = AT[1];
        const t = u / hw;
        const c = yL(t) + 0.006;
        AT[2] = Math.max(Math.abs(v - c) - 0.005, Math.abs(u) - hw * 0.9);
      },
      paint(out) {
        const u = AT[0];
        out[0] = lower[0];
        out[1] = lower[1];
        out[2] = lower[2];
        out[3] = 0.4 * (1 - (u / hw) * (u / hw));
      },
    });
    eyeCentres.push(apply(toPixel, gx, gy));
  }

  // ---- brows ----
  for (const e of eyes) {
    const x0 = e.sideSign * (id.eyeX + id.browOut);
    const bx = proj(x0, 0.64);
    const by = id.eyeY - id.browLift + ex.browRaise + 0.02 * ex.lowerLid;
    const hw = id.browHW;
    const arch = id.browArch + ex.browArch;
    const inner = ex.browInner;
    const th = id.browThick * (1 + 0.1 * ex.frown);
    const toPixel = featureFrame(bx, by, e.sideSign, id.browTilt, fore(x0));
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

  // ---- mouth ----
  let mouthCorners: [number, number][];
  {
    const hw = id.mouthHW * ex.width;
    const curve = id.restCurve + ex.curve;
    const open = ex.open;
    const raise = ex.upperRaise;
    const upperT = id.upperT * ex.lips;
    const lowerT = id.lowerT * ex.lips * (1 + 0.3 * Math.max(0, -ex.curve) / 0.065 * 0.5);
    const round = ex.width < 0.9;
    const toPixel = featureFrame(mouthX, mouthY, 1, 0, mouthK);
    const lip = id.lip;
    const aaW = 0.7 / s;
    const teeth = ex.teeth;
    const seed = id.textureSeed ^ 0x91;
    const shadeM = faceShade(mouthX, mouthY);
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
    mouthCorners = [apply(toPixel, -hw, -curve), apply(toPixel, hw, -curve)];
  }

  // ---- hair over the head ----
  canvas.cover = null;
  if (hairShape) draw(canvas, hairShape, hairPlan!);

  // ---- glasses (no class: the mask keeps the eyes) ----
  const glasses = rng.chance(opts.glasses);
  if (glasses) {
    const frameColour: RGB = rng.pick<RGB>([
      [20, 18, 18],
      [70, 40, 25],
      [150, 150, 155],
      [110, 30, 30],
      [30, 40, 90],
    ]);
    const rw = rng.range(0.012, 0.024);
    const rx = id.eyeHW * rng.range(1.45, 1.65);
    const ry = id.eyeHW * rng.range(1.05, 1.2);
    const ey = id.eyeY + 0.01;
    // an indexed loop: `for...of` over an array of the two rims kept throwing V8 out of optimised code
    for (let r = 0; r < eyes.length; r++) {
      const toPixel = compose(F, frame(eyes[r].x, ey, 0, eyes[r].kx, 1));
      draw(canvas, {
        toPixel,
        bounds: [-rx - rw, -ry - rw, rx + rw, ry + rw],
        scale: s,
        cls: -1,
        dist: () => {
          const u = AT[0];
          const v = AT[1];
          AT[2] = ellipseDist(u, v, rx + rw / 2, ry + rw / 2);
        },
        paint(out) {
          const u = AT[0];
          const v = AT[1];
          const ring = Math.abs(ellipseDist(u, v, rx, ry)) < rw / 2;
          out[0] = ring ? frameColour[0] : 200;
          out[1] = ring ? frameColour[1] : 215;
          out[2] = ring ? frameColour[2] : 230;
          out[3] = ring ? 1 : 0.1;
        },
      });
    }
    const x0 = eyes[0].x + rx * eyes[0].kx;
    const x1 = eyes[1].x - rx * eyes[1].kx;
    if (x1 > x0) {
      draw(canvas, {
        toPixel: compose(F, frame((x0 + x1) / 2, ey - ry * 0.3, 0)),
        bounds: [-(x1 - x0) / 2 - 0.01, -0.03, (x1 - x0) / 2 + 0.01, 0.03],
        scale: s,
        cls: -1,
        dist: () => {
          const u = AT[0];
          const v = AT[1];
          AT[2] = boxDist(u, v + 0.012 * (1 - (2 * u) ** 2 / ((x1 - x0) ** 2 + 1e-6)), (x1 - x0) / 2 + 0.005, rw / 2);
        },
        paint(out) {
          out[0] = frameColour[0];
          out[1] = frameColour[1];
          out[2] = frameColour[2];
        },
      });
    }
    for (const e of eyes) {
      const inner = e.x + e.sideSign * rx * e.kx;
      const outer = e.sideSign * (a - 0.02);
      if (e.sideSign * (outer - inner) <= 0) continue;
      draw(canvas, {
        toPixel: compose(F, frame((inner + outer) / 2, ey - ry * 0.35, 0)),
        bounds: [-Math.abs(outer - inner) / 2 - 0.01, -0.03, Math.abs(outer - inner) / 2 + 0.01, 0.03],
        scale: s,
        cls: -1,
        dist: () => {
          const u = AT[0];
          const v = AT[1];
          AT[2] = boxDist(u, v, Math.abs(outer - inner) / 2, rw * 0.45);
        },
        paint(out) {
          out[0] = frameColour[0];
          out[1] = frameColour[1];
          out[2] = frameColour[2];
        },
      });
    }
  }

  // ---- occluders (background class) ----
  const occluders: Shape[] = [];
  if (rng.chance(opts.occlusion)) {
    const n = rng.chance(0.2) ? 2 : 1;
    for (let k = 0; k < n; k++) {
      const shape = occluder(rng, F, s, id, a);
      draw(canvas, shape);
      occluders.push(shape);
    }
  }

  // ---- labels ----
  const [nx, ny] = apply(noseFrame, 0, 0);
  const points: [number, number][] = [eyeCentres[0], eyeCentres[1], [nx, ny], mouthCorners[0], mouthCorners[1]];
  // visible: no occluder within 2 pixels of the point
  const visible = points.map(([x, y]) => occluders.every((o) => distanceAt(o, x, y) >= 2));
  let bx0 = Infinity;
  let by0 = Infinity;
  let bx1 = -Infinity;
  let by1 = -Infinity;
  for (const [u, v] of [
    [-a, -0.62],
    [a, -0.62],
    [-a, 1.03],
    [a, 1.03],
  ]) {
    const [x, y] = apply(F, u, v);
    bx0 = Math.min(bx0, x);
    by0 = Math.min(by0, y);
    bx1 = Math.max(bx1, x);
    by1 = Math.max(by1, y);
  }
  return {
    points,
    faceBox: [bx0, by0, bx1 - bx0, by1 - by0],
    visible,
    occluded: occluders.length > 0,
    glasses,
    yaw: yaw / DEG,
    roll: roll / DEG,
    faceScale: s,
  };
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

/** A random background object; some are skin or hair coloured to be confusable with the face. */
function drawClutter(canvas: Canvas, view: Mat, viewScale: number, W: number, H: number, rng: Rng, side: number, id: Identity): void {
  const x = rng.range(-0.1, 1.1) * W;
  const y = rng.range(-0.1, 1.1) * H;
  const angle = rng.range(0, Math.PI);
  const kind = rng.int(5);
  const w = side * rng.range(0.05, 0.35);
  const h = kind === 3 ? side * rng.range(0.01, 0.04) : side * rng.range(0.05, 0.35);
  const lookalike = rng.next();
  const base = lookalike < 0.12 ? mix(id.skin, randomColour(rng), 0.3) : lookalike < 0.2 ? mix(id.hair, randomColour(rng), 0.3) : randomColour(rng);
  const pattern = randomPattern(rng, base, side);
  const ring = h * rng.range(0.1, 0.3);
  const wobble = rng.range(0, 0.25);
  const freq = rng.int(5) + 3;
  const corner = Math.min(w, h) * 0.1;
  const amp = wobble * Math.min(w, h);

  const grow = 1 + wobble;
  const eu = (kind === 3 ? 2 * w : w) * grow + ring + 1;
  // what the distance loops read, copied into locals once per batch
  const geometry = { w, h, corner, ring, amp, freq };
  const ev = h * grow + ring + 1;
  draw(canvas, {
    toPixel: compose(view, frame(x, y, angle)),
    bounds: [-eu, -ev, eu, ev],
    scale: viewScale,
    // a guess (the wobble and the ellipse approximation exceed it here and there): background only, no labels
    lipschitz: 1.5,
    cls: -1,
    distSpan(n) {
      const { w, h, corner, ring, amp, freq } = geometry;
      // one loop per kind, so that V8 inlines each distance
      switch (kind) {
        case 0:
          for (let k = 0; k < n; k++) SPAN_D[k] = boxDist(SPAN_U[k], SPAN_V[k], w, h, corner);
          break;
        case 1:
          for (let k = 0; k < n; k++) SPAN_D[k] = ellipseDist(SPAN_U[k], SPAN_V[k], w, h);
          break;
        case 2:
          for (let k = 0; k < n; k++) SPAN_D[k] = Math.abs(ellipseDist(SPAN_U[k], SPAN_V[k], w, h)) - ring;
          break;
        case 3:
          for (let k = 0; k < n; k++) SPAN_D[k] = boxDist(SPAN_U[k], SPAN_V[k], w * 2, h);
          break;
        default:
          for (let k = 0; k < n; k++) {
            const u = SPAN_U[k];
            const v = SPAN_V[k];
            SPAN_D[k] = ellipseDist(u, v, w, h) + amp * sinOfMultiple(u, v, freq, 1, 0);
          }
      }
    },
    span() {
      const { r0, g0, b0 } = pattern;
      const dr = pattern.r1 - r0;
      const dg = pattern.g1 - g0;
      const db = pattern.b1 - b0;
      const { rgb, mask, n, scale, inside } = RUN;
      let i = RUN.i;
      patternRun(pattern, n, RUN.u, RUN.v, RUN.du, RUN.dv, 1);
      for (let p = 0; p < n; p++, i++) {
        let dp = -1;
        if (!inside) {
          dp = SPAN_D[p] * scale;
          if (dp >= 0.5) continue;
        }
        const t = PATTERN_T[p];
        blend(rgb, mask, i, dp, Math.fround(r0 + dr * t), Math.fround(g0 + dg * t), Math.fround(b0 + db * t), 1, -1);
      }
    },
  });
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

/** Per destination column (or row) of an upsampling: the first source index and the weight of the next one. */
interface Taps {
  index: Int32Array;
  weight: Float32Array;
}

const tapCache = new Map<number, Taps>();

/** Bilinear taps from `n` source samples onto `m` destination samples (pixel centres aligned). */
function taps(n: number, m: number): Taps {
  const key = n * 8192 + m;
  let t = tapCache.get(key);
  if (t) return t;
  if (tapCache.size > 64) tapCache.clear();
  t = { index: new Int32Array(m), weight: new Float32Array(m) };
  for (let x = 0; x < m; x++) {
    const fx = Math.max(0, ((x + 0.5) * n) / m - 0.5);
    const x0 = Math.min(Math.floor(fx), n - 1);
    t.index[x] = x0;
    t.weight[x] = x0 < n - 1 ? fx - x0 : 0;
  }
  tapCache.set(key, t);
  return t;
}

/**
 * Bilinear upsampling of a small canvas's colours over a whole larger canvas, but for the pixels
 * `cover` says later shapes hide (see {@link Canvas.cover}). Each source row is interpolated across
 * once, then every destination pixel mixes two such rows.
 */
function upsample(src: Canvas, dst: Canvas, cover: Int32Array): void {
  const { width: sw, height: sh, rgb: srgb } = src;
  const { width: dw, height: dh, rgb: drgb } = dst;
  const { index: xi, weight: xt } = taps(sw, dw);
  const { index: yi, weight: yt } = taps(sh, dh);
  const stride = dw * 3;
  // the two interpolated source rows
  if (rowScratch.length < 2 * stride) rowScratch = new Float32Array(2 * stride);
  const rows = [rowScratch.subarray(0, stride), rowScratch.subarray(stride, 2 * stride)];
  let top = 0; // the slot of the upper row
  /** Pixels `[from, to)` of row `y` from the upper row (slot `top`) and the lower one. */
  const mixRow = (y: number, from: number, to: number) => mixFloats(rows[top], rows[top ^ 1], yt[y], drgb, y * stride, from * 3, to * 3);
  let r0 = -1; // source row in slot `top`
  let r1 = -1; // source row in the other slot
  for (let y = 0; y < dh; y++) {
    const y0 = yi[y];
    const y1 = Math.min(y0 + 1, sh - 1);
    if (r0 !== y0) {
      if (r1 === y0) {
        top ^= 1;
        r1 = -1;
      } else interpolateRow(srgb, y0 * sw * 3, rows[top], xi, xt, dw);
      r0 = y0;
    }
    if (r1 !== y1) {
      interpolateRow(srgb, y1 * sw * 3, rows[top ^ 1], xi, xt, dw);
      r1 = y1;
    }
    const cl = cover[2 * y];
    const cr = cover[2 * y + 1];
    if (cr <= cl) mixRow(y, 0, dw);
    else {
      mixRow(y, 0, cl);
      mixRow(y, cr, dw);
    }
  }
}

/**
 * The cover of the backdrop canvas (`bw` x `bh`, upsampled onto `w` x `h`): per row the pixels that
 * feed only destination pixels inside `cover` (see {@link Canvas.cover}).
 */
function backdropCover(cover: Int32Array, bw: number, bh: number, w: number, h: number): Int32Array {
  const out = new Int32Array(2 * bh);
  const xi = taps(bw, w).index;
  const yi = taps(bh, h).index;
  // per source column, the first and last destination column that reads it
  const first = new Int32Array(bw).fill(w);
  const last = new Int32Array(bw).fill(-1);
  for (let x = 0; x < w; x++) {
    const a = xi[x];
    const b = Math.min(a + 1, bw - 1);
    if (first[a] > x) first[a] = x;
    last[a] = x;
    if (first[b] > x) first[b] = x;
    last[b] = x;
  }
  // per source row, the intersection of the covers of the destination rows that read it
  const lo = new Int32Array(bh);
  const hi = new Int32Array(bh).fill(w);
  const read = new Uint8Array(bh);
  for (let y = 0; y < h; y++) {
    // the two rows it reads (the same one at the bottom edge)
    for (let r = yi[y], e = Math.min(r + 1, bh - 1); r <= e; r++) {
      read[r] = 1;
      lo[r] = Math.max(lo[r], cover[2 * y]);
      hi[r] = Math.min(hi[r], cover[2 * y + 1]);
    }
  }
  for (let r = 0; r < bh; r++) {
    if (!read[r] || hi[r] <= lo[r]) continue;
    let x0 = 0;
    while (x0 < bw && first[x0] < lo[r]) x0++;
    let x1 = x0;
    while (x1 < bw && last[x1] < hi[r] && first[x1] >= lo[r]) x1++;
    if (x1 > x0) {
      out[2 * r] = x0;
      out[2 * r + 1] = x1;
    }
  }
  return out;
}
let rowScratch = new Float32Array(0);

/** One source row interpolated across to `dw` pixels (see {@link upsample}). */
function interpolateRow(srgb: Float32Array, base: number, row: Float32Array, xi: Int32Array, xt: Float32Array, dw: number): void {
  for (let x = 0, j = 0; x < dw; x++, j += 3) {
    const a = base + xi[x] * 3;
    const tx = xt[x];
    const b = tx > 0 ? a + 3 : a;
    row[j] = srgb[a] + (srgb[b] - srgb[a]) * tx;
    row[j + 1] = srgb[a + 1] + (srgb[b + 1] - srgb[a + 1]) * tx;
    row[j + 2] = srgb[a + 2] + (srgb[b + 2] - srgb[a + 2]) * tx;
  }
}

/** Floats `[j0, j1)` of a destination row: `top + (bottom - top) * ty` into `drgb` from `o`. */
function mixFloats(top: Float32Array, bottom: Float32Array, ty: number, drgb: Float32Array, o: number, j0: number, j1: number): void {
  for (let j = j0; j < j1; j++) drgb[o + j] = top[j] + (bottom[j] - top[j]) * ty;
}

const scratchCanvases = new Map<string, Canvas>();

/** The size of the backdrop drawn behind a `width` x `height` face: half resolution, at least 16 px. */
function backdropSize(width: number, height: number): [number, number] {
  return [Math.max(16, Math.ceil(width / 2)), Math.max(16, Math.ceil(height / 2))];
}

/**
 * The canvas for the backdrop of a `width` x `height` face (its colours are fully overwritten, its
 * mask is never read), reused.
 */
function backdropCanvas(width: number, height: number): Canvas {
  const [bw, bh] = backdropSize(width, height);
  const key = `${bw}x${bh}`;
  let canvas = scratchCanvases.get(key);
  if (!canvas) {
    if (scratchCanvases.size > 16) scratchCanvases.clear();
    canvas = new Canvas(bw, bh);
    scratchCanvases.set(key, canvas);
  }
  return canvas;
}

let gridScratch = new Float64Array(0);

/**
 * A smooth two-colour backdrop (value noise plus a linear gradient), but for the pixels of `cover`.
 * The noise (lattice cells of `1 / freq` pixels) is sampled every 1 to 4 pixels, at least 4.5 samples
 * per cell, and interpolated bilinearly between; a kernel of its own for V8.
 */
function fillBackdrop(
  rgb: Float32Array,
  cover: Int32Array,
  width: number,
  height: number,
  freq: number,
  seed: number,
  amount: number,
  gx: number,
  gy: number,
  r0: number,
  g0: number,
  b0: number,
  r1: number,
  g1: number,
  b1: number,
): void {
  const GRID = Math.max(1, Math.min(4, Math.floor(1 / (4.5 * freq))));
  const gw = Math.ceil((width - 1) / GRID) + 1;
  const gh = Math.ceil((height - 1) / GRID) + 1;
  if (gridScratch.length < gw * gh + gw + 1) gridScratch = new Float64Array(gw * gh + gw + 1);
  const grid = gridScratch;
  for (let j = 0, q = 0; j < gh; j++) {
    for (let k = 0; k < gw; k++, q++) grid[q] = valueNoise(k * GRID * freq, j * GRID * freq, seed) * amount;
  }
  // per row: the grid interpolated down to it (`col`, after the grid), then across per pixel
  const col = gw * gh;
  const step = 1 / GRID;
  for (let y = 0; y < height; y++) {
    const cl = cover[2 * y];
    const cr = cover[2 * y + 1];
    const j = (y / GRID) | 0;
    const fy = (y - j * GRID) * step;
    const top = j * gw;
    const bottom = j + 1 < gh ? top + gw : top;
    for (let k = 0; k < gw; k++) grid[col + k] = grid[top + k] + (grid[bottom + k] - grid[top + k]) * fy;
    const base = (y - height / 2) * gy - (width / 2) * gx;
    for (let x = 0, i = y * width * 3; x < width; x++, i += 3) {
      if (x === cl && cr > cl) {
        x = cr - 1;
        i = (y * width + x) * 3;
        continue;
      }
      const k = col + ((x / GRID) | 0);
      const fx = (x - (k - col) * GRID) * step;
      // fx is 0 on the last grid column, so reading one past it (the slack) adds nothing
      let t = grid[k] + (grid[k + 1] - grid[k]) * fx + x * gx + base;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      rgb[i] = r0 + (r1 - r0) * t;
      rgb[i + 1] = g0 + (g1 - g0) * t;
      rgb[i + 2] = b0 + (b1 - b0) * t;
    }
  }
}
