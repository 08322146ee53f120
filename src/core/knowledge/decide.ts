/** Turns the engine's ranking into answer / clarify / escalate, from the bot's thresholds. */
import type { BotConfig } from './config.js';
import type { Ranked } from './engine.js';

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
  if (top.confidence >= t.answerThreshold) return { kind: 'answer', top };
  return { kind: 'escalate', top };
}
