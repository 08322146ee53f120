/**
 * TF-IDF features: word uni+bi-grams (jieba words / stemmed English) and character n-grams
 * (2-5 inside Latin words, 1-3 characters and 1-2 pinyin syllables inside Chinese runs). Each
 * group (words, characters) is L2-normalized on its own.
 */
import { normalize, pinyinOf, segments, tokenizeSegments } from './tokenize.js';
import { HashVocab, type HashVocabState } from './hash-vocab.js';

export interface SparseVec {
  idx: Int32Array;
  val: Float32Array;
}

export interface Analyzed {
  tokens: string[];
  /** Feature keys (see `featureKey`) in order of appearance, once per occurrence (a key seen twice counts 2). */
  keys: number[];
}

/**
 * Feature groups, kept in the key: words and word pairs are one L2 group, character and pinyin
 * n-grams the other. `Deletion` is no feature: it keys the typo index's one-letter deletions.
 */
export const Group = { Word: 0, Deletion: 1, Char: 2, Pinyin: 3 } as const;
export type Group = (typeof Group)[keyof typeof Group];

/*
 * Keys are 53-bit integers hashed straight from the text (no substring is ever built): 32 bits of
 * FNV-1a, 19 bits of a second, independent hash, and the 2-bit group. Two different features get
 * the same key only if both hashes collide (about 1 in 2^51 per pair).
 */
let h1 = 0;
let h2 = 0;

function begin(group: Group): void {
  h1 = (0x811c9dc5 ^ group) | 0;
  h2 = (0x9747b28c + group) | 0;
}

function feed(s: string, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
}

function end(group: Group): number {
  let b = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  b ^= b >>> 16;
  return (h1 >>> 0) * 2097152 + (b >>> 13) * 4 + group;
}

/** The key of one feature given as text (words: the token; pairs: "a b"; n-grams: the n-gram). */
export function featureKey(group: Group, text: string): number {
  begin(group);
  feed(text, 0, text.length);
  return end(group);
}

export function groupOf(key: number): Group {
  // The low 2 bits (key - floor(key / 4) * 4: the same as key % 4 below 2^53, without a floating-point modulo).
  return (key - Math.floor(key / 4) * 4) as Group;
}

function add(m: number[], k: number): void {
  m.push(k);
}

/** The word pair "a b". */
function addPair(m: number[], a: string, b: string): void {
  begin(Group.Word);
  feed(a, 0, a.length);
  feed(' ', 0, 1);
  feed(b, 0, b.length);
  add(m, end(Group.Word));
}

/** Character n-grams of `s` for n in [min, max], straight from its char codes. */
function addGrams(m: number[], s: string, min: number, max: number): void {
  for (let n = min; n <= max; n++) {
    for (let i = 0; i + n <= s.length; i++) {
      begin(Group.Char);
      feed(s, i, i + n);
      add(m, end(Group.Char));
    }
  }
}

/** Character n-gram lengths inside Latin words, and pinyin n-gram lengths (in syllables) of Chinese runs. */
const CHAR_MIN = 2;
const CHAR_MAX = 5;
const PINYIN_MIN = 1;
const PINYIN_MAX = 2;

export function analyze(text: string): Analyzed {
  const segs = segments(normalize(text));
  const tokens = tokenizeSegments(segs);
  const keys: number[] = [];
  let prev: string | undefined;
  for (const t of tokens) {
    add(keys, featureKey(Group.Word, t));
    if (prev !== undefined) addPair(keys, prev, t);
    prev = t;
  }
  for (const seg of segs) {
    if (seg.cjk) {
      addGrams(keys, seg.text, 1, 3);
      const py = pinyinOf(seg.text);
      for (let n = PINYIN_MIN; n <= PINYIN_MAX; n++) {
        for (let i = 0; i + n <= py.length; i++) {
          begin(Group.Pinyin);
          for (let j = i; j < i + n; j++) {
            if (j > i) feed(' ', 0, 1);
            const syllable = py[j]!; // j < i + n <= py.length
            feed(syllable, 0, syllable.length);
          }
          add(keys, end(Group.Pinyin));
        }
      }
    } else {
      addGrams(keys, ' ' + seg.text + ' ', CHAR_MIN, CHAR_MAX);
    }
  }
  return { tokens, keys };
}

export interface FeatureOptions {
  /** Weight of the character group relative to the word group. */
  charWeight: number;
}

/** A trained feature space as plain typed arrays (sent from the reload worker). */
export interface FeatureSpaceState {
  vocab: HashVocabState;
  idf: Float32Array;
  isChar: Uint8Array;
  opts: FeatureOptions;
}

export class FeatureSpace {
  readonly vocab: HashVocab;
  readonly idf: Float32Array;
  readonly isChar: Uint8Array;
  readonly opts: FeatureOptions;

  private constructor(vocab: HashVocab, idf: Float32Array, isChar: Uint8Array, opts: FeatureOptions) {
    this.vocab = vocab;
    this.idf = idf;
    this.isChar = isChar;
    this.opts = opts;
  }

  static fromState(s: FeatureSpaceState): FeatureSpace {
    return new FeatureSpace(HashVocab.fromState(s.vocab), s.idf, s.isChar, s.opts);
  }

  get state(): FeatureSpaceState {
    return { vocab: this.vocab.state, idf: this.idf, isChar: this.isChar, opts: this.opts };
  }

  get size(): number {
    return this.idf.length;
  }

  transform(a: Analyzed): SparseVec {
    const keys = a.keys;
    const ids = new Int32Array(keys.length);
    let m = 0;
    for (const k of keys) {
      const id = this.vocab.getNumber(k);
      if (id !== undefined) ids[m++] = id;
    }
    const sorted = ids.subarray(0, m).sort();
    // Distinct ids with their counts, in id order (`!`: j < m, u <= j).
    let u = 0;
    const cnt = new Float32Array(m);
    for (let j = 0; j < m; j++) {
      const id = sorted[j]!;
      if (u > 0 && sorted[u - 1] === id) {
        cnt[u - 1]!++;
        continue;
      }
      sorted[u] = id;
      cnt[u++] = 1;
    }
    const idx = sorted.slice(0, u);
    const val = new Float32Array(u);
    this.weighInto(idx, cnt, 0, u, val);
    return { idx, val };
  }

  /**
   * TF-IDF of the (feature id, count) pairs from..to-1 (ids sorted, distinct) into `val`, each
   * group L2-normalized. `!` below: from <= j < to <= idx.length = counts.length = val.length,
   * feature ids < idf.length.
   */
  weighInto(idx: Int32Array, counts: Float32Array, from: number, to: number, val: Float32Array): void {
    const { idf, isChar } = this;
    let nw = 0;
    let nc = 0;
    for (let j = from; j < to; j++) {
      const id = idx[j]!;
      const v = (1 + Math.log(counts[j]!)) * idf[id]!;
      val[j] = v;
      if (isChar[id]) nc += v * v;
      else nw += v * v;
    }
    const sw = nw > 0 ? 1 / Math.sqrt(nw) : 0;
    const sc = nc > 0 ? this.opts.charWeight / Math.sqrt(nc) : 0;
    for (let j = from; j < to; j++) val[j]! *= isChar[idx[j]!] ? sc : sw;
  }
}

