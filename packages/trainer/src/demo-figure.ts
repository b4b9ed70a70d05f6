/**
 * The demo's picture: a few test faces per task, enlarged (nearest neighbour, so label maps stay crisp)
 * to panels of {@link PANEL} pixels, with the prediction and the truth side by side where they are
 * maps, the classes named in a legend, and emotion as named bars. Drawn with the overlay font of
 * `draw.ts`, so it looks the same on every machine.
 */
import type { LabelMap, RawImage } from '@ifan/core';
import { drawText, pasteRect, textSize } from './draw';

type RGB = readonly [number, number, number];

/** Side of one face panel, in pixels. */
export const PANEL = 256;
const GAP = 8;
const TEXT = 2;
const BG: RGB = [24, 24, 28];

export interface FigureFace {
  image: RawImage;
  /** The sample's label for the task (truth). */
  truth: unknown;
  /** The network's output for the task, in original-image coordinates. */
  output: unknown;
}

export interface FigureInput {
  title: string;
  parsing?: { faces: FigureFace[]; classes: string[]; colors: RGB[] };
  landmarks?: { faces: FigureFace[] };
  emotion?: { faces: FigureFace[]; classes: string[] };
}

function blank(width: number, height: number, color: RGB = BG): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(color, p * 3);
  return { width, height, channels: 3, data };
}

/** `image` resized to `w` x `h` by nearest neighbour. */
export function resizeNearest(image: RawImage, w: number, h: number): RawImage {
  const out = blank(w, h);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(image.height - 1, Math.floor(((y + 0.5) * image.height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(image.width - 1, Math.floor(((x + 0.5) * image.width) / w));
      const i = (sy * image.width + sx) * 3;
      out.data.set(image.data.subarray(i, i + 3), (y * w + x) * 3);
    }
  }
  return out;
}

/** The image enlarged to a panel, with the class map blended on it (background class left as it is). */
function mapPanel(image: RawImage, mask: LabelMap, colors: readonly RGB[], alpha = 0.6): RawImage {
  const big = resizeNearest(image, PANEL, PANEL);
  for (let y = 0; y < PANEL; y++) {
    const sy = Math.min(mask.height - 1, Math.floor(((y + 0.5) * mask.height) / PANEL));
    for (let x = 0; x < PANEL; x++) {
      const sx = Math.min(mask.width - 1, Math.floor(((x + 0.5) * mask.width) / PANEL));
      const k = mask.data[sy * mask.width + sx];
      if (k === 0) continue;
      const c = colors[k] ?? [255, 255, 255];
      const o = (y * PANEL + x) * 3;
      for (let j = 0; j < 3; j++) big.data[o + j] = Math.round(big.data[o + j] * (1 - alpha) + c[j] * alpha);
    }
  }
  return big;
}

function disk(image: RawImage, cx: number, cy: number, r: number, color: RGB, outline: RGB | null = [0, 0, 0]): void {
  const R = r + (outline ? 1.5 : 0);
  for (let y = Math.floor(cy - R); y <= Math.ceil(cy + R); y++) {
    for (let x = Math.floor(cx - R); x <= Math.ceil(cx + R); x++) {
      if (x < 0 || y < 0 || x >= image.width || y >= image.height) continue;
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      if (d > R) continue;
      image.data.set(d > r && outline ? outline : color, (y * image.width + x) * 3);
    }
  }
}

function cross(image: RawImage, cx: number, cy: number, r: number, color: RGB): void {
  for (let d = -r; d <= r; d++) {
    for (const [x, y] of [
      [cx + d, cy + d],
      [cx + d, cy - d],
    ]) {
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
      ]) {
        const px = Math.round(x + dx);
        const py = Math.round(y + dy);
        if (px >= 0 && py >= 0 && px < image.width && py < image.height) image.data.set(color, (py * image.width + px) * 3);
      }
    }
  }
}

const POINT_COLORS: RGB[] = [
  [255, 64, 64],
  [64, 160, 255],
  [64, 220, 64],
  [255, 200, 0],
  [220, 64, 255],
];

/** The face enlarged, the predicted points as coloured disks, the true ones as white crosses. */
function pointsPanel(image: RawImage, truth: [number, number][] | undefined, predicted: [number, number][]): RawImage {
  const big = resizeNearest(image, PANEL, PANEL);
  const sx = PANEL / image.width;
  const sy = PANEL / image.height;
  for (const [x, y] of truth ?? []) cross(big, x * sx, y * sy, 6, [255, 255, 255]);
  predicted.forEach(([x, y], k) => disk(big, x * sx, y * sy, 4, POINT_COLORS[k % POINT_COLORS.length]));
  return big;
}

/** The face enlarged with the predicted and the true class named on top. */
function emotionPanel(image: RawImage, truth: number | undefined, output: { classIndex: number; probabilities: number[] }, classes: string[]): RawImage {
  const big = resizeNearest(image, PANEL, PANEL);
  const p = output.probabilities[output.classIndex];
  const right = truth === undefined || truth === output.classIndex;
  drawText(big, `${classes[output.classIndex]} ${Math.round(100 * p)}%`, 6, 6, { scale: TEXT, color: right ? [120, 255, 120] : [255, 110, 110] });
  if (truth !== undefined) drawText(big, `true: ${classes[truth]}`, 6, 6 + 10 * TEXT, { scale: TEXT });
  return big;
}

