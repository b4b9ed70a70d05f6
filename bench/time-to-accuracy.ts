/**
 * Time to accuracy: each task's validation figure against the CPU-minutes its training run had spent,
 * read from the runs' `validation.jsonl` (one line per validation, written by the trainer with
 * `checkpoint.validateEpochs` or in stage 2). Prints a table, writes bench/out/time-to-accuracy.json
 * and a PNG (default docs/time-to-accuracy.png) with one panel per task and the issue's target drawn in.
 * A run fine-tuned from another run (`init`) is drawn from that run's CPU-minutes on.
 *
 *   pnpm bench time-to-accuracy RUN_DIR... [--png FILE] [--label RUN_DIR=NAME ...]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { userPath } from './paths';

/** The validation targets of issue 12 (primary figure of each task). */
const TARGETS: Record<string, { value: number; higherIsBetter: boolean }> = {
  landmarks: { value: 0.08, higherIsBetter: false },
  emotion: { value: 0.66, higherIsBetter: true },
  parsing: { value: 0.8, higherIsBetter: true },
};

interface Point {
  cpuMinutes: number;
  wallMinutes: number;
  step: number;
  value: number;
}

interface Curve {
  run: string;
  label: string;
  task: string;
  metric: string;
  higherIsBetter: boolean;
  points: Point[];
  /** First point that meets the target, if any. */
  reached?: Point;
}

interface ValidationLine {
  step: number;
  seconds: number;
  cpuSeconds: number;
  report: Record<string, { primary: { name: string; value: number; higherIsBetter: boolean } }>;
}

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: { png: { type: 'string' }, label: { type: 'string', multiple: true } },
  allowPositionals: true,
});
if (positionals.length === 0) {
  console.error('usage: pnpm bench time-to-accuracy RUN_DIR... [--png FILE] [--label RUN_DIR=NAME ...]');
  process.exit(2);
}
const labels = new Map((values.label ?? []).map((l) => [userPath(l.slice(0, l.indexOf('='))), l.slice(l.indexOf('=') + 1)]));

const curves: Curve[] = [];
for (const dir of positionals.map((d) => userPath(d))) {
  const file = join(dir, 'validation.jsonl');
  if (!existsSync(file)) {
    console.error(`${file}: missing (train with "checkpoint": { "validateEpochs": true } to log every epoch)`);
    process.exit(1);
  }
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ValidationLine);
  // a run fine-tuned from another run's final model (`init`) starts where that run's CPU time ended
  const startCpu = startedFrom(dir);
  for (const l of lines) l.cpuSeconds += startCpu;
  const tasks = [...new Set(lines.flatMap((l) => Object.keys(l.report)))];
  for (const task of tasks) {
    const rows = lines.filter((l) => l.report[task]);
    const { name, higherIsBetter } = rows[0].report[task].primary;
    const points = rows.map((l) => ({ cpuMinutes: l.cpuSeconds / 60, wallMinutes: l.seconds / 60, step: l.step, value: l.report[task].primary.value }));
    const target = TARGETS[task];
    const reached = target ? points.find((p) => (higherIsBetter ? p.value >= target.value : p.value <= target.value)) : undefined;
    curves.push({ run: dir, label: labels.get(dir) ?? basename(dir), task, metric: name, higherIsBetter, points, ...(reached ? { reached } : {}) });
  }
}

/** CPU seconds of the run(s) a run was initialised from (`init` of its configuration, a run directory), 0 for a fresh run. */
function startedFrom(dir: string): number {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { meta?: { run?: { init?: string } } };
  const init = config.meta?.run?.init;
  if (!init) return 0;
  // the path as the run resolved it, or the same run directory beside this one (a clone elsewhere)
  const from = [init, join(dirname(dir), basename(init))].find((d) => existsSync(join(d, 'validation.jsonl')));
  if (!from) {
    console.error(`${dir} started from ${init}, which has no validation.jsonl here: its CPU-minutes start at 0`);
    return 0;
  }
  const lines = readFileSync(join(from, 'validation.jsonl'), 'utf8').split('\n').filter(Boolean);
  return startedFrom(from) + (JSON.parse(lines[lines.length - 1]) as ValidationLine).cpuSeconds;
}

