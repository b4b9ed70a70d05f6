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
  /**
   * Per row `y`, the pixels `[cover[2y], cover[2y + 1])` that shapes drawn later cover wholly and
   * opaquely (colour and class): {@link draw} skips them. Null for none.
   */
  cover: Int32Array | null = null;
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
 * The local coordinates `[u, v]` of a point, and `[2]` the distance a one-point shape writes back
 * (see {@link Shape.dist}). Shapes read and write here instead of taking and returning numbers: a
 * double passed to or returned from a call that V8 does not inline is allocated on the heap.
 */
export const AT = new Float64Array(3);

/** Most points in one batch of {@link Shape.distSpan} (four rows of the widest image). */
export const SPAN_CAPACITY = 4 * 4096;
/** Batched local coordinates: `SPAN_U[k], SPAN_V[k]` for `k < n` (see {@link Shape.distSpan}). */
export const SPAN_U = new Float64Array(SPAN_CAPACITY);
export const SPAN_V = new Float64Array(SPAN_CAPACITY);
/** Batched distances written by {@link Shape.distSpan} (local units). */
export const SPAN_D = new Float64Array(SPAN_CAPACITY);
/**
 * Batched colours written by {@link Shape.colourSpan}: `r, g, b` (0..255) of point `k` at `3 k`, rounded
 * to float32 as the image stores them.
 */
export const SPAN_RGB = new Float32Array(3 * SPAN_CAPACITY);

/**
 * The run of pixels being drawn: `n` consecutive pixels of one row from pixel index `i`, the first at
 * local coordinates `(u, v)`, each next one `(du, dv)` further. When `inside`, every pixel is known to
 * be covered (pixel distance -1); otherwise a pixel is drawn where its distance times `scale` is below 0.5.
 */
class Run {
  rgb: Float32Array = new Float32Array(0);
  mask: Uint8Array = new Uint8Array(0);
  i = 0;
  n = 0;
  u = 0;
  v = 0;
  du = 0;
  dv = 0;
  scale = 1;
  inside = false;
}

/** The run being drawn (one at a time: drawing is synchronous). */
const RUN = new Run();

/**
 * A shape to draw. `toPixel` maps the shape's frame to pixels; distances are in local units (negative
 * inside), `scale` converts them to pixels. A shape comes in one of two forms:
 *
 * - one point at a time: `dist()` writes the distance at `AT[0], AT[1]` into `AT[2]`; `paint(out)`
 *   writes the colour 0..255 into `out[0..2]` and an opacity into `out[3]` (preset to 1);
 * - its own loops over batches of points: `distSpan(n)` their distances, `colourSpan(n)` the colours
 *   of the pixels of a run that the shape covers (opacity `opacity`). V8 compiles such a loop with
 *   the shape's code inlined, without a call per point; the large shapes use this form.
 *
 * The methods are called as plain functions (without `this`): shapes are closures.
 */
export interface Shape {
  /** Local -> pixel; used for the bounding box and for mapping the shape's points to the image. */
  toPixel: Mat;
  /** Local bounding box `[u0, v0, u1, v1]` that contains everything the shape can cover. */
  bounds: [number, number, number, number];
  /** Pixels per local unit. */
  scale: number;
  dist?(): void;
  paint?(out: Float32Array): void;
  /** `SPAN_D[k]` = distance at `SPAN_U[k], SPAN_V[k]` for `k < n`. */
  distSpan?(n: number): void;
  /**
   * `SPAN_RGB[3k..3k+2]` = colour at `SPAN_U[k], SPAN_V[k]` for `k < n`: the pixel centres of a run
   * that the shape covers (in the run's order), which {@link draw} then blends.
   */
  colourSpan?(n: number): void;
  /** Opacity of the colours of `colourSpan`, rounded to float32 (`Math.fround`) as `paint`'s `out[3]` is. Default 1. */
  opacity?: number;
  /** Mask class written where the pixel centre is inside; -1 leaves the mask untouched. */
  cls: number;
  /** Class per point for one-point shapes made of several parts; overrides `cls` when present. */
  classAt?(): number;
  /**
   * A bound on how fast `dist * scale` changes per pixel of distance. When given, 4x4 pixel blocks
   * (and then 2x2 blocks) whose centre is far enough inside or outside are decided from that one
   * evaluation (exactly, if the bound holds). Omit for distances that are not Lipschitz (vertical
   * distances to steep curves). A shape without labels may take a guess: where it fails, a block's
   * edge pixels lose a little anti-aliasing.
   */
  lipschitz?: number;
}

