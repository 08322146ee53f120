/**
 * Migration `workflows:002_schedules`:
 * - a run started by a schedule (a cron trigger) has no customer: `customer_id` becomes nullable in
 *   `workflow_events` and `workflow_runs` (PostgreSQL drops the constraint; SQLite, which cannot,
 *   rebuilds the two tables with their rows and indexes);
 * - `workflow_versions`: the source of every workflow version a run started on (the file, the
 *   folder's `_defaults.yaml` and the named templates), so a run finishes on its version after the
 *   file changed, even in a process that never loaded that version;
 * - the sweep's lookup of open steps by status and age gets an index.
 */
import { sql, type Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

const EVENT_COLUMNS = 'id, type, idempotency_key, request_hash, customer_id, correlation_value, data, locale, timezone, created_at';
const RUN_COLUMNS = 'id, workflow, version, event_id, customer_id, correlation_value, status, error, created_at, updated_at';

async function rebuildSqlite(db: Db): Promise<void> {
  await sql`create table workflow_events_new (
    id varchar(64) primary key, type varchar(200) not null, idempotency_key varchar(300) not null unique,
    request_hash varchar(64) not null, customer_id varchar(64), correlation_value varchar(500), data text not null,
    locale varchar(32), timezone varchar(64), created_at bigint not null)`.execute(db);
  await sql.raw(`insert into workflow_events_new (${EVENT_COLUMNS}) select ${EVENT_COLUMNS} from workflow_events`).execute(db);
  await sql`drop table workflow_events`.execute(db);
  await sql`alter table workflow_events_new rename to workflow_events`.execute(db);
  await sql`create table workflow_runs_new (
    id varchar(64) primary key, workflow varchar(200) not null, version varchar(64) not null, event_id varchar(64) not null,
    customer_id varchar(64), correlation_value varchar(500), status varchar(16) not null, error text,
    created_at bigint not null, updated_at bigint not null)`.execute(db);
  await sql.raw(`insert into workflow_runs_new (${RUN_COLUMNS}) select ${RUN_COLUMNS} from workflow_runs`).execute(db);
  await sql`drop table workflow_runs`.execute(db);
  await sql`alter table workflow_runs_new rename to workflow_runs`.execute(db);
  await db.schema.createIndex('workflow_runs_event').on('workflow_runs').column('event_id').execute();
  await db.schema.createIndex('workflow_runs_customer').on('workflow_runs').columns(['customer_id', 'status']).execute();
  await db.schema.createIndex('workflow_runs_correlation').on('workflow_runs').columns(['workflow', 'correlation_value', 'status']).execute();
}

export async function up(db: Db, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') {
    await sql`alter table workflow_events alter column customer_id drop not null`.execute(db);
    await sql`alter table workflow_runs alter column customer_id drop not null`.execute(db);
  } else {
    await rebuildSqlite(db);
  }
  await db.schema
    .createTable('workflow_versions')
    .addColumn('version', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workflow', 'varchar(200)', (c) => c.notNull())
    .addColumn('file', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('defaults', 'text')
    .addColumn('templates', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('workflow_steps_open').on('workflow_steps').columns(['status', 'updated_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('workflow_steps_open').ifExists().execute();
  await db.schema.dropTable('workflow_versions').ifExists().execute();
}
