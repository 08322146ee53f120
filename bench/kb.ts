/**
 * Knowledge engine speed: 5,000 synthetic entries x 5 example questions (half zh, half en), written
 * as YAML into a temp dir and loaded through the real loader. Measures
 *   - trainMs: a hot reload after one of the 100 files changed (directory re-read, changed file
 *     re-parsed, whole model re-trained) in the reload worker thread;
 *   - p50Ms/p99Ms: respond() latency of paraphrased questions on a quiet bot;
 *   - duringReloadP99Ms: latency (queueing included) of questions asked every ms while a reload runs.
 * Runs on import (`npm run bench -- kb`); the last line is JSON.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KnowledgeBot } from '../src/knowledge/bot.js';
import { botConfigSchema } from '../src/knowledge/config.js';
import { seededRandom, shuffle } from '../src/knowledge/rng.js';
import type { ResponderTurn } from '../src/core/responder.js';

const ENTRIES = Number(process.env.KB_BENCH_ENTRIES ?? 5000);
const PER_ENTRY = 5;
const QUERIES = 2000;
const rand = seededRandom(1234);
function pick<T>(a: readonly T[]): T {
  const v = a[Math.floor(rand() * a.length)];
  if (v === undefined) throw new Error('pick from an empty list');
  return v;
}

const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'zi', 'pe', 'su', 'da', 'fo', 'gi', 'ha', 'ju', 'be'];
const enVocab = Array.from({ length: 6000 }, () => Array.from({ length: 2 + Math.floor(rand() * 2) }, () => pick(syllables)).join(''));
const enFiller = ['how', 'do', 'i', 'my', 'the', 'can', 'you', 'please', 'what', 'is', 'when', 'where', 'why', 'help', 'with', 'a', 'to'];
const cjk = '订单发货退款密码账号发票支付会员优惠快递地址修改取消查询登录注册价格套餐客服时间商品质量售后物流积分红包活动绑定手机邮箱安全实名认证余额提现充值评价收藏';
const zhVocab = Array.from({ length: 6000 }, () => Array.from({ length: 2 }, () => cjk[Math.floor(rand() * cjk.length)]).join(''));
const zhFiller = ['我', '的', '怎么', '如何', '为什么', '可以', '吗', '请问', '一下', '什么', '时候'];

function question(keys: string[], zh: boolean): string {
  const words = [...keys.filter(() => rand() < 0.8), ...Array.from({ length: 2 + Math.floor(rand() * 3) }, () => pick(zh ? zhFiller : enFiller))];
  return shuffle(words, rand).join(zh ? '' : ' ');
}

const topics = Array.from({ length: ENTRIES }, (_, i) => {
  const zh = i % 2 === 0;
  return { id: `e${i}`, zh, keys: Array.from({ length: 4 }, () => pick(zh ? zhVocab : enVocab)) };
});
const entries = topics.map((t) => ({
  id: t.id,
  questions: { [t.zh ? 'zh' : 'en']: Array.from({ length: PER_ENTRY }, () => question(t.keys, t.zh)) },
  answer: { zh: `答案 ${t.id}`, en: `Answer ${t.id}` },
}));

const dir = await mkdtemp(join(tmpdir(), 'kb-bench-'));
const FILES = 100;
for (let f = 0; f < FILES; f++) {
  const part = entries.filter((_, i) => i % FILES === f);
  await writeFile(join(dir, `part-${String(f).padStart(2, '0')}.yaml`), stringify({ entries: part }, { lineWidth: 0 }));
}

const turn = (text: string, zh: boolean): ResponderTurn => ({
  conversationId: 'bench', customerId: 'bench', channel: 'bench', locale: zh ? 'zh' : 'en', kind: 'text', text, history: [], state: {}, strikes: 0,
});
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};
const r3 = (n: number): number => Math.round(n * 1000) / 1000;

const createStart = performance.now();
// watch: true as in production hot reload (it also starts the reload worker ahead of the first reload).
// (A long debounce: the bench triggers the reload itself, right after the edit.)
const bot = await KnowledgeBot.create({ dir, bot: botConfigSchema.parse({ reloadDebounceMs: 600_000 }), watch: true });
const createMs = performance.now() - createStart;

const queries = Array.from({ length: QUERIES }, () => {
  const t = pick(topics);
  return { id: t.id, text: question(t.keys, t.zh), zh: t.zh };
});
for (const q of queries.slice(0, 200)) await bot.respond(turn(q.text, q.zh)); // warm-up
const lat: number[] = [];
let top1 = 0;
for (const q of queries) {
  const s = performance.now();
  const d = await bot.respond(turn(q.text, q.zh));
  lat.push(performance.now() - s);
  if (d.entryIds?.[0] === q.id) top1++;
}

// A hot-reload edit: one of the 100 files changes (one more example question), then the reload
// (re-reads the directory, re-parses the changed file, re-trains the whole model) runs while answering:
// a question every millisecond, latency counted from when it was due.
{
  const part = entries.filter((_, i) => i % FILES === 0);
  for (const qs of Object.values(part[0]?.questions ?? {})) qs.push(`${qs[0]} please`);
  await writeFile(join(dir, 'part-00.yaml'), stringify({ entries: part }, { lineWidth: 0 }));
}
const during: number[] = [];
let reloading = true;
const reloadStart = performance.now();
const reload = bot.reload().then((ok) => {
  reloading = false;
  return { ok, ms: performance.now() - reloadStart };
});
let qi = 0;
while (reloading) {
  const due = performance.now();
  await new Promise((r) => setTimeout(r, 1));
  const q = queries[qi++ % queries.length];
  if (!q) break;
  const started = performance.now();
  await bot.respond(turn(q.text, q.zh));
  during.push(performance.now() - Math.max(due + 1, Math.min(started, due + 1)));
}
const { ok, ms: trainMs } = await reload;
await bot.close();
await rm(dir, { recursive: true, force: true });

const result = {
  entries: ENTRIES,
  examples: ENTRIES * PER_ENTRY,
  createMs: Math.round(createMs),
  trainMs: Math.round(trainMs),
  reloadOk: ok,
  p50Ms: r3(pct(lat, 0.5)),
  p99Ms: r3(pct(lat, 0.99)),
  top1: r3(top1 / queries.length),
  duringReloadQueries: during.length,
  duringReloadP50Ms: r3(pct(during, 0.5)),
  duringReloadP99Ms: r3(pct(during, 0.99)),
  duringReloadMaxMs: r3(Math.max(0, ...during)),
};
console.log(`kb bench: ${ENTRIES} entries x ${PER_ENTRY} questions; reload ${result.trainMs} ms; answer p99 ${result.p99Ms} ms (during reload ${result.duringReloadP99Ms} ms)`);
console.log(JSON.stringify(result));
