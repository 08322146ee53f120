import type { Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

/**
 * Proactive sends that fall back across channels (the API's messages, workflows' reminders): one
 * row per request, with the channels to try, every attempt, the outbound message in flight, and
 * the hash of the request (an idempotency key reused for another request is refused).
 * Customers get the business's own id (`external_id`), unique when set.
 */
export async function up(db: Db, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('customers').addColumn('external_id', 'varchar(200)').execute();
  await db.schema.createIndex('customers_external_id').on('customers').column('external_id').unique().execute();
  await db.schema
    .createTable('proactive_sends')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('dedupe_key', 'varchar(400)', (c) => c.notNull().unique())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('channels', 'text', (c) => c.notNull())
    .addColumn('attempts', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('message_id', 'varchar(64)')
    .addColumn('request_hash', 'varchar(64)')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('proactive_sends_message').on('proactive_sends').column('message_id').execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('proactive_sends').ifExists().execute();
  await db.schema.dropIndex('customers_external_id').ifExists().execute();
  await db.schema.alterTable('customers').dropColumn('external_id').execute();
}
