/**
 * Question terms and "the same thing": the knowledge engine's tokenizer (jieba for Chinese, stemmed
 * English words), minus function words, as a sorted set. Two questions are about the same thing
 * when the bot matched a common knowledge entry for both, or, when either matched none, their term
 * sets overlap by at least `SAME_THING_JACCARD` (Jaccard index).
 */
import { tokenize } from '../knowledge/tokenize.js';

export const SAME_THING_JACCARD = 0.5;
/** Terms kept per question (the longest questions are cut). */
const MAX_TERMS = 24;

const STOP = new Set([
  ...'a an the i me my we our you your it is are was be do doe did can could would will to of in on for at by with and or but not no yes pleas hi hello thank thanks what when where why how which who this that there here have has had am just get got'.split(' '),
  ...'我 你 您 他 她 它 用 的 了 吗 呢 吧 啊 呀 嘛 是 在 有 和 与 就 都 也 还 要 想 请 请问 一下 这个 那个 这 那 什么 怎么 怎么样 为什么 哪里 哪 么 没 没有 可以 能 会 好 谢谢 你好'.split(' '),
]);

const cache = new Map<string, string>();

/** The sorted, unique content terms of `text`, space-separated (what the read model stores); cached (a rebuild reads the same questions again). */
export function questionTerms(text: string): string {
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  const out = computeTerms(text);
  if (cache.size >= 10_000) cache.clear();
  cache.set(text, out);
  return out;
}

function computeTerms(text: string): string {
  const terms = new Set<string>();
  for (const t of tokenize(text)) {
    if (t.length === 0 || STOP.has(t)) continue;
    if (/^[a-z]$/.test(t)) continue;
    terms.add(t);
  }
  return [...terms].sort().slice(0, MAX_TERMS).join(' ');
}

export function termSet(terms: string): Set<string> {
  return new Set(terms ? terms.split(' ') : []);
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let common = 0;
  for (const t of a) if (b.has(t)) common++;
  return common / (a.size + b.size - common);
}

/** Whether two contacts are about the same thing (see the module comment). */
export function sameThing(a: { entryIds: readonly string[]; questionTerms: string }, b: { entryIds: readonly string[]; questionTerms: string }): boolean {
  if (a.entryIds.length > 0 && b.entryIds.length > 0) return a.entryIds.some((id) => b.entryIds.includes(id));
  return jaccard(termSet(a.questionTerms), termSet(b.questionTerms)) >= SAME_THING_JACCARD;
}
