/** One entry as the engine ranks it for a question (what `decide` and the bot read). */
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
