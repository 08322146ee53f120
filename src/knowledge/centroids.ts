/** Nearest-centroid model of very large bases: one normalized mean vector per entry. */
import type { SparseVec } from './features.js';
import type { Yielder } from './yielder.js';

export async function centroidVectors(vecs: readonly SparseVec[], entryOf: Int32Array, k: number, nFeatures: number, norm: number, y: Yielder): Promise<SparseVec[]> {
  // Examples are stored in entry order: sum each entry's run into a dense buffer, then read back
  // only the touched features (no per-entry Map). Feature ids are < nFeatures (the buffers' size).
  const sum = new Float64Array(nFeatures);
  const seen = new Uint8Array(nFeatures);
  const out: SparseVec[] = Array.from({ length: k }, () => ({ idx: new Int32Array(0), val: new Float32Array(0) }));
  // One reused buffer for each entry's touched features (no array per entry).
  let touched = new Int32Array(1024);
  let d = 0;
  while (d < vecs.length) {
    const e = entryOf[d]!;
    let m = 0;
    for (; d < vecs.length && entryOf[d] === e; d++) {
      const { idx, val } = vecs[d]!;
      if (m + idx.length > touched.length) {
        const grown = new Int32Array(Math.max(2 * touched.length, m + idx.length));
        grown.set(touched);
        touched = grown;
      }
      for (let j = 0; j < idx.length; j++) {
        const f = idx[j]!;
        if (!seen[f]) {
          seen[f] = 1;
          touched[m++] = f; // m < touched.length (grown above)
        }
        sum[f]! += val[j]!;
      }
    }
    const idx = touched.slice(0, m).sort();
    let n = 0;
    for (let j = 0; j < m; j++) n += sum[idx[j]!]! ** 2; // j < m = idx.length
    // Scale so that a centroid has the same norm as an example vector (cosine stays comparable).
    const s = n > 0 ? norm / Math.sqrt(n) : 0;
    const val = new Float32Array(idx.length);
    for (let j = 0; j < idx.length; j++) {
      const f = idx[j]!;
      val[j] = sum[f]! * s;
      sum[f] = 0;
      seen[f] = 0;
    }
    out[e] = { idx, val };
    const wait = y();
    if (wait) await wait;
  }
  return out;
}