/** Horizontal bars, one per class with its name and probability, under an emotion panel. */
function emotionBars(output: { classIndex: number; probabilities: number[] }, classes: string[], truth: number | undefined): RawImage {
  const rowH = 9 * TEXT + 4;
  const img = blank(PANEL, classes.length * rowH + 4);
  const nameW = Math.max(...classes.map((c) => textSize(c, TEXT)[0])) + 8;
  const barMax = PANEL - nameW - 4;
  classes.forEach((name, k) => {
    const y = 2 + k * rowH;
    const color: RGB = k === output.classIndex ? (truth === undefined || truth === k ? [120, 255, 120] : [255, 110, 110]) : [200, 200, 200];
    drawText(img, name, 2, y + 2, { scale: TEXT, color: k === truth ? [255, 255, 255] : [170, 170, 170], background: null });
    const w = Math.max(1, Math.round(output.probabilities[k] * barMax));
    for (let j = y + 2; j < y + rowH - 2; j++) for (let i = nameW; i < nameW + w; i++) img.data.set(color, (j * PANEL + i) * 3);
  });
  return img;
}

/** A colour swatch and the class name per class (the background class too), one under the other. */
function legend(classes: string[], colors: readonly RGB[], height: number): RawImage {
  const rowH = 9 * TEXT + 6;
  const w = Math.max(...classes.map((c) => textSize(c, TEXT)[0])) + 36;
  const img = blank(w, Math.max(height, classes.length * rowH));
  classes.forEach((name, k) => {
    const y = k * rowH + 2;
    const c = colors[k] ?? [255, 255, 255];
    for (let j = y; j < y + 7 * TEXT + 2; j++) for (let i = 2; i < 24; i++) img.data.set(k === 0 ? [0, 0, 0] : c, (j * w + i) * 3);
    drawText(img, name, 30, y + 1, { scale: TEXT, background: null });
  });
  return img;
}

/** Images laid out left to right with a gap, on the figure background. */
function hstack(parts: RawImage[]): RawImage {
  const w = parts.reduce((a, p) => a + p.width, 0) + GAP * (parts.length - 1);
  const h = Math.max(...parts.map((p) => p.height));
  const out = blank(w, h);
  let x = 0;
  for (const p of parts) {
    pasteRect(out, p, [x, 0, p.width, p.height]);
    x += p.width + GAP;
  }
  return out;
}

function vstack(parts: RawImage[]): RawImage {
  const w = Math.max(...parts.map((p) => p.width));
  const h = parts.reduce((a, p) => a + p.height, 0) + GAP * (parts.length - 1);
  const out = blank(w, h);
  let y = 0;
  for (const p of parts) {
    pasteRect(out, p, [0, y, p.width, p.height]);
    y += p.height + GAP;
  }
  return out;
}

function caption(text: string, width: number): RawImage {
  const img = blank(width, 9 * TEXT + 6);
  drawText(img, text, 4, 4, { scale: TEXT, background: null, color: [255, 230, 150] });
  return img;
}

/** The whole figure: a title, then one block per task given. */
export function demoFigure(input: FigureInput): RawImage {
  const blocks: RawImage[] = [];
  if (input.parsing) {
    const { faces, classes, colors } = input.parsing;
    const pred = hstack(faces.map((f) => mapPanel(f.image, (f.output as { mask: LabelMap }).mask, colors)));
    const truth = hstack(faces.map((f) => mapPanel(f.image, (f.truth as { mask: LabelMap }).mask, colors)));
    const maps = vstack([caption('parsing: prediction', pred.width), pred, caption('parsing: truth', truth.width), truth]);
    blocks.push(hstack([maps, legend(classes, colors, maps.height)]));
  }
  if (input.landmarks) {
    const row = hstack(
      input.landmarks.faces.map((f) => pointsPanel(f.image, (f.truth as { points: [number, number][] } | undefined)?.points, (f.output as { points: [number, number][] }).points)),
    );
    blocks.push(vstack([caption('landmarks: dots prediction, white x truth', row.width), row]));
  }
  if (input.emotion) {
    const { faces, classes } = input.emotion;
    const cols = faces.map((f) => {
      const out = f.output as { classIndex: number; probabilities: number[] };
      const truth = (f.truth as { classIndex: number } | undefined)?.classIndex;
      return vstack([emotionPanel(f.image, truth, out, classes), emotionBars(out, classes, truth)]);
    });
    const row = hstack(cols);
    blocks.push(vstack([caption('emotion: predicted class (green right, red wrong), probabilities', row.width), row]));
  }
  const body = vstack(blocks);
  const title = caption(input.title, body.width);
  const all = vstack([title, body]);
  // a margin all round
  const framed = blank(all.width + 2 * GAP, all.height + 2 * GAP);
  pasteRect(framed, all, [GAP, GAP, all.width, all.height]);
  return framed;
}
