/** Turns the engine's ranking into answer / clarify / escalate, from the bot's thresholds. */
import type { BotConfig } from './config.js';
import type { Ranked } from './ranked.js';

export type Verdict =
  | { kind: 'answer'; top: Ranked }
  | { kind: 'clarify'; options: [Ranked, Ranked] }
  | { kind: 'escalate'; top: Ranked | undefined };

export type Thresholds = Pick<BotConfig, 'answerThreshold' | 'clarifyThreshold' | 'clarifyMargin'>;

export function decide(ranked: readonly Ranked[], t: Thresholds): Verdict {
  const [top, second] = ranked;
  if (!top) return { kind: 'escalate', top: undefined };
  const close = second !== undefined && top.confidence - second.confidence < t.clarifyMargin;
  if (close && second && second.confidence >= t.clarifyThreshold && top.confidence >= t.clarifyThreshold) {
    return { kind: 'clarify', options: [top, second] };
  }
  if (second && top.confidence >= t.clarifyThreshold && underspecified(top, second)) return { kind: 'clarify', options: [top, second] };
  if (top.confidence >= t.answerThreshold) return { kind: 'answer', top };
  return { kind: 'escalate', top };
}

/**
 * A one-word question like "membership", "refund" or 会员 that is about as close to an example of
 * both top entries: the classifier still prefers one, but only the customer knows which one is
 * meant. (`decide` also asks the top entry to reach `clarifyThreshold`, so off-topic words still
 * escalate; cosines of 0, as the pruned index of very large bases can give, never count as close.)
 */
export function underspecified(top: Ranked, second: Ranked): boolean {
  return (
    top.words <= 1 &&
    second.confidence >= 0.05 &&
    Math.min(top.cosine, second.cosine) >= MIN_COSINE &&
    Math.abs(top.cosine - second.cosine) < CLOSE_COSINE
  );
}

const MIN_COSINE = 0.2;
const CLOSE_COSINE = 0.15;
