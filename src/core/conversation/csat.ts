import type { Button, InboundMessage } from '../types.js';
import type { Conversation, StoredMessage } from '../model.js';
import type { EventSubscriptions } from '../events.js';
import type { Storage } from '../storage/storage.js';
import type { Templates } from '../templates.js';
import { detectLocale } from '../locale.js';
import type { Proactive } from './proactive.js';

export const CSAT_BUTTONS: Button[] = [1, 2, 3, 4, 5].map((n) => ({ label: String(n), value: `csat:${n}` }));

/** How long after resolution an answer to the CSAT question is still taken as one. */
export const CSAT_WINDOW_MS = 24 * 3600_000;

export function csatScore(msg: Pick<InboundMessage, 'buttonValue' | 'text'>): number | undefined {
  const m = /^csat:([1-5])$/.exec(msg.buttonValue ?? '') ?? /^\s*([1-5])\s*(分|stars?)?\s*$/i.exec(msg.text);
  return m ? Number(m[1]) : undefined;
}

/** The idempotency key prefix of CSAT questions (`proactive:csat:<event id>`). */
const CSAT_KEY_PREFIX = 'proactive:csat:';

/** true when this message is a CSAT question the hub asked. */
export function isCsatQuestion(m: Pick<StoredMessage, 'direction' | 'dedupeKey'>): boolean {
  return m.direction === 'out' && (m.dedupeKey?.startsWith(CSAT_KEY_PREFIX) ?? false);
}

export function awaitingCsat(c: Conversation, now: number): boolean {
  return c.status === 'resolved' && c.botState.csatPending === true && c.resolvedAt !== null && now - c.resolvedAt < CSAT_WINDOW_MS;
}

/**
 * The CSAT question after an agent resolves a case: a subscriber of `conversation.resolved`, sent
 * through the proactive API keyed by the event, so a redelivered event asks once.
 */
export function subscribeCsatQuestion(subs: EventSubscriptions, d: { storage: Storage; proactive: Proactive; templates: Templates }): void {
  subs.on('csat', 'conversation.resolved', async (e) => {
    const recent = await d.storage.messages.ofConversation(e.conversationId, 20);
    const last = recent.filter((m) => m.author === 'customer').pop();
    const locale = detectLocale(last?.text ?? '', (await d.storage.customers.get(e.customerId))?.locale);
    await d.proactive.sendToCustomer({
      customerId: e.customerId,
      conversationId: e.conversationId,
      kind: 'csat',
      key: `csat:${e.id}`, // stored as CSAT_KEY_PREFIX + event id
      content: { text: d.templates.render('csat_question', locale), buttons: CSAT_BUTTONS },
    });
  });
}
