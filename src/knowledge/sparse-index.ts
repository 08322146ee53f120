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

  private constructor(s: SparseIndexState) {
    this.start = s.start;
    this.docs = s.docs;
    this.weights = s.weights;
    this.nDocs = s.nDocs;
  }

  static fromState(s: SparseIndexState): SparseIndex {
    return new SparseIndex(s);
  }

  get state(): SparseIndexState {
    return { start: this.start, docs: this.docs, weights: this.weights, nDocs: this.nDocs };
  }

  /**
   * `maxDf`: features in more documents than this are left out (their postings are long and their
   * weights small): scores become approximate cosines, and queries stay fast on big bases.
   */
  static build(vectors: readonly SparseVec[], nFeatures: number, maxDf = Infinity): SparseIndex {
    // Feature ids are < nFeatures; `!` below indexes arrays of nFeatures (+1) slots with them.
    // Plain index loops: this runs over every posting of the base on each reload.
    const df = new Int32Array(nFeatures);
    for (const v of vectors) {
      const idx = v.idx;
      for (let j = 0; j < idx.length; j++) df[idx[j]!]!++;
    }
    const start = new Int32Array(nFeatures + 1);
    let nnz = 0;
    for (let f = 0; f < nFeatures; f++) {
      const n = df[f]!;
      if (n <= maxDf) nnz += n;
      start[f + 1] = nnz;
    }
    const docs = new Int32Array(nnz);
    const weights = new Float32Array(nnz);
    const fill = start.slice(0, nFeatures);
    for (let d = 0; d < vectors.length; d++) {
      const { idx, val } = vectors[d]!;
      for (let j = 0; j < idx.length; j++) {
        const f = idx[j]!;
        if (df[f]! > maxDf) continue;
        const at = fill[f]!++;
        docs[at] = d;
        weights[at] = val[j]!;
      }
    }
    return new SparseIndex({ start, docs, weights, nDocs: vectors.length });
  }

  /** Adds query·doc into `out` (length nDocs). */
  accumulate(q: SparseVec, out: Float32Array): void {
    // Query feature ids are < nFeatures (start has nFeatures + 1 slots); postings are < nDocs.
    const { start, docs, weights } = this;
    for (let j = 0; j < q.idx.length; j++) {
      const f = q.idx[j]!;
      const w = q.val[j]!;
      const end = start[f + 1]!;
      for (let i = start[f]!; i < end; i++) out[docs[i]!]! += w * weights[i]!;
    }
  }
}
