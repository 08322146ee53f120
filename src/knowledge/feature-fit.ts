/**
 * Fitting the TF-IDF feature space while the examples are analyzed, one at a time: each example's
 * feature keys are interned into a growing typed-array table right away (its ids sorted and
 * run-length counted into one CSR matrix), so no per-example `Map` or key list outlives its
 * example. Ids are given in order of first sight, so the same examples give the same space.
 */
import { FeatureSpace, Group, analyze, groupOf, type Analyzed, type FeatureOptions, type SparseVec } from './features.js';
import { NumberVocabBuilder } from './hash-vocab.js';
import type { Yielder } from './yielder.js';
import { grown } from './grown.js';

/** Sparse rows (compressed sparse rows): row d is idx/val[start[d] .. start[d+1]-1]. */
export interface Csr {
  start: Int32Array;
  idx: Int32Array;
  val: Float32Array;
}

export class FeatureFitter {
  private readonly vocab: NumberVocabBuilder;
  private df: Int32Array = new Int32Array(1024);
  private isChar: Uint8Array = new Uint8Array(1024);
  private start: Int32Array;
  private idx: Int32Array;
  private cnt: Float32Array;
  private nnz = 0;
  private docs = 0;
  private scratch: Int32Array = new Int32Array(256);

  /** `expected`: about how many examples will come (sizes the buffers; they grow as needed). */
  constructor(expected = 0) {
    this.start = new Int32Array(expected + 2);
    // Our benches: 60-90 distinct features per example, 6-8 new ones (BANKING77, the kb bench);
    // both buffers grow as needed.
    this.vocab = new NumberVocabBuilder(Math.min(expected * 8, 1 << 20));
    this.idx = new Int32Array(Math.max(1 << 12, expected * 96));
    this.cnt = new Float32Array(this.idx.length);
  }

  /** Adds one example: its feature keys, once per occurrence (`Analyzed.keys`). */
  add(keys: readonly number[]): void {
    // `!` below: ids < vocab.size <= df.length = isChar.length (grown before use), j < m <=
    // scratch.length, nnz + m <= idx.length = cnt.length (grown before the run).
    const m = keys.length;
    if (this.scratch.length < m) this.scratch = new Int32Array(m * 2);
    const { vocab, scratch } = this;
    for (let j = 0; j < m; j++) {
      const k = keys[j]!;
      const before = vocab.size;
      const id = vocab.intern(k);
      if (id === before) {
        if (id >= this.df.length) {
          this.df = grown(this.df, id + 1);
          this.isChar = grown(this.isChar, id + 1);
        }
        const g = groupOf(k);
        this.isChar[id] = g === Group.Char || g === Group.Pinyin ? 1 : 0;
      }
      scratch[j] = id;
    }
    if (this.nnz + m > this.idx.length) {
      this.idx = grown(this.idx, this.nnz + m);
      this.cnt = grown(this.cnt, this.nnz + m);
    }
    if (this.docs + 2 > this.start.length) this.start = grown(this.start, this.docs + 2);
    const { idx, cnt, df } = this;
    const sorted = scratch.subarray(0, m).sort();
    let nnz = this.nnz;
    let prev = -1;
    for (let j = 0; j < m; j++) {
      const id = sorted[j]!;
      if (id === prev) {
        cnt[nnz - 1]!++;
        continue;
      }
      prev = id;
      idx[nnz] = id;
      cnt[nnz++] = 1;
      df[id]!++;
    }
    this.nnz = nnz;
    this.start[++this.docs] = nnz;
  }

  /** The space, and the examples' TF-IDF vectors: `rows` (CSR) and `vecs` (views into it, one per example). */
  async finish(opts: FeatureOptions, y: Yielder = () => undefined): Promise<{ space: FeatureSpace; vecs: SparseVec[]; rows: Csr }> {
    const n = this.docs;
    const size = this.vocab.size;
    const idf = new Float32Array(size);
    // id < size <= df.length; d < n < start.length.
    for (let id = 0; id < size; id++) idf[id] = Math.log((1 + n) / (1 + this.df[id]!)) + 1;
    await y();
    const space = FeatureSpace.fromState({ vocab: this.vocab.vocab().state, idf, isChar: this.isChar.slice(0, size), opts });
    const start = this.start.slice(0, n + 1);
    const rows: Csr = { start, idx: this.idx.slice(0, this.nnz), val: new Float32Array(this.nnz) };
    const cnt = this.cnt;
    const vecs: SparseVec[] = [];
    for (let d = 0; d < n; d++) {
      const from = start[d]!;
      const to = start[d + 1]!;
      space.weighInto(rows.idx, cnt, from, to, rows.val);
      vecs.push({ idx: rows.idx.subarray(from, to), val: rows.val.subarray(from, to) });
      const wait = y();
      if (wait) await wait;
    }
    return { space, vecs, rows };
  }
}

/**
 * Analyses of example questions kept from one build to the next (the reload worker keeps one per
 * directory): a hot reload after editing one file analyzes only the questions that changed.
 * Holds only the questions of the last build (about 1 KB each).
 */
export class AnalysisCache {
  private last = new Map<string, Analyzed>();
  private current = new Map<string, Analyzed>();

  analyze(q: string): Analyzed {
    let a = this.current.get(q) ?? this.last.get(q);
    if (!a) a = analyze(q);
    this.current.set(q, a);
    return a;
  }

  /** Ends a build: questions it did not ask for are forgotten. */
  done(): void {
    this.last = this.current;
    this.current = new Map();
  }
}
