import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction, Selectable } from 'kysely';
import type { Db, Dialect } from './db.js';
import type { ConversationTable, CustomerTable, Database, IdentityTable, MessageTable } from './tables.js';
import { parseJson, parseObject } from './json.js';
import type {
  AttachmentMeta,
  Button,
  ChannelName,
  ConversationRef,
  ConversationStatus,
  InboundMessage,
  JsonObject,
  MessageAuthor,
} from '../types.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';

export type Customer = Selectable<CustomerTable>;
export type Identity = Selectable<IdentityTable>;
export type ConversationRow = Selectable<ConversationTable>;
export type MessageRow = Selectable<MessageTable>;
type Q = Kysely<Database> | Transaction<Database>;

export interface Conversation {
  id: string;
  customerId: string;
  channel: ChannelName;
  status: ConversationStatus;
  assignee: string | null;
  escalationRef: JsonObject | null;
  escalationReason: string | null;
  priority: string | null;
  strikes: number;
  botState: JsonObject;
  version: number;
  createdAt: number;
  updatedAt: number;
  resolvedAt: number | null;
}

export interface RecordedInbound {
  message: MessageRow;
  /** true when this (channel, platform message id) had been stored before. */
  duplicate: boolean;
  customer: Customer;
  identity: Identity;
  conversation: Conversation;
}

export interface NewOutbound {
  conversationId: string;
  customerId: string;
  channel: ChannelName;
  ref: ConversationRef;
  author: MessageAuthor;
  authorName?: string;
  text: string;
  buttons?: Button[];
  attachments?: AttachmentMeta[];
  causedBy?: string;
  /** Unique key for effects that may be requested twice (an agent reply event redelivered). */
  dedupeKey?: string;
}

export interface ConversationPatch {
  status?: ConversationStatus;
  assignee?: string | null;
  escalationRef?: JsonObject | null;
  escalationReason?: string | null;
  priority?: string | null;
  strikes?: number;
  botState?: JsonObject;
  resolvedAt?: number | null;
}

export interface EventInput {
  conversationId: string;
  type: string;
  actor: string;
  data?: JsonObject;
}

