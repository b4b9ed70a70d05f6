/**
 * A tiny scan-converter for implicit shapes. Every shape is a signed distance in its own local frame
 * (negative inside). One evaluation per pixel centre gives both the anti-aliased coverage of the image
 * (`0.5 - distance` in pixels, clamped) and the exact class of the mask (inside when the distance at
 * the pixel centre is negative), so picture and labels come from the same geometry.
 */

/** `x' = a*x + b*y + c`, `y' = d*x + e*y + f`. */
export type Mat = [number, number, number, number, number, number];

export function apply(m: Mat, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** `outer ∘ inner`: first `inner`, then `outer`. */
export function compose(outer: Mat, inner: Mat): Mat {
  const [a, b, c, d, e, f] = outer;
  const [A, B, C, D, E, F] = inner;
  return [a * A + b * D, a * B + b * E, a * C + b * F + c, d * A + e * D, d * B + e * E, d * C + e * F + f];
}

export function invert(m: Mat): Mat {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new Error('singular frame: a shape was scaled to zero');
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** The frame with origin `(x, y)`, axes rotated by `angle` and scaled by `sx`, `sy` (then sheared). */
export function frame(x: number, y: number, angle = 0, sx = 1, sy = 1, shear = 0): Mat {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  // local (u, v) -> (sx*u + shear*v, sy*v) -> rotate -> translate
  const u0 = sx;
  const u1 = shear;
  const v1 = sy;
  return [c * u0, c * u1 - s * v1, x, s * u0, s * u1 + c * v1, y];
}

/** The picture being drawn: linear RGB floats in 0..255 and one class byte per pixel. */
export class Canvas {
  readonly rgb: Float32Array;
  readonly mask: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    rgb?: Float32Array,
  ) {
    this.rgb = rgb ?? new Float32Array(width * height * 3);
    this.mask = new Uint8Array(width * height);
  }
}

/**
 * The local coordinates `[u, v]` of the pixel being drawn, and `[2]` the distance a shape writes back.
 * Shapes read and write here instead of taking and returning numbers: {@link draw} calls many
 * different shapes from one loop, so V8 cannot inline them, and every double passed to or returned
 * from a call that is not inlined is allocated on the heap. Passing them through a typed array keeps
 * the per-pixel calls allocation-free (about twice as fast, and no garbage collection).
 */
export const AT = new Float64Array(3);

/**
 * A shape to draw. `toPixel` maps the shape's frame to pixels; `dist()` writes the signed distance at
 * `AT[0], AT[1]` (local units, negative inside) into `AT[2]`, and `scale` converts it to pixels.
 * `paint(out)` writes the colour (0..255) at `AT[0], AT[1]` into `out[0..2]` and an opacity into
 * `out[3]` (preset to 1).
 */
export interface Shape {
  /** Local -> pixel; used for the bounding box and for mapping the shape's points to the image. */
  toPixel: Mat;
  /** Local bounding box `[u0, v0, u1, v1]` that contains everything the shape can cover. */
  bounds: [number, number, number, number];
  /** Pixels per local unit. */
  scale: number;
  dist(): void;
  paint(out: Float32Array): void;
  /** Mask class written where the pixel centre is inside; -1 leaves the mask untouched. */
  cls: number;
  /** Class per point for shapes made of several parts (the mouth); overrides `cls` when present. */
  classAt?(): number;
  /**
   * A bound on how fast `dist * scale` changes per pixel of distance. When given, 4x4 pixel blocks
   * whose centre is far enough inside or outside are decided from that one evaluation (exactly, if
   * the bound holds). Omit for distances that are not Lipschitz (vertical distances to steep curves).
   */
  lipschitz?: number;
}

const scratch = new Float32Array(4);
const BLOCK = 4;

/** Pixel-space bounding box of a shape, clipped to the canvas: `[x0, y0, x1, y1)`. */
export function pixelBounds(shape: Shape, width: number, height: number): [number, number, number, number] {
  const [u0, v0, u1, v1] = shape.bounds;
  const m = shape.toPixel;
  let xmin = Infinity;
  let ymin = Infinity;
  let xmax = -Infinity;
  let ymax = -Infinity;
  for (let k = 0; k < 4; k++) {
    const u = k & 1 ? u1 : u0;
    const v = k & 2 ? v1 : v0;
    const x = m[0] * u + m[1] * v + m[2];
    const y = m[3] * u + m[4] * v + m[5];
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  return [
    Math.max(0, Math.floor(xmin - 1)),
    Math.max(0, Math.floor(ymin - 1)),
    Math.min(width, Math.ceil(xmax + 1)),
    Math.min(height, Math.ceil(ymax + 1)),
  ];
}

/** When false, {@link draw} evaluates every pixel (used by tests to check the block shortcut). */
export const drawSettings = { blocks: true };

/** Draws a shape over the canvas (painter's order) and writes its classes into the mask. */
export function draw(canvas: Canvas, shape: Shape): void {
  const [x0, y0, x1, y1] = pixelBounds(shape, canvas.width, canvas.height);
  if (x0 >= x1 || y0 >= y1) return;
  const inv = invert(shape.toPixel);
  const lip = shape.lipschitz;
  if (lip === undefined || !drawSettings.blocks || x1 - x0 < 2 * BLOCK || y1 - y0 < 2 * BLOCK) {
    drawRect(canvas, shape, inv, x0, y0, x1, y1, false);
    return;
  }
  const [a, b, c, d, e, f] = inv;
  const reach = lip * Math.SQRT2 * ((BLOCK - 1) / 2);
  for (let by = y0; by < y1; by += BLOCK) {
    const by1 = Math.min(by + BLOCK, y1);
    for (let bx = x0; bx < x1; bx += BLOCK) {
      const bx1 = Math.min(bx + BLOCK, x1);
      const px = (bx + bx1) / 2;
      const py = (by + by1) / 2;
      AT[0] = a * px + b * py + c;
      AT[1] = d * px + e * py + f;
      shape.dist();
      const dc = AT[2] * shape.scale;
      if (dc - reach >= 0.5) continue;
      drawRect(canvas, shape, inv, bx, by, bx1, by1, dc + reach <= -0.5);
    }
  }
}

/** The pixels of `[x0, x1) x [y0, y1)`; `inside` skips the distance (the block is known to be covered). */
function drawRect(canvas: Canvas, shape: Shape, inv: Mat, x0: number, y0: number, x1: number, y1: number, inside: boolean): void {
  const { width, rgb, mask } = canvas;
  const a = inv[0];
  const b = inv[1];
  const c = inv[2];
  const d = inv[3];
  const e = inv[4];
  const f = inv[5];
  const scale = shape.scale;
  const cls = shape.cls;
  const classAt = shape.classAt;
  const dist = shape.dist;
  const paint = shape.paint;
  const out = scratch;
  for (let y = y0; y < y1; y++) {
    const py = y + 0.5;
    let u = a * (x0 + 0.5) + b * py + c;
    let v = d * (x0 + 0.5) + e * py + f;
    let i = y * width + x0;
    for (let x = x0; x < x1; x++, i++, u += a, v += d) {
      AT[0] = u;
      AT[1] = v;
      let dp = -1;
      if (!inside) {
        dist();
        dp = AT[2] * scale;
        if (dp >= 0.5) continue;
      }
      out[3] = 1;
      paint(out);
      const cover = (dp <= -0.5 ? 1 : 0.5 - dp) * out[3];
      const j = i * 3;
      if (cover >= 1) {
        rgb[j] = out[0];
        rgb[j + 1] = out[1];
        rgb[j + 2] = out[2];
      } else if (cover > 0) {
        rgb[j] += (out[0] - rgb[j]) * cover;
        rgb[j + 1] += (out[1] - rgb[j + 1]) * cover;
        rgb[j + 2] += (out[2] - rgb[j + 2]) * cover;
      }
      if (dp < 0) {
        const k = classAt ? classAt() : cls;
        if (k >= 0) mask[i] = k;
      }
    }
  }
}

/** Signed distance to a point's inside for a shape, in pixels, at a pixel position. */
export function distanceAt(shape: Shape, px: number, py: number): number {
  [AT[0], AT[1]] = apply(invert(shape.toPixel), px, py);
  shape.dist();
  return AT[2] * shape.scale;
}

// ---- distance helpers (local units, negative inside) ----

/** Approximate signed distance to an axis-aligned ellipse centred at the origin (Quilez). */
export function ellipseDist(u: number, v: number, a: number, b: number): number {
  const k0 = Math.sqrt((u * u) / (a * a) + (v * v) / (b * b));
  if (k0 < 1e-9) return -Math.min(a, b);
  const k1 = Math.sqrt((u * u) / (a * a * a * a) + (v * v) / (b * b * b * b));
  return (k0 * (k0 - 1)) / k1;
}

/** Signed distance to a box of half sizes `hw`, `hh` with corner radius `r`. */
export function boxDist(u: number, v: number, hw: number, hh: number, r = 0): number {
  const qx = Math.abs(u) - hw + r;
  const qy = Math.abs(v) - hh + r;
  const ox = qx > 0 ? qx : 0;
  const oy = qy > 0 ? qy : 0;
  return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0) - r;
}

/** Hermite step from 0 at `e0` to 1 at `e1` (either order). */
export function smoothstep(e0: number, e1: number, x: number): number {
  let t = (x - e0) / (e1 - e0);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return t * t * (3 - 2 * t);
}

export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

export type RGB = [number, number, number];

export function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function scaleRgb(a: RGB, k: number): RGB {
  return [a[0] * k, a[1] * k, a[2] * k];
}
