import { sql, type Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

/**
 * One customer across channels (issue #16, docs/identity.md):
 * - `customers.merged_into`: a customer merged into another keeps its row (so an unlink restores
 *   it under its own id); `erased_at` + `tombstone`: an erased customer's row keeps only counts.
 * - `customer_merges`: what each merge moved (the ids per table) and the survivor's profile before,
 *   so an unlink moves exactly that back.
 * - `audit_log`: every link, merge, unlink, export and erase: who (token, agent, the customer's own
 *   proof), what, when, details.
 * - `link_tokens`: business-signed link tokens, single use (`used_at` set once, compare-and-set).
 * - `email_codes`: one-time codes mailed to an address a chat customer claims (keyed hash only,
 *   tries counted by compare-and-set, `used_at` set once).
 */
export async function up(db: Db, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('customers').addColumn('merged_into', 'varchar(64)').execute();
  await db.schema.alterTable('customers').addColumn('erased_at', 'bigint').execute();
  await db.schema.alterTable('customers').addColumn('tombstone', 'text').execute();

  await db.schema
    .createTable('customer_merges')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('survivor_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('merged_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('moved', 'text', (c) => c.notNull())
    .addColumn('survivor_before', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('undone_at', 'bigint')
    .execute();
  await db.schema.createIndex('customer_merges_survivor').on('customer_merges').columns(['survivor_id', 'created_at']).execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', dialect === 'postgres' ? sql`bigserial` : sql`integer`, (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor_kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('actor', 'varchar(300)', (c) => c.notNull())
    .addColumn('action', 'varchar(32)', (c) => c.notNull())
    .addColumn('customer_id', 'varchar(64)')
    .addColumn('other_customer_id', 'varchar(64)')
    .addColumn('reason', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_customer').on('audit_log').columns(['customer_id', 'id']).execute();

  await db.schema
    .createTable('link_tokens')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('grant_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('channel', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(300)', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('used_by', 'varchar(400)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('link_tokens_grant').on('link_tokens').column('grant_id').execute();

  await db.schema
    .createTable('email_codes')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('identity', 'varchar(400)', (c) => c.notNull())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('address', 'varchar(320)', (c) => c.notNull())
    .addColumn('code_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('tries', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('used_by', 'varchar(64)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('email_codes_identity').on('email_codes').columns(['identity', 'created_at']).execute();
}

export async function down(db: Db): Promise<void> {
  for (const t of ['email_codes', 'link_tokens', 'audit_log', 'customer_merges']) await db.schema.dropTable(t).ifExists().execute();
  for (const c of ['tombstone', 'erased_at', 'merged_into']) await db.schema.alterTable('customers').dropColumn(c).execute();
}
