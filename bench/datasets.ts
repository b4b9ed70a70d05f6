/**
 * Loads every real data set found under a data root through the real loaders, decodes every image,
 * and prints counts, class balance and timings.
 *
 *   cd bench && node --conditions=@ifan/source --import tsx datasets.ts [/work/shared/data]
 *
 * Expected layout (each optional): `mtfl/` (MTFL training.txt), `fer2013/{train,validation}/<class>/`,
 * `fasseg/Train_RGB` + `Train_Labels`. Writes out/datasets.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dataset, LabelledImage } from '@ifan/core';
import { scanDataset, splitDataset } from '@ifan/core/node';
import { FER2013_7, loadEmotionFolders, type EmotionLabel } from '@ifan/task-emotion/node';
import { MTFL_POSES, loadMtfl, type MtflAttributes } from '@ifan/task-landmarks/node';
import { FASSEG_6, loadFasseg, type ParsingLabel } from '@ifan/task-parsing/node';

const here = dirname(fileURLToPath(import.meta.url));
const root = process.argv[2] ?? '/work/shared/data';
const results: Record<string, unknown> = {};

const pct = (n: number, total: number) => `${((100 * n) / Math.max(total, 1)).toFixed(1)}%`;
const ms = (t: number) => `${(t / 1000).toFixed(2)} s`;

/** Lists, then decodes everything; returns timings and the loaded count. */
async function run(name: string, list: () => Promise<Dataset>, onSample: (li: LabelledImage) => void) {
  const t0 = performance.now();
  const ds = await list();
  const t1 = performance.now();
  const { dataset, loaded } = await scanDataset(ds, { onError: 'skip', concurrency: 8, onSample });
  const t2 = performance.now();
  const skipped = dataset.skipped ?? [];
  console.log(`\n## ${name}: ${ds.samples.length} samples listed in ${ms(t1 - t0)}, ${loaded} decoded in ${ms(t2 - t1)} ` +
    `(${((loaded * 1000) / (t2 - t1)).toFixed(0)} images/s), ${skipped.length} skipped`);
  for (const s of skipped.slice(0, 5)) console.log(`   skipped ${s.file}: ${s.reason}`);
  return { dataset, listed: ds.samples.length, loaded, skipped: skipped.length, listSeconds: (t1 - t0) / 1000, decodeSeconds: (t2 - t1) / 1000 };
}

function sizes(counter: Map<string, number>, li: LabelledImage) {
  const k = `${li.image.width}x${li.image.height}`;
  counter.set(k, (counter.get(k) ?? 0) + 1);
}

const topSizes = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${k} (${n})`).join(', ');

async function mtfl(dir: string) {
  const attrs = { male: 0, female: 0, smile: 0, glasses: 0, pose: [0, 0, 0, 0, 0] };
  const imageSizes = new Map<string, number>();
  const r = await run('MTFL (training.txt)', () => loadMtfl(dir), (li) => {
    const a = li.labels.attributes as MtflAttributes;
    if (a.gender === 'male') attrs.male++;
    else attrs.female++;
    if (a.smile) attrs.smile++;
    if (a.glasses) attrs.glasses++;
    attrs.pose[a.pose - 1]++;
    sizes(imageSizes, li);
  });
  const n = r.loaded;
  console.log(`   gender: male ${pct(attrs.male, n)}, female ${pct(attrs.female, n)}; smiling ${pct(attrs.smile, n)}; glasses ${pct(attrs.glasses, n)}`);
  console.log(`   pose: ${MTFL_POSES.map((p, i) => `${p} ${pct(attrs.pose[i], n)}`).join(', ')}`);
  console.log(`   image sizes: ${topSizes(imageSizes)}`);
  const identities = new Set(r.dataset.samples.map((s) => s.identity).filter(Boolean));
  const { train, validation } = splitDataset(r.dataset, { fraction: 0.1, seed: 0 });
  console.log(`   identity groups (LFW names, net_7876 numbers): ${identities.size} over ${r.dataset.samples.filter((s) => s.identity).length} images; ` +
    `10% identity-disjoint split: train ${train.samples.length}, validation ${validation.samples.length}`);
  results.mtfl = { ...r, dataset: undefined, attrs, identities: identities.size, split: [train.samples.length, validation.samples.length] };
}

async function fer(dir: string) {
  for (const split of ['train', 'validation']) {
    if (!existsSync(join(dir, split))) continue;
    const counts = new Array(FER2013_7.classes.length).fill(0);
    const imageSizes = new Map<string, number>();
    const r = await run(`FER2013 folders (${split})`, () => loadEmotionFolders(dir, { split }), (li) => {
      counts[(li.labels.emotion as EmotionLabel).classIndex]++;
      sizes(imageSizes, li);
    });
    console.log(`   classes: ${FER2013_7.classes.map((c, i) => `${c} ${counts[i]} (${pct(counts[i], r.loaded)})`).join(', ')}`);
    console.log(`   image sizes: ${topSizes(imageSizes)}`);
    results[`fer2013/${split}`] = { ...r, dataset: undefined, counts };
  }
}

async function fasseg(dir: string) {
  const pixels = new Array(FASSEG_6.classes.length).fill(0);
  const present = new Array(FASSEG_6.classes.length).fill(0);
  const imageSizes = new Map<string, number>();
  let total = 0;
  const r = await run('FASSEG (Train)', () => loadFasseg(dir), (li) => {
    const m = (li.labels.parsing as ParsingLabel).mask.data;
    const seen = new Set<number>();
    for (const v of m) {
      pixels[v]++;
      seen.add(v);
    }
    for (const v of seen) present[v]++;
    total += m.length;
    sizes(imageSizes, li);
  });
  console.log(`   pixel share: ${FASSEG_6.classes.map((c, i) => `${c} ${pct(pixels[i], total)}`).join(', ')}`);
  console.log(`   images containing each class: ${FASSEG_6.classes.map((c, i) => `${c} ${present[i]}`).join(', ')}`);
  console.log(`   image sizes: ${topSizes(imageSizes)}`);
  results.fasseg = { ...r, dataset: undefined, pixels, present };
}

console.log(`# Data sets under ${root} (Node ${process.version})`);
const t0 = performance.now();
if (existsSync(join(root, 'mtfl'))) await mtfl(join(root, 'mtfl'));
if (existsSync(join(root, 'fer2013'))) await fer(join(root, 'fer2013'));
if (existsSync(join(root, 'fasseg'))) await fasseg(join(root, 'fasseg'));
console.log(`\nTotal ${ms(performance.now() - t0)}`);
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(join(here, 'out', 'datasets.json'), JSON.stringify(results, null, 2));
