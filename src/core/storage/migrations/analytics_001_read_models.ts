/**
 * The analytics read models (migration `analytics:001_read_models`), fed by the core's conversation
 * events (read from the event log by src/analytics/feed.ts) and rebuilt per conversation, so a redelivered or late event
 * changes nothing twice:
 * - `analytics_feed`: how far the feed (src/analytics/feed.ts) has read the event log, and an index on
 *   `conversation_events.created_at` it reads by;
 * - `analytics_conversations`: what each conversation's last rebuild read (redundant events skip it);
 * - `analytics_cases`: one row per case (a customer's contact: see docs/analytics.md) with its
 *   timings, outcome and CSAT, the unit of every rate;
 * - `analytics_volume`: messages per (conversation, hour, channel), what a rebuild replaces;
 * - `analytics_hourly`: per (hour, channel) sums of both, which the KPI and volume queries read;
 * - `analytics_questions`: questions the bot escalated or answered with low confidence (knowledge gaps);
 * - `analytics_proactive`: messages the hub wrote first (reminders, alerts, API sends).
 */
import { sql, type Kysely } from 'kysely';
import type { Dialect } from './001_core.js';
import { HOURLY_COUNTERS } from '../analytics-rows.js';

type Db = Kysely<unknown>;

export async function up(db: Db, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('analytics_cases')
    .addColumn('id', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('channel', 'varchar(64)', (c) => c.notNull())
    .addColumn('first_event_id', 'bigint', (c) => c.notNull())
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('last_customer_at', 'bigint', (c) => c.notNull())
    .addColumn('messages_in', 'integer', (c) => c.notNull())
    .addColumn('messages_out', 'integer', (c) => c.notNull())
    .addColumn('bot_answers', 'integer', (c) => c.notNull())
    .addColumn('bot_first_response_ms', 'bigint')
    .addColumn('min_confidence', 'double precision')
    .addColumn('escalated_at', 'bigint')
    .addColumn('escalation_reason', 'varchar(32)')
    .addColumn('agent_first_response_ms', 'bigint')
    .addColumn('resolved_at', 'bigint')
    // Log bins of the three durations (analytics-rows.ts binOf): percentiles of large ranges.
    .addColumn('bot_first_response_bin', 'integer')
    .addColumn('agent_first_response_bin', 'integer')
    .addColumn('resolution_bin', 'integer')
    .addColumn('reopens', 'integer', (c) => c.notNull())
    .addColumn('csat_asked', 'integer', (c) => c.notNull())
    .addColumn('csat_score', 'integer')
    .addColumn('csat_count', 'integer', (c) => c.notNull())
    .addColumn('came_back', 'integer', (c) => c.notNull())
    .addColumn('entry_ids', 'text', (c) => c.notNull())
    .addColumn('question', 'text', (c) => c.notNull())
    .addColumn('question_terms', 'text', (c) => c.notNull())
    .execute();
  // Every KPI query: cases opened in a date range.
  await db.schema.createIndex('analytics_cases_opened').on('analytics_cases').columns(['opened_at', 'channel']).execute();
  // Response-time histograms: counted from an index alone (no table lookups) over a date range,
  // one partial index per duration, so the agents' and resolution times (escalated cases only)
  // read only the cases that have them.
  for (const bin of ['bot_first_response_bin', 'agent_first_response_bin', 'resolution_bin']) {
    await db.schema
      .createIndex(`analytics_cases_${bin}`)
      .on('analytics_cases')
      .columns(['opened_at', 'channel', bin])
      .where(sql.ref(bin), 'is not', null)
      .execute();
  }
  // The KPI query's correction for cases whose 24 h come-back window is still open.
  await db.schema.createIndex('analytics_cases_recent').on('analytics_cases').column('last_customer_at').execute();
  // "Did the customer come back?": a customer's cases around a time.
  await db.schema.createIndex('analytics_cases_customer').on('analytics_cases').columns(['customer_id', 'opened_at']).execute();
  // The rebuild of one conversation starts at its latest case.
  await db.schema.createIndex('analytics_cases_conversation').on('analytics_cases').columns(['conversation_id', 'first_event_id']).execute();

  // The feed polls the event log by time (events written since its watermark).
  await db.schema.createIndex('conversation_events_created').on('conversation_events').column('created_at').execute();
  await db.schema
    .createTable('analytics_feed')
    .addColumn('name', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('watermark', 'bigint', (c) => c.notNull())
    .execute();

  // What the last rebuild of a conversation read (events from since_event_id to through_event_id,
  // events_seen of them): an event it already saw needs no second rebuild.
  await db.schema
    .createTable('analytics_conversations')
    .addColumn('conversation_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('since_event_id', 'bigint')
    .addColumn('through_event_id', 'bigint', (c) => c.notNull())
    .addColumn('events_seen', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('analytics_volume')
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('channel', 'varchar(64)', (c) => c.notNull())
    .addColumn('inbound', 'integer', (c) => c.notNull())
    .addColumn('outbound', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('analytics_volume_pk', ['conversation_id', 'hour', 'channel'])
    .execute();
  await db.schema.createIndex('analytics_volume_hour').on('analytics_volume').columns(['hour', 'channel']).execute();

  // The rollup the KPI and volume queries read (src/core/storage/analytics-hourly.ts).
  let hourly = db.schema
    .createTable('analytics_hourly')
    .addColumn('hour', 'bigint', (c) => c.notNull())
    .addColumn('channel', 'varchar(64)', (c) => c.notNull());
  for (const counter of HOURLY_COUNTERS) hourly = hourly.addColumn(counter, 'bigint', (c) => c.notNull().defaultTo(0));
  await hourly.addPrimaryKeyConstraint('analytics_hourly_pk', ['hour', 'channel']).execute();

  await db.schema
    .createTable('analytics_questions')
    .addColumn('event_id', 'bigint', (c) => c.primaryKey())
    .addColumn('case_id', 'varchar(100)', (c) => c.notNull())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('channel', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('reason', 'varchar(32)')
    .addColumn('confidence', 'double precision')
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('terms', 'text', (c) => c.notNull())
    .addColumn('agent_answer', 'text')
    .execute();
  await db.schema.createIndex('analytics_questions_at').on('analytics_questions').column('at').execute();
  await db.schema.createIndex('analytics_questions_conversation').on('analytics_questions').columns(['conversation_id', 'event_id']).execute();

  await db.schema
    .createTable('analytics_proactive')
    .addColumn('message_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('event_id', 'bigint', (c) => c.notNull())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('channel', 'varchar(64)', (c) => c.notNull())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('queued_at', 'bigint', (c) => c.notNull())
    .addColumn('answered_at', 'bigint')
    .addColumn('opted_out_at', 'bigint')
    .execute();
  await db.schema.createIndex('analytics_proactive_queued').on('analytics_proactive').columns(['queued_at', 'channel']).execute();
  await db.schema.createIndex('analytics_proactive_conversation').on('analytics_proactive').columns(['conversation_id', 'event_id']).execute();
}

export async function down(db: Db): Promise<void> {
  for (const t of ['analytics_proactive', 'analytics_questions', 'analytics_hourly', 'analytics_volume', 'analytics_conversations', 'analytics_feed', 'analytics_cases']) await db.schema.dropTable(t).ifExists().execute();
  await db.schema.dropIndex('conversation_events_created').ifExists().execute();
}
