/**
 * Text normalization and tokenization for the local engine: Chinese runs are segmented with jieba,
 * Latin words are lower-cased and stemmed, everything else (emoji, punctuation) is dropped.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { stemmer } from 'stemmer';

/** Longer inputs are cut before feature extraction (a 10k-character message costs the same as 600). */
export const MAX_FEATURE_CHARS = 600;

interface JiebaLike {
  cut(sentence: string, hmm?: boolean | null): string[];
}

let jieba: JiebaLike | undefined;

/**
 * The segmenter, loaded on first use (once per thread: the analytics feed's thread has its own).
 * Its dictionary file is read here and dropped once jieba has built its trie: the package's
 * `dict` module would read the 6 MB TF-IDF table too and keep both buffers (11 MB) for good.
 */
function getJieba(): JiebaLike {
  if (!jieba) {
    const require = createRequire(import.meta.url);
    const mod = require('@node-rs/jieba') as { Jieba: { withDict(d: Uint8Array): JiebaLike } };
    jieba = mod.Jieba.withDict(readFileSync(require.resolve('@node-rs/jieba/dict.txt')));
  }
  return jieba;
}

/** Whether this thread has loaded the segmenter (the analytics feed's thread should not: remote-terms.ts). */
export function segmenterLoaded(): boolean {
  return jieba !== undefined;
}

const CJK_RUN = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+/u;

/** Whether `text` contains a CJK character. */
export function hasCjk(text: string): boolean {
  return CJK_RUN.test(text);
}
/** A run of CJK, or a Latin/number word (with inner apostrophes), everything else separates. */
const SEGMENT = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;

export function normalize(text: string): string {
  const cut = text.length > MAX_FEATURE_CHARS * 2 ? text.slice(0, MAX_FEATURE_CHARS * 2) : text;
  return cut.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim().slice(0, MAX_FEATURE_CHARS);
}

export interface Segment {
  text: string;
  cjk: boolean;
}

/** Script runs of a normalized text: CJK runs and Latin/number words, in order. */
export function segments(normalized: string): Segment[] {
  const out: Segment[] = [];
  for (const m of normalized.matchAll(SEGMENT)) {
    out.push({ text: m[0], cjk: hasCjk(m[0]) });
  }
  return out;
}

/**
 * English contractions, with and without the apostrophe (customers often drop it), as the words
 * they stand for: "didn't", "didnt" and "did not" give the same word features.
 */
const CONTRACTIONS = new Map<string, readonly string[]>();
for (const [short, long] of [
  ["can't", 'can not'], ['cannot', 'can not'], ["won't", 'will not'], ["shan't", 'shall not'],
  ["i'm", 'i am'], ["i've", 'i have'], ["i'll", 'i will'], ["i'd", 'i would'],
  ["you're", 'you are'], ["you've", 'you have'], ["we're", 'we are'], ["they're", 'they are'],
  ["it's", 'it is'], ["what's", 'what is'], ["that's", 'that is'], ["there's", 'there is'], ["where's", 'where is'],
] as const) {
  CONTRACTIONS.set(short, long.split(' '));
  if (short.includes("'") && !['im', 'ill', 'id', 'its', 'were', 'shant', 'whats', 'thats', 'wont', 'cant'].includes(short.replace("'", ''))) {
    CONTRACTIONS.set(short.replace("'", ''), long.split(' '));
  }
}
for (const base of ['do', 'does', 'did', 'is', 'are', 'was', 'were', 'has', 'have', 'had', 'could', 'would', 'should', 'must', 'need']) {
  CONTRACTIONS.set(`${base}n't`, [base, 'not']);
  CONTRACTIONS.set(`${base}nt`, [base, 'not']);
}
// Without the apostrophe these are words of their own, or almost always meant as the contraction.
CONTRACTIONS.set('cant', ['can', 'not']);
CONTRACTIONS.set('wont', ['will', 'not']);

const stemCache = new Map<string, string>();
/** jieba cuts of CJK runs (reloads re-segment mostly the same questions). */
const cutCache = new Map<string, readonly string[]>();

function stem(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    const plain = word.replace(/['’]/g, '');
    s = /^\d+$/.test(plain) ? (plain.length > 4 ? '#num' : plain) : stemmer(plain);
    if (stemCache.size < 200_000) stemCache.set(word, s);
  }
  return s;
}

/** The words of a CJK run, by jieba (HMM on). */
export function cutCjk(run: string): readonly string[] {
  let words = cutCache.get(run);
  if (words === undefined) {
    words = getJieba()
      .cut(run, true)
      .filter((w) => w.trim());
    if (run.length <= 32 && cutCache.size < 100_000) cutCache.set(run, words);
  }
  return words;
}

/** Chinese words with jieba (HMM on), stemmed English words; punctuation and emoji dropped. */
export function tokenizeSegments(segs: readonly Segment[]): string[] {
  const out: string[] = [];
  for (const seg of segs) {
    if (seg.cjk) {
      for (const w of cutCjk(seg.text)) out.push(w);
    } else {
      const expanded = CONTRACTIONS.get(seg.text.replace(/’/g, "'"));
      if (expanded) for (const w of expanded) out.push(stem(w));
      else out.push(stem(seg.text));
    }
  }
  return out;
}

let pinyinFn: ((text: string, opts: { toneType: 'none'; type: 'array' }) => string[]) | undefined;
const pinyinCache = new Map<string, readonly string[]>();

/**
 * Toneless pinyin syllables of a CJK run, one per character (`到帐` and `到账` both give
 * `dao zhang`): customers type through pinyin input methods, and their typos are homophones.
 */
export function pinyinOf(run: string): readonly string[] {
  let py = pinyinCache.get(run);
  if (py === undefined) {
    if (!pinyinFn) {
      const require = createRequire(import.meta.url);
      pinyinFn = (require('pinyin-pro') as { pinyin: typeof pinyinFn }).pinyin;
    }
    py = pinyinFn!(run, { toneType: 'none', type: 'array' });
    if (run.length <= 32 && pinyinCache.size < 100_000) pinyinCache.set(run, py);
  }
  return py;
}

export function tokenize(text: string): string[] {
  return tokenizeSegments(segments(normalize(text)));
}

const WARM_UP = ['预热', '我买了好几天了还没发出去', '收到的手机屏幕裂了怎么办呢', '东西啥时候能寄出来', '账单怎么查'];

/**
 * Warm the segmenter and the pinyin table: the first uses load dictionaries and the first few
 * unseen sentences run several times slower (the cut cache would hide them from a warm-up on
 * known questions, so these go to jieba directly).
 */
export function warmTokenizer(): void {
  for (let i = 0; i < 3; i++) for (const s of WARM_UP) getJieba().cut(s, true);
  for (const s of WARM_UP) pinyinOf(s);
}