export function toConversation(r: ConversationRow): Conversation {
  return {
    id: r.id,
    customerId: r.customer_id,
    channel: r.channel,
    status: r.status as ConversationStatus,
    assignee: r.assignee,
    escalationRef: r.escalation_ref ? parseObject(r.escalation_ref) : null,
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

export function refOf(row: { ref?: string; last_ref?: string }): ConversationRef {
  return parseJson<ConversationRef>(row.ref ?? row.last_ref, { channel: '', chatId: '' });
}

/**
 * The one query layer for SQLite and PostgreSQL. Methods taking `q` run inside the caller's
 * transaction; the others open their own.
 */
export class Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  private lastStamp = 0;

  constructor(
    private readonly handle: Db,
    private readonly clock: Clock = systemClock,
  ) {
    this.db = handle.kysely;
    this.dialect = handle.dialect;
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  /** Strictly increasing time in this process: rows written together keep their order. */
  private stamp(): number {
    this.lastStamp = Math.max(this.clock.now(), this.lastStamp + 1);
    return this.lastStamp;
  }

  transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  async ping(): Promise<void> {
    await this.db.selectFrom('customers').select('id').limit(1).execute();
  }

  // ---------- identities and customers ----------

  /** Same (channel, platform user id) -> same customer; the identity keeps the latest ref. */
  async resolveIdentity(q: Q, msg: InboundMessage): Promise<{ customer: Customer; identity: Identity }> {
    const now = this.clock.now();
    const refText = JSON.stringify(msg.ref);
    const existing = await q
      .selectFrom('identities')
      .selectAll()
      .where('channel', '=', msg.channel)
      .where('platform_user_id', '=', msg.platformUserId)
      .executeTakeFirst();
    if (existing) {
      const patch: Partial<IdentityTable> = {};
      if (existing.last_ref !== refText) patch.last_ref = refText;
      if (msg.userName && existing.display_name !== msg.userName) patch.display_name = msg.userName;
      if (existing.unreachable_at !== null) {
        // A customer who writes again is reachable again.
        patch.unreachable_at = null;
        patch.unreachable_reason = null;
      }
      if (Object.keys(patch).length > 0) {
        patch.updated_at = now;
        await q.updateTable('identities').set(patch).where('id', '=', existing.id).execute();
      }
      const customer = await q.selectFrom('customers').selectAll().where('id', '=', existing.customer_id).executeTakeFirstOrThrow();
      return { customer, identity: { ...existing, ...patch } };
    }
    const customer: Customer = {
      id: randomUUID(),
      display_name: msg.userName ?? null,
      locale: msg.locale ?? null,
      timezone: null,
      preferred_channel: msg.channel,
      consent: '{}',
      tags: '[]',
      created_at: now,
      updated_at: now,
    };
    const identity: Identity = {
      id: randomUUID(),
      customer_id: customer.id,
      channel: msg.channel,
      platform_user_id: msg.platformUserId,
      display_name: msg.userName ?? null,
      verified: 0,
      last_ref: refText,
      unreachable_at: null,
      unreachable_reason: null,
      created_at: now,
      updated_at: now,
    };
    await q.insertInto('customers').values(customer).execute();
    await q.insertInto('identities').values(identity).execute();
    return { customer, identity };
  }

  async identitiesOf(customerId: string): Promise<Identity[]> {
    return this.db.selectFrom('identities').selectAll().where('customer_id', '=', customerId).execute();
  }

  async findIdentity(channel: ChannelName, platformUserId: string): Promise<Identity | undefined> {
    return this.db
      .selectFrom('identities')
      .selectAll()
      .where('channel', '=', channel)
      .where('platform_user_id', '=', platformUserId)
      .executeTakeFirst();
  }

  async getCustomer(id: string): Promise<Customer | undefined> {
    return this.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async markUnreachable(channel: ChannelName, chatId: string, reason: string): Promise<number> {
    const now = this.clock.now();
    const rows = await this.db
      .selectFrom('identities')
      .select(['id', 'last_ref'])
      .where('channel', '=', channel)
      .execute();
    const ids = rows.filter((r) => refOf(r).chatId === chatId).map((r) => r.id);
    if (ids.length === 0) return 0;
    await this.db
      .updateTable('identities')
      .set({ unreachable_at: now, unreachable_reason: reason, updated_at: now })
      .where('id', 'in', ids)
      .execute();
    return ids.length;
  }

  // ---------- conversations ----------

  /** The customer's current conversation: the latest one, or a new `bot` one when none is open. */
  async currentConversation(
    q: Q,
    customerId: string,
    channel: ChannelName,
    reopenWindowMs: number,
    keepResolved: (c: Conversation) => boolean = () => false,
  ): Promise<{ conversation: Conversation; reopened: boolean; created: boolean }> {
    const now = this.clock.now();
    const latest = await q
      .selectFrom('conversations')
      .selectAll()
      .where('customer_id', '=', customerId)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (latest && latest.status !== 'resolved') return { conversation: toConversation(latest), reopened: false, created: false };
    if (latest && keepResolved(toConversation(latest))) return { conversation: toConversation(latest), reopened: false, created: false };
    if (latest && latest.resolved_at !== null && latest.escalation_ref && now - latest.resolved_at <= reopenWindowMs) {
      return { conversation: toConversation(latest), reopened: true, created: false };
    }
    const row: ConversationRow = {
      id: randomUUID(),
      customer_id: customerId,
      channel,
      status: 'bot',
      assignee: null,
      escalation_ref: null,
      escalation_reason: null,
      priority: null,
      strikes: 0,
      bot_state: '{}',
      version: 0,
      created_at: this.stamp(),
      updated_at: now,
      resolved_at: null,
    };
    await q.insertInto('conversations').values(row).execute();
    return { conversation: toConversation(row), reopened: false, created: true };
  }

  async getConversation(id: string, q: Q = this.db): Promise<Conversation | undefined> {
    const r = await q.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toConversation(r) : undefined;
  }

  async conversationsOf(customerId: string): Promise<Conversation[]> {
    const rows = await this.db
      .selectFrom('conversations')
      .selectAll()
      .where('customer_id', '=', customerId)
      .orderBy('created_at', 'asc')
      .execute();
    return rows.map(toConversation);
  }

  /** Compare-and-set on the version: false when someone else moved the conversation first. */
  async updateConversation(q: Q, id: string, expectedVersion: number, patch: ConversationPatch): Promise<boolean> {
    const set: Partial<ConversationTable> = { version: expectedVersion + 1, updated_at: this.clock.now() };
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.assignee !== undefined) set.assignee = patch.assignee;
    if (patch.escalationRef !== undefined) set.escalation_ref = patch.escalationRef ? JSON.stringify(patch.escalationRef) : null;
    if (patch.escalationReason !== undefined) set.escalation_reason = patch.escalationReason;
    if (patch.priority !== undefined) set.priority = patch.priority;
    if (patch.strikes !== undefined) set.strikes = patch.strikes;
    if (patch.botState !== undefined) set.bot_state = JSON.stringify(patch.botState);
    if (patch.resolvedAt !== undefined) set.resolved_at = patch.resolvedAt;
    const res = await q
      .updateTable('conversations')
      .set(set)
      .where('id', '=', id)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async appendEvent(q: Q, e: EventInput): Promise<void> {
    await q
      .insertInto('events')
      .values({
        conversation_id: e.conversationId,
        type: e.type,
        actor: e.actor,
        data: JSON.stringify(e.data ?? {}),
        created_at: this.clock.now(),
      })
      .execute();
  }

  async events(conversationId: string): Promise<{ type: string; actor: string; data: JsonObject; createdAt: number }[]> {
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .orderBy('id', 'asc')
      .execute();
    return rows.map((r) => ({ type: r.type, actor: r.actor, data: parseObject(r.data), createdAt: r.created_at }));
  }

  // ---------- messages ----------

  /**
   * Stores an inbound message once per (channel, platform message id), with its identity and
   * conversation, in one transaction.
   */
  async recordInbound(
    msg: InboundMessage,
    reopenWindowMs: number,
    keepResolved?: (c: Conversation) => boolean,
  ): Promise<RecordedInbound> {
    const key = `${msg.channel}:${msg.platformMessageId}`;
    return this.transaction(async (trx) => {
      const { customer, identity } = await this.resolveIdentity(trx, msg);
      const existing = await trx.selectFrom('messages').selectAll().where('dedupe_key', '=', key).executeTakeFirst();
      if (existing) {
        const conversation = await this.getConversation(existing.conversation_id, trx);
        if (!conversation) throw new Error(`conversation ${existing.conversation_id} missing`);
        return { message: existing, duplicate: true, customer, identity, conversation };
      }
      const { conversation } = await this.currentConversation(trx, customer.id, msg.channel, reopenWindowMs, keepResolved);
      const row: MessageRow = {
        id: randomUUID(),
        conversation_id: conversation.id,
        customer_id: customer.id,
        direction: 'in',
        author: 'customer',
        author_name: msg.userName ?? null,
        channel: msg.channel,
        dedupe_key: key,
        platform_message_id: msg.platformMessageId,
        kind: msg.kind,
        text: msg.text,
        attachments: JSON.stringify(msg.attachments),
        buttons: '[]',
        ref: JSON.stringify(msg.ref),
        delivery_status: 'received',
        sent_parts: '[]',
        error: null,
        caused_by: null,
        processed_at: null,
        // Stored order, strictly increasing in this process (two messages in one millisecond keep their order).
        created_at: this.stamp(),
        sent_at: null,
      };
      await trx.insertInto('messages').values(row).execute();
      return { message: row, duplicate: false, customer, identity, conversation };
    });
  }

  async markProcessed(q: Q, messageId: string): Promise<void> {
    await q.updateTable('messages').set({ processed_at: this.clock.now() }).where('id', '=', messageId).execute();
  }

  async insertOutbound(q: Q, o: NewOutbound): Promise<MessageRow> {
    const row: MessageRow = {
      id: randomUUID(),
      conversation_id: o.conversationId,
      customer_id: o.customerId,
      direction: 'out',
      author: o.author,
      author_name: o.authorName ?? null,
      channel: o.channel,
      dedupe_key: o.dedupeKey ?? null,
      platform_message_id: null,
      kind: 'text',
      text: o.text,
      attachments: JSON.stringify(o.attachments ?? []),
      buttons: JSON.stringify(o.buttons ?? []),
      ref: JSON.stringify(o.ref),
      delivery_status: 'pending',
      sent_parts: '[]',
      error: null,
      caused_by: o.causedBy ?? null,
      processed_at: null,
      created_at: this.stamp(),
      sent_at: null,
    };
    await q.insertInto('messages').values(row).execute();
    return row;
  }

  async messageByKey(dedupeKey: string, q: Q = this.db): Promise<MessageRow | undefined> {
    return q.selectFrom('messages').selectAll().where('dedupe_key', '=', dedupeKey).executeTakeFirst();
  }

  async getMessage(id: string): Promise<MessageRow | undefined> {
    return this.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async outboundCausedBy(inboundId: string): Promise<MessageRow[]> {
    return this.db.selectFrom('messages').selectAll().where('caused_by', '=', inboundId).orderBy('created_at').execute();
  }

  /** true when an older reply of the same conversation still waits to be sent (order per conversation). */
  async hasEarlierPending(row: MessageRow): Promise<boolean> {
    const r = await this.db
      .selectFrom('messages')
      .select('id')
      .where('conversation_id', '=', row.conversation_id)
      .where('created_at', '<', row.created_at)
      .where('direction', '=', 'out')
      .where('delivery_status', '=', 'pending')
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  async recordSentPart(id: string, parts: string[]): Promise<void> {
    await this.db.updateTable('messages').set({ sent_parts: JSON.stringify(parts) }).where('id', '=', id).execute();
  }

  async markSent(id: string, platformIds: string[]): Promise<void> {
    await this.db
      .updateTable('messages')
      .set({
        delivery_status: 'sent',
        platform_message_id: platformIds.join(','),
        sent_parts: JSON.stringify(platformIds),
        sent_at: this.clock.now(),
        error: null,
      })
      .where('id', '=', id)
      .execute();
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.db.updateTable('messages').set({ delivery_status: 'failed', error }).where('id', '=', id).execute();
  }

  /** Outbound rows still pending after `olderThanMs` (their send job may have been lost). */
  async pendingOutbound(olderThanMs: number, limit = 500): Promise<MessageRow[]> {
    return this.db
      .selectFrom('messages')
      .selectAll()
      .where('delivery_status', '=', 'pending')
      .where('created_at', '<', this.clock.now() - olderThanMs)
      .orderBy('created_at')
      .limit(limit)
      .execute();
  }

  async conversationMessages(conversationId: string, limit = 50): Promise<MessageRow[]> {
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse();
  }

  /** The last `limit` messages of a conversation as the bot needs them (id, author, text), oldest first. */
  async recentTurns(conversationId: string, limit: number): Promise<{ id: string; author: string; text: string }[]> {
    const rows = await this.db
      .selectFrom('messages')
      .select(['id', 'author', 'text'])
      .where('conversation_id', '=', conversationId)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse();
  }

  /** Messages of the customer behind one identity, across conversations, oldest first. */
  async customerHistory(channel: ChannelName, platformUserId: string, limit: number): Promise<MessageRow[]> {
    const identity = await this.findIdentity(channel, platformUserId);
    if (!identity) return [];
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('customer_id', '=', identity.customer_id)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse();
  }
}
