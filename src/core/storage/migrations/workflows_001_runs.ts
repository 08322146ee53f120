/**
 * The engine's tables (migration `workflows:001_runs`): the events the API took, the runs they
 * started and each step's state. A step row is the step's idempotency record: (run id, step id) is unique, and
 * a step marked done is never run again, whatever BullMQ redelivers.
 */
import type { Kysely } from 'kysely';
import type { Dialect } from './001_core.js';

type Db = Kysely<unknown>;

export async function up(db: Db, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('workflow_events')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(200)', (c) => c.notNull())
    .addColumn('idempotency_key', 'varchar(300)', (c) => c.notNull().unique())
    .addColumn('request_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('correlation_value', 'varchar(500)')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('locale', 'varchar(32)')
    .addColumn('timezone', 'varchar(64)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('workflow_runs')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workflow', 'varchar(200)', (c) => c.notNull())
    .addColumn('version', 'varchar(64)', (c) => c.notNull())
    .addColumn('event_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('customer_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('correlation_value', 'varchar(500)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('workflow_runs_event').on('workflow_runs').column('event_id').execute();
  // A customer's message looks for an ask waiting for them (the answer turn handler).
  await db.schema.createIndex('workflow_runs_customer').on('workflow_runs').columns(['customer_id', 'status']).execute();
  // Cancellation: the running runs of a workflow with a correlation value.
  await db.schema.createIndex('workflow_runs_correlation').on('workflow_runs').columns(['workflow', 'correlation_value', 'status']).execute();
  await db.schema
    .createTable('workflow_steps')
    .addColumn('run_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('step_id', 'varchar(200)', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('due_at', 'bigint')
    .addColumn('result', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('workflow_steps_pk', ['run_id', 'step_id'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  for (const t of ['workflow_steps', 'workflow_runs', 'workflow_events']) await db.schema.dropTable(t).ifExists().execute();
}
