/**
 * A trained model on disk: `model.json` + `weights.bin` (core's saveNetwork), `preprocessing.json`
 * (the face crop it was trained with) and `tasks.json` (the options its task plugins were created
 * with, so the `ifan` command can create them again).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadNetwork, type IntegratedNetwork, type SavedTopology, type TaskPlugin } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { writeFileAtomic } from './checkpoint';
import { DEFAULT_CROP } from './defaults';
import { taskEntry } from './tasks';
import { RUN_FILES, type Preprocessing } from './trainer';

const TASKS_FILE = 'tasks.json';

export interface LoadedModel {
  net: IntegratedNetwork;
  plugins: TaskPlugin[];
  preprocessing: Preprocessing;
  /** The folder holding `model.json`. */
  dir: string;
}

/** `dir` itself when it holds `model.json`, else its `model/` (a run directory). */
export function modelDir(dir: string): string {
  const d = resolve(dir);
  if (existsSync(join(d, 'model.json'))) return d;
  if (existsSync(join(d, RUN_FILES.model, 'model.json'))) return join(d, RUN_FILES.model);
  throw new Error(`no model at ${d}: expected ${join(d, 'model.json')} (a model folder) or ${join(d, RUN_FILES.model, 'model.json')} (a run directory)`);
}

/** Records the plugin options of each task next to a saved model. */
export async function writeTaskOptions(dir: string, options: Record<string, Record<string, unknown>>): Promise<void> {
  await writeFileAtomic(join(dir, TASKS_FILE), JSON.stringify(options, null, 2));
}

/** Loads a model saved by a run (or `Trainer.saveModel` + {@link writeTaskOptions}) with plugins from the task registry. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const root = modelDir(dir);
  const json = JSON.parse(await readFile(join(root, 'model.json'), 'utf8')) as { modelTopology?: SavedTopology };
  const topo = json.modelTopology;
  if (!topo?.plugins) throw new Error(`${root}/model.json is not a saved iFAN network`);
  const taskOptions = existsSync(join(root, TASKS_FILE))
    ? (JSON.parse(await readFile(join(root, TASKS_FILE), 'utf8')) as Record<string, Record<string, unknown>>)
    : {};
  const plugins = topo.plugins.map((p) => taskEntry(p.name, `${root}: task`).create(taskOptions[p.name] ?? {}));
  const net = await loadNetwork(fileSystemHandler(root), plugins);
  const preprocessing: Preprocessing = existsSync(join(root, RUN_FILES.preprocessing))
    ? (JSON.parse(await readFile(join(root, RUN_FILES.preprocessing), 'utf8')) as Preprocessing)
    : { crop: { ...DEFAULT_CROP } };
  return { net, plugins, preprocessing, dir: root };
}
