/**
 * Chinese paraphrase matching on AFQMC (dev, shared data; never copied into the repo): one entry per
 * distinct sentence1 of the label-1 pairs, queried with sentence2; top-1 = the paired entry ranks first.
 * Run: `npx tsx bench/afqmc.ts` (AFQMC_JSONL to point elsewhere). Last line is JSON.
 */
import { readFile } from 'node:fs/promises';
import { Engine, type EngineOptions } from '../src/knowledge/engine.js';

const file = process.env.AFQMC_JSONL ?? '/work/shared/data/afqmc/afqmc_dev_shared.jsonl';
const pairs = (await readFile(file, 'utf8'))
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as { sentence1: string; sentence2: string; label: string })
  .filter((p) => p.label === '1');

const ids = new Map<string, string>();
for (const p of pairs) if (!ids.has(p.sentence1)) ids.set(p.sentence1, `q${ids.size}`);
const entries = [...ids].map(([q, id]) => ({ id, questions: [q] }));

async function run(name: string, opts: Partial<EngineOptions>): Promise<Record<string, number | string>> {
  const t0 = performance.now();
  const engine = await Engine.build(entries, { yieldEveryMs: null, ...opts });
  const trainMs = performance.now() - t0;
  let top1 = 0;
  let top3 = 0;
  const lat: number[] = [];
  for (const p of pairs) {
    const s = performance.now();
    const r = engine.rank(p.sentence2, 3);
    lat.push(performance.now() - s);
    const want = ids.get(p.sentence1);
    if (r[0]?.id === want) top1++;
    if (r.some((x) => x.id === want)) top3++;
  }
  lat.sort((a, b) => a - b);
  return {
    mode: name,
    top1: Math.round((top1 / pairs.length) * 10000) / 10000,
    top3: Math.round((top3 / pairs.length) * 10000) / 10000,
    p99Ms: Math.round((lat[Math.floor(lat.length * 0.99)] ?? 0) * 1000) / 1000,
    trainMs: Math.round(trainMs),
  };
}

const centroid = await run('default (centroid model above 400 entries)', {});
console.log(JSON.stringify(centroid));
const softmax = await run('softmax classifier forced', { maxClassifierEntries: 100_000 });
console.log(JSON.stringify(softmax));
console.log(JSON.stringify({ pairs: pairs.length, entries: entries.length, top1: centroid.top1, top3: centroid.top3, top1Softmax: softmax.top1, p99Ms: centroid.p99Ms }));
