/**
 * Loads a pretrained model from any tfjs IO handler (a URL in a browser, the package's files in Node):
 * its task plugins come from the recipes saved in its model.json, made with the task packages' main
 * (browser-safe) factories, so nothing else needs to be known about the model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadNetwork, type Framing, type IntegratedNetwork, type SavedTopology, type TaskPlugin } from '@ifan/core';
import { emotionTask } from '@ifan/task-emotion';
import { landmarkTask } from '@ifan/task-landmarks';
import { parsingTask } from '@ifan/task-parsing';

/** A built-in task: its package's main (browser-safe) factory and that factory's export name. */
export interface BuiltInTask {
  /** What a saved recipe names (`recipe.export`; the `/node` factory of that name makes the same model side). */
  export: string;
  create(options?: Record<string, unknown>): TaskPlugin;
}

/**
 * The tasks a shipped model may hold, by task name: loading finds a saved recipe's factory here, and
 * scripts/add-model.ts makes a training run's plugins from it.
 */
export const BUILT_IN_TASKS: Readonly<Record<string, BuiltInTask>> = {
  parsing: { export: 'parsingTask', create: (o) => parsingTask(o) as TaskPlugin },
  landmarks: { export: 'landmarkTask', create: (o) => landmarkTask(o) as TaskPlugin },
  emotion: { export: 'emotionTask', create: (o) => emotionTask(o) as TaskPlugin },
};

export interface PretrainedModel {
  /** The network, ready to predict (`net.predict`, or the trainer's `analyzeFaces`). */
  net: IntegratedNetwork;
  /** Its task plugins, in the network's order. */
  plugins: TaskPlugin[];
  /** How it frames faces (`net.framing`): give it to `@ifan/detect`'s `cropFaces`. */
  framing: Framing;
}

/** Creates the model's plugins from the recipes in its artifacts and loads the network. */
export async function loadPretrainedFrom(handler: tf.io.IOHandler, where: string): Promise<PretrainedModel> {
  if (!handler.load) throw new Error(`${where}: this IO handler cannot load`);
  const artifacts = await handler.load();
  const topo = artifacts.modelTopology as unknown as SavedTopology | undefined;
  if (!topo?.plugins) throw new Error(`${where} is not a saved iFAN network`);
  const plugins = topo.plugins.map((p) => {
    const task = p.recipe && Object.values(BUILT_IN_TASKS).find((t) => t.export === p.recipe!.export);
    if (!task) {
      throw new Error(`${where}: task "${p.name}" names no known factory (${p.recipe ? p.recipe.export : 'no recipe'}); @ifan/models loads the built-in tasks only: use @ifan/core's loadNetwork with your plugins`);
    }
    return task.create(...((p.recipe!.args ?? []) as [Record<string, unknown>?]));
  });
  const net = await loadNetwork(tf.io.fromMemory(artifacts), plugins);
  return { net, plugins, framing: net.framing };
}
