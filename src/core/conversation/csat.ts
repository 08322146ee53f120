import type { Button, InboundMessage } from '../types.js';
import type { Conversation } from '../storage/store.js';

export const CSAT_BUTTONS: Button[] = [1, 2, 3, 4, 5].map((n) => ({ label: String(n), value: `csat:${n}` }));

/** How long after resolution an answer to the CSAT question is still taken as one. */
export const CSAT_WINDOW_MS = 24 * 3600_000;

export function csatScore(msg: Pick<InboundMessage, 'buttonValue' | 'text'>): number | undefined {
  const m = /^csat:([1-5])$/.exec(msg.buttonValue ?? '') ?? /^\s*([1-5])\s*(分|stars?)?\s*$/i.exec(msg.text);
  return m ? Number(m[1]) : undefined;
}

export function awaitingCsat(c: Conversation, now: number): boolean {
  return c.status === 'resolved' && c.botState.csatPending === true && c.resolvedAt !== null && now - c.resolvedAt < CSAT_WINDOW_MS;
}
