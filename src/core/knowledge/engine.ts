/**
 * The local matching engine: TF-IDF features, a softmax classifier trained on the example
 * questions (a nearest-centroid model for very large bases), best-example cosine and BM25,
 * blended into one 0..1 score per entry. Built asynchronously in small chunks so that answering
 * continues on the previous snapshot while a new one trains.
 */
import { SoftmaxClassifier, defaultTrainOptions, softmaxInPlace, type TrainOptions } from './classifier.js';
import { Bm25 } from './bm25.js';
import { FeatureSpace, analyze, type Analyzed, type SparseVec } from './features.js';
import { SparseIndex } from './sparse-index.js';
import { makeYielder, type Yielder } from './yielder.js';

export interface EngineEntry {
  id: string;
  questions: string[];
}

export interface EngineOptions {
  /** Above this many entries the classifier is a nearest-centroid model (linear in the base size). */
  maxClassifierEntries: number;
  charWeight: number;
  /** Blend of the 0..1 signals into the score (normalized to sum 1). */
  weights: { classifier: number; cosine: number; bm25: number };
  /** Softmax temperature on centroid cosines when the centroid model is used. */
  centroidTemperature: number;
  train: TrainOptions;
  /** Features in more than this share of the examples are left out of the example-cosine index. */
  exampleMaxDf: number;
  /** Yield to the event loop every this many ms while building (null: build in one go). */
  yieldEveryMs: number | null;
}

export const defaultEngineOptions: EngineOptions = {
  maxClassifierEntries: 400,
  charWeight: 1,
  weights: { classifier: 1, cosine: 1, bm25: 0.3 },
  centroidTemperature: 0.05,
  train: defaultTrainOptions,
  exampleMaxDf: 0.02,
  yieldEveryMs: 4,
};

export interface Ranked {
  /** Position of the entry in the engine's entry list. */
  index: number;
  id: string;
  /** Blended 0..1 ranking score (classifier, cosine, BM25). */
  score: number;
  /**
   * 0..1 confidence that this entry is the right one: the classifier's softmax probability (the
   * best-calibrated signal on held-out data), or the blended score in centroid mode.
   */
  confidence: number;
  classifier: number;
  cosine: number;
  bm25: number;
  /** The example question that matched best. */
  question: string;
}

export class Engine {
  readonly entries: readonly EngineEntry[];
  private readonly features: FeatureSpace;
  private readonly examples: SparseIndex;
  private readonly exampleEntry: Int32Array;
  private readonly exampleText: string[];
  private readonly bm25: Bm25;
  private readonly classifier: SoftmaxClassifier | null;
  private readonly centroids: SparseIndex | null;
  private readonly opts: EngineOptions;
  private readonly norm2: number;
  private readonly scratchDocs: Float32Array;
  private readonly scratchScores: Float32Array;
  private readonly touched: number[] = [];

  private constructor(init: {
    entries: readonly EngineEntry[];
    features: FeatureSpace;
    examples: SparseIndex;
    exampleEntry: Int32Array;
    exampleText: string[];
    bm25: Bm25;
    classifier: SoftmaxClassifier | null;
    centroids: SparseIndex | null;
    opts: EngineOptions;
  }) {
    this.entries = init.entries;
    this.features = init.features;
    this.examples = init.examples;
    this.exampleEntry = init.exampleEntry;
    this.exampleText = init.exampleText;
    this.bm25 = init.bm25;
    this.classifier = init.classifier;
    this.centroids = init.centroids;
    this.opts = init.opts;
    this.norm2 = 1 + init.opts.charWeight * init.opts.charWeight;
    this.scratchDocs = new Float32Array(init.exampleText.length);
    this.scratchScores = new Float32Array(init.exampleText.length);
  }

  static async build(entries: readonly EngineEntry[], options: Partial<EngineOptions> = {}): Promise<Engine> {
    const opts: EngineOptions = { ...defaultEngineOptions, ...options };
    const y = makeYielder(opts.yieldEveryMs);
    const analyzed: Analyzed[] = [];
    const exampleEntry: number[] = [];
    const exampleText: string[] = [];
    for (let e = 0; e < entries.length; e++) {
      for (const q of entries[e].questions) {
        analyzed.push(analyze(q));
        exampleEntry.push(e);
        exampleText.push(q);
        const wait = y();
        if (wait) await wait;
      }
    }
    const features = await FeatureSpace.fit(analyzed, { charWeight: opts.charWeight }, y);
    const vecs: SparseVec[] = [];
    for (const a of analyzed) {
      vecs.push(features.transform(a));
      const wait = y();
      if (wait) await wait;
    }
    const examples = new SparseIndex(vecs, features.size, Math.max(50, opts.exampleMaxDf * vecs.length));
    await y();
    const entryOf = Int32Array.from(exampleEntry);
    const bm25 = new Bm25(
      analyzed.map((a) => a.tokens),
      entryOf,
    );
    await y();
    let classifier: SoftmaxClassifier | null = null;
    let centroids: SparseIndex | null = null;
    if (entries.length >= 2 && entries.length <= opts.maxClassifierEntries) {
      classifier = await SoftmaxClassifier.train(vecs, entryOf, entries.length, features.size, opts.train, y);
    } else if (entries.length >= 2) {
      centroids = new SparseIndex(
        await centroidVectors(vecs, entryOf, entries.length, Math.sqrt(1 + opts.charWeight * opts.charWeight), y),
        features.size,
      );
    }
    return new Engine({ entries, features, examples, exampleEntry: entryOf, exampleText, bm25, classifier, centroids, opts });
  }

