/** Inverted index of sparse TF-IDF vectors: cosine of a query against every document at once. */
import type { SparseVec } from './features.js';

export interface SparseIndexState {
  start: Int32Array;
  docs: Int32Array;
  weights: Float32Array;
  nDocs: number;
}

export class SparseIndex {
  private readonly start: Int32Array;
  private readonly docs: Int32Array;
  private readonly weights: Float32Array;
  readonly nDocs: number;

  static fromState(s: SparseIndexState): SparseIndex {
    const ix = Object.create(SparseIndex.prototype) as { -readonly [K in keyof SparseIndexState]: SparseIndexState[K] };
    ix.start = s.start;
    ix.docs = s.docs;
    ix.weights = s.weights;
    ix.nDocs = s.nDocs;
    return ix as unknown as SparseIndex;
  }

  get state(): SparseIndexState {
    return { start: this.start, docs: this.docs, weights: this.weights, nDocs: this.nDocs };
  }

  /**
   * `maxDf`: features in more documents than this are left out (their postings are long and their
   * weights small): scores become approximate cosines, and queries stay fast on big bases.
   */
  constructor(vectors: readonly SparseVec[], nFeatures: number, maxDf = Infinity) {
    this.nDocs = vectors.length;
    const df = new Int32Array(nFeatures);
    for (const v of vectors) for (let j = 0; j < v.idx.length; j++) df[v.idx[j]]++;
    const counts = new Int32Array(nFeatures + 1);
    let nnz = 0;
    for (let f = 0; f < nFeatures; f++) {
      if (df[f] > maxDf) continue;
      counts[f + 1] = df[f];
      nnz += df[f];
    }
    for (let f = 0; f < nFeatures; f++) counts[f + 1] += counts[f];
    this.start = counts;
    this.docs = new Int32Array(nnz);
    this.weights = new Float32Array(nnz);
    const fill = counts.slice(0, nFeatures);
    vectors.forEach((v, d) => {
      for (let j = 0; j < v.idx.length; j++) {
        const f = v.idx[j];
        if (df[f] > maxDf) continue;
        const at = fill[f]++;
        this.docs[at] = d;
        this.weights[at] = v.val[j];
      }
    });
  }

  /** Adds query·doc into `out` (length nDocs). */
  accumulate(q: SparseVec, out: Float32Array): void {
    for (let j = 0; j < q.idx.length; j++) {
      const f = q.idx[j];
      const w = q.val[j];
      const end = this.start[f + 1];
      for (let i = this.start[f]; i < end; i++) out[this.docs[i]] += w * this.weights[i];
    }
  }
}
