/**
 * Migration `workflows:003_due`: the due slots' lookup (src/workflows/engine-slots.ts) reads the
 * scheduled steps due in one second, a page at a time in (due_at, run_id, step_id) order; this index
 * serves both the range and the order (without it every page sorts the whole second's rows).
 */
import type { Kysely } from 'kysely';

type Db = Kysely<unknown>;

export async function up(db: Db): Promise<void> {
  await db.schema.createIndex('workflow_steps_due').on('workflow_steps').columns(['status', 'due_at', 'run_id', 'step_id']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('workflow_steps_due').ifExists().execute();
}