console.log('| run | task | metric | validations | best | CPU-min at best | target | reached at CPU-min |');
console.log('|---|---|---|---:|---:|---:|---:|---:|');
for (const c of curves) {
  const best = c.points.reduce((a, p) => ((c.higherIsBetter ? p.value > a.value : p.value < a.value) ? p : a));
  const t = TARGETS[c.task];
  console.log(
    `| ${c.label} | ${c.task} | ${c.metric} | ${c.points.length} | ${best.value.toFixed(4)} | ${best.cpuMinutes.toFixed(1)} | ${t ? `${t.higherIsBetter ? '>=' : '<='} ${t.value}` : ''} | ${c.reached ? c.reached.cpuMinutes.toFixed(1) : 'no'} |`,
  );
}

const outDir = join(dirname(new URL(import.meta.url).pathname), 'out');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'time-to-accuracy.json'), JSON.stringify({ targets: TARGETS, curves }, null, 2));
const png = values.png ? userPath(values.png) : resolve(join(dirname(new URL(import.meta.url).pathname), '..', 'docs', 'time-to-accuracy.png'));
await sharp(Buffer.from(svg(curves))).png().toFile(png);
console.log(`\nwrote ${join(outDir, 'time-to-accuracy.json')} and ${png}`);

/** One panel per task: figure against CPU-minutes, one line per run, the target dashed. */
function svg(all: Curve[]): string {
  const tasks = [...new Set(all.map((c) => c.task))];
  const W = 380, H = 280, pad = { l: 56, r: 14, t: 34, b: 44 };
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * tasks.length}" height="${H + 16}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
  ];
  tasks.forEach((task, k) => {
    const cs = all.filter((c) => c.task === task);
    const target = TARGETS[task];
    const vals = cs.flatMap((c) => c.points.map((p) => p.value)).concat(target ? [target.value] : []);
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (hi - lo < 1e-9) { lo -= 0.05; hi += 0.05; }
    const maxX = Math.max(1, ...cs.flatMap((c) => c.points.map((p) => p.cpuMinutes)));
    const ox = k * W, pw = W - pad.l - pad.r, ph = H - pad.t - pad.b;
    const X = (m: number) => ox + pad.l + (m / maxX) * pw;
    const Y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo)) * ph;
    parts.push(`<rect x="${ox + pad.l}" y="${pad.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      parts.push(`<text x="${ox + pad.l - 4}" y="${Y(v) + 4}" text-anchor="end" font-size="10">${v.toFixed(3)}</text>`);
      const m = (maxX * i) / 4;
      parts.push(`<text x="${X(m)}" y="${pad.t + ph + 14}" text-anchor="middle" font-size="10">${m.toFixed(0)}</text>`);
    }
    parts.push(`<text x="${ox + pad.l + pw / 2}" y="${H - 6}" text-anchor="middle">training CPU-minutes</text>`);
    parts.push(`<text x="${ox + pad.l + pw / 2}" y="${pad.t - 10}" text-anchor="middle" font-size="12">${task}: validation ${cs[0].metric} (${cs[0].higherIsBetter ? 'higher' : 'lower'} is better)</text>`);
    if (target) {
      parts.push(`<line x1="${ox + pad.l}" x2="${ox + pad.l + pw}" y1="${Y(target.value)}" y2="${Y(target.value)}" stroke="#555" stroke-dasharray="5,4"/>`);
      parts.push(`<text x="${ox + pad.l + pw - 4}" y="${Y(target.value) - 4}" text-anchor="end" font-size="10" fill="#555">target ${target.value}</text>`);
    }
    cs.forEach((c, i) => {
      const color = colors[i % colors.length];
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${c.points.map((p) => `${X(p.cpuMinutes).toFixed(1)},${Y(p.value).toFixed(1)}`).join(' ')}"/>`);
      for (const p of c.points) parts.push(`<circle cx="${X(p.cpuMinutes).toFixed(1)}" cy="${Y(p.value).toFixed(1)}" r="2.5" fill="${color}"/>`);
      parts.push(`<text x="${ox + pad.l + 6}" y="${pad.t + 14 + 13 * i}" font-size="10" fill="${color}">${c.label.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
