/**
 * The parameters of a face: who it is (identity) and what it is doing (expression). All lengths are in
 * face units: the head centre is the origin, the chin is at y = 1, x grows to image-right, y downwards.
 */
import type { Rng } from '@ifan/core/rng';
import type { RGB } from './raster';
import { mix } from './raster';
import type { Gender, HairStyle } from './types';

export interface Identity {
  gender: Gender;
  skin: RGB;
  hair: RGB;
  brow: RGB;
  iris: RGB;
  lip: RGB;
  hairStyle: HairStyle;
  /** Hairline asymmetry (side parting), signed. */
  hairPart: number;
  /** Half-width of the head at eye level. */
  faceA: number;
  /** How much the lower face narrows towards the chin, 0..0.5. */
  jaw: number;
  eyeX: number;
  eyeY: number;
  eyeHW: number;
  /** Upper-lid height and lower-lid depth of the open eye. */
  eyeUp: number;
  eyeLow: number;
  /** Outer corner up (radians). */
  eyeTilt: number;
  /** Brow centre line height above the eye centre, and its outward offset. */
  browLift: number;
  browOut: number;
  browHW: number;
  browThick: number;
  browArch: number;
  browTilt: number;
  noseTop: number;
  noseTipY: number;
  noseWing: number;
  mouthY: number;
  mouthHW: number;
  upperT: number;
  lowerT: number;
  /** Mouth corner lift at rest (some faces look a little sad or happy). */
  restCurve: number;
  earY: number;
  earSize: number;
  /** Beard stubble 0..1 (men only). */
  stubble: number;
  blush: number;
  /** Seed of the fixed textures (skin grain, hair strands). */
  textureSeed: number;
}

const SKIN_TONES: RGB[] = [
  [255, 226, 200],
  [243, 200, 170],
  [228, 178, 142],
  [204, 146, 110],
  [170, 112, 80],
  [128, 82, 58],
  [92, 58, 42],
];

const HAIR_COLOURS: { rgb: RGB; weight: number }[] = [
  { rgb: [22, 18, 16], weight: 4 },
  { rgb: [55, 38, 27], weight: 4 },
  { rgb: [98, 66, 42], weight: 3 },
  { rgb: [145, 106, 68], weight: 2 },
  { rgb: [212, 178, 118], weight: 1.5 },
  { rgb: [140, 62, 30], weight: 0.8 },
  { rgb: [150, 146, 142], weight: 0.8 },
  { rgb: [214, 210, 205], weight: 0.4 },
];

const IRIS_COLOURS: RGB[] = [
  [92, 58, 32],
  [48, 32, 22],
  [78, 118, 158],
  [86, 116, 78],
  [122, 96, 52],
];

const HAIR_STYLES: Record<Gender, [HairStyle, number][]> = {
  male: [
    ['short', 0.38],
    ['sidepart', 0.17],
    ['buzz', 0.14],
    ['bald', 0.1],
    ['curly', 0.11],
    ['long', 0.05],
    ['bangs', 0.05],
  ],
  female: [
    ['long', 0.32],
    ['bob', 0.18],
    ['bangs', 0.15],
    ['bun', 0.12],
    ['curly', 0.1],
    ['sidepart', 0.1],
    ['short', 0.03],
  ],
};

