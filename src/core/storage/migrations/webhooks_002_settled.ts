/**
 * Migration `webhooks:002_settled`: the webhooks sweep deletes settled deliveries (delivered or
 * failed) older than their retention, oldest first (src/webhooks/index.ts); this index finds them
 * without reading the whole table.
 */
import type { Kysely } from 'kysely';

type Db = Kysely<unknown>;

export async function up(db: Db): Promise<void> {
  await db.schema.createIndex('webhook_deliveries_settled').on('webhook_deliveries').columns(['status', 'updated_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('webhook_deliveries_settled').ifExists().execute();
}
