import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { openDb } from '../../src/core/storage/db.js';
import { postgresDb } from '../helpers/env.js';

interface T {
  t: { k: number; v: string };
}

/** How `openDb` talks to PostgreSQL: queries as named prepared statements (`withPreparedStatements`). */
describe('PostgreSQL connection: prepared statements', () => {
  async function open() {
    const db = await postgresDb();
    const handle = openDb(db.url);
    after(async () => {
      await handle.close();
      await db.drop();
    });
    await sql`create table t (k integer primary key, v text)`.execute(handle.kysely);
    return { url: db.url, k: handle.kysely as unknown as Kysely<T> };
  }

  it('a query built by Kysely is prepared once per connection and then only executed', async () => {
    const { k } = await open();
    // One transaction: one connection, whose prepared statements pg_prepared_statements lists.
    const { rows, prepared } = await k.transaction().execute(async (tx) => {
      for (let i = 1; i <= 3; i++) await tx.insertInto('t').values({ k: i, v: `v${i}` }).execute();
      const rows = await tx.selectFrom('t').select('v').where('k', '=', 2).execute();
      const prepared = (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(tx)).rows.map((r) => r.statement);
      return { rows, prepared };
    });
    assert.deepEqual(rows, [{ v: 'v2' }]);
    // Three inserts of one text: one prepared statement; and the select's.
    assert.equal(prepared.filter((s) => s.startsWith('insert into "t"')).length, 1, prepared.join('\n'));
    assert.equal(prepared.filter((s) => s.startsWith('select "v" from "t"')).length, 1, prepared.join('\n'));
    // begin and DDL are not prepared.
    assert.ok(!prepared.some((s) => /^(begin|create)/i.test(s)), prepared.join('\n'));
  });

  it('preparedStatements false: nothing is prepared (for a pooler that does not keep them)', async () => {
    const db = await postgresDb();
    const handle = openDb(db.url, { preparedStatements: false });
    after(async () => {
      await handle.close();
      await db.drop();
    });
    const k = handle.kysely as unknown as Kysely<T>;
    await sql`create table t (k integer primary key, v text)`.execute(k);
    const prepared = await k.transaction().execute(async (tx) => {
      await tx.insertInto('t').values({ k: 1, v: 'one' }).execute();
      assert.deepEqual(await tx.selectFrom('t').select('v').where('k', '=', 1).execute(), [{ v: 'one' }]);
      return (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(tx)).rows;
    });
    assert.deepEqual(prepared, []);
  });

  it('a statement first sent in a failed transaction is prepared again on its next run', async () => {
    const { k } = await open();
    await k.insertInto('t').values({ k: 1, v: 'one' }).execute();
    const read = (q: Kysely<T>) => q.selectFrom('t').select('v').where('k', '>', 0).execute();
    await assert.rejects(
      k.transaction().execute(async (tx) => {
        await assert.rejects(tx.insertInto('t').values({ k: 1, v: 'again' }).execute(), /duplicate key/);
        // The transaction is aborted: the server refuses this statement's parse.
        await read(tx);
      }),
      /current transaction is aborted/,
    );
    // Every pooled connection (the one that failed among them) reads it.
    assert.deepEqual(await Promise.all([1, 2, 3].map(() => read(k))), [[{ v: 'one' }], [{ v: 'one' }], [{ v: 'one' }]]);
  });

  it('a prepared select * keeps working after another process adds a column (read again unnamed)', async () => {
    const { url, k } = await open();
    await k.insertInto('t').values({ k: 1, v: 'one' }).execute();
    // Several at once: prepared on several of the pool's connections.
    const all = () => Promise.all([1, 2, 3].map(() => k.selectFrom('t').selectAll().execute()));
    assert.deepEqual(await all(), [[{ k: 1, v: 'one' }], [{ k: 1, v: 'one' }], [{ k: 1, v: 'one' }]]);
    const other = openDb(url);
    await sql`alter table t add column w text default 'new'`.execute(other.kysely);
    await other.close();
    const row = { k: 1, v: 'one', w: 'new' };
    assert.deepEqual(await all(), [[row], [row], [row]]);
    assert.deepEqual(await all(), [[row], [row], [row]]);
  });
});