/**
 * Blends colour `r, g, b` (0..255) at opacity `alpha` into pixel `i`, covered according to its pixel
 * distance `dp` (anti-aliased over one pixel), and writes class `cls` (if >= 0) where `dp < 0`.
 */
export function blend(rgb: Float32Array, mask: Uint8Array, i: number, dp: number, r: number, g: number, b: number, alpha: number, cls: number): void {
  // small enough for V8 to inline into every pixel loop; the anti-aliased edge is a call of its own
  if (dp <= -0.5 && alpha >= 1) {
    const j = i * 3;
    rgb[j] = r;
    rgb[j + 1] = g;
    rgb[j + 2] = b;
    if (cls >= 0) mask[i] = cls;
    return;
  }
  blendEdge(rgb, mask, i, dp, r, g, b, alpha, cls);
}

/** {@link blend} in general. */
function blendEdge(rgb: Float32Array, mask: Uint8Array, i: number, dp: number, r: number, g: number, b: number, alpha: number, cls: number): void {
  const cover = (dp <= -0.5 ? 1 : 0.5 - dp) * alpha;
  const j = i * 3;
  if (cover >= 1) {
    rgb[j] = r;
    rgb[j + 1] = g;
    rgb[j + 2] = b;
  } else if (cover > 0) {
    rgb[j] += (r - rgb[j]) * cover;
    rgb[j + 1] += (g - rgb[j + 1]) * cover;
    rgb[j + 2] += (b - rgb[j + 2]) * cover;
  }
  if (dp < 0 && cls >= 0) mask[i] = cls;
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

/**
 * The methods of the shape being planned or drawn (see {@link select}), read from the shape once:
 * shapes are object literals of many hidden classes, so that V8 would look each one up the slow
 * (megamorphic) way on every run of pixels and every batch of points.
 */
class Methods {
  colourSpan: ((n: number) => void) | undefined = undefined;
  distSpan: ((n: number) => void) | undefined = undefined;
  dist: (() => void) | undefined = undefined;
  paint: ((out: Float32Array) => void) | undefined = undefined;
  classAt: (() => number) | undefined = undefined;
  cls = -1;
  opacity = 1;
}

const METHODS = new Methods();

/** Makes `shape` the one whose methods {@link evalDist}, {@link emit} and {@link spanOnePoint} call. */
function select(shape: Shape): void {
  const m = METHODS;
  m.colourSpan = shape.colourSpan;
  m.distSpan = shape.distSpan;
  m.dist = shape.dist;
  m.paint = shape.paint;
  m.classAt = shape.classAt;
  m.cls = shape.cls;
  m.opacity = shape.opacity ?? 1;
}

/** Distances at `SPAN_U/V[0..n)` into `SPAN_D` for the {@link select}ed shape, batched or one point at a time. */
function evalDist(n: number): void {
  const distSpan = METHODS.distSpan;
  if (distSpan) {
    distSpan(n);
    return;
  }
  const dist = METHODS.dist!;
  for (let k = 0; k < n; k++) {
    AT[0] = SPAN_U[k];
    AT[1] = SPAN_V[k];
    dist();
    SPAN_D[k] = AT[2];
  }
}

/** Draws {@link RUN} for the {@link select}ed one-point shape (computes the distances of an edge run itself). */
function spanOnePoint(): void {
  const { cls, classAt } = METHODS;
  const dist = METHODS.dist!;
  const paint = METHODS.paint!;
  const out = scratch;
  const { rgb, mask, n, du, dv, scale, inside } = RUN;
  let { i, u, v } = RUN;
  for (const end = i + n; i < end; i++, u += du, v += dv) {
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
      const c = classAt ? classAt() : cls;
      if (c >= 0) mask[i] = c;
    }
  }
}

const OUTSIDE = 0;
const EDGE = 1;
const INSIDE = 2;

/**
 * How {@link draw} decides a shape's pixels: the bounds `[x0, y0, x1, y1)`, and with blocks the
 * state of every 4x4 block (`OUTSIDE`, `EDGE`, `INSIDE`) and of the four 2x2 blocks of each edge
 * block, block row by block row (`states[(row * cols + col) * 5]`, then 2x2 blocks in row order),
 * and per block row `row` the columns `[extents[2 * row], extents[2 * row + 1])` outside which
 * all its blocks are `OUTSIDE` (so that loops over a row's blocks skip the rest).
 */
