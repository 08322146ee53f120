import { sql, type Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

/**
 * The core's seams: thread-keyed conversations, the typed event outbox with per-subscriber
 * receipts, per-channel state, and the desks' own case tables (replacing `escalation_ref` JSON).
 */
export async function up(db: Db, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('conversations').addColumn('thread_key', 'varchar(400)').execute();
  await db.schema.alterTable('conversations').addColumn('escalation_id', 'varchar(64)').execute();
  // Thread lookups use conversations_customer (customer_id, created_at): a customer has few
  // conversations, and one index less keeps inserts cheap.
  await db.schema.createIndex('messages_customer').on('messages').columns(['customer_id', 'created_at']).execute();

  await db.schema
    .createTable('conversation_events')
    .addColumn('id', dialect === 'postgres' ? sql`bigserial` : sql`integer`, (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('type', 'varchar(48)', (c) => c.notNull())
    .addColumn('actor', 'varchar(200)', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('dispatched_at', 'bigint')
    .execute();
  await db.schema.createIndex('conversation_events_conv').on('conversation_events').columns(['conversation_id', 'id']).execute();
  await db.schema
    .createIndex('conversation_events_undispatched')
    .on('conversation_events')
    .column('created_at')
    .where(sql.ref('dispatched_at'), 'is', null)
    .execute();

  await db.schema
    .createTable('event_receipts')
    .addColumn('subscriber', 'varchar(64)', (c) => c.notNull())
    .addColumn('event_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('done_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('event_receipts_pk', ['subscriber', 'event_id'])
    .execute();

  await db.schema
    .createTable('channel_state')
    .addColumn('channel', 'varchar(32)', (c) => c.notNull())
    .addColumn('key', 'varchar(200)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('channel_state_pk', ['channel', 'key'])
    .execute();

  await db.schema
    .createTable('desk_cases')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('desk', 'varchar(32)', (c) => c.notNull())
    .addColumn('escalation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull())
    .addColumn('owner', 'varchar(64)')
    .addColumn('pending_since', 'bigint')
    .addColumn('thread_channel', 'varchar(64)')
    .addColumn('thread_ts', 'varchar(64)')
    .addColumn('snapshot', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('desk_cases_escalation', ['desk', 'escalation_id'])
    .execute();
  await db.schema.createIndex('desk_cases_thread').on('desk_cases').columns(['desk', 'thread_channel', 'thread_ts']).execute();
  await db.schema.createIndex('desk_cases_conversation').on('desk_cases').columns(['conversation_id', 'created_at']).execute();

  await db.schema
    .createTable('desk_posts')
    .addColumn('desk', 'varchar(32)', (c) => c.notNull())
    .addColumn('key', 'varchar(400)', (c) => c.notNull())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('ts', 'varchar(64)')
    .addColumn('owner', 'varchar(64)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('desk_posts_pk', ['desk', 'key'])
    .execute();

  // Cases posted before this migration kept their thread in escalation_ref JSON: move them over.
  const rows = await sql<{ id: string; escalation_ref: string; updated_at: number }>`
    select id, escalation_ref, updated_at from conversations where escalation_ref is not null`.execute(db);
  for (const r of rows.rows) {
    let ref: { desk?: unknown; channel?: unknown; escalationId?: unknown; ts?: unknown };
    try {
      ref = JSON.parse(r.escalation_ref) as typeof ref;
    } catch {
      continue;
    }
    if (typeof ref.desk !== 'string' || typeof ref.escalationId !== 'string' || typeof ref.ts !== 'string' || typeof ref.channel !== 'string') continue;
    await sql`insert into desk_cases (id, desk, escalation_id, conversation_id, state, version, thread_channel, thread_ts, created_at, updated_at)
      values (${`${r.id}:${ref.escalationId}`}, ${ref.desk}, ${ref.escalationId}, ${r.id}, 'posted', 0, ${ref.channel}, ${ref.ts}, ${r.updated_at}, ${r.updated_at})`.execute(db);
    await sql`update conversations set escalation_id = ${ref.escalationId} where id = ${r.id}`.execute(db);
  }
  await db.schema.alterTable('conversations').dropColumn('escalation_ref').execute();
}

export async function down(db: Db): Promise<void> {
  for (const t of ['desk_posts', 'desk_cases', 'channel_state', 'event_receipts', 'conversation_events']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
  await db.schema.alterTable('conversations').addColumn('escalation_ref', 'text').execute();
  await db.schema.dropIndex('messages_customer').ifExists().execute();
  await db.schema.alterTable('conversations').dropColumn('thread_key').execute();
  await db.schema.alterTable('conversations').dropColumn('escalation_id').execute();
}
