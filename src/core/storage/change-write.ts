/**
 * The writes of one conversation change, together: the conversation's compare-and-set, its
 * replies, its events and (a turn) the inbound message marked processed.
 *
 * - `writeChange`: statement by statement, in the caller's transaction (both databases).
 * - `writeChangeInOne`: PostgreSQL, one statement and no transaction around it. The conversation's
 *   update and the inserts are data-modifying `WITH` parts of one query, and the query divides by
 *   the number of conversation rows the update matched: when the version moved, that is a division
 *   by zero, so the statement fails and none of its parts is written (a statement is atomic). One
 *   round trip instead of six (`BEGIN`, update, reply, events, processed mark, `COMMIT`).
 */
import { sql, type Kysely } from 'kysely';
import type { Conversation, ConversationPatch, NewOutbound, StoredMessage } from '../model.js';
import type { NewEvent, StoredEvent } from '../events.js';
import { isDivisionByZero } from './rows.js';
import type { Database } from './tables.js';
import type { ConversationRepo } from './conversations.js';
import type { EventRepo } from './events.js';
import type { MessageRepo } from './messages.js';

/** The repositories a change writes with (a transaction's, or the database's). */
export interface ChangeRepos {
  readonly conversations: ConversationRepo;
  readonly messages: MessageRepo;
  readonly events: EventRepo;
}

export interface ChangeWrite {
  conversation: Pick<Conversation, 'id' | 'customerId' | 'version'>;
  patch: ConversationPatch;
  replies: readonly NewOutbound[];
  /** The events; a function of the stored replies when an event names one. */
  events: readonly NewEvent[] | ((replies: readonly StoredMessage[]) => readonly NewEvent[]);
  /** Whether someone subscribes to an event (`EventDispatcher.wanted`). */
  wanted: (type: string, payload: unknown) => boolean;
  /** The inbound message this change answers: marked processed with it. */
  processed?: string | undefined;
}

export interface ChangeWritten {
  replies: StoredMessage[];
  /** The events to dispatch (those someone subscribes to). */
  events: StoredEvent[];
}

/** Writes `w` in the caller's transaction; null (nothing written) when the conversation's version moved. */
export async function writeChange(tx: ChangeRepos, w: ChangeWrite): Promise<ChangeWritten | null> {
  const c = w.conversation;
  if (!(await tx.conversations.update(c.id, c.version, w.patch))) return null;
  const replies: StoredMessage[] = [];
  for (const r of w.replies) replies.push(await tx.messages.insertOutbound(r));
  const emitted = typeof w.events === 'function' ? w.events(replies) : w.events;
  const events = await tx.events.append(c.id, c.customerId, emitted, w.wanted);
  if (w.processed !== undefined) await tx.messages.markProcessed(w.processed);
  return { replies, events };
}

/** `writeChange` as one PostgreSQL statement (see the module comment); `repos` builds the rows. */
export async function writeChangeInOne(db: Kysely<Database>, repos: ChangeRepos, w: ChangeWrite): Promise<ChangeWritten | null> {
  const c = w.conversation;
  const outbound = w.replies.map((r) => repos.messages.newOutbound(r));
  const replies = outbound.map((o) => o.message);
  const emitted = typeof w.events === 'function' ? w.events(replies) : w.events;
  const eventRows = repos.events.rows(c.id, c.customerId, emitted, w.wanted);
  const set = repos.conversations.updateSet(c.version, w.patch);
  const parts = [sql`c as (${db.updateTable('conversations').set(set).where('id', '=', c.id).where('version', '=', c.version).returning('id')})`];
  if (outbound.length > 0) parts.push(sql`m as (${db.insertInto('messages').values(outbound.map((o) => o.row)).returning('id')})`);
  if (eventRows.length > 0) parts.push(sql`e as (${db.insertInto('conversation_events').values(eventRows).returning('id')})`);
  if (w.processed !== undefined) parts.push(sql`p as (${db.updateTable('messages').set({ processed_at: set.updated_at }).where('id', '=', w.processed).returning('id')})`);
  const ids = eventRows.length > 0 ? sql`(select coalesce(json_agg(id order by id), '[]') from e)` : sql`'[]'::json`;
  let eventIds: number[];
  try {
    const { rows } = await sql<{ ids: number[] }>`with ${sql.join(parts)} select 1 / (select count(*) from c) as moved, ${ids} as ids`.execute(db);
    eventIds = rows[0]?.ids ?? [];
  } catch (err) {
    // The compare-and-set matched no row.
    if (isDivisionByZero(err)) return null;
    throw err;
  }
  // One insert numbers its rows in the order of its values: the ids, sorted, are the events' in order.
  const events: StoredEvent[] = [];
  eventRows.forEach((row, i) => {
    const id = eventIds[i];
    if (id === undefined) throw new Error(`conversation ${c.id}: ${eventRows.length} events written, ${eventIds.length} ids returned`);
    if (row.dispatched_at === null) events.push(repos.events.stored(row, id, (emitted[i] as NewEvent).payload));
  });
  return { replies, events };
}
