/**
 * What the loop of a running `fit` shares with the trainer's built-in hooks beyond the public
 * {@link TrainerView}: the progress display, the state of Ctrl-C, and where the run stands between
 * steps. One per trainer; `begin` resets it at the start of every `fit`.
 */
import { ProgressReporter } from '../progress';
import type { SamplerState } from '../schedule';
import type { TrainerHook, TrainerOptions } from '../types';

/** A hook the trainer installs itself; `close` runs when `fit` ends, however it ends (errors included). */
export interface BuiltInHook extends TrainerHook {
  close?(): void;
}

export class FitSession {
  /** The progress display of this `fit` (option `progress`). */
  progress: ProgressReporter | null = null;
  /** Wall time this `fit` began (the training seconds of a run add up over its sessions). */
  started = 0;
  /** Aborted by a second SIGINT: a running validation stops, and the run writes its checkpoint and returns. */
  hurry = new AbortController();
  /** Stopped by SIGINT: the result is `interrupted`, not `stopped`. */
  interrupted = false;
  /** The step being computed (what Ctrl-C says it finishes). */
  running: number | null = null;
  /** A validation is running (what Ctrl-C says it finishes or drops). */
  validating = false;
  /** Step of the checkpoint this `fit` wrote last. */
  lastCheckpointStep: number | null = null;
  /**
   * The samplers' state right after the last step of this `fit` drew its batch (prefetching has moved
   * the live ones on): what its checkpoint saves.
   */
  samplers: SamplerState[] | null = null;

  constructor(private readonly log: TrainerOptions['log']) {}

  begin(progress: ProgressReporter | null): void {
    this.progress = progress;
    this.started = Date.now();
    this.hurry = new AbortController();
    this.interrupted = false;
    this.running = null;
    this.validating = false;
    this.lastCheckpointStep = null;
    this.samplers = null;
  }

  /** A line that must be seen (what Ctrl-C does): on the progress display, else on stderr. */
  note(line: string): void {
    (this.progress ?? new ProgressReporter()).note(line);
  }

  /** A notice through the `log` option (by default the progress display, else stderr; `false`: none). */
  say(line: string): void {
    if (this.log === false) return;
    if (this.log) this.log(line);
    else if (this.progress) this.progress.note(line);
    else console.error(line);
  }
}
