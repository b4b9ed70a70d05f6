import { resolve } from 'node:path';

/**
 * A path given on the command line, resolved where the user typed the command: `pnpm bench X` runs
 * the script in bench/, and pnpm keeps the caller's directory in INIT_CWD.
 */
export function userPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}
