/**
 * Sparse vectors stored row by row (CSR): exact dot products of a query against chosen rows, for
 * re-scoring a few candidate entries' example questions instead of the whole base.
 */
import type { SparseVec } from './features.js';

export interface SparseRowsState {
  start: Int32Array;
  idx: Int32Array;
  val: Float32Array;
  nFeatures: number;
}

export class SparseRows {
  private readonly start: Int32Array;
  private readonly idx: Int32Array;
  private readonly val: Float32Array;
  private readonly dense: Float32Array;

  private constructor(s: SparseRowsState) {
    this.start = s.start;
    this.idx = s.idx;
    this.val = s.val;
    this.dense = new Float32Array(s.nFeatures);
  }

  static from(vectors: readonly SparseVec[], nFeatures: number): SparseRows {
    const start = new Int32Array(vectors.length + 1);
    let nnz = 0;
    for (const [d, v] of vectors.entries()) {
      nnz += v.idx.length;
      start[d + 1] = nnz;
    }
    const idx = new Int32Array(nnz);
    const val = new Float32Array(nnz);
    let at = 0;
    for (const v of vectors) {
      idx.set(v.idx, at);
      val.set(v.val, at);
      at += v.idx.length;
    }
    return new SparseRows({ start, idx, val, nFeatures });
  }

  static fromState(s: SparseRowsState): SparseRows {
    return new SparseRows(s);
  }

  get state(): SparseRowsState {
    return { start: this.start, idx: this.idx, val: this.val, nFeatures: this.dense.length };
  }

  /**
   * Calls `each(row, q·row)` for rows `from` (inclusive) to `to` (exclusive) of every range in
   * `ranges` ([from, to] pairs). The query is scattered once into a dense buffer, cleared after.
   */
  dots(q: SparseVec, ranges: readonly (readonly [number, number])[], each: (row: number, dot: number) => void): void {
    const { dense, start, idx, val } = this;
    // Feature ids (query and rows) are < nFeatures = dense.length; rows `from`..`to` exist.
    for (let j = 0; j < q.idx.length; j++) dense[q.idx[j]!] = q.val[j]!;
    try {
      for (const [from, to] of ranges) {
        for (let d = from; d < to; d++) {
          let s = 0;
          const end = start[d + 1]!;
          for (let i = start[d]!; i < end; i++) s += val[i]! * dense[idx[i]!]!;
          each(d, s);
        }
      }
    } finally {
      for (const f of q.idx) dense[f] = 0;
    }
  }
}
