/**
 * The synthetic face generator of the working tree against the one of an earlier commit, in one
 * process: rounds of 150 faces at 128 px alternate between the two, so that the machine's changing
 * speed hits both alike; reports the median time per face and the median of the per-round speed-ups
 * over the earlier generator, and writes out/synthetic-vs.json.
 *
 *   pnpm bench synthetic-vs 5d9b533          (ROUNDS=20 by default)
 *
 * The earlier commit's packages/synthetic/src is extracted with `git archive` under out/ (so that
 * its imports resolve through this package's node_modules) and imported from there, so it must import
 * only what the workspace's packages still export: the generators that had WebAssembly passes
 * (e4af2d0 up to 5e5efeb, which dropped them) import `@ifan/core/wasm`, which is gone, and cannot be
 * compared; earlier and later ones can.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateFace } from '@ifan/synthetic';
import { median } from './stats';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const rev = process.argv[2];
if (!rev) throw new Error('usage: synthetic-vs.ts <git revision> (e.g. 5d9b533)');
const commit = execFileSync('git', ['rev-parse', '--short', `${rev}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
const dir = join(here, 'out', `synthetic-${commit}`);
if (!existsSync(join(dir, 'packages/synthetic/src/generate.ts'))) {
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} packages/synthetic/src | tar -x -C "${dir}"`], { cwd: root });
}
const before = (await import(pathToFileURL(join(dir, 'packages/synthetic/src/generate.ts')).href)) as { generateFace: typeof generateFace };

const size = 128;
const rounds = Number(process.env.ROUNDS ?? 20);
const per = 150;
const variants: [string, (seed: number) => unknown][] = [
  [commit, (seed) => before.generateFace(seed, { size })],
  ['now', (seed) => generateFace(seed, { size })],
];
for (const [, draw] of variants) {
  for (let i = 0; i < 400; i++) draw(-1 - i);
}
const times: number[][] = variants.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (const k of r % 2 ? [1, 0] : [0, 1]) {
    const [, draw] = variants[k];
    const start = performance.now();
    for (let i = 0; i < per; i++) draw(2_000_000 + r * per + i);
    times[k].push((performance.now() - start) / per);
  }
}
console.log(`synthetic faces at ${size} px, ${rounds} rounds of ${per} faces per generator, alternated`);
const results = variants.map(([name], k) => {
  const msPerFace = median(times[k]);
  const speedUp = median(times[k].map((t, r) => times[0][r] / t));
  console.log(`${name.padEnd(24)} ${msPerFace.toFixed(3)} ms/face  ${(1000 / msPerFace).toFixed(0).padStart(5)} faces/s  ${speedUp.toFixed(2)}x ${commit}`);
  return { name, msPerFace, facesPerSecond: 1000 / msPerFace, speedUp };
});
const report = { bench: 'synthetic-vs', against: commit, size, rounds, facesPerRound: per, node: process.version, date: new Date().toISOString(), results };
writeFileSync(join(here, 'out', 'synthetic-vs.json'), `${JSON.stringify(report, null, 2)}\n`);
