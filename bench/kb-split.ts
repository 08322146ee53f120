/**
 * BANKING77 figures for the local engine. Makes the splits from the shared data into a temp dir at
 * run time (nothing is copied into the repo) and runs `switchboard eval` on them. Validation rows
 * are 20 per intent (balanced, like the published test split, which has 40 per intent); the rest
 * of each intent is the knowledge base.
 *   1. all 77 intents (seed 42), with bench/data/off-topic-en.txt (off-topic questions written for
 *      this bench) as out-of-scope -> accuracy, inScopeAccuracy, oosRecall for off-topic, p99
 *   2. 10 intents held out as out-of-scope (seed 43), the other 67 split the same way
 *      -> inScopeAccuracy, oosRecall for near, in-domain questions (the hard case)
 * Run: `npx tsx bench/kb-split.ts [extra eval flags, e.g. --answer-threshold 0.5 or --sweep]`
 * KB_SPLIT_SEED=<n> picks other validation rows (default 42).
 * Threshold tuning must not look at the reported OOS intents: KB_SPLIT_OOS_SEED=<n> picks other
 * held-out intents (a validation fold; the reported figures use seed 43), KB_SPLIT_OOS_ONLY=1
 * skips part 1.
 * Data: BANKING77_CSV env or /work/shared/data/banking77/train.csv.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalCommand } from '../src/cli/eval.js';
import { parseCsvRecords, toCsvField } from '../src/knowledge/csv.js';
import { seededRandom, shuffle } from '../src/knowledge/rng.js';

const source = process.env.BANKING77_CSV ?? '/work/shared/data/banking77/train.csv';
const extra = process.argv.slice(2);
const SEED = Number(process.env.KB_SPLIT_SEED ?? 42);
const OOS_INTENTS = 10;
const OOS_SEED = Number(process.env.KB_SPLIT_OOS_SEED ?? SEED + 1);
const OOS_ONLY = process.env.KB_SPLIT_OOS_ONLY === '1';

type Row = { text: string; category: string };

function toCsv(rows: readonly Row[]): string {
  return 'text,category\n' + rows.map((r) => `${toCsvField(r.text)},${toCsvField(r.category)}`).join('\n') + '\n';
}

const PER_INTENT = 20;

function stratified(byCat: Map<string, string[]>, cats: readonly string[], rand: () => number): { train: Row[]; test: Row[] } {
  const train: Row[] = [];
  const test: Row[] = [];
  for (const cat of cats) {
    const qs = shuffle([...(byCat.get(cat) ?? [])], rand);
    const n = PER_INTENT;
    for (const q of qs.slice(0, n)) test.push({ text: q, category: cat });
    for (const q of qs.slice(n)) train.push({ text: q, category: cat });
  }
  return { train, test };
}

async function lastJson(argv: string[]): Promise<Record<string, unknown>> {
  const lines: string[] = [];
  const code = await evalCommand(argv, { out: { write: (s: string) => lines.push(s) }, err: process.stderr });
  if (code !== 0) throw new Error(`eval exited with ${code}`);
  const all = lines.join('').trim().split('\n');
  // Anything before the summary (the --sweep table) is shown as it is.
  if (all.length > 1) console.log(all.slice(0, -1).join('\n'));
  return JSON.parse(all.at(-1) ?? '') as Record<string, unknown>;
}

const rows = parseCsvRecords(await readFile(source, 'utf8')) as Row[];
const byCat = new Map<string, string[]>();
for (const r of rows) byCat.set(r.category, [...(byCat.get(r.category) ?? []), r.text]);
const cats = [...byCat.keys()].sort();
const dir = await mkdtemp(join(tmpdir(), 'kb-split-'));
try {
  const full = stratified(byCat, cats, seededRandom(SEED));
  await writeFile(join(dir, 'train.csv'), toCsv(full.train));
  await writeFile(join(dir, 'test.csv'), toCsv(full.test));
  const offTopic = (await readFile(new URL('./data/off-topic-en.txt', import.meta.url), 'utf8')).split('\n').filter((l) => l.trim());
  await writeFile(join(dir, 'off-topic.csv'), toCsv(offTopic.map((text) => ({ text, category: 'off_topic' }))));
  const r1 = OOS_ONLY
    ? {}
    : await lastJson(['--kb-csv', join(dir, 'train.csv'), '--test-csv', join(dir, 'test.csv'), '--oos-csv', join(dir, 'off-topic.csv'), '--quiet', ...extra]);
  console.log(`all 77 intents (train ${full.train.length}, test ${full.test.length}):`, JSON.stringify(r1));

  const rand = seededRandom(OOS_SEED);
  const oosCats = new Set(shuffle([...cats], rand).slice(0, OOS_INTENTS));
  const inCats = cats.filter((c) => !oosCats.has(c));
  const part = stratified(byCat, inCats, seededRandom(SEED));
  const oos: Row[] = [...oosCats].flatMap((c) => (byCat.get(c) ?? []).map((text) => ({ text, category: c })));
  await writeFile(join(dir, 'train-oos.csv'), toCsv(part.train));
  await writeFile(join(dir, 'test-oos.csv'), toCsv(part.test));
  await writeFile(join(dir, 'oos.csv'), toCsv(oos));
  const r2 = await lastJson(['--kb-csv', join(dir, 'train-oos.csv'), '--test-csv', join(dir, 'test-oos.csv'), '--oos-csv', join(dir, 'oos.csv'), '--quiet', ...extra]);
  console.log(`67 intents + ${OOS_INTENTS} held out as OOS [${[...oosCats].join(', ')}] (oos rows ${oos.length}):`, JSON.stringify(r2));
  console.log(
    JSON.stringify({
      accuracy: r1.accuracy,
      inScopeAccuracyAll: r1.inScopeAccuracy,
      offTopicRecall: r1.oosRecall,
      inScopeAccuracy: r2.inScopeAccuracy,
      oosRecall: r2.oosRecall,
      escalatedRate: r2.escalatedRate,
      p50Ms: r1.p50Ms,
      p99Ms: Math.max(Number(r1.p99Ms ?? 0), Number(r2.p99Ms)),
      oosSeed: OOS_SEED,
      entries: r1.entries,
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
