/**
 * Checkpoints of a run directory: `checkpoints/step-NNNNNNNN/` holds the network (`model.json`,
 * `weights.bin`), the optimiser (`optimizer.json`, `optimizer.bin`) and the loop state (`state.json`).
 * A checkpoint is written to a temporary folder and renamed into place, so a crash leaves either the
 * whole checkpoint or none. The last `keep` are kept, and `best/` holds the best by validation.
 */
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { loadNetwork, saveNetwork, type IntegratedNetwork, type TaskPlugin } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import type { OptimizerState } from './optimizer';
import type { SamplerState } from './schedule';
import type { ValidationReport } from './types';

export const CHECKPOINT_FORMAT = 'ifan-trainer-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** The loop's position, everything besides weights and optimiser slots that a resume needs. */
export interface LoopState {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Steps completed. */
  step: number;
  samplers: SamplerState[];
  /** State of the network's dropout generator. */
  networkRng: number | null;
  /** Best validation score so far and its step. */
  best: { score: number; step: number } | null;
  validation?: ValidationReport;
  /** Training seconds before this checkpoint, over all sessions. */
  elapsed: number;
  /** CPU seconds of the training process before this checkpoint, over all sessions (absent in older checkpoints). */
  cpuSeconds?: number;
  /**
   * What the loss weighting is told or remembers: each task's latest losses (its context's `losses`)
   * and the state of a method with `getState` (absent in older checkpoints: the losses start empty).
   */
  lossWeighting?: { losses: Record<string, number[]>; state?: unknown };
}

export interface CheckpointInfo {
  dir: string;
  step: number;
}

const STEP_DIR = /^step-(\d+)$/;

/** Writes, lists, prunes and reads the checkpoints of one run directory. */
export class CheckpointStore {
  readonly root: string;

  constructor(
    runDir: string,
    readonly keep: number,
  ) {
    this.root = join(runDir, 'checkpoints');
  }

  /** Checkpoints present, oldest first. */
  async list(): Promise<CheckpointInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    return names
      .map((n) => STEP_DIR.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ dir: join(this.root, m[0]), step: Number(m[1]) }))
      .sort((a, b) => a.step - b.step);
  }

  async latest(): Promise<CheckpointInfo | null> {
    const all = await this.list();
    return all[all.length - 1] ?? null;
  }

  /** Writes a checkpoint atomically; also makes it `best/` when `isBest`. Prunes old ones. */
  async write(net: IntegratedNetwork, optimizer: OptimizerState, state: LoopState, isBest: boolean): Promise<CheckpointInfo> {
    await mkdir(this.root, { recursive: true });
    const name = `step-${String(state.step).padStart(8, '0')}`;
    const tmp = join(this.root, `.tmp-${name}-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    await saveNetwork(net, fileSystemHandler(tmp));
    const opt = await optimizer.save();
    await writeFile(join(tmp, 'optimizer.bin'), new Uint8Array(opt.data));
    await writeFile(join(tmp, 'optimizer.json'), JSON.stringify({ learningRate: optimizer.learningRate, config: optimizer.config, specs: opt.specs }));
    await writeFile(join(tmp, 'state.json'), JSON.stringify(state, null, 1));
    const dir = join(this.root, name);
    await replaceDir(tmp, dir);
    if (isBest) {
      const tmpBest = join(this.root, `.tmp-best-${process.pid}`);
      await rm(tmpBest, { recursive: true, force: true });
      await cp(dir, tmpBest, { recursive: true });
      await replaceDir(tmpBest, join(this.root, 'best'));
    }
    const all = await this.list();
    for (const old of all.slice(0, Math.max(0, all.length - this.keep))) await rm(old.dir, { recursive: true, force: true });
    return { dir, step: state.step };
  }

  /** Reads a checkpoint's network, optimiser slots (into `optimizer`) and loop state. */
  static async read(
    dir: string,
    plugins: readonly TaskPlugin[],
  ): Promise<{ net: IntegratedNetwork; state: LoopState; restoreOptimizer(o: OptimizerState): Promise<void> }> {
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as LoopState;
    if (state.format !== CHECKPOINT_FORMAT || state.version > CHECKPOINT_VERSION) {
      throw new Error(`${dir} is not a checkpoint this trainer can read (format ${state.format} version ${state.version})`);
    }
    const net = await loadNetwork(fileSystemHandler(dir), plugins);
    const meta = JSON.parse(await readFile(join(dir, 'optimizer.json'), 'utf8')) as { learningRate: number; specs: tf.io.WeightsManifestEntry[] };
    const bytes = await readFile(join(dir, 'optimizer.bin'));
    const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    return {
      net,
      state,
      restoreOptimizer: async (o) => {
        await o.load(meta.specs, data);
        o.learningRate = meta.learningRate;
      },
    };
  }
}

/** Moves `from` onto `to`, replacing a folder already there (old one renamed away first, then removed). */
async function replaceDir(from: string, to: string): Promise<void> {
  const old = `${to}.old-${process.pid}`;
  let hadOld = false;
  try {
    await rename(to, old);
    hadOld = true;
  } catch {
    // nothing there yet
  }
  await rename(from, to);
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/** Writes a file atomically (temporary name, then rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
