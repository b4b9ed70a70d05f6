import type { StepRecord } from './types';

export interface ProgressOptions {
  /** Default `process.stderr`. */
  stream?: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Seconds between plain lines when the stream is not a terminal. Default 10. */
  interval?: number;
}

/**
 * Progress of one stage on stderr: a redrawn bar on a terminal (loss, images/s, time left), plain
 * lines every `interval` seconds otherwise (logs, CI).
 */
export class ProgressReporter {
  private readonly stream: NonNullable<ProgressOptions['stream']>;
  private readonly tty: boolean;
  private readonly interval: number;
  private lastLine = 0;
  private stage = '';
  private started = 0;
  private doneAtStart = 0;
  private drawn = false;
  /** Milliseconds of this stage spent evaluating: kept out of the step rate. */
  private pausedMs = 0;
  private evaluationRun: { label: string; started: number; lastLine: number } | null = null;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.interval = (options.interval ?? 10) * 1000;
  }

  /** Starts a stage of `total` steps, `done` of them already done (resume). */
  begin(stage: string, done: number, total: number): void {
    this.finish();
    this.stage = stage;
    this.started = Date.now();
    this.doneAtStart = done;
    this.pausedMs = 0;
    this.lastLine = Date.now();
    if (!this.tty) this.stream.write(`${stage}: ${done}/${total} steps\n`);
  }

  /**
   * After a step: `done` of the stage's `total` steps. The time left is the steps left at the rate of
   * the steps alone (evaluations are kept out of it) plus `extraSeconds` (the evaluations still to
   * come, as the trainer estimates them).
   */
  update(done: number, total: number, record: StepRecord, extraSeconds = 0): void {
    const now = Date.now();
    const rate = (done - this.doneAtStart) / Math.max(1e-3, (now - this.started - this.pausedMs) / 1000);
    const left = rate > 0 ? (total - done) / rate + extraSeconds : NaN;
    const text =
      `${this.stage} ${done}/${total} ${record.source} loss ${fmt(record.total)} ` +
      `lr ${record.lr.toExponential(1)} ${record.imagesPerSec.toFixed(1)} img/s left ${duration(left)}`;
    if (this.tty) {
      const cols = this.stream.columns ?? 100;
      const width = Math.max(10, Math.min(30, cols - text.length - 4));
      const filled = Math.round((width * done) / Math.max(1, total));
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
      this.stream.write(`\r\x1b[2K${bar} ${text}`.slice(0, cols + 8));
      this.drawn = true;
    } else if (now - this.lastLine >= this.interval || done === total) {
      this.stream.write(`${text}\n`);
      this.lastLine = now;
    }
  }

  /**
   * Progress of an evaluation (validation, test) of `total` images, `done` of them evaluated: a
   * redrawn bar, or plain lines every `interval` seconds (the first at its start). The first call
   * starts it; {@link endEvaluation} (or `done === total`) ends it. Its time is kept out of the
   * step rate of the stage.
   */
  evaluation(label: string, done: number, total: number): void {
    const now = Date.now();
    if (!this.evaluationRun) {
      this.evaluationRun = { label, started: now, lastLine: now };
      if (!this.tty) this.stream.write(`${label}: ${done}/${total} images\n`);
    }
    const run = this.evaluationRun;
    const seconds = (now - run.started) / 1000;
    const rate = done / Math.max(1e-3, seconds);
    const text = `${label} ${done}/${total} images ${rate.toFixed(1)} img/s left ${duration(done > 0 ? (total - done) / rate : NaN)}`;
    if (this.tty) {
      const cols = this.stream.columns ?? 100;
      const width = Math.max(10, Math.min(30, cols - text.length - 4));
      const filled = Math.round((width * done) / Math.max(1, total));
      this.stream.write(`\r\x1b[2K[${'='.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`.slice(0, cols + 8));
      this.drawn = true;
    } else if (now - run.lastLine >= this.interval || done === total) {
      this.stream.write(`${text}\n`);
      run.lastLine = now;
    }
    if (done >= total) this.endEvaluation();
  }

  /** Ends the running evaluation; returns its seconds (0 when none runs). */
  endEvaluation(): number {
    const run = this.evaluationRun;
    if (!run) return 0;
    this.evaluationRun = null;
    const ms = Date.now() - run.started;
    this.pausedMs += ms;
    return ms / 1000;
  }

  /** A message on its own line (the bar is redrawn by the next update). */
  note(message: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.stream.write(`${message}\n`);
  }

  finish(): void {
    this.endEvaluation();
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

/** `1h02m`, `3m05s`, `12s`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
