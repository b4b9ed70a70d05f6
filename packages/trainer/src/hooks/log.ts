/**
 * `log.jsonl` of a run directory: one line per step, its {@link StepRecord} and the time it ended. A
 * resumed run keeps the lines of the steps its checkpoint has: later ones belong to the lost part of
 * the run, and the resumed run logs them again.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { StepRecord, TrainerHook, TrainerView } from '../types';

export class StepLog implements TrainerHook {
  constructor(private readonly path: string) {}

  beforeRun(trainer: TrainerView): void {
    const from = trainer.step;
    const kept =
      from > 0 && existsSync(this.path)
        ? readFileSync(this.path, 'utf8')
            .split('\n')
            .filter((l) => l.trim() !== '' && (JSON.parse(l) as StepRecord).step < from)
        : [];
    writeFileSync(this.path, kept.map((l) => `${l}\n`).join(''));
  }

  afterStep(_trainer: TrainerView, record: StepRecord): void {
    appendFileSync(this.path, `${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`);
  }
}
