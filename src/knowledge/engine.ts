/**
 * The local matching engine: TF-IDF features, a softmax classifier trained on the example
 * questions (a nearest-centroid model for very large bases), best-example cosine and BM25,
 * blended into one 0..1 score per entry. Built asynchronously in small chunks so that answering
 * continues on the previous snapshot while a new one trains.
 */
import { SoftmaxClassifier, defaultTrainOptions, softmaxInPlace, type ClassifierState, type TrainOptions } from './classifier.js';
import { Bm25, type Bm25State } from './bm25.js';
import { FeatureSpace, Group, analyze, featureKey, type Analyzed, type FeatureSpaceState, type SparseVec } from './features.js';
import { SparseIndex, type SparseIndexState } from './sparse-index.js';
import { SparseRows, type SparseRowsState } from './sparse-rows.js';
import { makeYielder, type Yielder } from './yielder.js';
import { TypoIndex } from './typos.js';
import { hasCjk } from './tokenize.js';
import { Mlp, defaultMlpOptions, type MlpOptions, type MlpState } from './mlp.js';
import type { HashVocabState } from './hash-vocab.js';

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
  /** Centroid mode: features in more than this share of the examples are left out of the example-cosine index. */
  exampleMaxDf: number;
  /**
   * Classifier mode: the best-example cosine is computed exactly (every feature) for this many
   * entries, the classifier's best; the others get 0. Centroid mode uses the pruned index instead.
   */
  rerankTop: number;
  /**
   * Classifier mode, bases of at least `minExamples` example questions: a small neural network
   * trained beside the softmax classifier. The ranking score blends the signals with `blend`
   * (instead of `weights`) and adds `weight` x the network's probability; the confidence is the
   * mean of both probabilities (null: off). Smaller bases have too few examples to train it well,
   * and use the softmax classifier alone.
   */
  mlp: (MlpOptions & { weight: number; minExamples: number; blend: EngineOptions['weights'] }) | null;
  /** The confidence is multiplied by the question's word coverage raised to this power. */
  coverageExponent: number;
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
  rerankTop: 5,
  // blend: chosen on balanced validation splits of BANKING77 train, checked on four more (docs/knowledge.md).
  mlp: { ...defaultMlpOptions, weight: 0.5, minExamples: 2000, blend: { classifier: 1, cosine: 2.5, bm25: 0.6 } },
  // 1.5 rather than 1: with the answer threshold at 0.4, small bases escalate off-topic questions
  // as often as they did at 0.5 (bench/kb-demo.ts), and BANKING77 off-topic recall goes up.
  coverageExponent: 1.5,
  yieldEveryMs: 4,
};

export interface Ranked {
  /** Position of the entry in the engine's entry list. */
  index: number;
  id: string;
  /** Blended 0..1 ranking score (classifier, cosine, BM25). */
  score: number;
  /**
   * 0..1 confidence that this entry is the right one: the mean of the softmax classifier's and the
   * network's probabilities (the best-calibrated signal on held-out data), or the blended score in
   * centroid mode, times the question's word coverage (a question full of words the base has never
   * seen is off-topic: the coverage is raised to `coverageExponent`).
   */
  confidence: number;
  /** Share of the question's words that occur anywhere in the base (1 when it has no words). */
  coverage: number;
  /** Length of the question in words: a Latin word counts 1, Chinese counts 1 per 2 characters. */
  words: number;
  classifier: number;
  cosine: number;
  bm25: number;
  /**
   * The example question that matched best (every returned entry is re-scored in classifier mode;
   * in centroid mode an entry none of whose examples shares a kept feature shows its first one).
   */
  question: string;
}

/**
 * A built engine as plain data and typed arrays: what the reload worker posts back (transfer the
 * buffers from `transferList`) and `Engine.fromState` turns into an engine without any training.
 */
export interface EngineState {
  entries: EngineEntry[];
  features: FeatureSpaceState;
  /** Centroid mode: inverted index of the examples. */
  examples: SparseIndexState | null;
  /** Classifier mode: the example vectors, for exact re-scoring of the top entries. */
  rows: SparseRowsState | null;
  exampleEntry: Int32Array;
  exampleText: string[];
  bm25: Bm25State;
  typos: HashVocabState;
  classifier: ClassifierState | null;
  mlp: MlpState | null;
  centroids: SparseIndexState | null;
  opts: EngineOptions;
}

