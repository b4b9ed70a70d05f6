/**
 * Every browser-safe package's main entry bundles for a browser: esbuild with `platform: 'browser'`
 * (which has no Node built-ins to resolve) over the sources, following every import, including the
 * dynamic ones of the backends. A Node built-in or sharp reached from a main entry fails the build or
 * shows up among the bundle's inputs.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BROWSER_SAFE = ['core', 'synthetic', 'detect', 'task-parsing', 'task-landmarks', 'task-emotion'];

async function bundle(entry: string) {
  return build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    conditions: ['@ifan/source'],
    write: false,
    metafile: true,
    logLevel: 'silent',
    outdir: 'out',
    absWorkingDir: join(packages, '..'),
  });
}

describe('main entries bundle for a browser', () => {
  for (const dir of BROWSER_SAFE) {
    const pkg = JSON.parse(readFileSync(join(packages, dir, 'package.json'), 'utf8')) as { name: string; exports: Record<string, Record<string, string>> };
    it(`${pkg.name} reaches no Node built-in and no sharp`, async () => {
      const entry = join(packages, dir, pkg.exports['.']['@ifan/source']);
      let result: Awaited<ReturnType<typeof bundle>>;
      try {
        result = await bundle(entry);
      } catch (e) {
        const errors = (e as { errors?: { text: string; location?: { file: string } | null }[] }).errors ?? [];
        throw new Error(`${pkg.name} does not bundle for a browser:\n${errors.map((x) => `  ${x.text} (${x.location?.file ?? '?'})`).join('\n')}`);
      }
      const inputs = Object.keys(result.metafile!.inputs);
      expect(inputs.filter((f) => /(^|\/)node_modules\/(\.pnpm\/)?(sharp|detect-libc)[@/]|^node:/.test(f))).toEqual([]);
      // the package's own sources are in it
      expect(inputs.some((f) => f.includes(`packages/${dir}/src/`))).toBe(true);
    }, 60_000);
  }

  it('a /node entry is where the file system is (the check can fail)', async () => {
    await expect(bundle(join(packages, 'task-landmarks', 'src', 'node.ts'))).rejects.toThrow(/Could not resolve "(node:)?[a-z_]+"/);
  }, 60_000);
});
