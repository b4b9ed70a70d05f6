/** The child process of fixtures/fit-and-exit.ts, for the tests that a run's helper threads let the process exit. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

/**
 * Runs fixtures/fit-and-exit.ts with the helper thread `under` test in a child process and resolves
 * once the child has exited by itself, with its exit code, its stderr and the JSON line it printed.
 * There is no timer, so a loaded machine only makes it slower: a child that does not exit (a worker
 * left running) keeps the test waiting until the test's own timeout, and is killed when the test ends.
 */
export async function fitAndExit(under: 'workers' | 'threads'): Promise<{ code: number | null; err: string; result: unknown }> {
  const script = fileURLToPath(new URL('./fixtures/fit-and-exit.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@ifan/source', '--import', 'tsx', script, under], { cwd: fileURLToPath(new URL('..', import.meta.url)) });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  onTestFinished(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    console.error(`fit-and-exit ${under} had not exited when the test ended; it printed: ${out.trim() || '(nothing)'}`);
  });
  // 'close': the process has exited and its output is all read
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  const last = out.trim().split('\n').pop() ?? '';
  return { code, err: code === 0 ? '' : err, result: last.startsWith('{') ? JSON.parse(last) : last };
}
