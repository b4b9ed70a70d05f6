/**
 * Ctrl-C on `ifan train` in a child process (issue 17, defect 6): a second SIGINT stops promptly and
 * still writes a checkpoint; it drops a running validation; the gradient worker thread stops with it;
 * one during the closing test evaluation stops that, keeping the model.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

interface Child {
  err: () => string;
  kill: (signal: NodeJS.Signals) => void;
  waitFor: (what: () => boolean, ms: number) => Promise<void>;
  exited: Promise<{ code: number | null; at: number }>;
}

function ifanChild(args: string[]): Child {
  const child = spawn(process.execPath, ['--conditions=@ifan/source', '--import', 'tsx', cli, ...args], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', () => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    // 'close', not 'exit': all of stderr has arrived by then
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, at: Date.now() });
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    err: () => err,
    kill: (s) => child.kill(s),
    exited,
    async waitFor(what, ms) {
      const end = Date.now() + ms;
      while (!what()) {
        if (done) throw new Error(`the child exited before the condition held:\n${err}`);
        if (Date.now() > end) throw new Error(`timed out waiting:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const stepsLogged = (run: string) => (existsSync(join(run, 'log.jsonl')) ? readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').filter(Boolean).length : 0);
const checkpoints = (run: string) => (existsSync(join(run, 'checkpoints')) ? readdirSync(join(run, 'checkpoints')).filter((n) => n.startsWith('step-')) : []);

describe('Ctrl-C twice on ifan train', () => {
  it('two SIGINTs during steps (two gradient threads): stops after the step, writes its checkpoint, exits 130', async () => {
    const run = join(tempDir(), 'run');
    const child = ifanChild([
      'train', '--task', 'landmarks=synthetic:400', '--preset', 'tiny', '--iterations', '0', '--epochs', '20', '--rounds', '0',
      '--batch-size', '8', '--threads', '2', '--out', run,
    ]);
    await child.waitFor(() => stepsLogged(run) >= 3, 90_000);
    child.kill('SIGINT');
    // the second once the first is taken (two signals close together may reach the process as one)
    await child.waitFor(() => child.err().includes(', then writing a checkpoint'), 10_000);
    const second = Date.now();
    child.kill('SIGINT');
    const { code, at } = await child.exited;
    expect({ code, err: code === 130 ? '' : child.err() }).toEqual({ code: 130, err: '' });
    // the step running at the second Ctrl-C, the checkpoint, the exit: a few seconds at most on a busy machine
    expect(at - second).toBeLessThan(15_000);
    const steps = stepsLogged(run);
    expect(checkpoints(run)).toContain(`step-${String(steps).padStart(8, '0')}`);
    // A short step may end, and the run write its checkpoint and let go of Ctrl-C, before the second arrives: that one must not kill the process (exit 130 above, the closing lines below).
    if (child.err().includes('second SIGINT')) {
      expect(child.err()).toMatch(new RegExp(`second SIGINT: .*; writing the checkpoint of step ${steps} now \\(Ctrl-C a third time quits WITHOUT a checkpoint\\)`));
    } else {
      expect(child.err()).toMatch(/SIGINT: (no further step|finishing step \d+), then writing a checkpoint/);
    }
    expect(child.err()).toContain(`checkpoint of step ${steps} written in ${join(run, 'checkpoints')}`);
    expect(child.err()).toContain(`continue with: ifan train --resume ${run}`);
  }, 160_000);

  it('the second SIGINT drops a running validation and still writes the checkpoint', async () => {
    const run = join(tempDir(), 'run');
    const child = ifanChild([
      'train', '--task', 'emotion=synthetic:16', '--val', 'emotion=synthetic:4000', '--preset', 'tiny', '--iterations', '0',
      '--epochs', '0', '--rounds', '20', '--batch-size', '8', '--threads', '1', '--out', run,
    ]);
    // (not a terminal: the validation announces itself with a plain line)
    await child.waitFor(() => /validation at step 10: 0\/4000 images/.test(child.err()), 90_000);
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    const second = Date.now();
    child.kill('SIGINT');
    const { code, at } = await child.exited;
    expect({ code, err: code === 130 ? '' : child.err() }).toEqual({ code: 130, err: '' });
    expect(at - second).toBeLessThan(15_000);
    expect(child.err()).toMatch(/SIGINT: finishing the validation, then writing a checkpoint/);
    expect(child.err()).toMatch(/second SIGINT: dropping the validation; writing the checkpoint of step 10 now/);
    expect(child.err()).toMatch(/validation at step 10 skipped \(evaluation stopped: a second SIGINT\)/);
    expect(checkpoints(run)).toEqual(['step-00000010']);
    const state = JSON.parse(readFileSync(join(run, 'checkpoints', 'step-00000010', 'state.json'), 'utf8'));
    expect(state.validation).toBeUndefined();
    expect(existsSync(join(run, 'validation.jsonl')) ? readFileSync(join(run, 'validation.jsonl'), 'utf8') : '').toBe('');
  }, 160_000);

  it('Ctrl-C during the closing test evaluation stops it, keeps the model and exits 130', async () => {
    const run = join(tempDir(), 'run');
    const child = ifanChild([
      'train', '--task', 'emotion=synthetic:16', '--test', 'emotion=synthetic:4000', '--preset', 'tiny', '--iterations', '0',
      '--epochs', '0', '--rounds', '2', '--batch-size', '8', '--threads', '1', '--out', run,
    ]);
    await child.waitFor(() => /test evaluation: 0\/4000 images/.test(child.err()), 90_000);
    child.kill('SIGINT');
    const { code } = await child.exited;
    expect({ code, err: code === 130 ? '' : child.err() }).toEqual({ code: 130, err: '' });
    expect(child.err()).toContain(`ifan train: test evaluation stopped (SIGINT); the model is saved in ${join(run, 'model')}`);
    expect(existsSync(join(run, 'model', 'model.json'))).toBe(true);
    expect(existsSync(join(run, 'eval.json'))).toBe(false);
  }, 160_000);
});
