import { newRowId } from './ids.js';
import { sql, type Selectable } from 'kysely';
import type { MessageTable } from './tables.js';
import { type Q, type Stamp, sealMessage, sealOpt, toMessage as toRow } from './rows.js';
import type { PiiCodec } from './pii.js';
import type { NewOutbound, StoredMessage } from '../model.js';
import type { InboundMessage, MessageAuthor } from '../types.js';

/** A stored message as read; its error (a platform's, it may quote an address) is sealed by the PII codec too. */
function toMessage(r: Selectable<MessageTable>, pii: PiiCodec | null): StoredMessage {
  const m = toRow(r, pii);
  if (m.error !== null && pii !== null) m.error = pii.open(m.error, 'messages.error');
  return m;
}

export class MessageRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  /**
   * Stores an inbound message; undefined when its dedupe key `channel:platformMessageId` is stored
   * already (no error, so a PostgreSQL transaction stays usable).
   */
  async insertInbound(msg: InboundMessage, conversationId: string, customerId: string): Promise<StoredMessage | undefined> {
    const { row, message } = this.newInbound(msg, conversationId, customerId);
    const inserted = await this.stamp.queries.insert(this.q, 'messages', [row], 'dedupe_key');
    return inserted === 1n ? message : undefined;
  }

  /** The row `insertInbound` writes (sealed) and the message it returns. */
  newInbound(msg: InboundMessage, conversationId: string, customerId: string): { row: Selectable<MessageTable>; message: StoredMessage } {
    const row: Selectable<MessageTable> = {
      id: newRowId(),
      conversation_id: conversationId,
      customer_id: customerId,
      direction: 'in',
      author: 'customer',
      author_name: msg.userName ?? null,
      channel: msg.channel,
      dedupe_key: inboundKey(msg),
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
      created_at: this.stamp.next(),
      sent_at: null,
    };
    return { row: sealMessage(this.stamp.pii, row), message: toMessage(row, null) };
  }

  async insertOutbound(o: NewOutbound): Promise<StoredMessage> {
    const { row, message } = this.newOutbound(o);
    await this.stamp.queries.insert(this.q, 'messages', [row]);
    return message;
  }

  /** The row `insertOutbound` writes (sealed) and the message it returns. */
  newOutbound(o: NewOutbound): { row: Selectable<MessageTable>; message: StoredMessage } {
    const row = this.outboundRow(o);
    return { row: sealMessage(this.stamp.pii, row), message: toMessage(row, null) };
  }

  /** `insertOutbound` of many rows in one statement (a unique violation of one key fails them all). */
  async insertOutboundMany(list: readonly NewOutbound[]): Promise<StoredMessage[]> {
    if (list.length === 0) return [];
    const made = list.map((o) => this.newOutbound(o));
    await this.q.insertInto('messages').values(made.map((m) => m.row)).execute();
    return made.map((m) => m.message);
  }

  private outboundRow(o: NewOutbound): Selectable<MessageTable> {
    return {
      id: newRowId(),
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
      created_at: this.stamp.next(),
      sent_at: null,
    };
  }

  async markProcessed(messageId: string): Promise<void> {
    const now = this.stamp.now();
    await this.stamp.queries.run(this.q, 'messages.markProcessed', [now, messageId], () => this.q.updateTable('messages').set({ processed_at: now }).where('id', '=', messageId));
  }

  async byKey(dedupeKey: string): Promise<StoredMessage | undefined> {
    const r = await this.q.selectFrom('messages').selectAll().where('dedupe_key', '=', dedupeKey).executeTakeFirst();
    return r ? toMessage(r, this.stamp.pii) : undefined;
  }

  async get(id: string): Promise<StoredMessage | undefined> {
    const r = await this.q.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toMessage(r, this.stamp.pii) : undefined;
  }

  async causedBy(inboundId: string): Promise<StoredMessage[]> {
    const rows = await this.q.selectFrom('messages').selectAll().where('caused_by', '=', inboundId).orderBy('created_at').execute();
    return rows.map((r) => toMessage(r, this.stamp.pii));
  }

  /**
   * The rows a burst of sends reads (one query), each with whether an older outbound message of
   * its conversation is still pending (the send order's check; false for a row not pending).
   */
  async forSend(ids: readonly string[]): Promise<{ row: StoredMessage; earlier: boolean }[]> {
    if (ids.length === 0) return [];
    const build = () => this.q
      .selectFrom('messages as m')
      .selectAll('m')
      .select((eb) =>
        eb
          .exists(
            eb
              .selectFrom('messages as o')
              .select(sql.lit(1).as('one'))
              .whereRef('o.conversation_id', '=', 'm.conversation_id')
              .where('o.direction', '=', 'out')
              .where('o.delivery_status', '=', 'pending')
              .whereRef('o.created_at', '<', 'm.created_at'),
          )
          .as('earlier'),
      )
      .where('m.id', 'in', [...ids]);
    const { rows } = await this.stamp.queries.run(this.q, `messages.forSend:${ids.length}`, ['out', 'pending', ...ids], build);
    return rows.map(({ earlier, ...r }) => {
      const row = toMessage(r, this.stamp.pii);
      // SQLite answers 0 or 1, PostgreSQL a boolean.
      return { row, earlier: row.deliveryStatus === 'pending' && Boolean(earlier) };
    });
  }

  async recordSentPart(id: string, parts: string[]): Promise<void> {
    await this.q.updateTable('messages').set({ sent_parts: JSON.stringify(parts) }).where('id', '=', id).execute();
  }

  async markSent(id: string, platformIds: string[]): Promise<void> {
    await this.q
      .updateTable('messages')
      .set({
        delivery_status: 'sent',
        platform_message_id: platformIds.join(','),
        sent_parts: JSON.stringify(platformIds),
        sent_at: this.stamp.now(),
        error: null,
      })
      .where('id', '=', id)
      .execute();
  }

  /** `markSent` of many messages in one statement. */
  async markSentMany(list: readonly { id: string; platformIds: readonly string[] }[]): Promise<void> {
    if (list.length === 0) return;
    const ids = list.map((x) => x.id);
    const refs = list.map((x) => x.platformIds.join(','));
    const parts = list.map((x) => JSON.stringify(x.platformIds));
    const now = this.stamp.now();
    const byId = (values: string[]) => sql<string>`case ${sql.join(list.map((x, i) => sql`when ${sql.ref('id')} = ${x.id} then ${values[i]}`), sql` `)} end`;
    const build = () =>
      this.q
        .updateTable('messages')
        .set({ delivery_status: 'sent', platform_message_id: byId(refs), sent_parts: byId(parts), sent_at: now, error: null })
        .where('id', 'in', ids);
    // The values in the SQL's order: the status, each (id, value) of the two CASEs, the time, the error, the ids.
    const pairs = (values: string[]) => ids.flatMap((id, i) => [id, values[i]]);
    await this.stamp.queries.run(this.q, `messages.markSentMany:${list.length}`, ['sent', ...pairs(refs), ...pairs(parts), now, null, ...ids], build);
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.q.updateTable('messages').set({ delivery_status: 'failed', error: sealOpt(this.stamp.pii, error) }).where('id', '=', id).execute();
  }

  /** Outbound rows still pending after `olderThanMs` (their send job may have been lost). */
  async pendingOutbound(olderThanMs: number, limit = 500): Promise<StoredMessage[]> {
    const rows = await this.q
      .selectFrom('messages')
      .selectAll()
      .where('delivery_status', '=', 'pending')
      .where('created_at', '<', this.stamp.now() - olderThanMs)
      .orderBy('created_at')
      .limit(limit)
      .execute();
    return rows.map((r) => toMessage(r, this.stamp.pii));
  }

  /** The last `limit` messages of a conversation, oldest first. */
  async ofConversation(conversationId: string, limit = 50): Promise<StoredMessage[]> {
    const rows = await this.q
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => toMessage(r, this.stamp.pii));
  }

  /** The last `limit` messages of a conversation as the bot needs them, oldest first. */
  async recentTurns(conversationId: string, limit: number): Promise<{ id: string; author: MessageAuthor; text: string }[]> {
    const rows = await this.q
      .selectFrom('messages')
      .select(['id', 'author', 'text'])
      .where('conversation_id', '=', conversationId)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => ({ id: r.id, author: r.author as MessageAuthor, text: this.stamp.pii.open(r.text, 'messages.text') }));
  }

  /** Messages of the customer behind one identity, across conversations, oldest first. */
  async ofCustomer(customerId: string, limit: number): Promise<StoredMessage[]> {
    const rows = await this.q
      .selectFrom('messages')
      .selectAll()
      .where('customer_id', '=', customerId)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => toMessage(r, this.stamp.pii));
  }

  /** The latest message the hub wrote in a conversation (bot, agent or system). */
  async lastOutbound(conversationId: string): Promise<StoredMessage | undefined> {
    const r = await this.q
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('direction', '=', 'out')
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? toMessage(r, this.stamp.pii) : undefined;
  }

  /** The latest inbound message of a conversation (where agent replies go). */
  async lastInbound(conversationId: string): Promise<StoredMessage | undefined> {
    const r = await this.q
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('direction', '=', 'in')
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? toMessage(r, this.stamp.pii) : undefined;
  }
}

export function inboundKey(msg: Pick<InboundMessage, 'channel' | 'platformMessageId'>): string {
  return `${msg.channel}:${msg.platformMessageId}`;
}

