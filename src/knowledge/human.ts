/**
 * "I want a human" detection, before any knowledge lookup.
 *
 * Matching rules (text and keywords are NFKC-normalized and lower-cased):
 * - CJK keywords (any keyword containing a CJK character) match as substrings, except inside known
 *   non-request compounds (人工智能, 人工费, 人工审核, 真人秀...) and right after a refusal
 *   (不要/不用/不需要/无需/别: "不用转人工了").
 * - Multi-word Latin keywords ("real person", "customer service") match as whole phrases anywhere.
 * - Single Latin words are matched whole-word only ("reagent", "agents fee" never match "agent"), and
 *   since they are ambiguous ("travel agent", "human error") only when the message is a short
 *   request (at most 4 words: "agent", "human please", "are you human?") or the word follows a
 *   request verb within 4 words ("can I talk to a real agent about my bill"), and is not part of a
 *   known non-request phrase (travel agent, agent fee, human error, human resources...) nor negated
 *   within 5 words before ("I don't need an agent"; "why can't I talk to an agent" still matches).
 * Operator-configured keywords follow the same rules by shape (CJK / phrase / single word).
 */
import { hasCjk } from './tokenize.js';

export const DEFAULT_HUMAN_KEYWORDS: readonly string[] = Object.freeze([
  '转人工', '人工客服', '人工服务', '人工坐席', '找客服', '找人工', '联系客服', '转客服', '真人', '人工', '活人',
  'human', 'agent', 'live agent', 'human agent', 'real person', 'talk to a person', 'speak to a person',
  'speak to someone', 'talk to someone', 'representative', 'operator', 'customer service', 'customer support',
]);


/** Compounds where a CJK keyword does not ask for a person. */
const CJK_EXCLUSIONS = [
  '人工智能', '人工智慧', '人工费', '人工成本', '人工湖', '人工合成', '人工降雨', '人工呼吸', '人工审核', '人工授精',
  '人工岛', '人工林', '非人工', '真人秀', '真人版', '真人cs', '真人照', '活人感',
];
const CJK_REFUSALS = ['不要', '不用', '不需要', '无需', '不必', '别'];

/** Words that, right before an ambiguous keyword, make it something else ("travel agent"). */
const LATIN_BEFORE_EXCLUSIONS = new Set([
  'travel', 'estate', 'insurance', 'customs', 'shipping', 'secret', 'free', 'user', 'ai', 'chemical', 'cleaning',
  'double', 'booking', 'forwarding', 'freight', 'leasing', 'rental', 'proxy', 'sports', 'ticket', 'tour',
  'mobile', 'network', 'machine', 'smooth', 'telephone',
]);
/** A negation shortly before an ambiguous keyword cancels it ("I don't need an agent"). */
const NEGATIONS = new Set(['not', 'no', "don't", 'dont', 'never', 'without', "doesn't", 'doesnt']);
const NEGATION_DISTANCE = 5;
/** Words that, right after an ambiguous keyword, make it something else ("agent fee", "human error"). */
const LATIN_AFTER_EXCLUSIONS = new Set([
  'fee', 'fees', 'commission', 'commissions', 'code', 'id', 'number', 'error', 'errors', 'resources', 'rights',
  'being', 'beings', 'nature', 'body', 'readable', 'trafficking',
]);
const REQUEST_VERBS = new Set([
  'talk', 'speak', 'chat', 'connect', 'transfer', 'put', 'get', 'give', 'want', 'need', 'reach', 'contact',
  'call', 'escalate', 'see', 'send', 'forward', 'let', 'prefer', 'request',
]);
const SHORT_MESSAGE_WORDS = 4;
const VERB_DISTANCE = 4;

function normalize(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function words(text: string): string[] {
  return text.match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? [];
}

function matchesCjk(text: string, keyword: string): boolean {
  for (let at = text.indexOf(keyword); at >= 0; at = text.indexOf(keyword, at + 1)) {
    const end = at + keyword.length;
    const excluded = CJK_EXCLUSIONS.some((ex) => {
      for (let e = text.indexOf(ex); e >= 0; e = text.indexOf(ex, e + 1)) if (e <= at && e + ex.length >= end) return true;
      return false;
    });
    const before = text.slice(Math.max(0, at - 4), at);
    const refused = CJK_REFUSALS.some((r) => before.endsWith(r) || before.endsWith(`${r}转`) || before.endsWith(`${r}找`));
    if (!excluded && !refused) return true;
  }
  return false;
}

function matchesPhrase(ws: string[], phrase: string[]): boolean {
  for (let i = 0; i + phrase.length <= ws.length; i++) if (phrase.every((p, k) => ws[i + k] === p)) return true;
  return false;
}

function matchesAmbiguousWord(ws: string[], word: string): boolean {
  for (let i = 0; i < ws.length; i++) {
    if (ws[i] !== word) continue;
    if (LATIN_BEFORE_EXCLUSIONS.has(ws[i - 1] ?? '') || LATIN_AFTER_EXCLUSIONS.has(ws[i + 1] ?? '')) continue;
    if (ws.slice(Math.max(0, i - NEGATION_DISTANCE), i).some((w) => NEGATIONS.has(w))) continue;
    if (ws.length <= SHORT_MESSAGE_WORDS) return true;
    if (ws[i + 1] === 'please' || ws[i - 1] === 'please') return true;
    for (let k = Math.max(0, i - VERB_DISTANCE); k < i; k++) if (REQUEST_VERBS.has(ws[k] ?? '')) return true;
  }
  return false;
}

export function isHumanRequest(text: string, keywords: readonly string[]): boolean {
  const norm = normalize(text);
  if (norm.trim() === '') return false;
  const ws = words(norm.replace(/[’`]/g, "'"));
  for (const raw of keywords) {
    const keyword = normalize(raw).trim();
    if (keyword === '') continue;
    if (hasCjk(keyword)) {
      if (matchesCjk(norm, keyword)) return true;
      continue;
    }
    const kw = words(keyword);
    if (kw.length === 0) continue;
    if (kw.length > 1 ? matchesPhrase(ws, kw) : matchesAmbiguousWord(ws, kw[0] ?? '')) return true;
  }
  return false;
}
