/**
 * Compiles the WebAssembly text sources of core's loops (the `.wat` files in {@link WAT_SOURCES}) with
 * wabt into TypeScript modules beside them (`x.wat` -> `x.generated.ts`, the binary as base64),
 * so the sources a maintainer edits are text and the package needs no wasm loader or file access at
 * run time. The generated files are committed (tests run from source on a clean clone);
 * test/wasm-loops.test.ts fails when one is out of date.
 *
 *   pnpm --filter @ifan/core wat            # regenerate (also the first step of `build`)
 *   pnpm --filter @ifan/core wat --check    # exit 1 if a generated file is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import wabt from 'wabt';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The .wat files compiled, relative to the package. */
export const WAT_SOURCES = ['src/kernels/wasm_loops.wat'];

/** The post-MVP features the loops use (SIMD, and `memory.copy` from bulk memory); anything else is an error. */
const FEATURES = { simd: true, bulk_memory: true };

/** The binary of a .wat source; throws wabt's message (file, line, column) on an error. */
export async function compileWat(source: string, fileName: string): Promise<Uint8Array> {
  const module = (await wabt()).parseWat(fileName, source, FEATURES);
  try {
    module.validate();
    return module.toBinary({ canonicalize_lebs: true, write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}

/** `wasm_loops.wat` -> `WASM_LOOPS_BASE64` */
export function constantName(watPath: string): string {
  return `${basename(watPath, '.wat').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_BASE64`;
}

/** The TypeScript module holding the binary compiled from `watPath`. */
export async function generatedModule(watPath: string): Promise<string> {
  const name = basename(watPath);
  const bytes = await compileWat(readFileSync(watPath, 'utf8'), name);
  const base64 = Buffer.from(bytes).toString('base64');
  const lines = base64.match(/.{1,96}/g) ?? [''];
  return [
    `// Generated from ${name} by scripts/compile-wat.ts (wabt): do not edit. After changing the .wat, run`,
    '// `pnpm --filter @ifan/core wat`; test/wasm-loops.test.ts fails while this file is out of date.',
    '',
    `/** The WebAssembly binary compiled from ${name} (${bytes.length} bytes), base64. */`,
    `export const ${constantName(watPath)} =`,
    ...lines.map((l, i) => `  '${l}'${i < lines.length - 1 ? ' +' : ';'}`),
    '',
  ].join('\n');
}

/** Where the module generated from `watPath` goes. */
export function generatedPath(watPath: string): string {
  return watPath.replace(/\.wat$/, '.generated.ts');
}

async function main(check: boolean): Promise<void> {
  const stale: string[] = [];
  for (const rel of WAT_SOURCES) {
    const wat = join(PACKAGE_DIR, rel);
    const out = generatedPath(wat);
    const text = await generatedModule(wat);
    let current: string | null = null;
    try {
      current = readFileSync(out, 'utf8');
    } catch {
      // not generated yet
    }
    if (current === text) continue;
    if (check) stale.push(generatedPath(rel));
    else {
      writeFileSync(out, text);
      console.log(`compile-wat: wrote ${generatedPath(rel)}`);
    }
  }
  if (stale.length > 0) {
    console.error(`compile-wat: out of date: ${stale.join(', ')} (run pnpm --filter @ifan/core wat)`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.includes('--check'));
}
