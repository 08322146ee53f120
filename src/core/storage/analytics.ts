/**
 * The analytics read models' writes and the rebuild's reads (tables of `analytics:001_read_models`).
 * The analytics module rebuilds one conversation's rows from its events and messages: it reads an
 * `AnalyticsSource` here, folds it (src/analytics/fold.ts) and writes the result with `apply`, inside
 * one transaction. Rebuilding is idempotent: a redelivered or late event gives the same rows.
 */
import { sql, type Kysely } from 'kysely';
import type { Q, Stamp } from './rows.js';
import type { Database } from './tables.js';
import { parseObject } from './json.js';
import type { StoredEvent } from '../events.js';
import type { MessageAuthor } from '../types.js';
import {
  caseToRow,
  openCaseRow,
  questionToRow,
  rowToCase,
  sealCaseRow,
  sealQuestionRow,
  type AnalyticsCase,
  type AnalyticsDb,
  type AnalyticsRebuild,
  type AnalyticsSource,
  type AnalyticsTables,
  type FeedEvent,
} from './analytics-rows.js';
import { HOURLY_COUNTERS, addCase, addVolume, changed, type HourlyDeltas, type HourlyTable } from './analytics-hourly.js';

export * from './analytics-rows.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Rows per INSERT statement (PostgreSQL allows 65,535 parameters; 25 columns a case). */
export const INSERT_CHUNK = 1000;

export class AnalyticsRepo {
  private typed: AnalyticsDb | undefined;

  constructor(
    private readonly handle: Q,
    private readonly stamp: Stamp,
  ) {}

  private get q(): AnalyticsDb {
    this.typed ??= (this.handle as Kysely<Database>).withTables<Omit<AnalyticsTables, keyof Database>>();
    return this.typed;
  }