export function sampleIdentity(rng: Rng): Identity {
  const gender: Gender = rng.chance(0.5) ? 'male' : 'female';
  const f = gender === 'female';
  const tone = rng.next() * (SKIN_TONES.length - 1);
  const i0 = Math.floor(tone);
  const base = mix(SKIN_TONES[i0], SKIN_TONES[Math.min(i0 + 1, SKIN_TONES.length - 1)], tone - i0);
  const skin: RGB = [base[0] * rng.range(0.96, 1.04), base[1] * rng.range(0.96, 1.03), base[2] * rng.range(0.94, 1.04)];
  let hair = HAIR_COLOURS[rng.weighted(HAIR_COLOURS.map((h) => h.weight))].rgb;
  if (rng.chance(0.04)) hair = [rng.range(40, 220), rng.range(20, 160), rng.range(40, 220)];
  hair = [hair[0] * rng.range(0.85, 1.15), hair[1] * rng.range(0.85, 1.15), hair[2] * rng.range(0.85, 1.15)];
  const hairLum = 0.3 * hair[0] + 0.59 * hair[1] + 0.11 * hair[2];
  // Brows are darker than light hair and about as dark as dark hair.
  const brow: RGB = hairLum > 110 ? mix(hair, [60, 45, 35], 0.45) : mix(hair, [20, 16, 14], 0.2);
  const lipBase: RGB = mix(skin, [176, 72, 78], rng.range(0.35, 0.55));
  const lip: RGB = f && rng.chance(0.2) ? mix(lipBase, rng.pick<RGB>([[170, 25, 45], [190, 70, 90], [130, 40, 50]]), 0.6) : lipBase;
  const styles = HAIR_STYLES[gender];
  const hairStyle = styles[rng.weighted(styles.map((s) => s[1]))][0];
  const eyeHW = rng.range(0.112, 0.138);
  return {
    gender,
    skin,
    hair,
    brow,
    iris: rng.pick(IRIS_COLOURS),
    lip,
    hairStyle,
    hairPart: rng.sym(0.12),
    faceA: rng.range(0.69, 0.79) * (f ? 0.97 : 1),
    jaw: rng.range(0.12, 0.35) + (f ? 0.06 : 0),
    eyeX: rng.range(0.285, 0.33),
    eyeY: rng.range(-0.03, 0.03),
    eyeHW,
    eyeUp: eyeHW * rng.range(0.4, 0.5),
    eyeLow: eyeHW * rng.range(0.26, 0.33),
    eyeTilt: rng.sym(0.08),
    browLift: rng.range(0.17, 0.21),
    browOut: rng.range(0.0, 0.03),
    browHW: rng.range(0.14, 0.17),
    browThick: rng.range(0.032, 0.048) * (f ? 0.8 : 1.1),
    browArch: rng.range(0.015, 0.045),
    browTilt: rng.sym(0.015),
    noseTop: rng.range(-0.04, 0.0),
    noseTipY: rng.range(0.3, 0.36),
    noseWing: rng.range(0.1, 0.125) * (f ? 0.93 : 1),
    mouthY: rng.range(0.56, 0.62),
    mouthHW: rng.range(0.19, 0.225),
    upperT: rng.range(0.036, 0.052) * (f ? 1.1 : 1),
    lowerT: rng.range(0.048, 0.066) * (f ? 1.12 : 1),
    restCurve: rng.sym(0.01),
    earY: rng.range(0.0, 0.08),
    earSize: rng.range(0.9, 1.1),
    stubble: !f && rng.chance(0.25) ? rng.range(0.3, 0.9) : 0,
    blush: rng.range(0.0, f ? 0.5 : 0.3),
    textureSeed: rng.uint32(),
  };
}

/** How an expression moves the face; zero/one is neutral. Face units. */
export interface ExpressionShape {
  /** Mouth corner lift (positive = corners up). */
  curve: number;
  /** Gap between the lips at the centre. */
  open: number;
  /** Mouth width factor. */
  width: number;
  /** Lip thickness factor (pressed lips < 1). */
  lips: number;
  /** Extra lift of one side of the upper lip (disgust), signed by side. */
  upperRaise: number;
  /** Teeth shown: 0 none, 1 upper, 2 upper and lower. */
  teeth: number;
  /** Brows move up (negative) or down (positive). */
  browRaise: number;
  /** The inner brow ends move down (positive, anger) or up (negative, sadness and fear). */
  browInner: number;
  browArch: number;
  /** Upper-lid opening factor. */
  eyeOpen: number;
  /** Lower lid raised (cheek push), 0..1. */
  lowerLid: number;
  noseWrinkle: number;
  foreheadWrinkle: number;
  frown: number;
  nasolabial: number;
}

export const NEUTRAL_SHAPE: ExpressionShape = {
  curve: 0,
  open: 0,
  width: 1,
  lips: 1,
  upperRaise: 0,
  teeth: 0,
  browRaise: 0,
  browInner: 0,
  browArch: 0,
  eyeOpen: 1,
  lowerLid: 0,
  noseWrinkle: 0,
  foreheadWrinkle: 0,
  frown: 0,
  nasolabial: 0,
};