export interface Plan {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  inv: Mat;
  states: Uint8Array | null;
  extents: Int32Array | null;
}

/**
 * Draws a shape over the canvas (painter's order) and writes its classes into the mask, skipping the
 * canvas's {@link Canvas.cover}. `plan`, if given, is the shape's {@link planShape} on this canvas.
 */
export function draw(canvas: Canvas, shape: Shape, plan: Plan = makePlan(canvas, shape)): void {
  const { x0, y0, x1, y1, inv, states } = plan;
  if (x0 >= x1 || y0 >= y1) return;
  select(shape);
  const width = canvas.width;
  const run = RUN;
  COVER = canvas.cover;
  run.rgb = canvas.rgb;
  run.mask = canvas.mask;
  run.scale = shape.scale;
  run.du = inv[0];
  run.dv = inv[3];
  if (states === null) {
    for (let y = y0; y < y1; y++) emitUncovered(inv, y * width, y, x0, x1, EDGE);
    return;
  }
  // the rows of a 2x2 block row share their runs of pixels of one state
  for (let y = y0; y < y1; y += 2) {
    const runs = rowRuns(plan, y);
    for (let yy = y, ye = Math.min(y + 2, y1); yy < ye; yy++) {
      for (let k = 0; k < runs; k++) emitUncovered(inv, yy * width, yy, RUN_START[k], RUN_END[k], RUN_STATE[k]);
    }
  }
}

/**
 * The runs of pixels of one state (`EDGE` or `INSIDE`) of the row pair from row `y` (`y - y0` even)
 * of a plan with blocks, found a block (in edge blocks, a 2x2 block) at a time; returns their number.
 */
function rowRuns(plan: Plan, y: number): number {
  const { x0, y0, x1 } = plan;
  const states = plan.states!;
  const cols = (x1 - x0 + BLOCK - 1) >> 2;
  const row = (y - y0) >> 2;
  const first = plan.extents![2 * row];
  const end = Math.min(x0 + plan.extents![2 * row + 1] * BLOCK, x1);
  const half = 1 + ((y - y0) & 2);
  let runs = 0;
  let state = OUTSIDE;
  for (let bx = x0 + first * BLOCK, b = (row * cols + first) * 5; bx < end; bx += BLOCK, b += 5) {
    const block = states[b];
    if (block !== EDGE) {
      if (block !== state) {
        if (state !== OUTSIDE) runs = addRun(runs, bx, state);
        else RUN_START[runs] = bx;
        state = block;
      }
      continue;
    }
    for (let h = 0, sx = bx; h < 2 && sx < end; h++, sx += 2) {
      const next = states[b + half + h];
      if (next !== state) {
        if (state !== OUTSIDE) runs = addRun(runs, sx, state);
        else RUN_START[runs] = sx;
        state = next;
      }
    }
  }
  if (state !== OUTSIDE) runs = addRun(runs, end, state);
  return runs;
}

/** The cover of the canvas being drawn on (see {@link Canvas.cover}). */
let COVER: Int32Array | null = null;

/** {@link emit} for the parts of a run outside the canvas's cover. */
function emitUncovered(inv: Mat, row: number, y: number, xs: number, xe: number, state: number): void {
  const cover = COVER;
  if (cover !== null) {
    const cl = cover[2 * y];
    const cr = cover[2 * y + 1];
    if (cl < xe && cr > xs) {
      if (xs < cl) emit(inv, row, y, xs, cl, state);
      if (cr < xe) emit(inv, row, y, cr, xe, state);
      return;
    }
  }
  emit(inv, row, y, xs, xe, state);
}

/**
 * A shape's plan on a canvas, kept (block states copied) so that the shape can be drawn with it
 * later, after its {@link addCover} told earlier shapes what it hides.
 */
export function planShape(canvas: Canvas, shape: Shape): Plan {
  const plan = makePlan(canvas, shape);
  if (plan.states !== null) {
    const cols = (plan.x1 - plan.x0 + BLOCK - 1) >> 2;
    const rows = (plan.y1 - plan.y0 + BLOCK - 1) >> 2;
    plan.states = plan.states.slice(0, rows * cols * 5);
    plan.extents = plan.extents!.slice(0, rows * 2);
  }
  return plan;
}

