import { newRowId } from './ids.js';
import { sql, type Expression, type RawBuilder, type Selectable } from 'kysely';
import type { ConversationTable } from './tables.js';
import { type Q, type Stamp, toConversation } from './rows.js';
import type { Conversation, ConversationPatch } from '../model.js';
import type { ChannelName } from '../types.js';

/** Where an inbound message belongs. */
export interface Routing {
  customerId: string;
  channel: ChannelName;
  /** The adapter's thread key, when its channel keys conversations by thread (else undefined). */
  threadKey?: string;
  reopenWindowMs: number;
  /** Keep a resolved conversation (e.g. the message answers its CSAT question). */
  keepResolved?: (c: Conversation) => boolean;
  /**
   * The caller knows there is no conversation to join (a customer created in this transaction, or
   * `routeExisting` has just found none): a new one is created without the lookup.
   */
  nothingToJoin?: boolean;
}

/** A person holds the conversation (`waiting_agent`, `agent`): the bot stays out and every message of the customer joins it. */
const HELD = sql<boolean>`status in ('waiting_agent', 'agent')`;

/** The thread a routing keys by (none without a thread key). */
function threadOf(r: Pick<Routing, 'channel' | 'threadKey'>): { channel: ChannelName; threadKey: string } | undefined {
  return r.threadKey === undefined ? undefined : { channel: r.channel, threadKey: r.threadKey };
}

/** The message's own thread: (channel, thread key), or no thread key. */
function own(thread: { channel: ChannelName; threadKey: string } | undefined): RawBuilder<boolean> {
  return thread ? sql<boolean>`(channel = ${thread.channel} and thread_key = ${thread.threadKey})` : sql<boolean>`thread_key is null`;
}

