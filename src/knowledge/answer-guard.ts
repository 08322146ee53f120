/**
 * The guard on an LLM's answer: links, e-mail addresses and phone numbers that appear in none of
 * the entries the model cites are taken out before the customer sees them (a model, or an injected
 * instruction, can add "Reset your password at https://evil.example/login" to a real answer).
 *
 * The text stays readable: a contact goes with the word that led to it ("at", "via", "：", "在", "到"
 * …), and a clause left pointing at nothing ("call us", "请拨打", "客服电话") is dropped whole, its
 * sentence ending kept. When nothing meaningful is left, the answer is the first cited entry's own.
 */
import { findContacts, isKnownContact, type Contact, type ContactKind } from './contacts.js';

export interface GuardEntry {
  id: string;
  question: string;
  answer: string;
}

export interface GuardResult {
  text: string;
  /** Contacts taken out, by kind (0 everywhere: the text is unchanged). */
  removed: number;
  kinds: Partial<Record<ContactKind, number>>;
  /** Hosts of the links taken out. */
  hosts: string[];
  /** True when the answer was replaced by the cited entry's own. */
  fallback: boolean;
}

const CLAUSE_END = /[,;，；、—–]/;
const SENTENCE_END = /[.!?。！？\n]/;
// Words that lead to a contact and go with it: "at", "via", "or", "：", "在", "到", "或" …
const CONNECTOR = /(?:(?:(?<![\p{L}-])(?:at|via|on|to|from|under|by|or|and)|[:：]|在|于|至|到|为|是|或者|或|和|及)\s*)+$/iu;
/** A clause that only sets a condition ("If that fails", "如有问题") means nothing without the next one. */
const CONDITION = /^\s*(?:if|when|unless|should|如果|若|如有|如需|如|假如)/i;
// Verbs and pronouns left pointing at a removed contact ("call us", "visit"), and nouns that name it
// when nothing but a colon or a space stood between them ("Website: …", "our hotline …").
const EN_POINTER = new Set('call phone telephone dial text sms whatsapp wechat contact email e-mail mail write visit see check open click tap go browse head use try follow us me'.split(' '));
const EN_NAME = new Set('link links website site page url address here number hotline tel'.split(' '));
const ZH_POINTER = ['拨打', '致电', '电话', '热线', '联系', '联络', '访问', '登录', '登陆', '打开', '点击', '前往', '进入', '网址', '链接', '网站', '官网', '邮箱', '邮件', '发送', '发至', '号码', '手机', '微信', '客服', '查看', '浏览'];
const OPEN_CLOSE: Record<string, string> = { '(': ')', '（': '）', '[': ']', '<': '>', '【': '】', '「': '」', '"': '"', "'": "'", '“': '”' };

interface Piece {
  start: number;
  /** End of the words; the delimiter (and spaces after it) run to `end`. */
  body: number;
  end: number;
  sentenceEnd: boolean;
}

/** Splits at clause and sentence delimiters that are not inside a contact ("3.5" and "a.com" stay whole). */
function pieces(text: string, contacts: Contact[]): Piece[] {
  const inside = (i: number): boolean => contacts.some((c) => i >= c.start && i < c.end);
  const out: Piece[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    const next = text[i + 1] ?? '';
    // A '.' ends a sentence only before a space, and not after a list number ("2. Visit …").
    const isSentence = SENTENCE_END.test(ch) && (ch !== '.' || ((next === '' || /\s/.test(next)) && /\p{L}/u.test(text.slice(start, i))));
    if (inside(i) || !(isSentence || CLAUSE_END.test(ch))) {
      i++;
      continue;
    }
    const body = i;
    while (i < text.length && (SENTENCE_END.test(text[i] ?? '') || CLAUSE_END.test(text[i] ?? '') || /\s/.test(text[i] ?? ''))) i++;
    out.push({ start, body, end: i, sentenceEnd: isSentence });
    start = i;
  }
  if (start < text.length) out.push({ start, body: text.length, end: text.length, sentenceEnd: true });
  return out;
}

/** Latin-script words count 1, CJK characters 1/2. */
export function contentWeight(text: string): number {
  const han = text.match(/\p{Script=Han}/gu)?.length ?? 0;
  const words = text.replace(/\p{Script=Han}/gu, ' ').match(/[\p{L}\p{N}]+/gu)?.length ?? 0;
  return words + han / 2;
}

function pointsAway(before: string, afterPreposition: boolean): boolean {
  const t = before.trimEnd();
  if (ZH_POINTER.some((w) => t.endsWith(w))) return true;
  const word = /([\p{L}-]+)$/u.exec(t)?.[1]?.toLowerCase();
  return word !== undefined && (EN_POINTER.has(word) || (!afterPreposition && EN_NAME.has(word)));
}

