import { sql, type Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

/**
 * PII encrypted at rest (issue #16, docs/identity.md "Encryption at rest"):
 * - `identities.platform_user_hash`: keyed hash of the platform user id, unique per channel (what
 *   `resolve` looks up; the column itself is sealed under a random IV, so its own unique
 *   constraint no longer finds anyone). `search_hash`: keyed hash of the lowercased id (an email
 *   address found ignoring case).
 * - `email_codes.address_hash`: keyed hash of the lowercased address (a customer's codes).
 * - PostgreSQL: sealed values are longer than the plaintext, so the bounded columns that are sealed
 *   (`identities.platform_user_id`, `email_codes.address`, `audit_log.actor`) become text.
 * The hashes need the key, which a migration does not have: rows written before are hashed when a
 * storage opens with a codec (`PiiRepo.backfillHashes`), and stay plaintext until `pii rotate`.
 * The old unique constraint on (channel, platform_user_id) stays (SQLite cannot drop a table
 * constraint without rebuilding the table): it is what keeps a storage without encryption unique.
 */
export async function up(db: Db, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('identities').addColumn('platform_user_hash', 'varchar(64)').execute();
  await db.schema.alterTable('identities').addColumn('search_hash', 'varchar(64)').execute();
  // NULLs are distinct in both databases: rows without a hash (no encryption) never collide here.
  await db.schema.createIndex('identities_channel_user_hash').unique().on('identities').columns(['channel', 'platform_user_hash']).execute();
  await db.schema.createIndex('identities_search_hash').on('identities').columns(['channel', 'search_hash']).execute();
  // What the backfill at open looks for, without a scan of every identity at every start.
  await db.schema.createIndex('identities_unhashed').on('identities').column('id').where(sql.ref('platform_user_hash'), 'is', null).execute();
  await db.schema.alterTable('email_codes').addColumn('address_hash', 'varchar(64)').execute();
  await db.schema.createIndex('email_codes_address_hash').on('email_codes').column('address_hash').execute();
  if (dialect === 'postgres') {
    await sql`alter table identities alter column platform_user_id type text`.execute(db);
    await sql`alter table email_codes alter column address type text`.execute(db);
    await sql`alter table audit_log alter column actor type text`.execute(db);
  }
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('email_codes_address_hash').ifExists().execute();
  await db.schema.alterTable('email_codes').dropColumn('address_hash').execute();
  await db.schema.dropIndex('identities_unhashed').ifExists().execute();
  await db.schema.dropIndex('identities_search_hash').ifExists().execute();
  await db.schema.dropIndex('identities_channel_user_hash').ifExists().execute();
  await db.schema.alterTable('identities').dropColumn('search_hash').execute();
  await db.schema.alterTable('identities').dropColumn('platform_user_hash').execute();
}
