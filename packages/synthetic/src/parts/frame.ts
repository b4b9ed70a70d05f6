/**
 * Where the face is and how it is lit: the pose drawn from the scene's stream, the frame from face
 * units to pixels, the light on the head and where the features sit. Every part is drawn in this
 * frame. Face units: the head centre is the origin, the chin is at y = 1, x grows to image-right.
 */
import type { Rng } from '@ifan/core/rng';
import type { ExpressionShape, Identity } from '../face';
import { type Mat, type RGB, clamp, compose, frame } from '../raster';

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

export const DEG = Math.PI / 180;

/**
 * The light on the head (see {@link headShade}). The hot pixel loops copy it into locals once per
 * run: V8 then keeps the numbers in registers instead of reloading closure variables per pixel.
 */
export interface HeadLight {
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
export function headShade(u: number, v: number, chin: number, turn: number, invWidth: number, ambient: number, lx: number, ly: number, lz: number): number {
  const nx = clamp((u - chin * (v > 0 ? v * v : 0) - turn) * invWidth, -1, 1);
  const ny = clamp(v * (1 / 1.05), -1, 1);
  const nz = Math.sqrt(Math.max(0, 1 - nx * nx - ny * ny));
  const d = nx * lx + ny * ly + nz * lz;
  return ambient + (1 - ambient) * (d > 0 ? d : 0) * 1.05;
}

/** Where an eye sits: its side (-1 image-left), centre in face units and horizontal foreshortening. */
export interface EyePlace {
  sideSign: number;
  x: number;
  y: number;
  kx: number;
}

/** The face being drawn: who, with what expression, where, and in what light. */
export class FaceFrame {
  readonly width: number;
  readonly height: number;
  /** The shorter image side, pixels. */
  readonly side: number;
  /** Pixels per face unit (the face's half-height). */
  readonly scale: number;
  /** In-plane rotation and yaw, radians. */
  readonly roll: number;
  readonly yaw: number;
  readonly sinY: number;
  readonly cosY: number;
  /** Half-width of the head at eye level (the identity's `faceA`). */
  readonly faceA: number;
  /** Face units to pixels. */
  readonly F: Mat;
  readonly light: HeadLight;
  /** The two eyes, image-left first. */
  readonly eyes: EyePlace[];
  /** The nose tip and the top of the bridge, projected; the tip's height. */
  readonly tipX: number;
  readonly bridgeX: number;
  readonly tipY: number;
  /** The mouth's centre and horizontal foreshortening. */
  readonly mouthX: number;
  readonly mouthY: number;
  readonly mouthK: number;
  /** How far the cheeks push the lower lids up, 0..1. */
  readonly cheekRaise: number;
  /** Seed of the hair's strands. */
  readonly hairSeed: number;

  /** Draws the pose, then the light, from `rng` (the image's stream). */
  constructor(
    width: number,
    height: number,
    readonly id: Identity,
    readonly ex: ExpressionShape,
    opts: SceneOptions,
    rng: Rng,
  ) {
    this.width = width;
    this.height = height;
    const side = Math.min(width, height);
    this.side = side;

    // pose
    const s = side * rng.range(opts.scale[0], opts.scale[1]);
    const roll = rng.sym(opts.maxRoll) * DEG;
    const yaw = rng.sym(opts.maxYaw) * DEG;
    const cx = width / 2 + rng.sym(opts.maxShift) * width;
    const cy = height / 2 - 0.2 * s + rng.sym(opts.maxShift) * height;
    this.scale = s;
    this.roll = roll;
    this.yaw = yaw;
    this.F = frame(cx, cy, roll, s, s);
    this.sinY = Math.sin(yaw);
    this.cosY = Math.cos(yaw);
    this.faceA = id.faceA;

    // light
    const lightAngle = rng.range(-Math.PI, Math.PI);
    const lightSide = rng.range(0.15, 0.75);
    const lx = Math.cos(lightAngle) * lightSide;
    const ly = Math.sin(lightAngle) * lightSide * 0.7 - 0.25;
    const lz = Math.sqrt(Math.max(0.1, 1 - lx * lx - ly * ly));
    const ambient = rng.range(0.38, 0.6);
    this.light = { chin: 0.45 * this.sinY, turn: 0.25 * this.sinY, invWidth: 1 / (id.faceA * 1.05), ambient, lx, ly, lz };
    this.hairSeed = id.textureSeed ^ 0x68a1;

    // features
    const eyeZ = 0.6;
    this.eyes = [-1, 1].map((sideSign) => {
      const x0 = sideSign * id.eyeX;
      return { sideSign, x: this.proj(x0, eyeZ), y: id.eyeY, kx: this.fore(x0) };
    });
    this.tipX = this.proj(0, 0.92);
    this.bridgeX = this.proj(0, 0.72);
    this.tipY = id.noseTipY;
    this.mouthX = this.proj(0, 0.7);
    this.mouthY = id.mouthY + 0.2 * ex.open;
    this.mouthK = this.cosY;
    this.cheekRaise = ex.lowerLid;
  }

  /** Projected x of a point at canonical x0 and depth z (in front of the rotation axis). */
  proj(x0: number, z: number): number {
    return x0 * this.cosY + z * this.sinY;
  }

  /** Horizontal foreshortening of a feature at canonical x0. */
  fore(x0: number): number {
    const alpha = Math.asin(clamp(x0 / 0.8, -0.95, 0.95));
    return clamp(Math.cos(alpha + this.yaw) / Math.cos(alpha), 0.3, 1.15);
  }

  /** A feature frame in face units: origin, mirrored for the image-left side, tilted, foreshortened. */
  featureFrame(x: number, y: number, sideSign: number, tilt: number, kx: number, shear = 0): Mat {
    const c = Math.cos(tilt);
    const sn = Math.sin(tilt);
    // canonical (u outward, v down) -> face: rotate so that u > 0 goes up by `tilt`, mirror, compress
    const local: Mat = [sideSign * kx * c, sideSign * kx * sn + shear, x, -sn, c, y];
    return compose(this.F, local);
  }

  /** The head's shading at face point `(u, v)`. */
  shade(u: number, v: number): number {
    const l = this.light;
    return headShade(u, v, l.chin, l.turn, l.invWidth, l.ambient, l.lx, l.ly, l.lz);
  }

  /** Skin in shadow, `k` times the shading of the cheek (the skin lines, creases and lid lines). */
  shadowSkin(k: number): RGB {
    const sh = this.shade(0, 0.2) * k;
    const skin = this.id.skin;
    return [skin[0] * sh, skin[1] * sh * 0.95, skin[2] * sh * 0.95];
  }
}
