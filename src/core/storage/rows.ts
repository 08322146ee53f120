/** Row <-> domain mapping and what every repository shares. Nothing here leaves `storage/`. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ConversationTable, CustomerTable, Database, DeskCaseTable, IdentityTable, MessageTable } from './tables.js';
import { parseJson, parseObject } from './json.js';
import type { Conversation, Customer, DeskCase, Identity, StoredMessage } from '../model.js';
import type { AttachmentMeta, Button, ConversationRef, ConversationStatus, DeliveryStatus, InboundKind, MessageAuthor } from '../types.js';
import type { Clock } from '../clock.js';
import { PLAINTEXT, type PiiCodec } from './pii.js';
import { QueryCache } from './query-cache.js';

export type Q = Kysely<Database> | Transaction<Database>;

/**
 * What every repository of one storage shares: time for rows (`next()` is strictly increasing in
 * this process, so rows written together keep their order) and the PII codec (`pii`, plaintext
 * when the storage was opened without one), and the hot statements compiled once (`queries`).
 */
export class Stamp {
  private last = 0;
  /** Inserts and hot queries compiled once per shape (`QueryCache`). */
  readonly queries = new QueryCache();
  constructor(
    private readonly clock: Clock,
    readonly pii: PiiCodec = PLAINTEXT,
  ) {}
  now(): number {
    return this.clock.now();
  }
  next(): number {
    this.last = Math.max(this.clock.now(), this.last + 1);
    return this.last;
  }
}

/** A nullable PII column as read. */
export function openOpt(pii: PiiCodec | null, v: string | null, what: string): string | null {
  return v === null || pii === null ? v : pii.open(v, what);
}

/** A PII column as read; `pii` null: the row holds the values as given (a row just written). */
export function openCol(pii: PiiCodec | null, v: string, what: string): string {
  return pii === null ? v : pii.open(v, what);
}

/** A nullable PII column as written. */
export function sealOpt(pii: PiiCodec, v: string | null): string | null {
  return v === null ? null : pii.seal(v);
}

export function toCustomer(r: Selectable<CustomerTable>, pii: PiiCodec | null): Customer {
  return {
    id: r.id,
    displayName: openOpt(pii, r.display_name, 'customers.display_name'),
    locale: r.locale,
    timezone: r.timezone,
    preferredChannel: r.preferred_channel,
    externalId: r.external_id ?? null,
    consent: parseObject(r.consent),
    tags: list<string>(r.tags),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function parseRef(text: string): ConversationRef {
  return parseJson<ConversationRef>(text, { channel: '', chatId: '' });
}

export function toIdentity(r: Selectable<IdentityTable>, pii: PiiCodec | null): Identity {
  return {
    id: r.id,
    customerId: r.customer_id,
    channel: r.channel,
    platformUserId: openCol(pii, r.platform_user_id, 'identities.platform_user_id'),
    displayName: openOpt(pii, r.display_name, 'identities.display_name'),
    verified: r.verified === 1,
    lastRef: parseRef(openCol(pii, r.last_ref, 'identities.last_ref')),
    unreachableAt: r.unreachable_at,
    unreachableReason: openOpt(pii, r.unreachable_reason, 'identities.unreachable_reason'),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function toConversation(r: Selectable<ConversationTable>): Conversation {
  return {
    id: r.id,
    customerId: r.customer_id,
    channel: r.channel,
    threadKey: r.thread_key,
    status: r.status as ConversationStatus,
    assignee: r.assignee,
    escalationId: r.escalation_id,
    escalationReason: r.escalation_reason,
    priority: r.priority,
    strikes: r.strikes,
    botState: parseObject(r.bot_state),
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    resolvedAt: r.resolved_at,
  };
}

/** A JSON list column; most are empty, which costs no parse. */
function list<T>(text: string): T[] {
  return text === '[]' || text === '' ? [] : parseJson<T[]>(text, []);
}

/** Sealed unless empty (`''`, `'[]'`: an empty text or list says nothing and is read often). */
export function sealText(pii: PiiCodec, v: string): string {
  return v === '' || v === '[]' ? v : pii.seal(v);
}

/** The row as stored: its PII columns sealed (the caller keeps the plain row for the domain value). */
export function sealMessage(pii: PiiCodec, r: Selectable<MessageTable>): Selectable<MessageTable> {
  return { ...r, author_name: sealOpt(pii, r.author_name), text: sealText(pii, r.text), attachments: sealText(pii, r.attachments), ref: pii.seal(r.ref) };
}

export function toMessage(r: Selectable<MessageTable>, pii: PiiCodec | null): StoredMessage {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    customerId: r.customer_id,
    direction: r.direction === 'in' ? 'in' : 'out',
    author: r.author as MessageAuthor,
    authorName: openOpt(pii, r.author_name, 'messages.author_name'),
    channel: r.channel,
    dedupeKey: r.dedupe_key,
    platformMessageId: r.platform_message_id,
    kind: r.kind as InboundKind,
    text: openCol(pii, r.text, 'messages.text'),
    attachments: list<AttachmentMeta>(openCol(pii, r.attachments, 'messages.attachments')),
    buttons: list<Button>(r.buttons),
    ref: parseRef(openCol(pii, r.ref, 'messages.ref')),
    deliveryStatus: r.delivery_status as DeliveryStatus,
    sentParts: list<string>(r.sent_parts),
    error: r.error,
    causedBy: r.caused_by,
    processedAt: r.processed_at,
    createdAt: r.created_at,
    sentAt: r.sent_at,
  };
}

export function toDeskCase(r: Selectable<DeskCaseTable>): DeskCase {
  return {
    id: r.id,
    desk: r.desk,
    escalationId: r.escalation_id,
    conversationId: r.conversation_id,
    state: r.state === 'posted' ? 'posted' : 'posting',
    owner: r.owner,
    pendingSince: r.pending_since,
    threadChannel: r.thread_channel,
    threadTs: r.thread_ts,
    snapshot: r.snapshot ? parseObject(r.snapshot) : null,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * PostgreSQL's division by zero (SQLSTATE 22012): how a statement of data-modifying `WITH` parts
 * fails whole on purpose (`change-write.ts`, `first-message.ts`).
 */
export function isDivisionByZero(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === '22012';
}

/** true for a unique-key violation on either database (a concurrent writer won the key). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
