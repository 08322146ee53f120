import type { Insertable, Selectable } from 'kysely';
import type { ConversationEventTable } from './tables.js';
import { type Q, type Stamp, isUniqueViolation } from './rows.js';
import type { PiiCodec } from './pii.js';
import type { NewEvent, StoredEvent } from '../events.js';

/**
 * The free-text field of the event types that carry one (an agent's note, a platform's error that
 * may quote an address), sealed by the PII codec inside the JSON payload; the rest of a payload
 * (ids, channels, scores) stays plain, and payloads of other types are written as they are.
 */
export const SEALED_EVENT_FIELDS: Readonly<Record<string, string>> = {
  'note.added': 'text',
  'message.failed': 'error',
  'identity.unreachable': 'reason',
};

/** The payload as stored: its free-text field sealed (an empty text stays empty). */
export function sealEventPayload(pii: PiiCodec, type: string, payload: unknown): string {
  const field = SEALED_EVENT_FIELDS[type];
  if (field !== undefined && payload !== null && typeof payload === 'object') {
    const v = (payload as Record<string, unknown>)[field];
    if (typeof v === 'string' && v !== '') return JSON.stringify({ ...(payload as Record<string, unknown>), [field]: pii.seal(v) });
  }
  return JSON.stringify(payload);
}

/** Opens the sealed field of a parsed payload in place (a row written before encryption reads as is). */
export function openEventPayload(pii: PiiCodec, type: string, payload: unknown): unknown {
  const field = SEALED_EVENT_FIELDS[type];
  if (field !== undefined && payload !== null && typeof payload === 'object') {
    const p = payload as Record<string, unknown>;
    const v = p[field];
    if (typeof v === 'string') p[field] = pii.open(v, `conversation_events.payload.${field}`);
  }
  return payload;
}

function toStored(r: Selectable<ConversationEventTable>, pii: PiiCodec): StoredEvent {
  let payload: unknown;
  try {
    payload = openEventPayload(pii, r.type, JSON.parse(r.payload));
  } catch (err) {
    if (err instanceof SyntaxError) payload = undefined;
    else throw err;
  }
  return {
    id: String(r.id),
    type: r.type,
    conversationId: r.conversation_id,
    customerId: r.customer_id,
    actor: r.actor,
    at: r.created_at,
    payload,
    dispatchedAt: r.dispatched_at,
  };
}

/** The conversation-event outbox and the subscribers' receipts. */
export class EventRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  /**
   * Appends events in the caller's transaction, in order, and returns those that need dispatching
   * (`wanted(type, payload)`: someone subscribes to it). The others are written already dispatched, together in
   * one statement (most events of a busy hub: the pipeline pays little for history nobody watches).
   */
  async append(conversationId: string, customerId: string, events: readonly NewEvent[], wanted: (type: string, payload: unknown) => boolean): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    let quiet: Insertable<ConversationEventTable>[] = [];
    const flush = async () => {
      if (quiet.length) await this.stamp.queries.insert(this.q, 'conversation_events', quiet);
      quiet = [];
    };
    for (const [i, row] of this.rows(conversationId, customerId, events, wanted).entries()) {
      const e = events[i] as NewEvent;
      if (row.dispatched_at !== null) {
        quiet.push(row);
        continue;
      }
      await flush();
      const { id } = await this.q.insertInto('conversation_events').values(row).returning('id').executeTakeFirstOrThrow();
      out.push(this.stored(row, id, e.payload));
    }
    await flush();
    return out;
  }

  /** The rows `append` writes, in order: those nobody subscribes to already dispatched (`dispatched_at` set). */
  rows(conversationId: string, customerId: string, events: readonly NewEvent[], wanted: (type: string, payload: unknown) => boolean): Insertable<ConversationEventTable>[] {
    return events.map((e) => {
      const at = this.stamp.next();
      return {
        conversation_id: conversationId,
        customer_id: customerId,
        type: e.type,
        actor: e.actor,
        payload: sealEventPayload(this.stamp.pii, e.type, e.payload),
        created_at: at,
        dispatched_at: wanted(e.type, e.payload) ? null : at,
      };
    });
  }

  /** A wanted event as `append` returns it, from its row and id (the payload as given, not parsed back). */
  stored(row: Insertable<ConversationEventTable>, id: number, payload: unknown): StoredEvent {
    return { ...toStored({ ...row, id, payload: 'null', dispatched_at: row.dispatched_at ?? null }, this.stamp.pii), payload };
  }

  /**
   * Events of many conversations that nobody subscribes to (the caller checked `wanted`), written
   * dispatched already, in one statement.
   */
  async appendQuiet(list: readonly { conversationId: string; customerId: string; event: NewEvent }[]): Promise<void> {
    if (list.length === 0) return;
    const rows: Insertable<ConversationEventTable>[] = list.map(({ conversationId, customerId, event: e }) => {
      const at = this.stamp.next();
      return { conversation_id: conversationId, customer_id: customerId, type: e.type, actor: e.actor, payload: sealEventPayload(this.stamp.pii, e.type, e.payload), created_at: at, dispatched_at: at };
    });
    await this.q.insertInto('conversation_events').values(rows).execute();
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const n = Number(id);
    if (!Number.isSafeInteger(n)) return undefined;
    const r = await this.q.selectFrom('conversation_events').selectAll().where('id', '=', n).executeTakeFirst();
    return r ? toStored(r, this.stamp.pii) : undefined;
  }

  /** A conversation's events, oldest first. */
  async ofConversation(conversationId: string): Promise<StoredEvent[]> {
    const rows = await this.q
      .selectFrom('conversation_events')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .orderBy('id', 'asc')
      .execute();
    return rows.map((r) => toStored(r, this.stamp.pii));
  }

  /** Events whose subscriber jobs were not all queued `olderThanMs` after they were written. */
  async undispatched(olderThanMs: number, limit = 500): Promise<StoredEvent[]> {
    const rows = await this.q
      .selectFrom('conversation_events')
      .selectAll()
      .where('dispatched_at', 'is', null)
      .where('created_at', '<', this.stamp.now() - olderThanMs)
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => toStored(r, this.stamp.pii));
  }

  async markDispatched(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.q
      .updateTable('conversation_events')
      .set({ dispatched_at: this.stamp.now() })
      .where('id', 'in', ids.map((id) => Number(id)))
      .execute();
  }

  async hasReceipt(subscriber: string, eventId: string): Promise<boolean> {
    const r = await this.q
      .selectFrom('event_receipts')
      .select('event_id')
      .where('subscriber', '=', subscriber)
      .where('event_id', '=', eventId)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Records that `subscriber` handled the event; false when it already had. */
  async addReceipt(subscriber: string, eventId: string): Promise<boolean> {
    try {
      await this.q.insertInto('event_receipts').values({ subscriber, event_id: eventId, done_at: this.stamp.now() }).execute();
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }
}