/**
 * Adds the pixels an opaque shape surely covers (its inside 4x4 blocks) to `cover` (per row an
 * interval, as {@link Canvas.cover}; an empty one is `[0, 0)`): per row the union if the two meet,
 * else the longer.
 */
export function addCover(plan: Plan, cover: Int32Array): void {
  const { x0, y0, x1, y1, states } = plan;
  if (states === null) return;
  for (let by = y0, b = 0; by < y1; by += BLOCK) {
    let bl = 0;
    let br = 0;
    let start = -1;
    for (let bx = x0; bx < x1; bx += BLOCK, b += 5) {
      if (states[b] === INSIDE) {
        if (start < 0) start = bx;
        continue;
      }
      if (start >= 0 && bx - start > br - bl) {
        bl = start;
        br = bx;
      }
      start = -1;
    }
    if (start >= 0 && x1 - start > br - bl) {
      bl = start;
      br = x1;
    }
    if (br <= bl) continue;
    for (let y = by, ye = Math.min(by + BLOCK, y1); y < ye; y++) {
      const cl = cover[2 * y];
      const cr = cover[2 * y + 1];
      if (cr > cl && bl <= cr && br >= cl) {
        cover[2 * y] = Math.min(cl, bl);
        cover[2 * y + 1] = Math.max(cr, br);
      } else if (br - bl > cr - cl) {
        cover[2 * y] = bl;
        cover[2 * y + 1] = br;
      }
    }
  }
}

/** The runs of a row pair (see {@link draw}): `[RUN_START[k], RUN_END[k])` in state `RUN_STATE[k]`. */
const RUN_START = new Int32Array(4096);
const RUN_END = new Int32Array(4096);
const RUN_STATE = new Uint8Array(4096);

/** Ends run `k` (started at `RUN_START[k]`) at `xe`; the next one, if any, starts there too. */
function addRun(k: number, xe: number, state: number): number {
  RUN_END[k] = xe;
  RUN_STATE[k] = state;
  RUN_START[k + 1] = xe;
  return k + 1;
}

/**
 * Draws the run `[xs, xe)` of row `y` (pixel index `row + x`) in `state` (`EDGE` or `INSIDE`). A shape
 * with its own loops gets the local coordinates of the run's pixels in `SPAN_U/V`, and of an edge run
 * their distances, then only the covered pixels' coordinates for its colours.
 */
function emit(inv: Mat, row: number, y: number, xs: number, xe: number, state: number): void {
  const run = RUN;
  const py = y + 0.5;
  const n = xe - xs;
  const u = inv[0] * (xs + 0.5) + inv[1] * py + inv[2];
  const v = inv[3] * (xs + 0.5) + inv[4] * py + inv[5];
  run.i = row + xs;
  run.n = n;
  run.u = u;
  run.v = v;
  run.inside = state === INSIDE;
  const colourSpan = METHODS.colourSpan;
  if (!colourSpan) {
    spanOnePoint();
    return;
  }
  const du = inv[0];
  const dv = inv[3];
  let uk = u;
  let vk = v;
  for (let k = 0; k < n; k++, uk += du, vk += dv) {
    SPAN_U[k] = uk;
    SPAN_V[k] = vk;
  }
  if (state === INSIDE) {
    colourSpan(n);
    blendRun(n, true);
    return;
  }
  evalDist(n);
  const scale = run.scale;
  let m = 0;
  for (let k = 0; k < n; k++) {
    const dp = SPAN_D[k] * scale;
    if (dp >= 0.5) continue;
    SPAN_U[m] = SPAN_U[k];
    SPAN_V[m] = SPAN_V[k];
    PIXEL_DIST[m] = dp;
    PIXEL_AT[m++] = k;
  }
  colourSpan(m);
  blendRun(m, false);
}

/** The covered pixels of an edge run: the `k`-th is pixel `PIXEL_AT[k]` of the run, at pixel distance `PIXEL_DIST[k]`. */
const PIXEL_AT = new Int32Array(SPAN_CAPACITY);
const PIXEL_DIST = new Float64Array(SPAN_CAPACITY);