  /**
   * What rebuilding `conversationId` needs: its events from its latest case's first event on (all
   * when it has none), its messages from the hour before that case opened, and the opt-outs.
   */
  async source(conversationId: string): Promise<AnalyticsSource | undefined> {
    const conv = await this.q
      .selectFrom('conversations')
      .leftJoin('customers', 'customers.id', 'conversations.customer_id')
      .select(['conversations.customer_id', 'conversations.channel', 'customers.consent'])
      .where('conversations.id', '=', conversationId)
      .executeTakeFirst();
    if (!conv) return undefined;
    const latest = await this.q
      .selectFrom('analytics_cases')
      .select(['first_event_id', 'opened_at'])
      .where('conversation_id', '=', conversationId)
      .orderBy('first_event_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const sinceEventId = latest ? Number(latest.first_event_id) : null;
    // The first message's row is written just before its event: start a minute early, at an hour's start.
    const sinceHour = latest ? Math.floor((Number(latest.opened_at) - 60_000) / HOUR) * HOUR : null;
    let events = this.q.selectFrom('conversation_events').selectAll().where('conversation_id', '=', conversationId);
    if (sinceEventId !== null) events = events.where('id', '>=', sinceEventId);
    let messages = this.q
      .selectFrom('messages')
      .select(['id', 'direction', 'author', 'channel', 'text', 'caused_by', 'created_at', 'sent_at'])
      .where('conversation_id', '=', conversationId);
    if (sinceHour !== null) messages = messages.where('created_at', '>=', sinceHour);
    const [eventRows, messageRows] = await Promise.all([events.orderBy('id').execute(), messages.orderBy('created_at').execute()]);
    return {
      conversationId,
      customerId: conv.customer_id,
      channel: conv.channel,
      optOuts: optOutsOf(conv.consent),
      sinceEventId,
      sinceHour,
      events: eventRows.map(
        (r): StoredEvent => ({
          id: String(r.id),
          type: r.type,
          conversationId: r.conversation_id,
          customerId: r.customer_id,
          actor: r.actor,
          at: Number(r.created_at),
          payload: parsePayload(r.payload),
          dispatchedAt: r.dispatched_at,
        }),
      ),
      messages: messageRows.map((m) => ({
        id: m.id,
        direction: m.direction === 'in' ? 'in' : 'out',
        author: m.author as MessageAuthor,
        channel: m.channel,
        text: this.stamp.pii.open(m.text, 'messages.text').slice(0, 1000),
        causedBy: m.caused_by,
        createdAt: Number(m.created_at),
        sentAt: m.sent_at === null ? null : Number(m.sent_at),
      })),
    };
  }

  /** Serializes rebuilds of one conversation (PostgreSQL: a transaction-scoped advisory lock; SQLite has one writer anyway). */
  async lockConversation(conversationId: string, dialect: 'sqlite' | 'postgres'): Promise<void> {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${'analytics:' + conversationId}))`.execute(this.q);
  }

  /** Writes a rebuild (call inside `storage.transaction`): the rows from its starting point are replaced, the hourly rollup moved by the difference. */
  async apply(r: AnalyticsRebuild): Promise<void> {
    let delCases = this.q.deleteFrom('analytics_cases').where('conversation_id', '=', r.conversationId);
    let delQuestions = this.q.deleteFrom('analytics_questions').where('conversation_id', '=', r.conversationId);
    let delVolume = this.q.deleteFrom('analytics_volume').where('conversation_id', '=', r.conversationId);
    if (r.sinceEventId !== null) {
      delCases = delCases.where('first_event_id', '>=', r.sinceEventId);
      delQuestions = delQuestions.where('event_id', '>=', r.sinceEventId);
    }
    if (r.sinceHour !== null) {
      delVolume = delVolume.where('hour', '>=', r.sinceHour);
    }
    // The rows replaced, read as they are deleted (one statement each): the rollup moves by the difference.
    const deltas: HourlyDeltas = new Map();
    for (const c of await delCases.returningAll().execute()) addCase(deltas, rowToCase(c), -1);
    for (const v of await delVolume.returningAll().execute()) addVolume(deltas, { conversationId: v.conversation_id, hour: Number(v.hour), channel: v.channel, inbound: v.inbound, outbound: v.outbound }, -1);
    for (const c of r.cases) addCase(deltas, c, 1);
    for (const v of r.volume) addVolume(deltas, v, 1);
    await delQuestions.execute();
    await this.addHourly(changed(deltas));
    await this.insertCases(r.cases);
    await this.insertVolume(r.volume);
    await this.insertQuestions(r.questions);
    await this.insertProactive(r.proactive);
    await this.answerProactive(r);
    if (r.throughEventId !== null) {
      const mark = { conversation_id: r.conversationId, since_event_id: r.sinceEventId, through_event_id: r.throughEventId, events_seen: r.eventsSeen };
      await this.q
        .insertInto('analytics_conversations')
        .values(mark)
        .onConflict((oc) => oc.column('conversation_id').doUpdateSet({ since_event_id: mark.since_event_id, through_event_id: mark.through_event_id, events_seen: mark.events_seen }))
        .execute();
    }
  }

  /**
   * A proactive message is answered by the first customer message within 24 h after it, and opted
   * out of when the customer opted out of its kind within 24 h after it (only the conversation's
   * proactive rows are touched, and only those that change).
   */
  private async answerProactive(r: AnalyticsRebuild): Promise<void> {
    const rows = await this.q.selectFrom('analytics_proactive').select(['message_id', 'queued_at', 'answered_at']).where('conversation_id', '=', r.conversationId).execute();
    for (const p of rows) {
      const queued = Number(p.queued_at);
      const first = r.customerMessageTimes.filter((t) => t > queued && t <= queued + DAY).sort((a, b) => a - b)[0];
      if (first === undefined || (p.answered_at !== null && Number(p.answered_at) <= first)) continue;
      await this.q.updateTable('analytics_proactive').set({ answered_at: first }).where('message_id', '=', p.message_id).execute();
    }
    for (const [kind, at] of Object.entries(r.optOuts)) {
      await this.q
        .updateTable('analytics_proactive')
        .set({ opted_out_at: at })
        .where('customer_id', '=', r.customerId)
        .where('kind', '=', kind)
        .where('queued_at', '<=', at)
        .where('queued_at', '>=', at - DAY)
        .where('opted_out_at', 'is', null)
        .execute();
    }
  }

  /**
   * Whether the conversation's last rebuild already read event `eventId` (so this event needs no
   * rebuild): it read every event from its start to its newest, and no event in that span appeared
   * since (ids are assigned before commit, so a late commit would show up in the count).
   */
  async covered(conversationId: string, eventId: number): Promise<boolean> {
    const mark = await this.q.selectFrom('analytics_conversations').selectAll().where('conversation_id', '=', conversationId).executeTakeFirst();
    if (!mark || eventId > Number(mark.through_event_id) || (mark.since_event_id !== null && eventId < Number(mark.since_event_id))) return false;
    let q = this.q.selectFrom('conversation_events').select(sql<number>`count(*)`.as('n')).where('conversation_id', '=', conversationId).where('id', '<=', Number(mark.through_event_id));
    if (mark.since_event_id !== null) q = q.where('id', '>=', Number(mark.since_event_id));
    const { n } = await q.executeTakeFirstOrThrow();
    return Number(n) === mark.events_seen;
  }

  /** The feed's watermark (null before its first run). */
  async feedWatermark(name: string): Promise<number | null> {
    const r = await this.q.selectFrom('analytics_feed').select('watermark').where('name', '=', name).executeTakeFirst();
    return r ? Number(r.watermark) : null;
  }

  /** Moves the feed's watermark forward (never back). */
  async setFeedWatermark(name: string, watermark: number): Promise<void> {
    await this.q
      .insertInto('analytics_feed')
      .values({ name, watermark })
      .onConflict((oc) => oc.column('name').doUpdateSet({ watermark }).where('analytics_feed.watermark', '<', watermark))
      .execute();
  }

  /**
   * Events of `types` written after `after` (time, then id when given), oldest first: what the feed
   * reads, a page at a time, by the index on `created_at`.
   */
  async feedEvents(after: { at: number; id?: number }, types: readonly string[], limit: number): Promise<FeedEvent[]> {
    const { at, id } = after;
    const rows = await this.q
      .selectFrom('conversation_events')
      .select(['id', 'conversation_id', 'created_at'])
      .where((eb) => (id === undefined ? eb('created_at', '>', at) : eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('id', '>', id)])])))
      .where('type', 'in', [...types])
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: Number(r.id), conversationId: r.conversation_id, at: Number(r.created_at) }));
  }

  /**
   * Of these conversations (each with the lowest and highest id of its events just read), those whose
   * last rebuild did not read all of them (`covered` for many): no mark, an event outside its span, or
   * an event in its span that committed after it.
   */
  async stale(conversations: ReadonlyMap<string, { minId: number; maxId: number }>): Promise<string[]> {
    const ids = [...conversations.keys()];
    if (ids.length === 0) return [];
    const marks = new Map((await this.q.selectFrom('analytics_conversations').selectAll().where('conversation_id', 'in', ids).execute()).map((m) => [m.conversation_id, m]));
    const out: string[] = [];
    const check: string[] = [];
    for (const [id, span] of conversations) {
      const m = marks.get(id);
      if (!m || span.maxId > Number(m.through_event_id) || (m.since_event_id !== null && span.minId < Number(m.since_event_id))) out.push(id);
      else check.push(id);
    }
    if (check.length === 0) return out;
    const counts = await this.q
      .selectFrom('analytics_conversations as m')
      .innerJoin('conversation_events as e', 'e.conversation_id', 'm.conversation_id')
      .select(['m.conversation_id as id', 'm.events_seen as seen', sql<number>`count(*)`.as('n')])
      .where('m.conversation_id', 'in', check)
      .whereRef('e.id', '<=', 'm.through_event_id')
      .where((eb) => eb.or([eb('m.since_event_id', 'is', null), eb('e.id', '>=', eb.ref('m.since_event_id'))]))
      .groupBy(['m.conversation_id', 'm.events_seen'])
      .execute();
    const fresh = new Set(counts.filter((c) => Number(c.n) === Number(c.seen)).map((c) => c.id));
    for (const id of check) if (!fresh.has(id)) out.push(id);
    return out;
  }

  async insertCases(cases: readonly AnalyticsCase[]): Promise<void> {
    for (let i = 0; i < cases.length; i += INSERT_CHUNK) {
      await this.q.insertInto('analytics_cases').values(cases.slice(i, i + INSERT_CHUNK).map((c) => sealCaseRow(this.stamp.pii, caseToRow(c)))).execute();
    }
  }

  async insertVolume(rows: AnalyticsRebuild['volume']): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK * 2) {
      const chunk = rows.slice(i, i + INSERT_CHUNK * 2).map((v) => ({ conversation_id: v.conversationId, hour: v.hour, channel: v.channel, inbound: v.inbound, outbound: v.outbound }));
      await this.q.insertInto('analytics_volume').values(chunk).execute();
    }
  }

  async insertQuestions(rows: AnalyticsRebuild['questions']): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await this.q.insertInto('analytics_questions').values(rows.slice(i, i + INSERT_CHUNK).map((q) => sealQuestionRow(this.stamp.pii, questionToRow(q)))).execute();
    }
  }

  /** Proactive messages are written once (their answer and opt-out are set by later rebuilds). */
  async insertProactive(rows: AnalyticsRebuild['proactive']): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK).map((p) => ({
        message_id: p.messageId,
        event_id: p.eventId,
        conversation_id: p.conversationId,
        customer_id: p.customerId,
        channel: p.channel,
        kind: p.kind,
        queued_at: p.queuedAt,
        answered_at: null,
        opted_out_at: null,
      }));
      await this.q.insertInto('analytics_proactive').values(chunk).onConflict((oc) => oc.column('message_id').doNothing()).execute();
    }
  }

  /** A customer's cases opened since `from` (whether they came back about the same thing). */
  async customerCases(customerId: string, from: number): Promise<AnalyticsCase[]> {
    const rows = await this.q.selectFrom('analytics_cases').selectAll().where('customer_id', '=', customerId).where('opened_at', '>=', from).orderBy('opened_at').execute();
    return rows.map((r) => rowToCase(openCaseRow(this.stamp.pii, r)));
  }

  /** Sets whether these cases' customers came back (and moves the rollup). */
  async setCameBack(cases: readonly AnalyticsCase[], value: boolean): Promise<void> {
    const moved = cases.filter((c) => c.cameBack !== value);
    if (moved.length === 0) return;
    const deltas: HourlyDeltas = new Map();
    for (const c of moved) {
      addCase(deltas, c, -1);
      addCase(deltas, { ...c, cameBack: value }, 1);
    }
    await this.q.updateTable('analytics_cases').set({ came_back: value ? 1 : 0 }).where('id', 'in', moved.map((c) => c.id)).execute();
    await this.addHourly(changed(deltas));
  }

  /** Adds rows to the hourly rollup (insert, or add to the row of that hour and channel). */
  async addHourly(rows: readonly HourlyTable[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) {
      await this.q
        .insertInto('analytics_hourly')
        .values(rows.slice(i, i + 500))
        .onConflict((oc) =>
          oc.columns(['hour', 'channel']).doUpdateSet(Object.fromEntries(HOURLY_COUNTERS.map((c) => [c, sql<number>`${sql.ref(`analytics_hourly.${c}`)} + ${sql.ref(`excluded.${c}`)}`]))),
        )
        .execute();
    }
  }

  /** Conversations with events, oldest first, after `afterId` (a full rebuild walks them). */
  async conversationIds(afterId: string | null, limit: number): Promise<string[]> {
    let q = this.q.selectFrom('conversations').select('id');
    if (afterId !== null) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map((r) => r.id);
  }

  /** Empties the read models (before a full rebuild). */
  async clear(): Promise<void> {
    for (const t of ['analytics_conversations', 'analytics_cases', 'analytics_volume', 'analytics_hourly', 'analytics_questions', 'analytics_proactive'] as const) await this.q.deleteFrom(t).execute();
  }
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A customer's opt-outs by kind, from their `consent` (`optOut.<kind>.at`, written by the workflows' opt-out). */
function optOutsOf(consent: string | null | undefined): Record<string, number> {
  const optOut = consent ? parseObject(consent).optOut : undefined;
  const out: Record<string, number> = {};
  if (optOut && typeof optOut === 'object' && !Array.isArray(optOut)) {
    for (const [kind, v] of Object.entries(optOut)) {
      const at = v && typeof v === 'object' && !Array.isArray(v) ? v.at : undefined;
      const t = typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : NaN;
      if (Number.isFinite(t)) out[kind] = t;
    }
  }
  return out;
}