/** The distinct ArrayBuffers of a state (for postMessage's transfer list). */
export function transferList(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const v of Object.values(value)) transferList(v, out);
  }
  return [...out];
}

export class Engine {
  readonly entries: readonly EngineEntry[];
  private readonly features: FeatureSpace;
  private readonly examples: SparseIndex | null;
  private readonly rows: SparseRows | null;
  /** Examples of entry e are rows entryStart[e] .. entryStart[e+1]-1 (they are stored in entry order). */
  private readonly entryStart: Int32Array;
  private readonly exampleEntry: Int32Array;
  private readonly exampleText: string[];
  private readonly bm25: Bm25;
  private readonly typos: TypoIndex;
  /** IDF a word seen in no example would have (computed on first use). */
  private unseenIdf: number | undefined;
  private readonly classifier: SoftmaxClassifier | null;
  private readonly mlp: Mlp | null;
  private readonly centroids: SparseIndex | null;
  private readonly opts: EngineOptions;
  private readonly norm2: number;
  private readonly scratchDocs: Float32Array;
  private readonly scratchScores: Float32Array;
  private readonly touched: number[] = [];
  /** Per-entry buffers reused by every rank() call (rank is synchronous, results are copied out). */
  private perEntry: { cls: Float64Array; net: Float64Array; pick: Float64Array; centroid: Float32Array; cos: Float32Array; bestDoc: Int32Array; bm: Float32Array; scores: Float64Array } | undefined;

  private constructor(init: {
    entries: readonly EngineEntry[];
    features: FeatureSpace;
    examples: SparseIndex | null;
    rows: SparseRows | null;
    exampleEntry: Int32Array;
    exampleText: string[];
    bm25: Bm25;
    typos: TypoIndex;
    classifier: SoftmaxClassifier | null;
    mlp: Mlp | null;
    centroids: SparseIndex | null;
    opts: EngineOptions;
  }) {
    this.entries = init.entries;
    this.features = init.features;
    this.examples = init.examples;
    this.rows = init.rows;
    this.entryStart = new Int32Array(init.entries.length + 1);
    for (let d = 0; d < init.exampleEntry.length; d++) this.entryStart[init.exampleEntry[d] + 1] = d + 1;
    for (let e = 0; e < init.entries.length; e++) this.entryStart[e + 1] = Math.max(this.entryStart[e + 1], this.entryStart[e]);
    this.exampleEntry = init.exampleEntry;
    this.exampleText = init.exampleText;
    this.bm25 = init.bm25;
    this.typos = init.typos;
    this.classifier = init.classifier;
    this.mlp = init.mlp;
    this.centroids = init.centroids;
    this.opts = init.opts;
    this.norm2 = 1 + init.opts.charWeight * init.opts.charWeight;
    this.scratchDocs = new Float32Array(init.exampleText.length);
    this.scratchScores = new Float32Array(init.examples ? init.exampleText.length : 0); // centroid mode only
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
    const { space: features, vecs } = await FeatureSpace.fitTransform(analyzed, { charWeight: opts.charWeight }, y);
    const useClassifier = entries.length >= 2 && entries.length <= opts.maxClassifierEntries;
    const examples = useClassifier ? null : new SparseIndex(vecs, features.size, Math.max(50, opts.exampleMaxDf * vecs.length));
    const rows = useClassifier ? SparseRows.from(vecs, features.size) : null;
    await y();
    const entryOf = Int32Array.from(exampleEntry);
    const bm25 = Bm25.build(
      analyzed.map((a) => a.tokens),
      entryOf,
    );
    await y();
    let classifier: SoftmaxClassifier | null = null;
    let mlp: Mlp | null = null;
    let centroids: SparseIndex | null = null;
    if (useClassifier) {
      classifier = await SoftmaxClassifier.train(vecs, entryOf, entries.length, features.size, opts.train, y);
      if (opts.mlp && vecs.length >= opts.mlp.minExamples) mlp = await Mlp.train(vecs, entryOf, entries.length, features.size, opts.mlp, y);
    } else if (entries.length >= 2) {
      centroids = new SparseIndex(
        await centroidVectors(vecs, entryOf, entries.length, features.size, Math.sqrt(1 + opts.charWeight * opts.charWeight), y),
        features.size,
      );
    }
    const typos = TypoIndex.build(new Set(analyzed.flatMap((a) => a.tokens)));
    return new Engine({ entries, features, examples, rows, exampleEntry: entryOf, exampleText, bm25, typos, classifier, mlp, centroids, opts });
  }

