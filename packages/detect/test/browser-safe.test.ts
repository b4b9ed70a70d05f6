import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Every module specifier imported by `file` and, for relative ones, by the files they lead to. */
function importsFrom(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
  return specs.flatMap((s) => (s.startsWith('.') ? [s, ...importsFrom(resolve(dirname(file), `${s}.ts`), seen)] : [s]));
}

describe('the main entry is browser-safe', () => {
  it('imports no Node built-in and no Node-only package, directly or through its own modules', () => {
    const external = importsFrom(join(src, 'index.ts')).filter((s) => !s.startsWith('.'));
    expect(external.length).toBeGreaterThan(0);
    expect(external.filter((s) => s.startsWith('node:') || ['fs', 'path', 'module', 'sharp', '@ifan/core/node'].includes(s))).toEqual([]);
  });

  it('the node entry is where the file system is', () => {
    expect(importsFrom(join(src, 'node.ts'))).toContain('node:fs');
  });
});
