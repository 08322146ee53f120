/**
 * The local matching engine: TF-IDF features, a softmax classifier trained on the example
 * questions (a nearest-centroid model for very large bases), best-example cosine and BM25,
 * blended into one 0..1 score per entry. Built asynchronously in small chunks so that answering
 * continues on the previous snapshot while a new one trains.
 *
 * Options live in engine-options.ts, the result type in ranked.ts, the transferable state in
 * engine-state.ts; they are re-exported here for importers of the engine.
 */
import { SoftmaxClassifier, softmaxInPlace } from './classifier.js';
import { Bm25 } from './bm25.js';
import { centroidVectors } from './centroids.js';
import { Coverage, questionWords } from './coverage.js';
import { defaultEngineOptions, type EngineEntry, type EngineOptions } from './engine-options.js';
import type { EngineState } from './engine-state.js';
import { FeatureFitter, type AnalysisCache } from './feature-fit.js';
import { FeatureSpace, analyze } from './features.js';
import { Mlp } from './mlp.js';
import type { Ranked } from './ranked.js';
import { SparseIndex } from './sparse-index.js';
import { SparseRows } from './sparse-rows.js';
import { topN } from './top-n.js';
import { TypoIndex } from './typos.js';
import { makeYielder } from './yielder.js';

export { defaultEngineOptions, type EngineEntry, type EngineOptions } from './engine-options.js';
export { transferList, type EngineState } from './engine-state.js';
export type { Ranked } from './ranked.js';

