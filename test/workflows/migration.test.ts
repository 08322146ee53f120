/**
 * Migration `workflows:002_schedules` on a database that already holds runs (both dialects):
 * the rows of `workflow_events` and `workflow_runs` survive (SQLite rebuilds the two tables), a
 * scheduled run without a customer can be stored afterwards, and `workflow_versions` exists.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { migrate, openDb } from '../../src/core/storage/db.js';
import { storageMigrations } from '../../src/core/storage/migrations/index.js';
import { DIALECTS, makeDb } from '../helpers/env.js';

const without002 = storageMigrations.map((set) =>
  set.module === 'workflows' ? { ...set, migrations: Object.fromEntries(Object.entries(set.migrations).filter(([name]) => name !== '002_schedules')) } : set,
);

for (const dialect of DIALECTS) {
  describe(`workflows:002_schedules (${dialect})`, () => {
    it('keeps the stored events and runs, and lets a run have no customer', async () => {
      const testDb = await makeDb(dialect);
      const db = openDb(testDb.url);
      try {
        await migrate(db, without002);
        const k = db.kysely;
        await sql`insert into workflow_events (id, type, idempotency_key, request_hash, customer_id, correlation_value, data, locale, timezone, created_at)
          values ('e1', 'subscription.expiring', 'key-1', 'h', 'cust-1', 'sub-1', '{"plan":"Pro"}', 'en', null, 1000)`.execute(k);
        await sql`insert into workflow_runs (id, workflow, version, event_id, customer_id, correlation_value, status, error, created_at, updated_at)
          values ('r1', 'renewal', 'v1', 'e1', 'cust-1', 'sub-1', 'running', null, 1000, 1000)`.execute(k);
        await assert.rejects(
          sql`insert into workflow_runs (id, workflow, version, event_id, customer_id, correlation_value, status, error, created_at, updated_at)
            values ('r0', 'nightly', 'v1', 'e1', null, null, 'running', null, 1000, 1000)`.execute(k),
          'before the migration a run needs a customer',
        );

        await migrate(db, storageMigrations);
        const events = await sql<{ id: string; customer_id: string; data: string }>`select id, customer_id, data from workflow_events`.execute(k);
        assert.deepEqual(events.rows, [{ id: 'e1', customer_id: 'cust-1', data: '{"plan":"Pro"}' }]);
        const runs = await sql<{ id: string; status: string; correlation_value: string }>`select id, status, correlation_value from workflow_runs`.execute(k);
        assert.deepEqual(runs.rows, [{ id: 'r1', status: 'running', correlation_value: 'sub-1' }]);
        await sql`insert into workflow_events (id, type, idempotency_key, request_hash, customer_id, correlation_value, data, locale, timezone, created_at)
          values ('e2', 'schedule', 'cron:nightly:1', 'h', null, null, '{}', null, null, 2000)`.execute(k);
        await sql`insert into workflow_runs (id, workflow, version, event_id, customer_id, correlation_value, status, error, created_at, updated_at)
          values ('r2', 'nightly', 'v1', 'e2', null, null, 'running', null, 2000, 2000)`.execute(k);
        // The unique idempotency key survived the rebuild.
        await assert.rejects(
          sql`insert into workflow_events (id, type, idempotency_key, request_hash, customer_id, correlation_value, data, locale, timezone, created_at)
            values ('e3', 'schedule', 'cron:nightly:1', 'h', null, null, '{}', null, null, 2000)`.execute(k),
        );
        await sql`insert into workflow_versions (version, workflow, file, source, defaults, templates, created_at) values ('v1', 'nightly', 'f.yaml', 'src', null, null, 1)`.execute(k);
      } finally {
        await db.close();
        await testDb.drop();
      }
    });
  });
}
