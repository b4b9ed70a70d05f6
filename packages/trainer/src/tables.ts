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
