/**
 * The paper's tables, built generically from metric reports: one row per run and iteration
 * ("iFAN Iter1"), one table per task and per-class figure (a `Record<string, number>` value: NME per
 * point as Table 1, F-score per class as Table 2), a table of each task's scalar figures (accuracy as
 * Table 3), and the primary figure of every task over the iterations (Table 4).
 */
import type { MetricValue } from '@ifan/core';
import type { EvaluationResult } from './evaluate';

/** A labelled evaluation, e.g. `{ label: 'Single Task', result }` or `{ label: 'iFAN 3T', result }`. */
export interface EvaluationRun {
  label: string;
  result: EvaluationResult;
}

export interface Table {
  title: string;
  columns: string[];
  rows: { label: string; cells: (number | null)[] }[];
}

/** Row label of iteration `it` of a run: just the label when the run has a single iteration. */
function rowLabel(run: EvaluationRun, it: number): string {
  return run.result.iterations === 0 ? run.label : `${run.label} Iter${it}`;
}

function rowsOf(runs: readonly EvaluationRun[]): { run: EvaluationRun; it: number; label: string }[] {
  return runs.flatMap((run) => Array.from({ length: run.result.iterations + 1 }, (_, it) => ({ run, it, label: rowLabel(run, it) })));
}

function isRecord(v: MetricValue | undefined): v is Record<string, number> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** All tables for the runs, task by task, then the iterations table. */
export function buildTables(runs: readonly EvaluationRun[]): Table[] {
  const tasks = [...new Set(runs.flatMap((r) => Object.keys(r.result.tasks)))];
  const rows = rowsOf(runs);
  const tables: Table[] = [];
  for (const task of tasks) {
    const taskRows = rows.filter((r) => r.run.result.tasks[task]);
    const reportsOf = (r: (typeof rows)[number]) => r.run.result.tasks[task].reports[r.it];
    const first = reportsOf(taskRows[0]);
    // per-class figures
    const recordKeys = [...new Set(taskRows.flatMap((r) => Object.entries(reportsOf(r).values).filter(([, v]) => isRecord(v)).map(([k]) => k)))];
    for (const key of recordKeys) {
      const columns = [...new Set(taskRows.flatMap((r) => Object.keys((reportsOf(r).values[key] as Record<string, number>) ?? {})))];
      tables.push({
        title: `${task}: ${key}`,
        columns,
        rows: taskRows.map((r) => {
          const v = reportsOf(r).values[key];
          return { label: r.label, cells: columns.map((c) => (isRecord(v) && c in v ? v[c] : null)) };
        }),
      });
    }
    // scalar figures, the primary first
    const scalarKeys = [
      ...new Set([first.primary.name, ...taskRows.flatMap((r) => Object.entries(reportsOf(r).values).filter(([, v]) => typeof v === 'number').map(([k]) => k))]),
    ];
    tables.push({
      title: `${task}: summary`,
      columns: scalarKeys,
      rows: taskRows.map((r) => {
        const rep = reportsOf(r);
        return {
          label: r.label,
          cells: scalarKeys.map((k) => {
            const v = k === rep.primary.name ? rep.primary.value : rep.values[k];
            return typeof v === 'number' ? v : null;
          }),
        };
      }),
    });
  }
  // Table 4: every task's primary figure at every iteration
  const primaries = tasks.map((task) => {
    const rep = runs.find((r) => r.result.tasks[task])!.result.tasks[task].reports[0];
    return { task, name: rep.primary.name, higher: rep.primary.higherIsBetter };
  });
  tables.push({
    title: 'primary figure over interaction iterations',
    columns: primaries.map((p) => `${p.task} ${p.name} (${p.higher ? 'higher' : 'lower'} is better)`),
    rows: rows.map((r) => ({ label: r.label, cells: primaries.map((p) => r.run.result.tasks[p.task]?.reports[r.it]?.primary.value ?? null) })),
  });
  return tables;
}

/**
 * A number as printed in the tables: to 4 decimals, or as an integer in a column of counts (all
 * integers, some above 1); missing as `-`.
 */
export function formatCell(v: number | null, count = false): string {
  if (v === null) return '-';
  if (Number.isNaN(v)) return 'NaN';
  return count ? String(v) : v.toFixed(4);
}

