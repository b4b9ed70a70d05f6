/**
 * A trained model on disk: `model.json` + `weights.bin` (core's saveNetwork). `model.json` holds
 * everything needed to use it: the network, each task plugin's recipe (factory and options) and the
 * framing of its faces.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkFraming, loadNetwork, type Framing, type IntegratedNetwork, type Recipe, type SavedPlugin, type SavedTopology, type TaskPlugin } from '@ifan/core';
import { fileSystemHandler } from '@ifan/core/node';
import { DEFAULT_PRETRAINED, PRETRAINED, pretrainedDir, pretrainedInfo } from '@ifan/models/node';
import { fromRecipe } from './recipe';
import { taskEntry } from './tasks';
import { RUN_FILES } from './trainer';

export interface LoadedModel {
  net: IntegratedNetwork;
  plugins: TaskPlugin[];
  /** How the model frames faces (`net.framing`, from model.json). */
  framing: Framing;
  /** The folder holding `model.json`. */
  dir: string;
}

/**
 * The model an `ifan` command runs: a model folder or run directory, a shipped pretrained model's name
 * (`@ifan/models`: `landmarks`, ...), or with nothing given the default pretrained model; `note` says
 * which pretrained model was chosen, for the one line the command prints.
 */
export async function resolveModel(arg: string | undefined): Promise<LoadedModel & { note?: string }> {
  if (arg === undefined) {
    const info = pretrainedInfo(DEFAULT_PRETRAINED);
    return { ...(await loadModel(pretrainedDir(info.name))), note: `no --model: using the pretrained "${info.name}" (${info.tasks.join(', ')}) from @ifan/models` };
  }
  if (!existsSync(resolve(arg)) && PRETRAINED.some((m) => m.name === arg)) return loadModel(pretrainedDir(arg));
  if (!existsSync(resolve(arg))) {
    throw new Error(`no model at ${resolve(arg)}, and no pretrained model named "${arg}" (shipped: ${PRETRAINED.map((m) => m.name).join(', ')})`);
  }
  return loadModel(arg);
}

/** `dir` itself when it holds `model.json`, else its `model/` (a run directory). */
export function modelDir(dir: string): string {
  const d = resolve(dir);
  if (existsSync(join(d, 'model.json'))) return d;
  if (existsSync(join(d, RUN_FILES.model, 'model.json'))) return join(d, RUN_FILES.model);
  throw new Error(`no model at ${d}: expected ${join(d, 'model.json')} (a model folder) or ${join(d, RUN_FILES.model, 'model.json')} (a run directory)`);
}

/**
 * Loads a saved model (a model folder or a run directory), creating its task plugins from the
 * recipes in model.json: the built-in task packages and any plugin package installed where it runs.
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const root = modelDir(dir);
  const json = JSON.parse(await readFile(join(root, 'model.json'), 'utf8')) as { modelTopology?: SavedTopology };
  const topo = json.modelTopology;
  if (!topo?.plugins) throw new Error(`${root}/model.json is not a saved iFAN network`);
  const legacy = await legacyFiles(root);
  const plugins = await Promise.all(topo.plugins.map((p) => createPlugin(p, root, legacy.taskOptions)));
  const net = await loadNetwork(fileSystemHandler(root), plugins);
  if (!topo.framing && legacy.margin !== undefined) net.framing = checkFraming({ margin: legacy.margin }, `${root}/preprocessing.json: crop`);
  return { net, plugins, framing: net.framing, dir: root };
}

async function createPlugin(saved: SavedPlugin, root: string, legacyOptions: Record<string, Record<string, unknown>> | undefined): Promise<TaskPlugin> {
  if (saved.recipe) {
    try {
      return await fromRecipe<TaskPlugin>(nodeRecipe(saved.recipe));
    } catch (e) {
      throw new Error(`${root}/model.json: task "${saved.name}" cannot be created from its recipe (${saved.recipe.module} ${saved.recipe.export}): ${(e as Error).message}`);
    }
  }
  if (legacyOptions) return taskEntry(saved.name, `${root}: task`).create(legacyOptions[saved.name] ?? {});
  throw new Error(
    `${root}/model.json: task "${saved.name}" was saved without a recipe (its plugin sets none), so it cannot be created here: ` +
      "create the plugin yourself and load the network with @ifan/core's loadNetwork, or give the plugin a recipe before saving",
  );
}

/**
 * The built-in task packages' browser-safe entries (the recipes @ifan/models ships, which run in a
 * browser) made with their Node entries instead, whose plugins also load data sets: here a model is
 * evaluated on files (`ifan eval --task`) and trained from (`--init`). Same factory, same options.
 */
function nodeRecipe(recipe: Recipe): Recipe {
  return BUILT_IN_TASK_MODULES.includes(recipe.module) ? { ...recipe, module: `${recipe.module}/node` } : recipe;
}

const BUILT_IN_TASK_MODULES = ['@ifan/task-parsing', '@ifan/task-landmarks', '@ifan/task-emotion'];

/**
 * Models saved before model.json held recipes and framing kept the plugin options in `tasks.json`
 * and the crop margin in `preprocessing.json`; they are still read.
 */
async function legacyFiles(root: string): Promise<{ taskOptions?: Record<string, Record<string, unknown>>; margin?: number }> {
  const read = async <T>(name: string) => (existsSync(join(root, name)) ? (JSON.parse(await readFile(join(root, name), 'utf8')) as T) : undefined);
  const taskOptions = await read<Record<string, Record<string, unknown>>>('tasks.json');
  const pre = await read<{ crop?: { margin?: number } }>('preprocessing.json');
  return { taskOptions, margin: pre?.crop?.margin };
}