  get size(): number {
    return this.entries.length;
  }

  get state(): EngineState {
    return {
      entries: [...this.entries],
      features: this.features.state,
      examples: this.examples?.state ?? null,
      rows: this.rows?.state ?? null,
      exampleEntry: this.exampleEntry,
      exampleText: this.exampleText,
      bm25: this.bm25.state,
      typos: this.typos.state,
      classifier: this.classifier?.state ?? null,
      mlp: this.mlp?.state ?? null,
      centroids: this.centroids?.state ?? null,
      opts: this.opts,
    };
  }

  static fromState(s: EngineState): Engine {
    return new Engine({
      entries: s.entries,
      features: FeatureSpace.fromState(s.features),
      examples: s.examples ? SparseIndex.fromState(s.examples) : null,
      rows: s.rows ? SparseRows.fromState(s.rows) : null,
      exampleEntry: s.exampleEntry,
      exampleText: s.exampleText,
      bm25: Bm25.fromState(s.bm25),
      typos: TypoIndex.fromState(s.typos),
      classifier: s.classifier ? SoftmaxClassifier.fromState(s.classifier) : null,
      mlp: s.mlp ? Mlp.fromState(s.mlp) : null,
      centroids: s.centroids ? SparseIndex.fromState(s.centroids) : null,
      opts: s.opts,
    });
  }

  private scratch(): NonNullable<Engine['perEntry']> {
    const k = this.entries.length;
    this.perEntry ??= {
      cls: new Float64Array(k),
      net: new Float64Array(k),
      pick: new Float64Array(k),
      centroid: new Float32Array(k),
      cos: new Float32Array(k),
      bestDoc: new Int32Array(k),
      bm: new Float32Array(k),
      scores: new Float64Array(k),
    };
    return this.perEntry;
  }

  /** Entries ranked for `text`, best first (at most `n`). Empty when nothing matches at all. */
  rank(text: string, n = 5): Ranked[] {
    const k = this.entries.length;
    if (k === 0) return [];
    const a = analyze(text);
    const q = this.features.transform(a);
    const sc = this.scratch();
    const cls = sc.cls.fill(0);
    const net = sc.net.fill(0);
    if (this.classifier) {
      if (q.idx.length > 0) this.classifier.predict(q, cls);
      if (this.mlp && q.idx.length > 0) this.mlp.predict(q, net);
    } else if (this.centroids) {
      const c = sc.centroid.fill(0);
      this.centroids.accumulate(q, c);
      for (let i = 0; i < k; i++) cls[i] = c[i] / this.norm2;
      if (q.idx.length > 0) softmaxInPlace(cls, this.opts.centroidTemperature);
    } else if (q.idx.length > 0) {
      cls[0] = 1;
    }
    const cos = sc.cos.fill(0);
    const bestDoc = sc.bestDoc.fill(-1);
    const best = (d: number, dot: number): void => {
      const e = this.exampleEntry[d];
      const s = dot / this.norm2;
      if (s > cos[e] || bestDoc[e] < 0) {
        cos[e] = s;
        bestDoc[e] = d;
      }
    };
    if (this.rows) {
      if (q.idx.length > 0) {
        // Every entry returned is re-scored (at least rerankTop), so `question` is always its best.
        const pick = sc.pick;
        for (let e = 0; e < k; e++) pick[e] = cls[e] + net[e];
        const ranges = topN(pick, Math.min(k, Math.max(this.opts.rerankTop, n))).map((e) => [this.entryStart[e], this.entryStart[e + 1]] as const);
        this.rows.dots(q, ranges, best);
      }
    } else if (this.examples) {
      const docScores = this.scratchScores;
      docScores.fill(0);
      this.examples.accumulate(q, docScores);
      for (let d = 0; d < docScores.length; d++) best(d, docScores[d]);
    }
    const bm = sc.bm.fill(0);
    this.bm25.scoreEntries(a.tokens, bm, this.scratchDocs, this.touched);
    const self = this.bm25.selfScore(a.tokens);
    const netOpts = this.mlp ? this.opts.mlp : null;
    const w = netOpts?.blend ?? this.opts.weights;
    const wsum = w.classifier + w.cosine + w.bm25;
    const mw = netOpts?.weight ?? 0;
    const scores = sc.scores.fill(0);
    for (let e = 0; e < k; e++) {
      const b = self > 0 ? Math.min(1, bm[e] / self) : 0;
      scores[e] = ((w.classifier * cls[e] + w.cosine * Math.max(0, cos[e]) + w.bm25 * b) / wsum + mw * net[e]) / (1 + mw);
    }
    const cover = this.coverage(a.tokens);
    const coverWeight = cover ** this.opts.coverageExponent;
    const words = questionWords(a.tokens);
    const top = topN(scores, n);
    return top
      .filter((e) => scores[e] > 0)
      .map((e) => ({
        index: e,
        id: this.entries[e].id,
        score: Math.min(1, Math.max(0, scores[e])),
        confidence: (this.classifier ? (netOpts ? (cls[e] + net[e]) / 2 : cls[e]) : Math.min(1, Math.max(0, scores[e]))) * coverWeight,
        coverage: cover,
        words,
        classifier: cls[e],
        cosine: cos[e],
        bm25: self > 0 ? Math.min(1, bm[e] / self) : 0,
        question: bestDoc[e] >= 0 ? this.exampleText[bestDoc[e]] : (this.entries[e].questions[0] ?? ''),
      }));
  }