export class ConversationRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  /**
   * The conversation a message belongs to: the customer's open conversation a person holds
   * (`waiting_agent`, `agent`), whichever channel or thread the message comes from (docs/identity.md
   * "An open escalation stays open"); else by (customer, channel, thread key) when a thread key is
   * given, else the customer's latest conversation without a thread key; a resolved one stays
   * current within the reopen window (when it had an escalation) or when `keepResolved` says so;
   * otherwise a new `bot` conversation.
   */
  async route(r: Routing): Promise<{ conversation: Conversation; created: boolean }> {
    const existing = r.nothingToJoin === true ? undefined : await this.routeExisting(r);
    if (existing) return { conversation: existing, created: false };
    return { conversation: await this.create(r.customerId, r.channel, r.threadKey ?? null), created: true };
  }

  /** The existing conversation `route` picks, or undefined when it would create one (reads only). */
  async routeExisting(r: Routing): Promise<Conversation | undefined> {
    return this.pick(await this.latest(r.customerId, threadOf(r)), r);
  }

  /** What `routeExisting` makes of the customer's `latest` conversation (read already): it, or undefined for a new one. */
  pick(latest: Conversation | undefined, r: Routing): Conversation | undefined {
    if (!latest) return undefined;
    if (latest.status !== 'resolved') return latest;
    if (r.keepResolved?.(latest)) return latest;
    if (latest.resolvedAt !== null && latest.escalationId && this.stamp.now() - latest.resolvedAt <= r.reopenWindowMs) return latest;
    return undefined;
  }

  /**
   * The conversation a message of the customer routes to (resolved or not): their open conversation
   * held by a person, on any channel and in any thread (the one in the message's own thread first,
   * then the most recently changed); else their latest conversation in the thread (channel and
   * thread key), or without a thread key when none is given. One query.
   */
  async latest(customerId: string, thread?: { channel: ChannelName; threadKey: string }): Promise<Conversation | undefined> {
    const params = [customerId, ...(thread ? [thread.channel, thread.threadKey, thread.channel, thread.threadKey] : []), 1];
    const { rows } = await this.stamp.queries.run(this.q, thread ? 'conversations.latestInThread' : 'conversations.latest', params, () => this.latestQuery(customerId, thread));
    return rows[0] ? toConversation(rows[0]) : undefined;
  }

  /** The query of `latest`; `customerId` may be a column of an outer query. */
  latestQuery(customerId: string | Expression<string>, thread?: { channel: ChannelName; threadKey: string }) {
    const mine = own(thread);
    return this.q
      .selectFrom('conversations')
      .selectAll()
      .where('customer_id', '=', customerId)
      .where(sql<boolean>`(${HELD} or ${mine})`)
      // Held first, the one in the message's own thread before the others, then the most recently
      // changed. Otherwise the latest created, where a conversation resolved after a newer one was
      // created (a case a merge kept open) counts from its resolution, so its reopen window holds.
      // (Raw SQL: this runs for every inbound message, and the query builder's nodes cost more than the query.)
      .orderBy(sql`case when ${HELD} and ${mine} then 0 when ${HELD} then 1 else 2 end`)
      .orderBy(sql`case when ${HELD} then updated_at when resolved_at > created_at then resolved_at else created_at end`, 'desc')
      .orderBy('created_at', 'desc')
      .limit(1);
  }

  async create(customerId: string, channel: ChannelName, threadKey: string | null): Promise<Conversation> {
    const row = this.newRow(customerId, channel, threadKey);
    await this.stamp.queries.insert(this.q, 'conversations', [row]);
    return toConversation(row);
  }

  /** The row `create` writes and the conversation it returns. */
  newConversation(customerId: string, channel: ChannelName, threadKey: string | null): { row: Selectable<ConversationTable>; conversation: Conversation } {
    const row = this.newRow(customerId, channel, threadKey);
    return { row, conversation: toConversation(row) };
  }

  private newRow(customerId: string, channel: ChannelName, threadKey: string | null): Selectable<ConversationTable> {
    return {
      id: newRowId(),
      customer_id: customerId,
      channel,
      thread_key: threadKey,
      status: 'bot',
      assignee: null,
      escalation_id: null,
      escalation_reason: null,
      priority: null,
      strikes: 0,
      bot_state: '{}',
      version: 0,
      created_at: this.stamp.next(),
      updated_at: this.stamp.now(),
      resolved_at: null,
    };
  }

  /** The customer's latest open (not resolved) conversation on `channel` without a thread key. */
  async openOn(customerId: string, channel: ChannelName): Promise<Conversation | undefined> {
    const r = await this.q
      .selectFrom('conversations')
      .selectAll()
      .where('customer_id', '=', customerId)
      .where('channel', '=', channel)
      .where('thread_key', 'is', null)
      .where('status', '!=', 'resolved')
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? toConversation(r) : undefined;
  }

  /** `openOn` for many (customer, channel) pairs in one query; the key is `<customerId> <channel>`. */
  async openOnMany(pairs: readonly { customerId: string; channel: ChannelName }[]): Promise<Map<string, Conversation>> {
    const out = new Map<string, Conversation>();
    if (pairs.length === 0) return out;
    const rows = await this.q
      .selectFrom('conversations')
      .selectAll()
      .where('customer_id', 'in', [...new Set(pairs.map((p) => p.customerId))])
      .where('thread_key', 'is', null)
      .where('status', '!=', 'resolved')
      .orderBy('created_at', 'desc')
      .execute();
    const wanted = new Set(pairs.map((p) => `${p.customerId} ${p.channel}`));
    for (const r of rows) {
      const key = `${r.customer_id} ${r.channel}`;
      if (wanted.has(key) && !out.has(key)) out.set(key, toConversation(r));
    }
    return out;
  }

  /** `create` of many conversations without a thread key, in one statement. */
  async createMany(list: readonly { customerId: string; channel: ChannelName }[]): Promise<Conversation[]> {
    if (list.length === 0) return [];
    const rows = list.map((c) => this.newRow(c.customerId, c.channel, null));
    await this.q.insertInto('conversations').values(rows).execute();
    return rows.map(toConversation);
  }

  async get(id: string): Promise<Conversation | undefined> {
    const r = await this.q.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toConversation(r) : undefined;
  }

  async ofCustomer(customerId: string): Promise<Conversation[]> {
    const rows = await this.q.selectFrom('conversations').selectAll().where('customer_id', '=', customerId).orderBy('created_at', 'asc').execute();
    return rows.map(toConversation);
  }

  /**
   * Conversations in `statuses` (a desk's inbox: `waiting_agent`, `agent`...), optionally of one
   * channel and assignee, most recently changed first, at most `limit`.
   */
  async withStatus(f: { statuses: readonly Conversation['status'][]; channel?: ChannelName; assignee?: string | null; limit: number }): Promise<Conversation[]> {
    if (f.statuses.length === 0) return [];
    let query = this.q.selectFrom('conversations').selectAll().where('status', 'in', [...f.statuses]);
    if (f.channel !== undefined) query = query.where('channel', '=', f.channel);
    if (f.assignee === null) query = query.where('assignee', 'is', null);
    else if (f.assignee !== undefined) query = query.where('assignee', '=', f.assignee);
    const rows = await query.orderBy('updated_at', 'desc').limit(f.limit).execute();
    return rows.map(toConversation);
  }

  /** Compare-and-set on the version: false when someone else moved the conversation first. */
  async update(id: string, expectedVersion: number, patch: ConversationPatch): Promise<boolean> {
    const set = this.updateSet(expectedVersion, patch);
    const params = [...Object.values(set), id, expectedVersion];
    const build = () => this.q.updateTable('conversations').set(set).where('id', '=', id).where('version', '=', expectedVersion);
    const res = await this.stamp.queries.run(this.q, `conversations.update:${Object.keys(set).join(',')}`, params, build);
    return Number(res.numAffectedRows) === 1;
  }

  /** The columns `update` sets: the patch, the next version and the time. */
  updateSet(expectedVersion: number, patch: ConversationPatch): Partial<ConversationTable> & Pick<ConversationTable, 'version' | 'updated_at'> {
    const set: Partial<ConversationTable> & Pick<ConversationTable, 'version' | 'updated_at'> = { version: expectedVersion + 1, updated_at: this.stamp.now() };
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.assignee !== undefined) set.assignee = patch.assignee;
    if (patch.escalationId !== undefined) set.escalation_id = patch.escalationId;
    if (patch.escalationReason !== undefined) set.escalation_reason = patch.escalationReason;
    if (patch.priority !== undefined) set.priority = patch.priority;
    if (patch.strikes !== undefined) set.strikes = patch.strikes;
    if (patch.botState !== undefined) set.bot_state = JSON.stringify(patch.botState);
    if (patch.resolvedAt !== undefined) set.resolved_at = patch.resolvedAt;
    return set;
  }
}