/** A table as GitHub Markdown, headed by its title. */
export function tableToMarkdown(t: Table): string {
  const counts = t.columns.map((_, c) => {
    const values = t.rows.map((r) => r.cells[c]).filter((v): v is number => v !== null && !Number.isNaN(v));
    return values.every(Number.isInteger) && values.some((v) => Math.abs(v) > 1);
  });
  const head = `| | ${t.columns.join(' | ')} |`;
  const sep = `|---|${t.columns.map(() => '---:').join('|')}|`;
  const body = t.rows.map((r) => `| ${r.label} | ${r.cells.map((v, c) => formatCell(v, counts[c])).join(' | ')} |`);
  return [`**${t.title}**`, '', head, sep, ...body].join('\n');
}

/** Every table of {@link buildTables} as Markdown, separated by blank lines. */
export function resultsToMarkdown(runs: readonly EvaluationRun[]): string {
  return buildTables(runs).map(tableToMarkdown).join('\n\n');
}

/** A trivial answer to compare a task's models with, e.g. `{ label: 'mean training shape', result }`. */
export interface BaselineRun extends EvaluationRun {
  /** Tasks this baseline is shown for. Default every task in its result. */
  tasks?: string[];
}

function primaryOf(run: EvaluationRun, task: string, it = run.result.iterations): { name: string; value: number; higherIsBetter: boolean } | undefined {
  return run.result.tasks[task]?.reports[it]?.primary;
}

/**
 * One line per task saying what its trivial baselines score and by how much each model beats the
 * strongest of them (or that it does not, or not clearly: a higher-is-better fraction such as accuracy
 * by less than two binomial standard errors on the test images, a lower-is-better figure by less than
 * 5 %), on the task's primary figure; a model run with several interaction iterations is compared at
 * its last one, e.g.
 * `landmarks (nme, lower is better): baseline mean training shape 0.1100; Single Task 0.0520 beats it by 0.0580 (53% lower); ...`.
 */
export function baselineSummary(models: readonly EvaluationRun[], baselines: readonly BaselineRun[]): string[] {
  const tasks = [...new Set(models.flatMap((r) => Object.keys(r.result.tasks)))];
  const lines: string[] = [];
  for (const task of tasks) {
    const own = baselines.filter((b) => (b.tasks ?? Object.keys(b.result.tasks)).includes(task) && primaryOf(b, task));
    const ref = models.map((m) => primaryOf(m, task)).find(Boolean)!;
    const higher = ref.higherIsBetter;
    const head = `${task} (${ref.name}, ${higher ? 'higher' : 'lower'} is better):`;
    if (own.length === 0) {
      lines.push(`${head} no baseline`);
      continue;
    }
    const scored = own.map((b) => ({ label: b.label.replace(/^baseline:?\s*/i, ''), value: primaryOf(b, task)!.value }));
    const best = scored.reduce((a, b) => (higher ? (b.value > a.value ? b : a) : b.value < a.value ? b : a));
    const parts = models
      .filter((m) => primaryOf(m, task))
      .map((m) => {
        const label = m.result.iterations === 0 ? m.label : `${m.label} Iter${m.result.iterations}`;
        const v = primaryOf(m, task)!.value;
        const gain = higher ? v - best.value : best.value - v;
        if (!(gain > 0)) return `${label} ${formatCell(v)} does NOT beat it`;
        // a fraction of test images (accuracy): a gain within two binomial standard errors is noise
        const n = m.result.tasks[task].images;
        if (higher && best.value > 0 && best.value < 1 && v <= 1 && n > 0) {
          const twoSe = 2 * Math.sqrt((best.value * (1 - best.value)) / n);
          if (gain < twoSe) return `${label} ${formatCell(v)} does NOT clearly beat it (+${gain.toFixed(4)}, less than two standard errors, ${twoSe.toFixed(4)}, on ${n} test images)`;
        }
        if (!higher && gain < 0.05 * best.value) return `${label} ${formatCell(v)} does NOT clearly beat it (${((100 * gain) / best.value).toFixed(1)}% lower)`;
        const rel = higher ? (best.value > 0 ? ` (${(v / best.value).toFixed(1)}x)` : '') : ` (${((100 * gain) / best.value).toFixed(0)}% lower)`;
        return `${label} ${formatCell(v)} beats it by ${gain.toFixed(4)}${rel}`;
      });
    const listed = scored.map((b) => `${b.label} ${formatCell(b.value)}`).join(', ');
    lines.push(`${head} baseline${scored.length > 1 ? 's' : ''} ${listed}; best baseline ${best.label}: ${parts.join('; ')}`);
  }
  return lines;
}
