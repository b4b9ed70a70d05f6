/**
 * The project's training step against PyTorch eager on the same network, alternated in one run
 * (issue 12's speed anchor). The 3-task integrated network (parsing + landmarks + emotion) of a preset
 * is built here and, layer for layer, in PyTorch by torch/ifan_step.py (Debian's `python3-torch`,
 * run with /usr/bin/python3 or $IFAN_TORCH_PYTHON); its FLOPs (hooks on every conv and dense layer,
 * plus the landmark disk maps as the project counts them) and its parameters must match `net.flops`
 * and `net.parameterCount()` within 1%, and the shapes of the trainable tensors exactly, or the bench
 * stops. Each side then runs stage-2 training steps (forward with the task's loss summed over
 * iterations 0..ITER, backward, RMSprop; the tasks in rotation, as train-step.ts), in rounds that
 * alternate the sides so that the machine's changing load hits both alike.
 *
 *   pnpm bench torch-vs [--preset tiny|small|paper] [--iterations N] [--batches 16,32] [--rounds 3]
 *                       [--steps 3] [--threads 1,2] [--profile] [--out torch-vs.json]
 *
 *   --steps N     steps per side per round (default 3: one of each task)
 *   --project-threads 1,2  the project's step also on two gradient threads (@ifan/trainer's
 *                 GradientThreads: the batch's halves in this thread and a worker), as its own side
 *   --threads     PyTorch intra-op thread counts, each measured as its own side in its own process
 *                 (default 1). Under load above the core count, 2 threads mostly measure OpenMP
 *                 spin-waiting (at load 9 here: 0.46x the 1-thread speed).
 *   --profile     after the rounds, torch.profiler over one rotation at the largest batch, one
 *                 thread: self time per op and by layer type (compare `pnpm bench profile-step`)
 *
 * Reports per batch and side ms/step, images/s, CPU ms per image (process.cpuUsage, Python's
 * time.process_time: user + system of the whole process) and PyTorch's speed over the project's,
 * the median of the per-round ratios, by wall time and by CPU time (the fairer on a shared machine).
 * Without torch it says so in one line, measures the project side alone and exits 0.
 * The Python processes inherit the environment: glibc's mmap of large tensors costs PyTorch 0-200 ms
 * of system time per small-preset step at batch 32 here (MALLOC_MMAP_THRESHOLD_=4294967296 removes
 * it); its CPU time per image still moved 25-52 ms between runs at load 7-13, the project's 45-53.
 * Writes bench/out/torch-vs.json.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { selectBackend, type BackbonePresetName } from '@ifan/core';
import { GradientThreads } from '@ifan/trainer';
import * as tf from '@tensorflow/tfjs-core';
import { buildNetwork, disposeBatch, loadBackends, randomBatch, Rmsprop, stageTwoVariables, TASKS, trainStep, type Batch, type TaskName } from './train-setup';
import { median } from './stats';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const PRESET = opt('preset', 'small') as BackbonePresetName;
const ITER = Number(opt('iterations', '1'));
const BATCHES = opt('batches', '16,32').split(',').map(Number);
const ROUNDS = Number(opt('rounds', '3'));
const STEPS = Number(opt('steps', '3'));
const THREADS = opt('threads', '1').split(',').map(Number);
const PROJECT_THREADS = opt('project-threads', '1').split(',').map(Number);
if (PROJECT_THREADS.some((n) => n !== 1 && n !== 2)) throw new Error('torch-vs: --project-threads takes 1 and/or 2');
const PYTHON = process.env.IFAN_TORCH_PYTHON ?? '/usr/bin/python3';
const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((x) => x.toFixed(2)).join(', ')}`;
  }
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

await loadBackends();
await selectBackend({ backend: 'wasm', log: false });
const net = buildNetwork(PRESET, ITER);
const optimizer = new Rmsprop(net);
const gradientThreads = PROJECT_THREADS.includes(2) ? new GradientThreads(net) : null;
await gradientThreads?.ready;
const flops = net.flops(ITER);
const params = net.parameterCount().trainable;
console.log(`torch-vs: preset ${PRESET}, ITER ${ITER}, ${(flops / 1e9).toFixed(4)} GFLOP/image forward (net.flops), ${params.toLocaleString('en')} trainable parameters; ${cpus().length} cores; ${uptime()}`);

// ---------------------------------------------------------------- the PyTorch side

const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
const torchVersion = probe.status === 0 ? probe.stdout.trim() : null;
if (!torchVersion) {
  console.log(`torch-vs: ${PYTHON} cannot import torch (install it with \`sudo apt-get install -y python3-torch\`, or set IFAN_TORCH_PYTHON to a Python that has it); measuring the project side only`);
}

/** A resident Python process answering one JSON line per JSON line. */
class TorchSide {
  private readonly proc: ReturnType<typeof spawn>;
  private readonly lines: AsyncIterableIterator<string>;
  /** One process per thread count, its OpenMP pool that size from the start. */
  constructor(readonly threads: number) {
    const n = String(threads);
    this.proc = spawn(PYTHON, [join(here, 'torch', 'ifan_step.py'), '--threads', n], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n } });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async call<T>(msg: Record<string, unknown>): Promise<T> {
    this.proc.stdin!.write(`${JSON.stringify(msg)}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`torch-vs: the PyTorch process ended (exit ${this.proc.exitCode}); its error is above`);
    const out = JSON.parse(value as string) as T & { error?: string };
    if (out.error) throw new Error(`torch-vs: PyTorch side failed: ${out.error}`);
    return out;
  }
  async close(): Promise<void> {
    this.proc.stdin!.write(`${JSON.stringify({ cmd: 'quit' })}\n`);
    await new Promise((resolve) => this.proc.once('exit', resolve));
  }
}

interface Init {
  torch: string;
  mkldnn: boolean;
  flops: { conv: number; linear: number; heatmaps: number; total: number };
  params: number;
  shapes: number[][];
  config: string[];
}

/** What the Python side needs to build the same network, read off the project's network. */
function spec() {
  const priv = net as unknown as { tapIndex: Record<string, number> };
  return {
    backbone: net.backboneConfig,
    upBlocks: net.backbone.upBlocks,
    sites: net.backbone.sites,
    taps: priv.tapIndex,
    bnKeys: net.bnKeys,
    iterations: ITER,
    tasks: net.plugins.map((p) => {
      const c = p.config as { classes?: string[]; points?: number; feedbackChannels: number; hiddenUnits?: number };
      if (p.name !== 'parsing' && p.name !== 'landmarks' && p.name !== 'emotion') throw new Error(`torch-vs: no PyTorch head for task ${p.name}`);
      return { name: p.name, kind: p.name, classes: c.classes?.length, points: c.points, feedbackChannels: c.feedbackChannels, hiddenUnits: c.hiddenUnits };
    }),
  };
}

/** Trainable tensor shapes in PyTorch's order: conv [k,k,in,out] -> [out,in,k,k], dense [in,out] -> [out,in]. */
function torchShapes(): number[][] {
  const shapes = [...net.params.variables.values()]
    .filter((v) => v.trainable)
    .map((v) => (v.rank === 4 ? [v.shape[3], v.shape[2], v.shape[0], v.shape[1]] : v.rank === 2 ? [v.shape[1], v.shape[0]] : [...v.shape]));
  return shapes.sort(compareShapes);
}
function compareShapes(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const torchSides = new Map<number, TorchSide>();
let init: Init | null = null;
const match: Record<string, unknown> = {};
if (torchVersion) {
  for (const th of THREADS) torchSides.set(th, new TorchSide(th));
  const inits = await Promise.all([...torchSides.values()].map((t) => t.call<Init>({ cmd: 'init', spec: spec() })));
  init = inits[0];
  const flopDiff = init.flops.total / flops - 1;
  const paramDiff = init.params / params - 1;
  const mine = torchShapes();
  const theirs = [...init.shapes].sort(compareShapes);
  const shapesEqual = JSON.stringify(mine) === JSON.stringify(theirs);
  Object.assign(match, { projectFlops: flops, torchFlops: init.flops, flopDiff, projectParams: params, torchParams: init.params, paramDiff, shapesEqual, tensors: mine.length });
  console.log(`PyTorch ${init.torch} (mkldnn ${init.mkldnn}) at ${PYTHON}`);
  console.log(
    `FLOPs/image forward: project ${flops.toLocaleString('en')}, PyTorch ${init.flops.total.toLocaleString('en')} ` +
      `(conv ${init.flops.conv.toLocaleString('en')} + dense ${init.flops.linear.toLocaleString('en')} + disk maps ${init.flops.heatmaps.toLocaleString('en')}), ` +
      `difference ${(100 * flopDiff).toFixed(4)}%`,
  );
  console.log(`trainable parameters: project ${params.toLocaleString('en')}, PyTorch ${init.params.toLocaleString('en')} (${(100 * paramDiff).toFixed(4)}%); tensor shapes ${shapesEqual ? 'identical' : 'DIFFER'} (${mine.length} tensors)`);
  if (Math.abs(flopDiff) > 0.01 || Math.abs(paramDiff) > 0.01 || !shapesEqual) {
    for (const t of torchSides.values()) await t.close();
    console.error('torch-vs: the PyTorch network is not the project network (FLOPs or parameters differ by more than 1%, or tensor shapes differ): fix torch/ifan_step.py');
    process.exit(1);
  }
}

// ---------------------------------------------------------------- rounds

interface Side {
  name: string;
  kind: 'project' | 'torch';
  threads: number;
  wall: number[][]; // per round, per step
  cpu: number[][];
}
interface BatchResult {
  batch: number;
  loadBefore: string;
  loadAfter: string;
  sides: Array<{
    name: string;
    threads?: number;
    msPerStep: number;
    medianMs: number;
    imagesPerSecond: number;
    cpuMsPerImage: number;
    gflopPerSecond: number;
    gflopPerCpuSecond: number;
    /** Median over rounds of the project's ms (one thread) / this side's ms (its speed over the project's). */
    speedVsProject?: number;
    cpuSpeedVsProject?: number;
    wallPerRound: number[][];
    cpuPerRound: number[][];
  }>;
}
const results: BatchResult[] = [];
const taskOf = (s: number): TaskName => TASKS[s % 3];

async function projectSteps(batches: Record<TaskName, Batch>, n: number, threads: number, side: Side | null): Promise<void> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let s = 0; s < n; s++) {
    const b = batches[taskOf(s)];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (threads === 1) trainStep(net, optimizer, b, ITER);
    else {
      // as bench/two-cores.ts and the trainer's threads: 2 do it
      const r = await gradientThreads!.computeGradients(b.images, b.targets, { bnKey: net.plugin(b.task).bnKey, variables: stageTwoVariables(net, b.task), iterations: ITER });
      optimizer.apply(r.grads);
      tf.dispose(Object.values(r.grads));
    }
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3);
  }
  side?.wall.push(wall);
  side?.cpu.push(cpu);
}
async function torchSteps(batch: number, threads: number, n: number, side: Side | null): Promise<void> {
  const tasks = Array.from({ length: n }, (_, s) => taskOf(s));
  const r = await torchSides.get(threads)!.call<{ wall: number[]; cpu: number[]; threads: number }>({ cmd: 'steps', batch, tasks, seed: 100 });
  if (r.threads !== threads) throw new Error(`torch-vs: the ${threads}-thread PyTorch process runs ${r.threads} threads`);
  side?.wall.push(r.wall);
  side?.cpu.push(r.cpu);
}

for (const batch of BATCHES) {
  const batches = Object.fromEntries(TASKS.map((t, i) => [t, randomBatch(net, t, batch, 100 + i)])) as Record<TaskName, Batch>;
  // warm-up: one step of each task on every side (slots, compilation, heap growth, oneDNN primitives)
  for (const th of PROJECT_THREADS) await projectSteps(batches, 3, th, null);
  for (const th of torchSides.keys()) await torchSteps(batch, th, 3, null);
  const loadBefore = uptime();
  const plural = (n: number) => `${n} thread${n > 1 ? 's' : ''}`;
  const sides: Side[] = [
    ...PROJECT_THREADS.map((threads) => ({ name: `project (wasm) ${plural(threads)}`, kind: 'project' as const, threads, wall: [], cpu: [] })),
    ...(torchSides.size ? THREADS.map((threads) => ({ name: `PyTorch ${plural(threads)}`, kind: 'torch' as const, threads, wall: [], cpu: [] })) : []),
  ];
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      if (side.kind === 'project') await projectSteps(batches, STEPS, side.threads, side);
      else await torchSteps(batch, side.threads, STEPS, side);
    }
    console.error(`  b=${batch} round ${r + 1}/${ROUNDS}: ${sides.map((s) => `${s.name} ${mean(s.wall[r]).toFixed(0)} ms`).join(', ')}`);
  }
  const loadAfter = uptime();
  for (const b of Object.values(batches)) disposeBatch(b);
  const project = sides[0];
  results.push({
    batch,
    loadBefore,
    loadAfter,
    sides: sides.map((s) => {
      const all = s.wall.flat();
      const ms = mean(all);
      const cpuMs = mean(s.cpu.flat());
      const row: BatchResult['sides'][number] = {
        name: s.name,
        threads: s.threads,
        msPerStep: ms,
        medianMs: median(all),
        imagesPerSecond: (1000 * batch) / ms,
        cpuMsPerImage: cpuMs / batch,
        gflopPerSecond: (3 * flops * batch) / 1e9 / (ms / 1000),
        gflopPerCpuSecond: (3 * flops * batch) / 1e9 / (cpuMs / 1000),
        wallPerRound: s.wall,
        cpuPerRound: s.cpu,
      };
      if (s !== project) {
        row.speedVsProject = median(s.wall.map((w, r) => mean(project.wall[r]) / mean(w)));
        row.cpuSpeedVsProject = median(s.cpu.map((c, r) => mean(project.cpu[r]) / mean(c)));
      }
      return row;
    }),
  });
}

// ---------------------------------------------------------------- profile (PyTorch side)

interface ProfileOp {
  name: string;
  selfMs: number;
  totalMs: number;
  calls: number;
}
let profile: { batch: number; msPerStep: number; ops: ProfileOp[]; byType: Record<string, number>; load: string } | null = null;
/** Layer type of a PyTorch op, in the words of `pnpm bench profile-step`'s kernels. */
function layerType(op: string): string {
  if (op.startsWith('ifan::')) return 'phase (not an op)';
  if (/conv/.test(op)) return /backward/.test(op) ? 'conv backward (input + weight grads)' : 'conv forward';
  if (/batch_norm/.test(op)) return /backward/.test(op) ? 'batch norm backward' : 'batch norm forward';
  if (/\bcat\b|copy_|clone|contiguous|permute|expand|_reshape|view|slice|select|narrow|as_strided|empty|zeros|ones_like|fill_|zero_/.test(op)) return 'concat / copies / views';
  if (/pool/.test(op)) return 'pooling';
  if (/addmm|\bmm\b|matmul|linear|\bt\b/.test(op)) return 'dense (matmul)';
  if (/softmax|log_softmax|nll|one_hot/.test(op)) return 'softmax / loss';
  if (/relu|threshold|sigmoid|sqrt|pow|add|sub|mul|div|sum|mean|neg|clamp|addcmul|addcdiv|dropout|bernoulli|where/.test(op)) return 'elementwise / reductions';
  return 'other';
}
if (torchSides.size && flag('profile')) {
  const batch = Math.max(...BATCHES);
  const side = torchSides.get(1) ?? new TorchSide(1);
  if (!torchSides.has(1)) {
    await side.call<Init>({ cmd: 'init', spec: spec() });
    torchSides.set(1, side);
  }
  const p = await side.call<{ msPerStep: number; ops: ProfileOp[] }>({ cmd: 'profile', batch, tasks: [...TASKS] });
  const byType: Record<string, number> = {};
  for (const op of p.ops) byType[layerType(op.name)] = (byType[layerType(op.name)] ?? 0) + op.selfMs;
  profile = { batch, ...p, byType, load: uptime() };
}
for (const t of torchSides.values()) await t.close();
await gradientThreads?.terminate();
optimizer.optimizer.dispose();
net.dispose();

// ---------------------------------------------------------------- report

function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
const f = (x: number | undefined, d = 0) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));

console.log(`\nTraining step, 3 tasks, ${PRESET} preset, ITER=${ITER} (stage 2, RMSprop), ${ROUNDS} rounds x ${STEPS} steps per side, alternated`);
console.log(
  table(
    ['batch', 'side', 'ms/step', 'median ms', 'images/s', 'CPU ms/image', 'GFLOP/s', 'GFLOP/CPU-s', `speed vs ${results[0]?.sides[0]?.name ?? 'project'} (wall)`, '(CPU time)'],
    results.flatMap((r) =>
      r.sides.map((s) => [
        r.batch,
        s.name,
        f(s.msPerStep),
        f(s.medianMs),
        f(s.imagesPerSecond, 1),
        f(s.cpuMsPerImage, 1),
        f(s.gflopPerSecond, 1),
        f(s.gflopPerCpuSecond, 1),
        s.speedVsProject ? `${s.speedVsProject.toFixed(2)}x` : '',
        s.cpuSpeedVsProject ? `${s.cpuSpeedVsProject.toFixed(2)}x` : '',
      ]),
    ),
  ),
);
for (const r of results) console.log(`load, batch ${r.batch}: before ${r.loadBefore.replace(/.*load average/, 'load average')}; after ${r.loadAfter.replace(/.*load average/, 'load average')}`);
console.log(`(speed = median over rounds of the first side's time / this side's time; CPU time is the whole process, user + system, all threads)`);
for (const r of results) {
  const two = r.sides.find((s) => s.name.startsWith('project') && s.threads === 2);
  const torch1 = r.sides.find((s) => s.name.startsWith('PyTorch') && s.threads === 1);
  if (two && torch1) {
    const ratio = median(two.wallPerRound.map((w, k) => mean(torch1.wallPerRound[k]) / mean(w)));
    console.log(`batch ${r.batch}: the project on 2 threads trains ${ratio.toFixed(2)}x the images/s of PyTorch on 1 (median over rounds; issue 12's goal is >= 1)`);
  }
}
if (profile) {
  console.log(`\nPyTorch, one thread, batch ${profile.batch}, torch.profiler over one rotation: ${profile.msPerStep.toFixed(0)} ms/step (profiled); self CPU ms per step by layer type:`);
  const types = Object.entries(profile.byType).filter(([t]) => t !== 'phase (not an op)').sort((a, b) => b[1] - a[1]);
  console.log(table(['layer type', 'ms/step'], types.map(([t, ms]) => [t, f(ms, 1)])));
  // conv FLOPs of one step's forward (ITER + 1 passes, the re-encoders' ITER): hooks' count x batch
  const convFwd = ((init?.flops.conv ?? 0) * profile.batch) / 1e9;
  const fwdMs = profile.byType['conv forward'] ?? NaN;
  const bwdMs = profile.byType['conv backward (input + weight grads)'] ?? NaN;
  console.log(`convolutions: forward ${convFwd.toFixed(2)} GFLOP/step in ${f(fwdMs)} ms = ${f(convFwd / (fwdMs / 1000), 1)} GFLOP/s; backward (at most 2 x forward) <= ${f((2 * convFwd) / (bwdMs / 1000), 1)} GFLOP/s`);
  console.log('top ops (self CPU ms per step):');
  console.log(table(['op', 'self ms', 'total ms', 'calls'], profile.ops.filter((o) => !o.name.startsWith('ifan::')).slice(0, 20).map((o) => [o.name, f(o.selfMs, 1), f(o.totalMs, 1), f(o.calls, 0)])));
  console.log('compare: pnpm bench profile-step ' + `${PRESET} ${profile.batch} ${ITER}`);
}

mkdirSync(join(here, 'out'), { recursive: true });
const outFile = join(here, 'out', opt('out', 'torch-vs.json'));
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(
  outFile,
  JSON.stringify(
    { date: new Date().toISOString(), cores: cpus().length, preset: PRESET, iterations: ITER, projectThreads: PROJECT_THREADS, torchThreads: THREADS, rounds: ROUNDS, stepsPerRound: STEPS, python: PYTHON, torch: torchVersion, torchInfo: init ? { mkldnn: init.mkldnn, parallel: init.config } : null, spec: spec(), match, results, profile },
    null,
    2,
  ),
);
console.log(`wrote ${outFile}`);
