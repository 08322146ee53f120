import { sql, type Generated, type Kysely, type Selectable } from 'kysely';
import { type Q, type Stamp, openCol, openOpt, sealOpt } from './rows.js';
import type { PiiCodec } from './pii.js';
import type { Database } from './tables.js';

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One conversation event to POST to one webhook endpoint, as the delivery log shows it. */
export interface WebhookDelivery {
  id: string;
  /** The endpoint's name (its URL unless hub.yaml names it). */
  endpoint: string;
  eventId: string;
  eventType: string;
  conversationId: string;
  status: WebhookDeliveryStatus;
  /** POSTs made so far. */
  attempts: number;
  /** HTTP status of the last attempt (null: none yet, or no answer: see lastError). */
  lastStatusCode: number | null;
  /** Why the last attempt failed (a network error, the start of a refusal's body). */
  lastError: string | null;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: number | null;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

export interface NewWebhookDelivery {
  endpoint: string;
  eventId: string;
  eventType: string;
  conversationId: string;
  /** The JSON body to POST, the same on every attempt. */
  body: string;
}

/** What an attempt (or giving up without one) changes. */
export interface WebhookAttempt {
  status: WebhookDeliveryStatus;
  /** false: no POST was made (the endpoint left hub.yaml, waiting on an older delivery timed out). */
  attempted: boolean;
  statusCode?: number | null;
  error?: string | null;
  nextAttemptAt?: number | null;
}

/** What keeps a delivery from being attempted now: an older one of the same (endpoint, conversation). */
export type WebhookBlocker =
  | { kind: 'pending'; deliveryId: string; eventId: string; nextAttemptAt: number | null }
  | { kind: 'unrecorded'; eventId: string };

/** The row as stored (the table comes from the `webhooks:001_deliveries` migration). */
export interface WebhookDeliveryTable {
  id: Generated<number>;
  endpoint: string;
  event_id: number;
  event_type: string;
  conversation_id: string;
  body: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

type Tables = Database & { webhook_deliveries: WebhookDeliveryTable };
type LogRow = Omit<Selectable<WebhookDeliveryTable>, 'body'>;

const LOG_COLUMNS = [
  'id',
  'endpoint',
  'event_id',
  'event_type',
  'conversation_id',
  'status',
  'attempts',
  'last_status_code',
  'last_error',
  'next_attempt_at',
  'created_at',
  'updated_at',
  'delivered_at',
] as const;

/**
 * The body (the event with message texts, names) and the last error (a refusal's body may echo it)
 * are sealed by the PII codec; the body is opened before it is POSTed, byte for byte as signed.
 */
function toDelivery(r: LogRow, pii: PiiCodec): WebhookDelivery {
  return {
    id: String(r.id),
    endpoint: r.endpoint,
    eventId: String(r.event_id),
    eventType: r.event_type,
    conversationId: r.conversation_id,
    status: r.status === 'delivered' || r.status === 'failed' ? r.status : 'pending',
    attempts: Number(r.attempts),
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: openOpt(pii, r.last_error, 'webhook_deliveries.last_error'),
    nextAttemptAt: r.next_attempt_at === null ? null : Number(r.next_attempt_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
  };
}

function rowId(id: string): number | undefined {
  const n = Number(id);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * Deliveries of conversation events to webhook endpoints: recorded once per (endpoint, event),
 * attempted until delivered or failed for good, and listed for the admin's delivery log.
 */
export class WebhookDeliveryRepo {
  private typed: Kysely<Tables> | undefined;

  constructor(
    private readonly handle: Q,
    private readonly stamp: Stamp,
  ) {}

  private get q(): Kysely<Tables> {
    this.typed ??= (this.handle as Kysely<Database>).withTables<{ webhook_deliveries: WebhookDeliveryTable }>();
    return this.typed;
  }

  /** Records the delivery unless (endpoint, event) already has one; returns the stored row. */
  async record(d: NewWebhookDelivery): Promise<{ delivery: WebhookDelivery; created: boolean }> {
    const now = this.stamp.now();
    const eventId = rowId(d.eventId);
    if (eventId === undefined) throw new Error(`webhook delivery of event "${d.eventId}": not an event id`);
    const res = await this.q
      .insertInto('webhook_deliveries')
      .values({
        endpoint: d.endpoint,
        event_id: eventId,
        event_type: d.eventType,
        conversation_id: d.conversationId,
        body: this.stamp.pii.seal(d.body),
        status: 'pending',
        attempts: 0,
        last_status_code: null,
        last_error: null,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
        delivered_at: null,
      })
      .onConflict((oc) => oc.columns(['endpoint', 'event_id']).doNothing())
      .executeTakeFirst();
    const row = await this.q
      .selectFrom('webhook_deliveries')
      .select(LOG_COLUMNS)
      .where('endpoint', '=', d.endpoint)
      .where('event_id', '=', eventId)
      .executeTakeFirst();
    if (!row) throw new Error(`webhook delivery of event ${d.eventId} to ${d.endpoint} vanished after insert`);
    return { delivery: toDelivery(row, this.stamp.pii), created: Number(res.numInsertedOrUpdatedRows ?? 0) === 1 };
  }

  /** The delivery with the body to POST. */
  async get(id: string): Promise<(WebhookDelivery & { body: string }) | undefined> {
    const n = rowId(id);
    if (n === undefined) return undefined;
    const r = await this.q.selectFrom('webhook_deliveries').selectAll().where('id', '=', n).executeTakeFirst();
    return r ? { ...toDelivery(r, this.stamp.pii), body: openCol(this.stamp.pii, r.body, 'webhook_deliveries.body') } : undefined;
  }

  /**
   * The oldest reason `d` must wait: an older delivery of the same (endpoint, conversation) still
   * pending, or an older event of the conversation the endpoint wants (`types`, null = all) whose
   * deliveries are not recorded yet: the subscriber `subscriber` has not handled it (no receipt).
   * Events older than `horizonMs` without a record are not waited for (written before the
   * endpoint existed, or lost: the subscriber handles events within seconds).
   */
  async blocker(d: WebhookDelivery, opts: { types: readonly string[] | null; subscriber: string; horizonMs: number }): Promise<WebhookBlocker | undefined> {
    const eventId = Number(d.eventId);
    const pending = await this.q
      .selectFrom('webhook_deliveries')
      .select(['id', 'event_id', 'next_attempt_at'])
      .where('endpoint', '=', d.endpoint)
      .where('conversation_id', '=', d.conversationId)
      .where('event_id', '<', eventId)
      .where('status', '=', 'pending')
      .orderBy('event_id')
      .limit(1)
      .executeTakeFirst();
    if (pending) {
      return {
        kind: 'pending',
        deliveryId: String(pending.id),
        eventId: String(pending.event_id),
        nextAttemptAt: pending.next_attempt_at === null ? null : Number(pending.next_attempt_at),
      };
    }
    if (opts.types && opts.types.length === 0) return undefined;
    let unrecorded = this.q
      .selectFrom('conversation_events as e')
      .select('e.id')
      .where('e.conversation_id', '=', d.conversationId)
      .where('e.id', '<', eventId)
      .where('e.created_at', '>', this.stamp.now() - opts.horizonMs)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('webhook_deliveries as w').select('w.id').where('w.endpoint', '=', d.endpoint).whereRef('w.event_id', '=', 'e.id'))),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('event_receipts as r')
              .select('r.event_id')
              .where('r.subscriber', '=', opts.subscriber)
              .where('r.event_id', '=', sql<string>`cast(${sql.ref('e.id')} as varchar(64))`),
          ),
        ),
      );
    if (opts.types) unrecorded = unrecorded.where('e.type', 'in', [...opts.types]);
    const r = await unrecorded.orderBy('e.id').limit(1).executeTakeFirst();
    return r ? { kind: 'unrecorded', eventId: String(r.id) } : undefined;
  }

  /**
   * Writes an attempt's outcome (or a final failure without one) to a still-pending delivery;
   * false when it was not pending any more.
   */
  async settle(id: string, a: WebhookAttempt): Promise<boolean> {
    const n = rowId(id);
    if (n === undefined) return false;
    const now = this.stamp.now();
    const res = await this.q
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        status: a.status,
        attempts: a.attempted ? eb('attempts', '+', 1) : eb.ref('attempts'),
        ...(a.statusCode !== undefined ? { last_status_code: a.statusCode } : {}),
        ...(a.error !== undefined ? { last_error: sealOpt(this.stamp.pii, a.error) } : {}),
        next_attempt_at: a.status === 'pending' ? (a.nextAttemptAt ?? now) : null,
        updated_at: now,
        delivered_at: a.status === 'delivered' ? now : null,
      }))
      .where('id', '=', n)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** The oldest pending delivery after `d` of the same (endpoint, conversation): the one `d` held back. */
  async nextPending(d: WebhookDelivery): Promise<WebhookDelivery | undefined> {
    const r = await this.q
      .selectFrom('webhook_deliveries')
      .select(LOG_COLUMNS)
      .where('endpoint', '=', d.endpoint)
      .where('conversation_id', '=', d.conversationId)
      .where('event_id', '>', Number(d.eventId))
      .where('status', '=', 'pending')
      .orderBy('event_id')
      .limit(1)
      .executeTakeFirst();
    return r ? toDelivery(r, this.stamp.pii) : undefined;
  }

  /** Moves a pending delivery's next attempt (waiting on an older one); counts no attempt. */
  async postpone(id: string, nextAttemptAt: number): Promise<void> {
    const n = rowId(id);
    if (n === undefined) return;
    await this.q
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: nextAttemptAt, updated_at: this.stamp.now() })
      .where('id', '=', n)
      .where('status', '=', 'pending')
      .execute();
  }

  /** Pending deliveries whose next attempt was due before `before` (their job may be lost), oldest first. */
  async overdue(before: number, limit = 500): Promise<WebhookDelivery[]> {
    const rows = await this.q
      .selectFrom('webhook_deliveries')
      .select(LOG_COLUMNS)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<', before)
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    return rows.map((r) => toDelivery(r, this.stamp.pii));
  }

  /** The latest deliveries (of one endpoint when given), newest first. */
  /**
   * Deletes up to `limit` settled deliveries (delivered or failed) last changed before `before`,
   * oldest first; returns how many. Pending ones stay whatever their age.
   */
  async pruneSettled(before: number, limit: number): Promise<number> {
    const res = await this.q
      .deleteFrom('webhook_deliveries')
      .where('id', 'in', (eb) =>
        eb.selectFrom('webhook_deliveries').select('id').where('status', 'in', ['delivered', 'failed']).where('updated_at', '<', before).orderBy('updated_at').limit(limit),
      )
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async recent(opts: { endpoint?: string | undefined; status?: WebhookDeliveryStatus | undefined; limit: number }): Promise<WebhookDelivery[]> {
    let query = this.q.selectFrom('webhook_deliveries').select(LOG_COLUMNS);
    if (opts.endpoint !== undefined) query = query.where('endpoint', '=', opts.endpoint);
    if (opts.status !== undefined) query = query.where('status', '=', opts.status);
    const rows = await query.orderBy('id', 'desc').limit(opts.limit).execute();
    return rows.map((r) => toDelivery(r, this.stamp.pii));
  }
}