  get size(): number {
    return this.entries.length;
  }

  /** Entries ranked for `text`, best first (at most `n`). Empty when nothing matches at all. */
  rank(text: string, n = 5): Ranked[] {
    const k = this.entries.length;
    if (k === 0) return [];
    const a = analyze(text);
    const q = this.features.transform(a);
    const cls = new Float64Array(k);
    if (this.classifier) {
      if (q.idx.length > 0) this.classifier.predict(q, cls);
    } else if (this.centroids) {
      const c = new Float32Array(k);
      this.centroids.accumulate(q, c);
      for (let i = 0; i < k; i++) cls[i] = c[i] / this.norm2;
      if (q.idx.length > 0) softmaxInPlace(cls, this.opts.centroidTemperature);
    } else if (q.idx.length > 0) {
      cls[0] = 1;
    }
    const docScores = this.scratchScores;
    docScores.fill(0);
    this.examples.accumulate(q, docScores);
    const cos = new Float32Array(k);
    const bestDoc = new Int32Array(k).fill(-1);
    for (let d = 0; d < docScores.length; d++) {
      const e = this.exampleEntry[d];
      const s = docScores[d] / this.norm2;
      if (s > cos[e] || bestDoc[e] < 0) {
        cos[e] = s;
        bestDoc[e] = d;
      }
    }
    const bm = new Float32Array(k);
    this.bm25.scoreEntries(a.tokens, bm, this.scratchDocs, this.touched);
    const self = this.bm25.selfScore(a.tokens);
    const w = this.opts.weights;
    const wsum = w.classifier + w.cosine + w.bm25;
    const scores = new Float64Array(k);
    for (let e = 0; e < k; e++) {
      const b = self > 0 ? Math.min(1, bm[e] / self) : 0;
      scores[e] = (w.classifier * cls[e] + w.cosine * Math.max(0, cos[e]) + w.bm25 * b) / wsum;
    }
    const top = topN(scores, n);
    return top
      .filter((e) => scores[e] > 0)
      .map((e) => ({
        index: e,
        id: this.entries[e].id,
        score: Math.min(1, Math.max(0, scores[e])),
        confidence: this.classifier ? cls[e] : Math.min(1, Math.max(0, scores[e])),
        classifier: cls[e],
        cosine: cos[e],
        bm25: self > 0 ? Math.min(1, bm[e] / self) : 0,
        question: bestDoc[e] >= 0 ? this.exampleText[bestDoc[e]] : this.entries[e].questions[0],
      }));
  }
}

async function centroidVectors(vecs: readonly SparseVec[], entryOf: Int32Array, k: number, norm: number, y: Yielder): Promise<SparseVec[]> {
  const sums: Map<number, number>[] = Array.from({ length: k }, () => new Map());
  for (let d = 0; d < vecs.length; d++) {
    const v = vecs[d];
    const m = sums[entryOf[d]];
    for (let j = 0; j < v.idx.length; j++) m.set(v.idx[j], (m.get(v.idx[j]) ?? 0) + v.val[j]);
    const wait = y();
    if (wait) await wait;
  }
  return sums.map((m) => {
    const ids = [...m.keys()].sort((a, b) => a - b);
    let n = 0;
    for (const id of ids) n += (m.get(id) ?? 0) ** 2;
    // Scale so that a centroid has the same norm as an example vector (cosine stays comparable).
    const s = n > 0 ? norm / Math.sqrt(n) : 0;
    return { idx: Int32Array.from(ids), val: Float32Array.from(ids.map((id) => (m.get(id) ?? 0) * s)) };
  });
}

function topN(scores: Float64Array, n: number): number[] {
  const top: number[] = [];
  for (let e = 0; e < scores.length; e++) {
    if (top.length < n) {
      top.push(e);
      top.sort((a, b) => scores[b] - scores[a]);
    } else if (scores[e] > scores[top[n - 1]]) {
      top[n - 1] = e;
      top.sort((a, b) => scores[b] - scores[a]);
    }
  }
  return top;
}
