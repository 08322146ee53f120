/** Okapi BM25 over the example questions; an entry scores as its best example. */
export class Bm25 {
  private readonly postings = new Map<string, { docs: Int32Array; tfs: Float32Array }>();
  private readonly docLen: Float32Array;
  private readonly docEntry: Int32Array;
  private readonly idf = new Map<string, number>();
  private readonly avgLen: number;
  private readonly k1 = 1.2;
  private readonly b = 0.75;

  constructor(docs: readonly string[][], docEntry: Int32Array) {
    this.docEntry = docEntry;
    this.docLen = new Float32Array(docs.length);
    const tmp = new Map<string, { docs: number[]; tfs: number[] }>();
    let total = 0;
    docs.forEach((tokens, d) => {
      this.docLen[d] = tokens.length;
      total += tokens.length;
      const tf = new Map<string, number>();
      for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, c] of tf) {
        let p = tmp.get(t);
        if (!p) tmp.set(t, (p = { docs: [], tfs: [] }));
        p.docs.push(d);
        p.tfs.push(c);
      }
    });
    this.avgLen = docs.length ? Math.max(1, total / docs.length) : 1;
    const n = docs.length;
    for (const [t, p] of tmp) {
      this.postings.set(t, { docs: Int32Array.from(p.docs), tfs: Float32Array.from(p.tfs) });
      this.idf.set(t, Math.log(1 + (n - p.docs.length + 0.5) / (p.docs.length + 0.5)));
    }
  }

  /** Best-example BM25 per entry (`out` has one slot per entry, filled with the max). */
  scoreEntries(query: readonly string[], out: Float32Array, docScratch: Float32Array, touched: number[]): void {
    touched.length = 0;
    const seen = new Set<string>();
    for (const t of query) {
      if (seen.has(t)) continue;
      seen.add(t);
      const p = this.postings.get(t);
      if (!p) continue;
      const idf = this.idf.get(t) ?? 0;
      for (let i = 0; i < p.docs.length; i++) {
        const d = p.docs[i];
        const tf = p.tfs[i];
        const norm = tf + this.k1 * (1 - this.b + (this.b * this.docLen[d]) / this.avgLen);
        if (docScratch[d] === 0) touched.push(d);
        docScratch[d] += (idf * tf * (this.k1 + 1)) / norm;
      }
    }
    for (const d of touched) {
      const e = this.docEntry[d];
      if (docScratch[d] > out[e]) out[e] = docScratch[d];
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
      s += this.idf.get(t) ?? Math.log(1 + this.docLen.length + 0.5);
    }
    return s;
  }
}
