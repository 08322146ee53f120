import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { sql } from 'kysely';
import { openDb, type SqliteOptions } from '../../src/core/storage/db.js';
import { sqliteDb } from '../helpers/env.js';

/** How `openDb` sets up a SQLite connection: its checkpoint thread and its page cache. */
describe('SQLite connection options', () => {
  async function open(opts?: SqliteOptions) {
    const db = sqliteDb();
    const handle = openDb(db.url, opts);
    after(async () => {
      await handle.close();
      await db.drop();
    });
    const file = db.url.slice('sqlite:'.length);
    const pragma = async (name: string) => Number(Object.values((await sql<Record<string, number>>`pragma ${sql.raw(name)}`.execute(handle.kysely)).rows[0] ?? {})[0]);
    /** Writes about 400 KB in one commit: the pages go to the WAL; only a checkpoint copies them into the file. */
    const write = async () => {
      await sql`create table t (k integer primary key, v text)`.execute(handle.kysely);
      await sql`with recursive n(i) as (select 1 union all select i + 1 from n where i < 400) insert into t select i, hex(randomblob(500)) from n`.execute(handle.kysely);
    };
    return { file, pragma, write, size: () => statSync(file).size };
  }
  const settle = () => new Promise((r) => setTimeout(r, 800)); // the checkpoint thread runs every 200 ms

  it('by default: a 64 MiB page cache, and the checkpoint thread copies committed pages into the file', async () => {
    const c = await open();
    assert.equal(await c.pragma('cache_size'), -65536);
    const before = c.size();
    await c.write();
    await settle();
    assert.ok(c.size() > before + 300_000, `the file grew from ${before} to ${c.size()} bytes: no checkpoint ran`);
  });

  it('checkpointer false: no checkpoint thread (the pages stay in the WAL); cacheMb sets the page cache', async () => {
    const c = await open({ checkpointer: false, cacheMb: 16 });
    assert.equal(await c.pragma('cache_size'), -16384);
    const before = c.size();
    await c.write();
    await settle();
    assert.equal(c.size(), before, 'the file changed: something checkpointed');
    assert.ok(statSync(`${c.file}-wal`).size > 300_000);
  });
});