/** Whether this thread has built `Engine.preparePerThread`'s tiny engines. */
let prepared = false;

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
  private readonly coverage: Coverage;
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
    let d = 0;
    for (let e = 0; e < init.entries.length; e++) {
      while (d < init.exampleEntry.length && init.exampleEntry[d] === e) d++;
      this.entryStart[e + 1] = d;
    }
    this.exampleEntry = init.exampleEntry;
    this.exampleText = init.exampleText;
    this.bm25 = init.bm25;
    this.typos = init.typos;
    this.coverage = new Coverage(init.features, init.typos);
    this.classifier = init.classifier;
    this.mlp = init.mlp;
    this.centroids = init.centroids;
    this.opts = init.opts;
    this.norm2 = 1 + init.opts.charWeight * init.opts.charWeight;
    this.scratchDocs = new Float32Array(init.exampleText.length);
    this.scratchScores = new Float32Array(init.examples ? init.exampleText.length : 0); // centroid mode only
  }

  /** `cache`: analyses kept across builds (a reload re-analyzes only new questions). */
  static async build(entries: readonly EngineEntry[], options: Partial<EngineOptions> = {}, cache?: AnalysisCache): Promise<Engine> {
    const opts: EngineOptions = { ...defaultEngineOptions, ...options };
    const y = makeYielder(opts.yieldEveryMs);
    // Each example is analyzed and its features interned at once (nothing per example is kept but
    // its tokens, for BM25 and the typo index).
    const fitter = new FeatureFitter(entries.reduce((n, e) => n + e.questions.length, 0));
    const tokens: string[][] = [];
    const exampleEntry: number[] = [];
    const exampleText: string[] = [];
    for (const [e, entry] of entries.entries()) {
      for (const q of entry.questions) {
        const a = cache ? cache.analyze(q) : analyze(q);
        fitter.add(a.keys);
        tokens.push(a.tokens);
        exampleEntry.push(e);
        exampleText.push(q);
        const wait = y();
        if (wait) await wait;
      }
    }
    cache?.done();
    const { space: features, vecs, rows: csr } = await fitter.finish({ charWeight: opts.charWeight }, y);
    const useClassifier = entries.length >= 2 && entries.length <= opts.maxClassifierEntries;
    const examples = useClassifier ? null : SparseIndex.build(vecs, features.size, Math.max(50, opts.exampleMaxDf * vecs.length));
    const rows = useClassifier ? SparseRows.fromState({ ...csr, nFeatures: features.size }) : null;
    await y();
    const entryOf = Int32Array.from(exampleEntry);
    const bm25 = Bm25.build(tokens, entryOf);
    await y();
    let classifier: SoftmaxClassifier | null = null;
    let mlp: Mlp | null = null;
    let centroids: SparseIndex | null = null;
    if (useClassifier) {
      classifier = await SoftmaxClassifier.train(vecs, entryOf, entries.length, features.size, opts.train, y);
      if (opts.mlp && vecs.length >= opts.mlp.minExamples) mlp = await Mlp.train(vecs, entryOf, entries.length, features.size, opts.mlp, y);
    } else if (entries.length >= 2) {
      centroids = SparseIndex.build(
        await centroidVectors(vecs, entryOf, entries.length, features.size, Math.sqrt(1 + opts.charWeight * opts.charWeight), y),
        features.size,
      );
    }
    const words = new Set<string>();
    for (const ts of tokens) for (const t of ts) words.add(t);
    const typos = TypoIndex.build(words);
    return new Engine({ entries, features, examples, rows, exampleEntry: entryOf, exampleText, bm25, typos, classifier, mlp, centroids, opts });
  }

  /**
   * Builds two tiny engines (classifier mode, with the network, and centroid mode) and drops them,
   * once per thread. V8 compiles a class field as a constant while every instance of the class
   * holds the same value: with one engine in the thread, the optimized answering code embeds that
   * engine's arrays, and the first engine a hot reload installs throws all of that code away, so
   * the first answers after the swap ran unoptimized (bench kb: 3–5 ms more in the classifier
   * alone). With a second instance of every class from the start, the fields are ordinary and
   * nothing is thrown away at the swap. About 10 ms, on the thread that answers.
   */
  static async preparePerThread(options: Partial<EngineOptions> = {}): Promise<void> {
    if (prepared) return;
    prepared = true;
    const base = { ...options, yieldEveryMs: null };
    const tiny: EngineEntry[] = [
      { id: 'a', questions: ['open an account', '开户'] },
      { id: 'b', questions: ['close the account', '销户'] },
    ];
    // One pass of training each: what they answer does not matter, only that they exist.
    const mlp = base.mlp === undefined ? defaultEngineOptions.mlp : base.mlp;
    const train = { ...defaultEngineOptions.train, ...base.train, epochs: 1, minSteps: 0, averageLast: 0 };
    try {
      for (const engine of [
        await Engine.build(tiny, { ...base, train, maxClassifierEntries: 2, mlp: mlp ? { ...mlp, minExamples: 0, epochs: 1, minSteps: 0 } : null }),
        await Engine.build(tiny, { ...base, maxClassifierEntries: 1 }),
      ]) {
        // Their answers too: `rank`'s scratch buffers are fields of objects made on the first call.
        engine.rank('open account');
        engine.rank('我要开户');
      }
    } catch {
      // Only a speed-up of the first answers after a reload: a base that loaded answers without it.
    }
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
    // Per-entry buffers have k slots and entries are < k; examples are < exampleEntry.length (the
    // `!` below index them).
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
      for (let i = 0; i < k; i++) cls[i] = c[i]! / this.norm2;
      if (q.idx.length > 0) softmaxInPlace(cls, this.opts.centroidTemperature);
    } else if (q.idx.length > 0) {
      cls[0] = 1;
    }
    const cos = sc.cos.fill(0);
    const bestDoc = sc.bestDoc.fill(-1);
    const best = (d: number, dot: number): void => {
      const e = this.exampleEntry[d]!;
      const s = dot / this.norm2;
      if (s > cos[e]! || bestDoc[e]! < 0) {
        cos[e] = s;
        bestDoc[e] = d;
      }
    };
    if (this.rows) {
      if (q.idx.length > 0) {
        // Every entry returned is re-scored (at least rerankTop), so `question` is always its best.
        const pick = sc.pick;
        for (let e = 0; e < k; e++) pick[e] = cls[e]! + net[e]!;
        const ranges = topN(pick, Math.min(k, Math.max(this.opts.rerankTop, n))).map((e) => [this.entryStart[e]!, this.entryStart[e + 1]!] as const);
        this.rows.dots(q, ranges, best);
      }
    } else if (this.examples) {
      const docScores = this.scratchScores;
      docScores.fill(0);
      this.examples.accumulate(q, docScores);
      // best() inlined: this runs over every example of a large base on each question.
      const exampleEntry = this.exampleEntry;
      const norm2 = this.norm2;
      for (let d = 0; d < docScores.length; d++) {
        const e = exampleEntry[d]!;
        const sd = docScores[d]! / norm2;
        if (sd > cos[e]! || bestDoc[e]! < 0) {
          cos[e] = sd;
          bestDoc[e] = d;
        }
      }
    }
    const bm = sc.bm.fill(0);
    this.bm25.scoreEntries(a.tokens, bm, this.scratchDocs, this.touched);
    const self = this.bm25.selfScore(a.tokens);
    const netOpts = this.mlp ? this.opts.mlp : null;
    const w = netOpts?.blend ?? this.opts.weights;
    const wsum = w.classifier + w.cosine + w.bm25;
    const mw = netOpts?.weight ?? 0;
    const scores = sc.scores.fill(0);
    const bm25Of = (e: number): number => (self > 0 ? Math.min(1, bm[e]! / self) : 0);
    for (let e = 0; e < k; e++) {
      scores[e] = ((w.classifier * cls[e]! + w.cosine * Math.max(0, cos[e]!) + w.bm25 * bm25Of(e)) / wsum + mw * net[e]!) / (1 + mw);
    }
    const cover = this.coverage.of(a.tokens);
    const coverWeight = cover ** this.opts.coverageExponent;
    const words = questionWords(a.tokens);
    const ranked: Ranked[] = [];
    for (const e of topN(scores, n)) {
      const entry = this.entries[e];
      const score = scores[e]!;
      if (!entry || !(score > 0)) continue;
      const classifier = cls[e]!;
      const blended = Math.min(1, Math.max(0, score));
      const doc = bestDoc[e]!;
      ranked.push({
        index: e,
        id: entry.id,
        score: blended,
        confidence: (this.classifier ? (netOpts ? (classifier + net[e]!) / 2 : classifier) : blended) * coverWeight,
        coverage: cover,
        words,
        classifier,
        cosine: cos[e]!,
        bm25: bm25Of(e),
        question: (doc >= 0 ? this.exampleText[doc] : undefined) ?? entry.questions[0] ?? '',
      });
    }
    return ranked;
  }
}