/**
 * Blends the colours `SPAN_RGB` of the {@link select}ed shape into {@link RUN}'s pixels: all `n` of an
 * `inside` run, else the `n` covered ones of {@link PIXEL_AT}.
 */
function blendRun(n: number, inside: boolean): void {
  const { rgb, mask, i } = RUN;
  const { cls, opacity } = METHODS;
  for (let k = 0; k < n; k++) {
    const j = 3 * k;
    if (inside) blend(rgb, mask, i + k, -1, SPAN_RGB[j], SPAN_RGB[j + 1], SPAN_RGB[j + 2], opacity, cls);
    else blend(rgb, mask, i + PIXEL_AT[k], PIXEL_DIST[k], SPAN_RGB[j], SPAN_RGB[j + 1], SPAN_RGB[j + 2], opacity, cls);
  }
}

/** Bounds and block states of a shape on a canvas. */
function makePlan(canvas: Canvas, shape: Shape): Plan {
  const [x0, y0, x1, y1] = pixelBounds(shape, canvas.width, canvas.height);
  const inv = invert(shape.toPixel);
  const useBlocks = shape.lipschitz !== undefined && drawSettings.blocks && x1 - x0 >= 2 * BLOCK && y1 - y0 >= 2 * BLOCK;
  if (!useBlocks) return { x0, y0, x1, y1, inv, states: null, extents: null };
  const states = classify(shape, inv, x0, y0, x1, y1);
  return { x0, y0, x1, y1, inv, states, extents: extentScratch };
}

/** Block states and block row extents (see {@link Plan}) of the shape being drawn (drawing is synchronous, one shape at a time). */
let stateScratch = new Uint8Array(4096);
let extentScratch = new Int32Array(1024);

/**
 * Block states: one distance per 4x4 block at its centre (inside or outside for sure if the centre
 * is farther than the Lipschitz bound allows the farthest pixel centre to differ), then the same for
 * the four 2x2 blocks of each 4x4 block that is neither.
 */
function classify(shape: Shape, inv: Mat, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const [a, b, c, d, e, f] = inv;
  select(shape);
  const lip = shape.lipschitz!;
  const scale = shape.scale;
  const reach = lip * Math.SQRT2 * ((BLOCK - 1) / 2);
  const reach2 = lip * Math.SQRT2 * 0.5;
  const cols = (x1 - x0 + BLOCK - 1) >> 2;
  const rows = (y1 - y0 + BLOCK - 1) >> 2;
  if (stateScratch.length < rows * cols * 5) stateScratch = new Uint8Array(rows * cols * 5 * 2);
  if (extentScratch.length < rows * 2) extentScratch = new Int32Array(rows * 4);
  const states = stateScratch;
  const extents = extentScratch;
  for (let r = 0, by = y0; by < y1; r++, by += BLOCK) {
    const by1 = Math.min(by + BLOCK, y1);
    const py = (by + by1) / 2;
    const base = r * cols * 5;
    // block centres BLOCK pixels apart, but for the last one, which may be clipped
    const n = cols;
    for (let k = 0, u = a * (x0 + BLOCK / 2) + b * py + c, v = d * (x0 + BLOCK / 2) + e * py + f; k < n; k++, u += a * BLOCK, v += d * BLOCK) {
      SPAN_U[k] = u;
      SPAN_V[k] = v;
    }
    const pxLast = (x0 + (n - 1) * BLOCK + x1) / 2;
    SPAN_U[n - 1] = a * pxLast + b * py + c;
    SPAN_V[n - 1] = d * pxLast + e * py + f;
    evalDist(n);
    let edges = 0;
    let first = n;
    let end = 0;
    for (let k = 0; k < n; k++) {
      const dc = SPAN_D[k] * scale;
      const state = dc - reach >= 0.5 ? OUTSIDE : dc + reach <= -0.5 ? INSIDE : EDGE;
      states[base + k * 5] = state;
      if (state === OUTSIDE) continue;
      if (first === n) first = k;
      end = k + 1;
      if (state === EDGE) edges++;
    }
    extents[2 * r] = first;
    extents[2 * r + 1] = end;
    if (edges === 0) continue;
    // the 2x2 blocks of edge blocks, their centres `dx` and `dy` pixels apart (less than 2 in clipped
    // blocks, whose 2x2 blocks may be 1 pixel wide or high; the bound still holds)
    const sy1 = Math.min(by + 2, by1);
    const pyTop = (by + sy1) / 2;
    const dy = (sy1 + by1) / 2 - pyTop;
    const downU = b * dy;
    const downV = e * dy;
    let m = 0;
    for (let k = first, bx = x0 + first * BLOCK; k < end; bx += BLOCK, k++) {
      if (states[base + k * 5] !== EDGE) continue;
      const sx1 = Math.min(bx + 2, x1);
      const pxLeft = (bx + sx1) / 2;
      const dx = (sx1 + Math.min(bx + 4, x1)) / 2 - pxLeft;
      const u = a * pxLeft + b * pyTop + c;
      const v = d * pxLeft + e * pyTop + f;
      const rightU = a * dx;
      const rightV = d * dx;
      SPAN_U[m] = u;
      SPAN_V[m++] = v;
      SPAN_U[m] = u + rightU;
      SPAN_V[m++] = v + rightV;
      SPAN_U[m] = u + downU;
      SPAN_V[m++] = v + downV;
      SPAN_U[m] = u + rightU + downU;
      SPAN_V[m++] = v + rightV + downV;
    }
    evalDist(m);
    for (let k = first, q = 0; k < end; k++) {
      if (states[base + k * 5] !== EDGE) continue;
      for (let s = 1; s <= 4; s++, q++) {
        const dc = SPAN_D[q] * scale;
        states[base + k * 5 + s] = dc - reach2 >= 0.5 ? OUTSIDE : dc + reach2 <= -0.5 ? INSIDE : EDGE;
      }
    }
  }
  return states;
}

