/**
 * Figure 7: each task's validation metric through the two training stages (task-wise pre-training of
 * each data set in turn, then batch-wise alternating fine-tuning), one panel per task, drawn as SVG
 * and rendered to PNG with sharp.
 */
import sharp from 'sharp';

export interface CurvePoint {
  step: number;
  stage: 'pretrain' | 'finetune';
  /** Data set whose pre-training epoch just ended (pre-training only). */
  source?: string;
  /** Primary validation figure of each task. */
  values: Record<string, number>;
}

export interface CurveMeta {
  title: string;
  /** Primary metric name and direction of each task. */
  metrics: Record<string, { name: string; higherIsBetter: boolean }>;
  /** Stage segments: `[firstStep, lastStep, label]`. */
  segments: [number, number, string][];
}

const COLORS = ['#d62728', '#2ca02c', '#1f77b4', '#9467bd'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

export function curvesSvg(points: readonly CurvePoint[], meta: CurveMeta): string {
  const tasks = Object.keys(meta.metrics);
  const W = 360, H = 260, pad = { l: 56, r: 14, t: 34, b: 44 };
  const width = W * tasks.length;
  const maxStep = Math.max(1, ...points.map((p) => p.step), ...meta.segments.map((s) => s[1]));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 30}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${esc(meta.title)}</text>`,
  ];
  tasks.forEach((task, k) => {
    const ox = k * W, oy = 22;
    const pw = W - pad.l - pad.r, ph = H - pad.t - pad.b;
    const vals = points.map((p) => p.values[task]).filter((v) => Number.isFinite(v));
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (!vals.length) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { lo -= 0.5 * Math.abs(lo || 1) * 0.1; hi += 0.5 * Math.abs(hi || 1) * 0.1; }
    const X = (s: number) => ox + pad.l + (s / maxStep) * pw;
    const Y = (v: number) => oy + pad.t + (1 - (v - lo) / (hi - lo)) * ph;
    meta.segments.forEach(([a, b], i) => {
      parts.push(`<rect x="${X(a)}" y="${oy + pad.t}" width="${Math.max(0, X(b) - X(a))}" height="${ph}" fill="${i % 2 ? '#f2f2f2' : '#e6e6f5'}"/>`);
    });
    meta.segments.forEach(([a, b, label], i) => {
      // labels on three staggered rows (a short stage's label is wider than its band), kept inside the plot
      const half = (label.length * 5.6) / 2 + 2;
      const cx = Math.min(Math.max((X(a) + X(b)) / 2, ox + pad.l + half), ox + pad.l + pw - half);
      parts.push(`<text x="${cx}" y="${oy + pad.t + 12 + 12 * (i % 3)}" text-anchor="middle" font-size="10" fill="#555">${esc(label)}</text>`);
    });
    parts.push(`<rect x="${ox + pad.l}" y="${oy + pad.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      parts.push(`<text x="${ox + pad.l - 4}" y="${Y(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(3)}</text>`);
    }
    for (let i = 0; i <= 4; i++) {
      const s = Math.round((maxStep * i) / 4);
      parts.push(`<text x="${X(s)}" y="${oy + pad.t + ph + 14}" text-anchor="middle" font-size="10">${s}</text>`);
    }
    parts.push(`<text x="${ox + pad.l + pw / 2}" y="${oy + H - 8}" text-anchor="middle">training step</text>`);
    const m = meta.metrics[task];
    parts.push(`<text x="${ox + pad.l + pw / 2}" y="${oy + pad.t - 8}" text-anchor="middle" font-size="12" fill="${COLORS[k % COLORS.length]}">${esc(`${task}: validation ${m.name} (${m.higherIsBetter ? 'higher' : 'lower'} is better)`)}</text>`);
    const pts = points.filter((p) => Number.isFinite(p.values[task]));
    if (pts.length) {
      parts.push(`<polyline fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="2" points="${pts.map((p) => `${X(p.step).toFixed(1)},${Y(p.values[task]).toFixed(1)}`).join(' ')}"/>`);
      for (const p of pts) parts.push(`<circle cx="${X(p.step).toFixed(1)}" cy="${Y(p.values[task]).toFixed(1)}" r="2.5" fill="${COLORS[k % COLORS.length]}"/>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export async function writeCurvesPng(file: string, points: readonly CurvePoint[], meta: CurveMeta): Promise<string> {
  const svg = curvesSvg(points, meta);
  await sharp(Buffer.from(svg)).png().toFile(file);
  return svg;
}
