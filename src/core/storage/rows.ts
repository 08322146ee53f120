/** Row <-> domain mapping and what every repository shares. Nothing here leaves `storage/`. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ConversationTable, CustomerTable, Database, DeskCaseTable, IdentityTable, MessageTable } from './tables.js';
import { parseJson, parseObject } from './json.js';
import type { Conversation, Customer, DeskCase, Identity, StoredMessage } from '../model.js';
import type { AttachmentMeta, Button, ConversationRef, ConversationStatus, DeliveryStatus, InboundKind, MessageAuthor } from '../types.js';
import type { Clock } from '../clock.js';

export type Q = Kysely<Database> | Transaction<Database>;

/** Time for rows: `next()` is strictly increasing in this process, so rows written together keep their order. */
export class Stamp {
  private last = 0;
  constructor(private readonly clock: Clock) {}
  now(): number {
    return this.clock.now();
  }
  next(): number {
    this.last = Math.max(this.clock.now(), this.last + 1);
    return this.last;
  }
}

export function toCustomer(r: Selectable<CustomerTable>): Customer {
  return {
    id: r.id,
    displayName: r.display_name,
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

export function toIdentity(r: Selectable<IdentityTable>): Identity {
  return {
    id: r.id,
    customerId: r.customer_id,
    channel: r.channel,
    platformUserId: r.platform_user_id,
    displayName: r.display_name,
    verified: r.verified === 1,
    lastRef: parseRef(r.last_ref),
    unreachableAt: r.unreachable_at,
    unreachableReason: r.unreachable_reason,
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

export function toMessage(r: Selectable<MessageTable>): StoredMessage {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    customerId: r.customer_id,
    direction: r.direction === 'in' ? 'in' : 'out',
    author: r.author as MessageAuthor,
    authorName: r.author_name,
    channel: r.channel,
    dedupeKey: r.dedupe_key,
    platformMessageId: r.platform_message_id,
    kind: r.kind as InboundKind,
    text: r.text,
    attachments: list<AttachmentMeta>(r.attachments),
    buttons: list<Button>(r.buttons),
    ref: parseRef(r.ref),
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

/** true for a unique-key violation on either database (a concurrent writer won the key). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
