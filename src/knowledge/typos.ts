/**
 * One-edit typo lookup for words the base never saw (SymSpell-style): the one-character deletions
 * of every known Latin word of 4+ letters, as hashes in typed arrays (moves between threads like
 * the rest of the engine). `transfr`, `trasnfer`, `transfeer` and `tranfser` all find `transfer`.
 */
import { Group, featureKey } from './features.js';
import { HashVocab, type HashVocabState } from './hash-vocab.js';

const MIN_LENGTH = 4;
const LATIN = /^[a-z]+$/;

function deletionKey(s: string): number {
  return featureKey(Group.Deletion, s);
}

function* deletions(w: string): Generator<string> {
  for (let i = 0; i < w.length; i++) yield w.slice(0, i) + w.slice(i + 1);
}

export class TypoIndex {
  private readonly deleted: HashVocab;

  private constructor(deleted: HashVocab) {
    this.deleted = deleted;
  }

  static build(words: Iterable<string>): TypoIndex {
    const keys = new Set<number>();
    for (const w of words) {
      if (w.length < MIN_LENGTH || !LATIN.test(w)) continue;
      for (const d of deletions(w)) keys.add(deletionKey(d));
    }
    return new TypoIndex(HashVocab.fromNumbers(keys, keys.size));
  }

  static fromState(s: HashVocabState): TypoIndex {
    return new TypoIndex(HashVocab.fromState(s));
  }

  get state(): HashVocabState {
    return this.deleted.state;
  }

  /**
   * Whether `word` is one edit (insertion, deletion, substitution, adjacent swap) away from a word
   * `isKnown` accepts. Only Latin words of 4+ letters are looked up.
   */
  nearKnown(word: string, isKnown: (w: string) => boolean): boolean {
    if (word.length < MIN_LENGTH || !LATIN.test(word)) return false;
    // A known word lost a letter in `word`.
    if (this.deleted.getNumber(deletionKey(word)) !== undefined) return true;
    for (const d of deletions(word)) {
      // `word` has an extra letter; or one letter differs / two are swapped (both lose one to the same string).
      if (isKnown(d) || this.deleted.getNumber(deletionKey(d)) !== undefined) return true;
    }
    return false;
  }
}
