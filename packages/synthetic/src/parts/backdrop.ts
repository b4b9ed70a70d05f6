/**
 * The backdrop: a smooth two-colour background, clutter (boxes, ellipses, rings, bars and blobs, some
 * skin- or hair-coloured) and the body, drawn at half resolution (soft, as if out of focus) and
 * upsampled onto the image but for what the head and the hair over it will cover.
 */
import type { Rng } from '@ifan/core/rng';
import { Canvas, SPAN_D, SPAN_RGB, SPAN_U, SPAN_V, type Mat, boxDist, compose, draw, ellipseDist, frame, mix, sinOfMultiple } from '../raster';
import { valueNoise } from '../rng';
import { drawBody } from './body';
import type { FaceFrame } from './frame';
import { PATTERN_T, patternSpan, randomColour, randomPattern } from './pattern';
import { backdropCover, upsample } from './upsample';

/**
 * Draws the backdrop of `face` over the whole of `canvas` but for the pixels of `cover` (the head and
 * the opaque hair over it, see {@link Canvas.cover}). `clutter` is the amount of clutter, 0..2.
 */
export function drawBackdrop(canvas: Canvas, face: FaceFrame, cover: Int32Array, clutter: number, rng: Rng): void {
  const { width: W, height: H } = face;
  const bg = backdropCanvas(W, H);
  const bgW = bg.width;
  const bgH = bg.height;
  bg.cover = backdropCover(cover, bgW, bgH, W, H);
  const view: Mat = [bgW / W, 0, 0, 0, bgH / H, 0];
  const viewScale = bgW / W;
  const c0 = randomColour(rng);
  const c1 = rng.chance(0.5) ? randomColour(rng) : mix(c0, [0, 0, 0], 0.4);
  const freq = rng.range(1.5, 5) / bgW;
  const seed = rng.uint32();
  const gx = rng.sym(0.6) / bgW;
  const gy = rng.sym(0.6) / bgH;
  fillBackdrop(bg.rgb, bg.cover, bgW, bgH, freq, seed, Math.min(1, clutter + 0.3), gx, gy, c0[0], c0[1], c0[2], c1[0], c1[1], c1[2]);
  const n = Math.round(rng.range(3, 9) * clutter);
  for (let k = 0; k < n; k++) drawClutter(bg, view, viewScale, face, rng);
  drawBody(bg, view, viewScale, face, rng);
  upsample(bg, canvas, cover);
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

/** A random background object; some are skin or hair coloured to be confusable with the face. */
function drawClutter(canvas: Canvas, view: Mat, viewScale: number, face: FaceFrame, rng: Rng): void {
  const { width: W, height: H, side, id } = face;
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
    colourSpan(n) {
      const { r0, g0, b0 } = pattern;
      const dr = pattern.r1 - r0;
      const dg = pattern.g1 - g0;
      const db = pattern.b1 - b0;
      patternSpan(pattern, n, 1);
      for (let k = 0; k < n; k++) {
        const t = PATTERN_T[k];
        SPAN_RGB[3 * k] = r0 + dr * t;
        SPAN_RGB[3 * k + 1] = g0 + dg * t;
        SPAN_RGB[3 * k + 2] = b0 + db * t;
      }
    },
  });
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
