/**
 * Okapi BM25 over the example questions; an entry scores as its best example. Postings are CSR
 * typed arrays behind a HashVocab, so a built index can be moved between threads cheaply.
 */
import { HashVocab, type HashVocabState } from './hash-vocab.js';
import { grown } from './grown.js';

export interface Bm25State {
  vocab: HashVocabState;
  start: Int32Array;
  docs: Int32Array;
  tfs: Float32Array;
  idf: Float32Array;
  docLen: Float32Array;
  docEntry: Int32Array;
  avgLen: number;
}

export class Bm25 {
  private readonly s: Bm25State;
  private readonly vocab: HashVocab;
  private readonly k1 = 1.2;
  private readonly b = 0.75;

  private constructor(s: Bm25State) {
    this.s = s;
    this.vocab = HashVocab.fromState(s.vocab);
  }

  static fromState(s: Bm25State): Bm25 {
    return new Bm25(s);
  }

  get state(): Bm25State {
    return this.s;
  }

  static build(docs: readonly string[][], docEntry: Int32Array): Bm25 {
    // Term ids in order of first sight; each document's ids sorted and counted in one reused
    // buffer (no Map per document): postings come out in document order, as before.
    const docLen = new Float32Array(docs.length);
    const termId = new Map<string, number>();
    let df: Int32Array = new Int32Array(1024);
    let total = 0;
    let longest = 0;
    for (const tokens of docs) longest = Math.max(longest, tokens.length);
    const scratch = new Int32Array(longest);
    const docStart = new Int32Array(docs.length + 1);
    let terms: Int32Array = new Int32Array(1024);
    let counts: Float32Array = new Float32Array(1024);
    let nnz = 0;
    // `!` below: d < docs.length, j < tokens.length <= scratch.length, ids < termId.size <= df.length,
    // nnz < terms.length = counts.length (grown before each document).
    for (let d = 0; d < docs.length; d++) {
      const tokens = docs[d]!;
      docLen[d] = tokens.length;
      total += tokens.length;
      for (let j = 0; j < tokens.length; j++) {
        const t = tokens[j]!;
        let id = termId.get(t);
        if (id === undefined) {
          id = termId.size;
          termId.set(t, id);
          if (id >= df.length) df = grown(df, id + 1);
        }
        scratch[j] = id;
      }
      if (nnz + tokens.length > terms.length) {
        terms = grown(terms, nnz + tokens.length);
        counts = grown(counts, nnz + tokens.length);
      }
      const sorted = scratch.subarray(0, tokens.length).sort();
      let prev = -1;
      for (let j = 0; j < sorted.length; j++) {
        const id = sorted[j]!;
        if (id === prev) {
          counts[nnz - 1]!++;
          continue;
        }
        prev = id;
        terms[nnz] = id;
        counts[nnz++] = 1;
        df[id]!++;
      }
      docStart[d + 1] = nnz;
    }
    const nTerms = termId.size;
    const start = new Int32Array(nTerms + 1);
    let offset = 0;
    for (let t = 0; t < nTerms; t++) {
      offset += df[t]!;
      start[t + 1] = offset;
    }
    const fill = start.slice(0, nTerms);
    const postDocs = new Int32Array(nnz);
    const tfs = new Float32Array(nnz);
    for (let d = 0; d < docs.length; d++) {
      for (let i = docStart[d]!; i < docStart[d + 1]!; i++) {
        const at = fill[terms[i]!]!++; // terms < nTerms
        postDocs[at] = d;
        tfs[at] = counts[i]!;
      }
    }
    const n = docs.length;
    const idf = new Float32Array(nTerms);
    for (let t = 0; t < nTerms; t++) {
      const count = df[t]!;
      idf[t] = Math.log(1 + (n - count + 0.5) / (count + 0.5));
    }
    return new Bm25({
      vocab: HashVocab.fromKeys(termId.keys(), nTerms).state,
      start,
      docs: postDocs,
      tfs,
      idf,
      docLen,
      docEntry,
      avgLen: docs.length ? Math.max(1, total / docs.length) : 1,
    });
  }

  /** Best-example BM25 per entry (`out` has one slot per entry, filled with the max). */
  scoreEntries(query: readonly string[], out: Float32Array, docScratch: Float32Array, touched: number[]): void {
    const { start, docs, tfs, idf, docLen, docEntry, avgLen } = this.s;
    touched.length = 0;
    const seen = new Set<string>();
    for (const t of query) {
      if (seen.has(t)) continue;
      seen.add(t);
      const id = this.vocab.get(t);
      if (id === undefined) continue;
      // Ids from the vocabulary are < nTerms (start has nTerms + 1 slots); postings hold document
      // numbers < docScratch.length; documents' entries are < out.length.
      const w = idf[id]!;
      const end = start[id + 1]!;
      for (let i = start[id]!; i < end; i++) {
        const d = docs[i]!;
        const tf = tfs[i]!;
        const norm = tf + this.k1 * (1 - this.b + (this.b * docLen[d]!) / avgLen);
        if (docScratch[d] === 0) touched.push(d);
        docScratch[d]! += (w * tf * (this.k1 + 1)) / norm;
      }
    }
    for (const d of touched) {
      const e = docEntry[d]!;
      const score = docScratch[d]!;
      if (score > out[e]!) out[e] = score;
      docScratch[d] = 0;
    }
  }

  /** The score a document made of exactly the query would get: an upper bound to normalize by. */
  selfScore(query: readonly string[]): number {
    let s = 0;
    const seen = new Set<string>();
    for (const t of query) {
      if (seen.has(t)) continue;
      seen.add(t);
      const id = this.vocab.get(t);
      const idf = id === undefined ? undefined : this.s.idf[id];
      s += idf ?? Math.log(1 + this.s.docLen.length + 0.5);
    }
    return s;
  }
}
