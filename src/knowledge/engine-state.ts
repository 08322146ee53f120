/**
 * A built engine as plain data and typed arrays: what the reload worker posts back (transfer the
 * buffers from `transferList`) and `Engine.fromState` turns into an engine without any training.
 */
import type { Bm25State } from './bm25.js';
import type { ClassifierState } from './classifier.js';
import type { EngineEntry, EngineOptions } from './engine-options.js';
import type { FeatureSpaceState } from './features.js';
import type { HashVocabState } from './hash-vocab.js';
import type { MlpState } from './mlp.js';
import type { SparseIndexState } from './sparse-index.js';
import type { SparseRowsState } from './sparse-rows.js';

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
