/** How much of a question the base knows (for the confidence), and how long it is in words. */
import { Group, featureKey, type FeatureSpace } from './features.js';
import { hasCjk } from './tokenize.js';
import type { TypoIndex } from './typos.js';

export class Coverage {
  /**
   * IDF a word seen in no example would have. Computed here, with the engine (a plain loop: 0.4 ms
   * for bench kb's 156,000 features at a hot reload, 3–4 ms at the first load, before the loop is
   * optimized), not on the first question: that question would pay for it, and on the answering
   * thread right after a hot reload (a typed array's `reduce` with a callback took 7–12 ms there:
   * bench kb, the first answer after the swap).
   */
  private readonly unseenIdf: number;

  constructor(
    private readonly features: FeatureSpace,
    private readonly typos: TypoIndex,
  ) {
    const idf = features.idf;
    let max = 1;
    for (let i = 0; i < idf.length; i++) if (idf[i]! > max) max = idf[i]!;
    this.unseenIdf = max + Math.LN2;
  }

  /**
   * Share of the question's words the base knows, each word weighted by its IDF (an unknown word
   * weighs as much as a word seen in no example), so "what is photosynthesis" is mostly unknown
   * even though "what" and "is" are known. A Latin word one typo away from a known word
   * ("transfr") counts as known. A Chinese word the base never saw as a word counts for the square
   * of the share of its characters it knows (segmentation varies between paraphrases: 寄出来 /
   * 发出). Words with digits (amounts, ids) are left out.
   */
  of(tokens: readonly string[]): number {
    const idf = this.features.idf;
    const unseen = this.unseenIdf;
    const idOf = (w: string): number | undefined => this.features.vocab.getNumber(featureKey(Group.Word, w));
    let score = 0;
    let total = 0;
    for (const t of tokens) {
      if (t === '#num' || /\d/.test(t)) continue;
      const id = idOf(t);
      const known = id === undefined ? undefined : idf[id];
      if (known !== undefined) {
        score += known;
        total += known;
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
export function questionWords(tokens: readonly string[]): number {
  let n = 0;
  for (const t of tokens) n += hasCjk(t) ? Math.ceil(t.length / 2) : 1;
  return n;
}
