/**
 * TF-IDF features: word uni+bi-grams (jieba words / stemmed English) and character n-grams
 * (2-5 inside Latin words, 1-3 characters and 1-2 pinyin syllables inside Chinese runs). Each
 * group (words, characters) is L2-normalized on its own.
 */
import { normalize, pinyinOf, segments, tokenizeSegments } from './tokenize.js';
import { HashVocab, type HashVocabState } from './hash-vocab.js';
import type { Yielder } from './yielder.js';

export interface SparseVec {
  idx: Int32Array;
  val: Float32Array;
}

export interface Analyzed {
  tokens: string[];
  /** feature key -> raw count; keys are prefixed by group: `w` words, `c` characters. */
  counts: Map<string, number>;
}

function add(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

export interface AnalyzerOptions {
  charMin: number;
  charMax: number;
  /** true: n-grams inside words only; false: across word boundaries too. */
  wordBounded: boolean;
  /** Word pairs up to this distance apart (2+) are features too; 1 = plain bigrams only. */
  skipWindow: number;
  /** Toneless pinyin n-grams (in syllables) of Chinese runs: homophone typos still match. */
  pinyinMin: number;
  pinyinMax: number;
}

export const analyzerOptions: AnalyzerOptions = { charMin: 2, charMax: 5, wordBounded: true, skipWindow: 1, pinyinMin: 1, pinyinMax: 2 };

export function analyze(text: string): Analyzed {
  const { charMin, charMax, wordBounded, skipWindow } = analyzerOptions;
  const segs = segments(normalize(text));
  const tokens = tokenizeSegments(segs);
  const counts = new Map<string, number>();
  for (let i = 0; i < tokens.length; i++) {
    add(counts, 'w' + tokens[i]);
    if (i > 0) add(counts, 'w' + tokens[i - 1] + ' ' + tokens[i]);
    for (let d = 2; d <= skipWindow && i - d >= 0; d++) add(counts, 's' + tokens[i - d] + ' ' + tokens[i]);
  }
  if (!wordBounded) {
    const latin = ' ' + segs.filter((x) => !x.cjk).map((x) => x.text).join(' ') + ' ';
    for (let n = charMin; n <= charMax; n++) for (let i = 0; i + n <= latin.length; i++) add(counts, 'c' + latin.slice(i, i + n));
  }
  for (const seg of segs) {
    if (seg.cjk) {
      const s = seg.text;
      for (let n = 1; n <= 3; n++) for (let i = 0; i + n <= s.length; i++) add(counts, 'c' + s.slice(i, i + n));
      const py = pinyinOf(s);
      for (let n = analyzerOptions.pinyinMin; n <= analyzerOptions.pinyinMax; n++) for (let i = 0; i + n <= py.length; i++) add(counts, 'c~' + py.slice(i, i + n).join(' '));
    } else if (wordBounded) {
      const s = ' ' + seg.text + ' ';
      for (let n = charMin; n <= charMax; n++) {
        if (s.length < n) continue;
        for (let i = 0; i + n <= s.length; i++) add(counts, 'c' + s.slice(i, i + n));
      }
    }
  }
  return { tokens, counts };
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

  static async fit(docs: readonly Analyzed[], opts: FeatureOptions, y: Yielder = () => undefined): Promise<FeatureSpace> {
    return (await FeatureSpace.fitTransform(docs, opts, y)).space;
  }

  /** Fits the space and returns the training vectors too (looked up in the fitting Map: faster). */
  static async fitTransform(
    docs: readonly Analyzed[],
    opts: FeatureOptions,
    y: Yielder = () => undefined,
  ): Promise<{ space: FeatureSpace; vecs: SparseVec[] }> {
    const vocab = new Map<string, number>();
    const df: number[] = [];
    for (const d of docs) {
      const wait = y();
      if (wait) await wait;
      for (const k of d.counts.keys()) {
        let id = vocab.get(k);
        if (id === undefined) {
          id = vocab.size;
          vocab.set(k, id);
          df.push(0);
        }
        df[id]++;
      }
    }
    const n = docs.length;
    const idf = new Float32Array(vocab.size);
    const isChar = new Uint8Array(vocab.size);
    for (const [k, id] of vocab) {
      idf[id] = Math.log((1 + n) / (1 + df[id])) + 1;
      isChar[id] = k.charCodeAt(0) === 99 ? 1 : 0; // 'c'
    }
    await y();
    const space = new FeatureSpace(HashVocab.fromKeys(vocab.keys(), vocab.size), idf, isChar, opts);
    const lookup = (k: string): number | undefined => vocab.get(k);
    const vecs: SparseVec[] = [];
    for (const d of docs) {
      vecs.push(space.transform(d, lookup));
      const wait = y();
      if (wait) await wait;
    }
    return { space, vecs };
  }

  get size(): number {
    return this.idf.length;
  }

  transform(a: Analyzed, lookup: (k: string) => number | undefined = (k) => this.vocab.get(k)): SparseVec {
    const n = a.counts.size;
    const ids = new Int32Array(n);
    const vals = new Float32Array(n);
    let m = 0;
    let nw = 0;
    let nc = 0;
    for (const [k, c] of a.counts) {
      const id = lookup(k);
      if (id === undefined) continue;
      const v = (1 + Math.log(c)) * this.idf[id];
      ids[m] = id;
      vals[m++] = v;
      if (this.isChar[id]) nc += v * v;
      else nw += v * v;
    }
    const sw = nw > 0 ? 1 / Math.sqrt(nw) : 0;
    const sc = nc > 0 ? this.opts.charWeight / Math.sqrt(nc) : 0;
    // Sort by feature id: pack (id, position) into one number and sort numerically.
    const keys = new Float64Array(m);
    for (let j = 0; j < m; j++) keys[j] = ids[j] * 65536 + j;
    keys.sort();
    const idx = new Int32Array(m);
    const val = new Float32Array(m);
    for (let j = 0; j < m; j++) {
      const pos = keys[j] % 65536;
      const id = ids[pos];
      idx[j] = id;
      val[j] = vals[pos] * (this.isChar[id] ? sc : sw);
    }
    return { idx, val };
  }
}

export function dot(a: SparseVec, b: SparseVec): number {
  let i = 0;
  let j = 0;
  let s = 0;
  while (i < a.idx.length && j < b.idx.length) {
    if (a.idx[i] === b.idx[j]) s += a.val[i++] * b.val[j++];
    else if (a.idx[i] < b.idx[j]) i++;
    else j++;
  }
  return s;
}