/**
 * The expression at full intensity, indexed like {@link EXPRESSIONS}. Some have variants (open or
 * closed smile, pressed lips or a snarl) drawn per face.
 */
function fullShape(expression: number, rng: Rng): ExpressionShape {
  const s = { ...NEUTRAL_SHAPE };
  switch (expression) {
    case 0: {
      // angry: brows down and together, eyes narrowed, lips pressed or a snarl
      const snarl = rng.chance(0.4);
      Object.assign(s, {
        curve: -0.025,
        open: snarl ? rng.range(0.04, 0.07) : 0,
        width: snarl ? 1.02 : 0.88,
        lips: snarl ? 0.9 : 0.55,
        teeth: snarl ? 2 : 0,
        browRaise: 0.045,
        browInner: 0.075,
        browArch: -0.015,
        eyeOpen: 0.8,
        lowerLid: 0.35,
        frown: 1,
      });
      break;
    }
    case 1: {
      // disgust: upper lip raised on one side, nose wrinkled, brows down, eyes narrowed
      Object.assign(s, {
        curve: -0.04,
        open: rng.range(0.0, 0.03),
        width: 0.95,
        lips: 1.1,
        upperRaise: rng.pick([-1, 1]) * rng.range(0.03, 0.05),
        teeth: 1,
        browRaise: 0.03,
        browInner: 0.04,
        eyeOpen: 0.62,
        lowerLid: 0.5,
        noseWrinkle: 1,
        frown: 0.6,
        nasolabial: 1,
      });
      break;
    }
    case 2:
      // fear: brows up and together, eyes wide, mouth stretched sideways and open
      Object.assign(s, {
        curve: -0.03,
        open: rng.range(0.05, 0.09),
        width: 1.14,
        lips: 0.8,
        teeth: 2,
        browRaise: -0.055,
        browInner: -0.045,
        browArch: -0.01,
        eyeOpen: 1.45,
        foreheadWrinkle: 0.7,
      });
      break;
    case 3: {
      // happy: corners up, wider mouth, cheeks raised so the eyes narrow
      const open = rng.chance(0.55);
      Object.assign(s, {
        curve: 0.08,
        open: open ? rng.range(0.04, 0.09) : 0,
        width: 1.2,
        lips: 0.85,
        teeth: open ? 1 : 0,
        browRaise: -0.012,
        eyeOpen: 0.7,
        lowerLid: 0.45,
        nasolabial: 1,
      });
      break;
    }
    case 5:
      // sad: corners down, inner brows up, upper lids drooping, lower lip pushed up
      Object.assign(s, {
        curve: -0.065,
        open: 0,
        width: 0.92,
        lips: 1.05,
        browRaise: -0.012,
        browInner: -0.065,
        browArch: -0.01,
        eyeOpen: 0.72,
      });
      break;
    case 6:
      // surprise: brows high and arched, eyes wide, jaw dropped into an O
      Object.assign(s, {
        curve: 0,
        open: rng.range(0.14, 0.2),
        width: 0.72,
        lips: 0.8,
        teeth: rng.chance(0.5) ? 1 : 0,
        browRaise: -0.075,
        browArch: 0.03,
        eyeOpen: 1.55,
        foreheadWrinkle: 1,
      });
      break;
    default:
      break;
  }
  return s;
}

/** The face's expression at an intensity: neutral blended towards the full expression. */
export function expressionShape(expression: number, intensity: number, rng: Rng): ExpressionShape {
  const full = fullShape(expression, rng);
  const out = { ...NEUTRAL_SHAPE };
  for (const key of Object.keys(out) as (keyof ExpressionShape)[]) {
    out[key] = NEUTRAL_SHAPE[key] + (full[key] - NEUTRAL_SHAPE[key]) * intensity;
  }
  out.teeth = full.teeth;
  // A little resting variation so that neutral faces are not all identical.
  out.open += rng.chance(0.15) ? rng.range(0, 0.015) : 0;
  out.browRaise += rng.sym(0.008);
  out.eyeOpen *= rng.range(0.94, 1.06);
  return out;
}
