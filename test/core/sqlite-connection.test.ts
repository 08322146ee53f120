import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import Database from 'better-sqlite3';
import { openDb, type SqliteOptions } from '../../src/core/storage/db.js';
import { truncateWal } from '../../src/core/storage/wal.js';
import { HubError } from '../../src/core/errors.js';
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
    return { file, pragma, write, size: () => statSync(file).size, kysely: handle.kysely };
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

  it('truncateWal empties the WAL also while another connection checkpoints all the time, and names the file when a reader holds it', async () => {
    const c = await open();
    await c.write();
    // A second connection in a thread running PASSIVE checkpoints back to back: a TRUNCATE checkpoint started meanwhile answers busy at once.
    const busy = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const db = new (require(workerData.module))(workerData.file);
       db.pragma('busy_timeout = 1000');
       parentPort.postMessage('ready');
       for (;;) db.pragma('wal_checkpoint(PASSIVE)');`,
      { eval: true, workerData: { file: c.file, module: createRequire(import.meta.url).resolve('better-sqlite3') } },
    );
    try {
      await new Promise((resolve) => busy.once('message', resolve));
      for (let round = 0; round < 30; round++) {
        await sql`update t set v = hex(randomblob(500)) where k % 3 = ${round % 3}`.execute(c.kysely);
        await truncateWal(c.kysely);
        assert.equal(statSync(`${c.file}-wal`).size, 0, `round ${round}: the WAL was not truncated`);
      }
    } finally {
      await busy.terminate();
    }

    // A reader on an older snapshot: the checkpoint cannot finish; after waitMs the error names the file.
    const reader = new Database(c.file);
    try {
      reader.exec('begin');
      reader.prepare('select count(*) from t').get();
      const kysely = c.kysely;
      await sql`update t set v = 'after' where k = 1`.execute(kysely);
      await sql`pragma busy_timeout = 0`.execute(kysely);
      await assert.rejects(truncateWal(kysely, 100), (e: unknown) => e instanceof HubError && e.code === 'STORAGE' && e.message.startsWith(`${c.file}-wal: `));
      reader.exec('commit');
      await truncateWal(kysely, 100);
      assert.equal(statSync(`${c.file}-wal`).size, 0);
    } finally {
      reader.close();
    }
  });
});