/** The clause without its bad contacts, or undefined when what is left points at nothing. */
function cleanClause(clause: string, bad: Contact[], offset: number): string | undefined {
  let out = clause;
  for (const c of [...bad].sort((a, b) => b.start - a.start)) {
    let from = c.start - offset;
    let to = c.end - offset;
    const open = out[from - 1] ?? '';
    if (OPEN_CLOSE[open] !== undefined && out[to] === OPEN_CLOSE[open]) {
      from--;
      to++;
    }
    let before = out.slice(0, from);
    // A markdown link "[label](url)" keeps its label as text.
    const label = open === '(' ? /\[([^\]]*)\]$/.exec(before) : null;
    let connector = '';
    if (label) before = before.slice(0, label.index) + (label[1] ?? '');
    else {
      connector = CONNECTOR.exec(before)?.[0] ?? '';
      before = before.slice(0, before.length - connector.length);
    }
    // Drop the clause when nothing stands before the contact ("or evil.example/x for less"), words
    // point at it ("call us", "请拨打"), or it was the value of a label ("Questions: …").
    const labelled = /[:：]/.test(connector) && contentWeight(out.slice(to)) === 0;
    if (!label && (labelled || pointsAway(before, /\p{L}/u.test(connector)) || contentWeight(before) === 0)) return undefined;
    out = joinWords(before.trimEnd(), out.slice(to).trimStart());
  }
  const tidy = out.replace(/[ \t]{2,}/g, ' ').replace(/\s+([,.;:!?，。；：！？)）])/g, '$1').trim();
  return contentWeight(tidy) >= 1 ? tidy : undefined;
}

const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\u3000-\u303f\uff00-\uffef]/u;

/** Two halves of a clause: a space between them, except next to CJK text or before punctuation. */
function joinWords(a: string, b: string): string {
  if (a === '' || b === '' || WIDE.test(a.at(-1) ?? '') || WIDE.test(b[0] ?? '') || /^[,.;:!?)]/.test(b)) return a + b;
  return `${a} ${b}`;
}

function firstAnswer(cited: GuardEntry[]): string {
  return cited.find((e) => e.answer.trim() !== '')?.answer.trim() ?? '';
}

/** `answer` without the contacts that none of `cited` holds. */
export function guardAnswer(answer: string, cited: GuardEntry[]): GuardResult {
  const contacts = findContacts(answer);
  const known = cited.flatMap((e) => findContacts(`${e.question}\n${e.answer}`));
  const bad = contacts.filter((c) => !isKnownContact(c, known));
  if (bad.length === 0) return { text: answer, removed: 0, kinds: {}, hosts: [], fallback: false };
  const kinds: Partial<Record<ContactKind, number>> = {};
  for (const c of bad) kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
  const hosts = [...new Set(bad.flatMap((c) => (c.host ? [c.host] : [])))];

  const kept: { text: string; delim: string; sentenceEnd: boolean }[] = [];
  for (const p of pieces(answer, contacts)) {
    const mine = bad.filter((c) => c.start >= p.start && c.end <= p.body);
    const clause = answer.slice(p.start, p.body);
    const delim = answer.slice(p.body, p.end);
    const text = mine.length === 0 ? clause : cleanClause(clause, mine, p.start);
    if (text !== undefined) {
      kept.push({ text, delim, sentenceEnd: p.sentenceEnd });
      continue;
    }
    // Dropped: its sentence ending moves to the clause before it ("A, or call X." -> "A."); a
    // clause before it that only set a condition ("If that fails, call X.") goes too.
    let prev = kept.at(-1);
    while (p.sentenceEnd && prev && !prev.sentenceEnd && CONDITION.test(prev.text)) {
      kept.pop();
      prev = kept.at(-1);
    }
    if (p.sentenceEnd && prev && !prev.sentenceEnd) {
      prev.text = prev.text.trimEnd();
      prev.delim = delim.trim() === '' ? '' : delim;
      prev.sentenceEnd = true;
    }
  }
  // Pieces keep their delimiters; a Latin one that lost the space after it gets it back.
  const joined = kept
    .map((k, i) => k.text + (i === kept.length - 1 || /\s$/.test(k.delim) || WIDE.test(k.delim) ? k.delim : `${k.delim} `))
    .join('')
    .replace(/[ \t]{2,}/g, ' ')
    .trim();
  const fallback = contentWeight(joined) < 2;
  return { text: fallback ? firstAnswer(cited) : joined, removed: bad.length, kinds, hosts, fallback };
}
