/**
 * Throughput of the synthetic face generator: one image with all three labels (mask, 5 points,
 * expression), in memory, on one core (the generator is synchronous and single-threaded).
 *
 *   cd bench && node --conditions=@ifan/source --import tsx synthetic.ts
 *
 * After a warm-up over every case, trials run in rounds over the cases (so that a burst of load on a
 * shared machine hits every case alike). Reports per case the median and the best trial in faces per
 * second of wall-clock time, and the median per second of this process's CPU time (user + system,
 * all threads, GC included). Prints a table and writes out/synthetic.json. BENCH_SECONDS sets the time
 * per case (default 3).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMAINS, type FaceOptions, generateFace } from '@ifan/synthetic';
import { median } from './stats';

const here = dirname(fileURLToPath(import.meta.url));
const secondsPerCase = Number(process.env.BENCH_SECONDS ?? 3);
const TRIALS = 6;

interface CaseResult {
  /** Median over trials, faces per second of wall-clock time. */
  facesPerSecond: number;
  /** Best trial, faces per second of wall-clock time. */
  bestFacesPerSecond: number;
  /** Median over trials, faces per second of this process's CPU time. */
  facesPerCpuSecond: number;
  /** 1000 / facesPerSecond. */
  msPerFace: number;
  faces: number;
}

const cases: [string, FaceOptions][] = [
  ['64px', { size: 64 }],
  ['128px', { size: 128 }],
  ['domain:parsing (128px)', DOMAINS.parsing.face],
  ['domain:landmarks (96px)', DOMAINS.landmarks.face],
  ['domain:emotion (48px grey)', DOMAINS.emotion.face],
];

const loadBefore = loadavg()[0];
// Warm-up: V8 optimises the shared hot paths with feedback from every size.
for (let round = 0; round < 2; round++) {
  cases.forEach(([, options], k) => {
    for (let i = 0; i < 150; i++) generateFace(-1 - i - 1000 * k, options);
  });
}
const wall: number[][] = cases.map(() => []);
const cpu: number[][] = cases.map(() => []);
const counts = cases.map(() => 0);
for (let t = 0; t < TRIALS; t++) {
  cases.forEach(([, options], k) => {
    const c0 = process.cpuUsage();
    const start = performance.now();
    const end = start + (secondsPerCase * 1000) / TRIALS;
    let n = 0;
    let now = start;
    while (now < end) {
      for (let j = 0; j < 10; j++) generateFace(1_000_000 * (k + 1) + counts[k] + n++, options);
      now = performance.now();
    }
    const c = process.cpuUsage(c0);
    wall[k].push((n * 1000) / (now - start));
    cpu[k].push((n * 1e6) / (c.user + c.system));
    counts[k] += n;
  });
}

console.log(`synthetic faces, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadBefore.toFixed(2)}, ${TRIALS} trials per case`);
console.log(`${'case'.padEnd(28)} ${'faces/s'.padStart(8)} ${'best'.padStart(8)} ${'per cpu-s'.padStart(10)} ${'ms/face'.padStart(8)}`);
const results: Record<string, CaseResult> = {};
cases.forEach(([name], k) => {
  const fps = median(wall[k]);
  const r: CaseResult = {
    facesPerSecond: fps,
    bestFacesPerSecond: Math.max(...wall[k]),
    facesPerCpuSecond: median(cpu[k]),
    msPerFace: 1000 / fps,
    faces: counts[k],
  };
  results[name] = r;
  console.log(
    `${name.padEnd(28)} ${r.facesPerSecond.toFixed(0).padStart(8)} ${r.bestFacesPerSecond.toFixed(0).padStart(8)} ${r.facesPerCpuSecond.toFixed(0).padStart(10)} ${r.msPerFace.toFixed(2).padStart(8)}`,
  );
});

mkdirSync(join(here, 'out'), { recursive: true });
const file = join(here, 'out', 'synthetic.json');
const report = {
  bench: 'synthetic',
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  loadAverage: loadBefore,
  date: new Date().toISOString(),
  secondsPerCase,
  trials: TRIALS,
  results,
};
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${file}`);
