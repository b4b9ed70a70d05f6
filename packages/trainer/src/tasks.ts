/**
 * The task registry of the `ifan` command (transformers.js's SUPPORTED_TASKS, mmengine's registries):
 * a task is one entry, and adding one touches no other. The trainer itself never names a task.
 */
import type { TaskPlugin } from '@ifan/core';
import { emotionTask } from '@ifan/task-emotion';
import { landmarkTask } from '@ifan/task-landmarks';
import { parsingTask } from '@ifan/task-parsing';
import { ConfigError } from './errors';

export interface TaskEntry {
  /** The plugin with the given options (the task package's factory). */
  create(options?: Record<string, unknown>): TaskPlugin;
  /** Default batch size on a CPU, and the paper's (4.1.2). */
  batchSize: { default: number; paper: number };
  /** The `@ifan/synthetic` domain whose faces are labelled for this task (`synthetic:N` data). */
  syntheticDomain?: 'parsing' | 'landmarks' | 'emotion';
}

const registry = new Map<string, TaskEntry>([
  ['parsing', { create: (o) => parsingTask(o) as TaskPlugin, batchSize: { default: 8, paper: 24 }, syntheticDomain: 'parsing' }],
  ['landmarks', { create: (o) => landmarkTask(o) as TaskPlugin, batchSize: { default: 16, paper: 64 }, syntheticDomain: 'landmarks' }],
  ['emotion', { create: (o) => emotionTask(o) as TaskPlugin, batchSize: { default: 24, paper: 96 }, syntheticDomain: 'emotion' }],
]);

/** Adds (or replaces) a task of the `ifan` command. */
export function registerTask(name: string, entry: TaskEntry): void {
  registry.set(name, entry);
}

/** Names of the registered tasks. */
export function taskNames(): string[] {
  return [...registry.keys()];
}

/** The entry of a task; an error listing the known tasks when there is none. */
export function taskEntry(name: string, field = 'task'): TaskEntry {
  const e = registry.get(name);
  if (!e) throw new ConfigError(field, `unknown task "${name}": known tasks are ${taskNames().join(', ')}`);
  return e;
}
