import type { Dataset, Sample } from '@ifan/core';
import { Rng, mixSeed } from '@ifan/core/rng';
import { DOMAINS, type DomainName, type DomainSpec, mergeFaceOptions } from './domains';
import { generateResolved, resolveFaceOptions } from './generate';
import { hashString } from './rng';
import type { FaceOptions, SyntheticFace, TaskName } from './types';

/** Options of {@link syntheticDataset}: face options plus what makes a data set. */
export interface SyntheticDatasetOptions extends FaceOptions {
  /** Number of samples. */
  count: number;
  /** Seed of the whole data set; sample `i` is the same whatever `count` is. Default 0. */
  seed?: number;
  /**
   * A built-in domain or a custom {@link DomainSpec}: its face options are the defaults that the fields
   * given here override, and its tasks are the default `tasks`. Default: no domain (plain defaults).
   */
  domain?: DomainName | DomainSpec;
  /** Shorthand for `tasks: [task]`. */
  task?: TaskName;
  /** Labels to attach. Default the domain's tasks, or all three without a domain. */
  tasks?: TaskName[];
  /** Data-set name, also the prefix of sample ids. Default the domain's name or `'synthetic'`. */
  name?: string;
  /** Consecutive samples that share an identity (same person, new expression, pose and scene). Default 1. */
  facesPerIdentity?: number;
}

/** A sample whose `load()` draws a synthetic face. */
export interface SyntheticSample extends Sample {
  load(): Promise<SyntheticFace>;
}

/** A data set of synthetic faces whose samples are drawn when loaded. */
export interface SyntheticDataset extends Dataset {
  samples: SyntheticSample[];
}

function resolveDomain(domain: DomainName | DomainSpec | undefined): DomainSpec | undefined {
  if (domain === undefined || typeof domain === 'object') return domain;
  const spec = DOMAINS[domain];
  if (!spec) throw new Error(`domain: unknown domain ${JSON.stringify(domain)}; expected one of ${Object.keys(DOMAINS).join(', ')} or a DomainSpec`);
  return spec;
}

/**
 * An in-memory data set of `count` synthetic faces. Samples are cheap to list; `load()` draws the
 * face, deterministically from `(seed, domain name, index)`.
 */
export function syntheticDataset(options: SyntheticDatasetOptions): SyntheticDataset {
  const { count, seed = 0, domain, task, tasks, name, facesPerIdentity = 1, ...face } = options;
  if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(facesPerIdentity) || facesPerIdentity < 1) throw new Error(`facesPerIdentity must be a positive integer, got ${facesPerIdentity}`);
  if (task !== undefined && tasks !== undefined) throw new Error('give either task or tasks, not both');
  const spec = resolveDomain(domain);
  const chosenTasks = task !== undefined ? [task] : (tasks ?? spec?.tasks ?? ['parsing', 'landmarks', 'emotion']);
  const datasetName = name ?? spec?.name ?? 'synthetic';
  const resolved = resolveFaceOptions({ ...mergeFaceOptions(spec?.face ?? {}, face), tasks: chosenTasks });
  const salt = hashString(spec?.name ?? datasetName);
  const samples = Array.from({ length: count }, (_, i) => {
    const person = Math.floor(i / facesPerIdentity);
    const identitySeed = mixSeed(seed, salt, 0x1d, person);
    return {
      id: `${datasetName}/${String(i).padStart(6, '0')}`,
      identity: `${datasetName}/person${String(person).padStart(5, '0')}`,
      load: async () => generateResolved(new Rng(mixSeed(seed, salt, i)), { ...resolved, identitySeed }),
    };
  });
  // how the trainer's batch worker draws the same samples again
  const recipe = { module: '@ifan/synthetic', export: 'syntheticDataset', args: [{ ...options }] };
  return { name: datasetName, tasks: [...chosenTasks], samples, recipe };
}

/** Options of {@link syntheticDomains}. */
export interface SyntheticDomainsOptions {
  /** Samples per data set, or per domain name. */
  count: number | Partial<Record<string, number>>;
  /** Default 0. */
  seed?: number;
  /** The domains to make, built-in names or custom specs. Default `['parsing', 'landmarks', 'emotion']`. */
  domains?: (DomainName | DomainSpec)[];
  /** Face options applied on top of every domain's (e.g. a common `size` for one network input). */
  face?: FaceOptions;
  facesPerIdentity?: number;
}

/**
 * Several data sets, one per domain, each labelled for its domain's task only and each with its own
 * image statistics: the paper's setting that per-data-set batch norm has to absorb.
 */
export function syntheticDomains(options: SyntheticDomainsOptions): SyntheticDataset[] {
  const { count, seed = 0, domains = ['parsing', 'landmarks', 'emotion'], face = {}, facesPerIdentity } = options;
  return domains.map((d) => {
    const spec = resolveDomain(d)!;
    const n = typeof count === 'number' ? count : (count[spec.name] ?? count[typeof d === 'string' ? d : spec.name]);
    if (n === undefined) throw new Error(`count: no sample count for domain ${spec.name}`);
    return syntheticDataset({ ...face, count: n, seed, domain: spec, facesPerIdentity });
  });
}
