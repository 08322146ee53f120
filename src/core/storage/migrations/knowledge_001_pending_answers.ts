import { sql, type Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

/**
 * Answers agents proposed for the knowledge base ("Save answer" on a desk), waiting for an admin
 * to approve them into the knowledge files (`switchboard kb pending`). Any worker may write a row;
 * `dedupe_key` makes a redelivered save store one.
 */
export async function up(db: Db, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('pending_answers')
    .addColumn('id', dialect === 'postgres' ? sql`bigserial` : sql`integer`, (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('dedupe_key', 'varchar(400)', (c) => c.notNull().unique())
    .addColumn('question', 'text', (c) => c.notNull())
    .addColumn('answer', 'text', (c) => c.notNull())
    .addColumn('locale', 'varchar(16)', (c) => c.notNull())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('proposed_by', 'varchar(200)', (c) => c.notNull())
    .addColumn('proposed_by_name', 'varchar(200)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('reviewed_at', 'bigint')
    .addColumn('reviewed_by', 'varchar(200)')
    .addColumn('entry_id', 'varchar(200)')
    .execute();
  await db.schema.createIndex('pending_answers_status').on('pending_answers').columns(['status', 'id']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('pending_answers').ifExists().execute();
}
