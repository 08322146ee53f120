import { sql, type Kysely } from 'kysely';

// Migrations run before the typed schema exists: they only use the schema builder.
type Db = Kysely<unknown>;

export type Dialect = 'sqlite' | 'postgres';

export async function up(db: Db, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('customers')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('display_name', 'text')
    .addColumn('locale', 'varchar(16)')
    .addColumn('timezone', 'varchar(64)')
    .addColumn('preferred_channel', 'varchar(32)')
    .addColumn('consent', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('identities')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull().references('customers.id'))
    .addColumn('channel', 'varchar(32)', (c) => c.notNull())
    .addColumn('platform_user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('display_name', 'text')
    .addColumn('verified', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_ref', 'text', (c) => c.notNull())
    .addColumn('unreachable_at', 'bigint')
    .addColumn('unreachable_reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('identities_channel_user', ['channel', 'platform_user_id'])
    .execute();
  await db.schema.createIndex('identities_customer').on('identities').column('customer_id').execute();

  await db.schema
    .createTable('conversations')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull().references('customers.id'))
    .addColumn('channel', 'varchar(32)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('assignee', 'text')
    .addColumn('escalation_ref', 'text')
    .addColumn('escalation_reason', 'varchar(32)')
    .addColumn('priority', 'varchar(16)')
    .addColumn('strikes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('bot_state', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('resolved_at', 'bigint')
    .execute();
  await db.schema.createIndex('conversations_customer').on('conversations').columns(['customer_id', 'created_at']).execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull().references('conversations.id'))
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('direction', 'varchar(3)', (c) => c.notNull())
    .addColumn('author', 'varchar(16)', (c) => c.notNull())
    .addColumn('author_name', 'text')
    .addColumn('channel', 'varchar(32)', (c) => c.notNull())
    .addColumn('dedupe_key', 'varchar(400)', (c) => c.unique())
    .addColumn('platform_message_id', 'varchar(255)')
    .addColumn('kind', 'varchar(16)', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('attachments', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('buttons', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('ref', 'text', (c) => c.notNull())
    .addColumn('delivery_status', 'varchar(16)', (c) => c.notNull())
    .addColumn('sent_parts', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('error', 'text')
    .addColumn('caused_by', 'varchar(64)')
    .addColumn('processed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint')
    .execute();
  await db.schema.createIndex('messages_conversation').on('messages').columns(['conversation_id', 'created_at']).execute();
  await db.schema
    .createIndex('messages_caused_by')
    .on('messages')
    .column('caused_by')
    .where(sql.ref('caused_by'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('messages_pending')
    .on('messages')
    .column('created_at')
    .where(sql.ref('delivery_status'), '=', 'pending')
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('id', dialect === 'postgres' ? sql`bigserial` : sql`integer`, (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('conversation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('type', 'varchar(32)', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('events_conversation').on('events').columns(['conversation_id', 'id']).execute();
}

export async function down(db: Db): Promise<void> {
  for (const t of ['events', 'messages', 'conversations', 'identities', 'customers']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
