/**
 * BlazeFace (MediaPipe's short-range "back camera" face detector, 256 x 256 input, as converted to the
 * tfjs graph format and shipped by `@vladmandic/human` in `models/blazeface.json`): anchors, decoding of
 * the raw outputs, and weighted non-maximum suppression. Pure JavaScript on plain arrays: no tensors.
 */

/** Input side of the model. */
export const BLAZEFACE_INPUT = 256;

/** Anchor layers: stride and anchors per cell (MediaPipe's SSD options for the 256 px model). */
const LAYERS = [
  { stride: 16, perCell: 2 },
  { stride: 32, perCell: 6 },
] as const;

/** Anchor centres `[x0, y0, x1, y1, ...]` in input pixels, in the model's output order (896 anchors). */
export function blazefaceAnchors(inputSize = BLAZEFACE_INPUT): Float32Array {
  const out: number[] = [];
  for (const { stride, perCell } of LAYERS) {
    const cells = Math.ceil(inputSize / stride);
    for (let gy = 0; gy < cells; gy++) {
      for (let gx = 0; gx < cells; gx++) {
        for (let n = 0; n < perCell; n++) out.push(stride * (gx + 0.5), stride * (gy + 0.5));
      }
    }
  }
  return Float32Array.from(out);
}

/** One decoded candidate in model-input pixels. */
export interface RawDetection {
  score: number;
  /** Centre x, centre y, width, height. */
  cx: number;
  cy: number;
  w: number;
  h: number;
  /** 6 keypoints `[x, y]` in MediaPipe's order: subject's right eye, left eye, nose tip, mouth, right ear, left ear. */
  points: number[];
}

/** Number of values per anchor in the regression output: box (4) + 6 keypoints x 2. */
export const REGRESSION_SIZE = 16;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Decodes the model's logits (one per anchor) and regressions (16 per anchor) into candidates whose
 * score is at least `minScore`. Logits are clipped to ±100 as MediaPipe does.
 */
export function decodeBlazeface(logits: ArrayLike<number>, regressions: ArrayLike<number>, anchors: Float32Array, minScore: number): RawDetection[] {
  const n = anchors.length / 2;
  if (logits.length !== n || regressions.length !== n * REGRESSION_SIZE) {
    throw new Error(`decodeBlazeface: expected ${n} logits and ${n * REGRESSION_SIZE} regression values, got ${logits.length} and ${regressions.length}`);
  }
  const out: RawDetection[] = [];
  for (let i = 0; i < n; i++) {
    const score = sigmoid(Math.max(-100, Math.min(100, logits[i])));
    if (!(score >= minScore)) continue;
    const ax = anchors[2 * i];
    const ay = anchors[2 * i + 1];
    const r = i * REGRESSION_SIZE;
    const w = regressions[r + 2];
    const h = regressions[r + 3];
    if (!(w > 0 && h > 0)) continue;
    const points: number[] = [];
    for (let k = 0; k < 6; k++) points.push(regressions[r + 4 + 2 * k] + ax, regressions[r + 5 + 2 * k] + ay);
    out.push({ score, cx: regressions[r] + ax, cy: regressions[r + 1] + ay, w, h, points });
  }
  return out;
}

function iou(a: RawDetection, b: RawDetection): number {
  const ix = Math.min(a.cx + a.w / 2, b.cx + b.w / 2) - Math.max(a.cx - a.w / 2, b.cx - b.w / 2);
  const iy = Math.min(a.cy + a.h / 2, b.cy + b.h / 2) - Math.max(a.cy - a.h / 2, b.cy - b.h / 2);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/**
 * MediaPipe's weighted non-maximum suppression: the best candidate takes every remaining candidate
 * that overlaps it by more than `iouThreshold`, and its box and keypoints become their score-weighted
 * mean (steadier points than keeping one anchor's). Best first, at most `maxFaces`.
 */
export function weightedNms(candidates: RawDetection[], iouThreshold: number, maxFaces: number): RawDetection[] {
  const rest = [...candidates].sort((a, b) => b.score - a.score);
  const kept: RawDetection[] = [];
  while (rest.length > 0 && kept.length < maxFaces) {
    const top = rest[0];
    const group: RawDetection[] = [];
    for (let i = rest.length - 1; i >= 0; i--) {
      if (i === 0 || iou(top, rest[i]) > iouThreshold) group.push(...rest.splice(i, 1));
    }
    let total = 0;
    const acc = { cx: 0, cy: 0, w: 0, h: 0, points: new Array<number>(12).fill(0) };
    for (const d of group) {
      total += d.score;
      acc.cx += d.score * d.cx;
      acc.cy += d.score * d.cy;
      acc.w += d.score * d.w;
      acc.h += d.score * d.h;
      for (let k = 0; k < 12; k++) acc.points[k] += d.score * d.points[k];
    }
    kept.push({
      score: top.score,
      cx: acc.cx / total,
      cy: acc.cy / total,
      w: acc.w / total,
      h: acc.h / total,
      points: acc.points.map((v) => v / total),
    });
  }
  return kept;
}