  /**
   * Share of the question's words the base knows, each word weighted by its IDF (an unknown word
   * weighs as much as a word seen in no example), so "what is photosynthesis" is mostly unknown
   * even though "what" and "is" are known. A Latin word one typo away from a known word
   * ("transfr") counts as known. A Chinese word the base never saw as a word counts for the square
   * of the share of its characters it knows (segmentation varies between paraphrases: 寄出来 /
   * 发出). Words with digits (amounts, ids) are left out.
   */
  private coverage(tokens: readonly string[]): number {
    const idf = this.features.idf;
    const unseen = (this.unseenIdf ??= idf.reduce((m, v) => Math.max(m, v), 1) + Math.LN2);
    const idOf = (w: string): number | undefined => this.features.vocab.getNumber(featureKey(Group.Word, w));
    let score = 0;
    let total = 0;
    for (const t of tokens) {
      if (t === '#num' || /\d/.test(t)) continue;
      const id = idOf(t);
      if (id !== undefined) {
        score += idf[id];
        total += idf[id];
        continue;
      }
      total += unseen;
      if (this.typos.nearKnown(t, (w) => idOf(w) !== undefined)) {
        score += unseen;
      } else if (hasCjk(t)) {
        let chars = 0;
        for (const ch of t) if (this.features.vocab.getNumber(featureKey(Group.Char, ch)) !== undefined) chars++;
        score += unseen * (chars / t.length) ** 2;
      }
    }
    return total === 0 ? 1 : score / total;
  }
}

/** A Latin word counts 1, a Chinese word 1 per 2 characters (会员 is one word, 会员费多少 three). */
function questionWords(tokens: readonly string[]): number {
  let n = 0;
  for (const t of tokens) n += hasCjk(t) ? Math.ceil(t.length / 2) : 1;
  return n;
}

async function centroidVectors(vecs: readonly SparseVec[], entryOf: Int32Array, k: number, nFeatures: number, norm: number, y: Yielder): Promise<SparseVec[]> {
  // Examples are stored in entry order: sum each entry's run into a dense buffer, then read back
  // only the touched features (no per-entry Map).
  const sum = new Float64Array(nFeatures);
  const seen = new Uint8Array(nFeatures);
  const out: SparseVec[] = Array.from({ length: k }, () => ({ idx: new Int32Array(0), val: new Float32Array(0) }));
  let d = 0;
  while (d < vecs.length) {
    const e = entryOf[d];
    const touched: number[] = [];
    for (; d < vecs.length && entryOf[d] === e; d++) {
      const v = vecs[d];
      for (let j = 0; j < v.idx.length; j++) {
        const f = v.idx[j];
        if (!seen[f]) {
          seen[f] = 1;
          touched.push(f);
        }
        sum[f] += v.val[j];
      }
    }
    const idx = Int32Array.from(touched).sort();
    let n = 0;
    for (let j = 0; j < idx.length; j++) n += sum[idx[j]] ** 2;
    // Scale so that a centroid has the same norm as an example vector (cosine stays comparable).
    const s = n > 0 ? norm / Math.sqrt(n) : 0;
    const val = new Float32Array(idx.length);
    for (let j = 0; j < idx.length; j++) {
      val[j] = sum[idx[j]] * s;
      sum[idx[j]] = 0;
      seen[idx[j]] = 0;
    }
    out[e] = { idx, val };
    const wait = y();
    if (wait) await wait;
  }
  return out;
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