/** Signed distance to a point's inside for a shape, in pixels, at a pixel position. */
export function distanceAt(shape: Shape, px: number, py: number): number {
  [SPAN_U[0], SPAN_V[0]] = apply(invert(shape.toPixel), px, py);
  select(shape);
  evalDist(1);
  return SPAN_D[0] * shape.scale;
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

/**
 * `Math.sin(x)` to within 1e-7 for `|x|` up to about 1e9, as a polynomial: a few times cheaper than
 * `Math.sin`, which V8 compiles to a call into fdlibm (20-25 ns).
 */
export function fastSin(x: number): number {
  // x = 2π (turns + r) with |r| <= 1/2, then r folded to |r| <= 1/4 (sin is symmetric about ±π/2)
  const t = x * 0.15915494309189535; // 1 / 2π
  let r = t - Math.floor(t + 0.5);
  if (r > 0.25) r = 0.5 - r;
  else if (r < -0.25) r = -0.5 - r;
  const z = r * 6.283185307179586; // 2π
  const z2 = z * z;
  // Taylor to z^11: the error is below (π/2)^13 / 13! = 6e-8 on |z| <= π/2
  return z * (1 + z2 * (-1 / 6 + z2 * (1 / 120 + z2 * (-1 / 5040 + z2 * (1 / 362880 - z2 / 39916800)))));
}

/**
 * `sin(k * atan2(y, x) + phase)` for an integer `k >= 1`, given `cos(phase)` and `sin(phase)`: the unit
 * vector towards `(x, y)` raised to the power `k` as a complex number, which costs a square root, a
 * division and a few multiplications instead of `Math.atan2` and `Math.sin` (25-35 and 20-25 ns in V8).
 * The angle of `(0, 0)` is 0, as for `Math.atan2`.
 */
export function sinOfMultiple(x: number, y: number, k: number, cosPhase: number, sinPhase: number): number {
  const r = Math.sqrt(x * x + y * y);
  const inv = r > 0 ? 1 / r : 0;
  let c = r > 0 ? x * inv : 1;
  let s = y * inv;
  // (pc + i ps) = (c + i s)^k by repeated squaring
  let pc = 1;
  let ps = 0;
  for (let m = k; m > 0; m >>= 1) {
    if (m & 1) {
      const t = pc * c - ps * s;
      ps = pc * s + ps * c;
      pc = t;
    }
    const t = c * c - s * s;
    s = 2 * c * s;
    c = t;
  }
  return ps * cosPhase + pc * sinPhase;
}

/** Hermite step from 0 at `e0` to 1 at `e1` (either order). */
export function smoothstep(e0: number, e1: number, x: number): number {
  // a product: inlined with constant edges, V8 folds the reciprocal (it keeps `/ c` a division)
  let t = (x - e0) * (1 / (e1 - e0));
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
