/**
 * Small bases and off-topic questions: how many off-topic questions each answer threshold lets
 * through on bases too small for the engine's network.
 *   1. the demo base in config/knowledge (zh + en) with bench/data/off-topic-{en,zh}.txt
 *      (off-topic questions written for this bench): off-topic recall (escalated) per threshold
 *   2. the zh FAQ test fixture (19 intents, 43 paraphrases) with off-topic-zh.txt as out-of-scope,
 *      through `switchboard eval --sweep`: inScopeAccuracy / escalatedRate / oosRecall per threshold
 *   3. small bases drawn from BANKING77 train (20 intents x 6 example questions, 8 draws; 20 other
 *      questions per intent as the test) with off-topic-en.txt: top-1, inScopeAccuracy, wrong
 *      answers and off-topic recall per threshold (skipped when the data is missing)
 * Run: `npm run bench -- kb-demo` (no network; last line JSON at the configured thresholds).
 * Data for part 3: BANKING77_CSV env or /work/shared/data/banking77/train.csv. KB_DEMO_INTENTS and
 * KB_DEMO_EXAMPLES change its base size (default 20 x 6); KB_DEMO_COVERAGE_EXPONENT the engine's
 * coverage exponent (1 gives the confidence of the defaults before 0.4 / 1.5).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalCommand } from '../src/cli/eval.js';
import { KnowledgeBot } from '../src/knowledge/bot.js';
import { botConfigSchema } from '../src/knowledge/config.js';
import { parseCsvRecords, toCsvField } from '../src/knowledge/csv.js';
import { decide } from '../src/knowledge/decide.js';
import { Engine } from '../src/knowledge/engine.js';
import { seededRandom, shuffle } from '../src/knowledge/rng.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const lines = async (name: string): Promise<string[]> =>
  (await readFile(new URL(`./data/${name}`, import.meta.url), 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean);
const offTopic = { en: await lines('off-topic-en.txt'), zh: await lines('off-topic-zh.txt') };
const defaults = botConfigSchema.parse({});
const thresholds = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6];

const bot = await KnowledgeBot.create({ dir: join(root, 'config/knowledge'), bot: defaults });
console.log('demo base: off-topic questions escalated, per answer threshold');
console.log(['answerThreshold', ...thresholds.map((t) => t.toFixed(2))].join('\t'));
const recall: Record<string, number> = {};
for (const [locale, qs] of Object.entries(offTopic)) {
  const ranked = qs.map((q) => ({ q, ranked: bot.rank(q, 5) }));
  const at = (t: number): number => ranked.filter((r) => decide(r.ranked, { ...defaults, answerThreshold: t }).kind === 'escalate').length / qs.length;
  console.log([`${locale} (${qs.length})`, ...thresholds.map((t) => at(t).toFixed(3))].join('\t'));
  recall[locale] = Number(at(defaults.answerThreshold).toFixed(4));
  const through = ranked.filter((r) => decide(r.ranked, defaults).kind !== 'escalate').map((r) => r.q);
  if (through.length) console.log(`  not escalated at ${defaults.answerThreshold}: ${through.join(' | ')}`);
}
await bot.close();

const dir = await mkdtemp(join(tmpdir(), 'kb-demo-'));
let zhFaq: Record<string, unknown> = {};
try {
  await writeFile(join(dir, 'oos.csv'), 'text,category\n' + offTopic.zh.map((t) => `${toCsvField(t)},off_topic\n`).join(''));
  const out: string[] = [];
  const fixture = join(root, 'test/knowledge/fixtures/zh-faq');
  const argv = ['--kb-csv', join(fixture, 'train.csv'), '--test-csv', join(fixture, 'test.csv'), '--oos-csv', join(dir, 'oos.csv'), '--locale', 'zh', '--quiet', '--sweep'];
  const code = await evalCommand(argv, { out: { write: (s: string) => out.push(s) }, err: process.stderr });
  if (code !== 0) throw new Error(`eval exited with ${code}`);
  const all = out.join('').trim().split('\n');
  console.log('\nzh FAQ fixture + off-topic-zh as out-of-scope:');
  console.log(all.slice(0, -1).join('\n'));
  zhFaq = JSON.parse(all.at(-1) ?? '') as Record<string, unknown>;
} finally {
  await rm(dir, { recursive: true, force: true });
}
const small = await smallBankingBases();
console.log(
  JSON.stringify({
    answerThreshold: defaults.answerThreshold,
    demoOffTopicRecallEn: recall.en,
    demoOffTopicRecallZh: recall.zh,
    zhFaqInScopeAccuracy: zhFaq.inScopeAccuracy,
    zhFaqOffTopicRecall: zhFaq.oosRecall,
    ...small,
  }),
);

async function smallBankingBases(): Promise<Record<string, number>> {
  const source = process.env.BANKING77_CSV ?? '/work/shared/data/banking77/train.csv';
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch {
    console.log(`\nsmall BANKING77 bases: skipped (${source} not found)`);
    return {};
  }
  const byCat = new Map<string, string[]>();
  for (const r of parseCsvRecords(text)) byCat.set(r.category ?? '', [...(byCat.get(r.category ?? '') ?? []), (r.text ?? '').trim()]);
  const cats = [...byCat.keys()].sort();
  const INTENTS = Number(process.env.KB_DEMO_INTENTS ?? 20);
  const EXAMPLES = Number(process.env.KB_DEMO_EXAMPLES ?? 6);
  const coverage = process.env.KB_DEMO_COVERAGE_EXPONENT;
  const DRAWS = 8;
  // per threshold: sums of [top1, inScopeAccuracy, wrong answers, off-topic recall] over the draws
  const sums = new Map(thresholds.map((t): [number, [number, number, number, number]] => [t, [0, 0, 0, 0]]));
  for (let d = 0; d < DRAWS; d++) {
    const rand = seededRandom(100 + d);
    const train: { id: string; questions: string[] }[] = [];
    const test: { text: string; id: string }[] = [];
    for (const c of shuffle([...cats], rand).slice(0, INTENTS)) {
      const qs = shuffle([...(byCat.get(c) ?? [])], rand);
      for (const q of qs.slice(0, 20)) test.push({ text: q, id: c });
      train.push({ id: c, questions: qs.slice(20, 20 + EXAMPLES) });
    }
    const engine = await Engine.build(train, { yieldEveryMs: null, ...(coverage ? { coverageExponent: Number(coverage) } : {}) });
    const ranked = test.map((r) => ({ id: r.id, ranked: engine.rank(r.text, 5) }));
    const off = offTopic.en.map((q) => engine.rank(q, 5));
    for (const [t, s] of sums) {
      const th = { ...defaults, answerThreshold: t };
      for (const r of ranked) {
        const v = decide(r.ranked, th);
        if (r.ranked[0]?.id === r.id) s[0] += 1 / test.length;
        if (v.kind === 'answer') s[v.top.id === r.id ? 1 : 2] += 1 / test.length;
      }
      s[3] += off.filter((r) => decide(r, th).kind === 'escalate').length / off.length;
    }
  }
  console.log(`\nsmall BANKING77 bases (${INTENTS} intents x ${EXAMPLES} examples, ${DRAWS} draws) + off-topic-en, means:`);
  console.log('answerThreshold\ttop1\tinScopeAccuracy\twrongAnswers\toffTopicRecall');
  for (const [t, s] of sums) console.log([t.toFixed(2), ...s.map((v) => (v / DRAWS).toFixed(3))].join('\t'));
  const at = sums.get(defaults.answerThreshold);
  return at ? { smallBankingInScopeAccuracy: Number((at[1] / DRAWS).toFixed(4)), smallBankingOffTopicRecall: Number((at[3] / DRAWS).toFixed(4)) } : {};
}
