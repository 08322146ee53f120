import { sql, type Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

/**
 * Outgoing webhooks: one row per (endpoint, conversation event) to deliver. The row is the
 * delivery's idempotency record (a delivered row is never POSTed again), its state between
 * attempts (attempts, last answer, next attempt) and the admin's delivery log.
 */
export async function up(db: Db, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', dialect === 'postgres' ? sql`bigserial` : sql`integer`, (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('endpoint', 'varchar(2000)', (c) => c.notNull())
    .addColumn('event_id', 'bigint', (c) => c.notNull())
    .addColumn('event_type', 'varchar(48)', (c) => c.notNull())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('next_attempt_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .addUniqueConstraint('webhook_deliveries_endpoint_event', ['endpoint', 'event_id'])
    .execute();
  // Order per (endpoint, conversation): "is an older delivery still pending?"
  await db.schema
    .createIndex('webhook_deliveries_order')
    .on('webhook_deliveries')
    .columns(['endpoint', 'conversation_id', 'event_id'])
    .execute();
  // The sweep: pending deliveries whose job is overdue.
  await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('webhook_deliveries').ifExists().execute();
}
