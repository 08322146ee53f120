import { createHmac } from 'node:crypto';
import type { EventEnvelope, EventType } from '../core/events.js';
import { HubError } from '../core/errors.js';
import type { Repos } from '../core/storage/storage.js';

/** What an endpoint receives: one conversation event with who and where it happened. */
export interface WebhookPayload {
  /** The event id (also the `Switchboard-Event-Id` header): receivers dedupe on it. */
  id: string;
  type: string;
  /** When the event happened (ISO 8601, UTC). */
  createdAt: string;
  conversation: { id: string; channel: string; status: string };
  customer: { id: string; externalId?: string; identities: { channel: string; id: string }[] };
  /** The event's payload, as in the core's catalogue. */
  data: unknown;
}

/**
 * The JSON body for `event`, with the conversation and customer as they are when the event is
 * handled (normally right after it happened). Built once: every attempt POSTs the same bytes.
 */
export async function webhookBody(storage: Pick<Repos, 'conversations' | 'customers'>, event: EventEnvelope<EventType>): Promise<string> {
  const [conversation, customer, identities] = await Promise.all([
    storage.conversations.get(event.conversationId),
    storage.customers.get(event.customerId),
    storage.customers.identitiesOf(event.customerId),
  ]);
  if (!conversation) throw new HubError('NOT_FOUND', `event ${event.id}: conversation ${event.conversationId} not found`, { retry: 'final' });
  // The business's own id, once the API gave the customer one.
  const externalId = customer?.externalId;
  const payload: WebhookPayload = {
    id: event.id,
    type: event.type,
    createdAt: new Date(event.at).toISOString(),
    conversation: { id: conversation.id, channel: conversation.channel, status: conversation.status },
    customer: {
      id: event.customerId,
      ...(externalId ? { externalId } : {}),
      identities: identities.map((i) => ({ channel: i.channel, id: i.platformUserId })),
    },
    data: event.payload,
  };
  return JSON.stringify(payload);
}

/**
 * `Switchboard-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed with the
 * endpoint's secret. The timestamp is signed with the body, so a captured request cannot be
 * replayed later than the receiver's tolerance.
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}
