import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Storage } from '../../src/core/storage/storage.js';
import { openDb } from '../../src/core/storage/db.js';
import { GroupCommit } from '../../src/core/storage/group-commit.js';
import { sqliteDb } from '../helpers/env.js';
import SQLite from 'better-sqlite3';

/** SQLite's group commit (src/core/storage/group-commit.ts), seen through `Storage.transaction`. */
describe('SQLite group commit', () => {
  async function open(): Promise<Storage> {
    const db = sqliteDb();
    const storage = await Storage.open(db.url);
    after(async () => {
      await storage.close();
      await db.drop();
    });
    return storage;
  }
  const tick = () => new Promise<void>((r) => setImmediate(r));
  /** The class itself, with a batch window no loaded machine can close early. */
  async function group(opts: { lockWaitMs?: number } = {}): Promise<{ gc: GroupCommit; count: () => Promise<number>; file: string; busyTimeout: () => Promise<number> }> {
    const db = sqliteDb();
    const handle = openDb(db.url);
    await sql`create table t (k text primary key)`.execute(handle.kysely);
    after(async () => {
      await handle.close();
      await db.drop();
    });
    const count = async () => Number((await sql<{ n: number }>`select count(*) as n from t`.execute(handle.kysely)).rows[0]?.n);
    const busyTimeout = async () => Number(Object.values((await sql<Record<string, number>>`pragma busy_timeout`.execute(handle.kysely)).rows[0] ?? {})[0]);
    return { gc: new GroupCommit(handle.kysely, { maxBatch: 64, maxBatchMs: 60_000, ...opts }), count, file: db.url.slice('sqlite:'.length), busyTimeout };
  }

  it('transactions arriving together share commits, and each keeps all its writes', async () => {
    const storage = await open();
    const before = storage.groupCommitStats!;
    const n = 40;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        storage.transaction(async (tx) => {
          assert.equal(await tx.channelState.set('gc', `k${i}`, { i }, 0), 1);
          await tick(); // others arrive meanwhile
          assert.equal(await tx.channelState.set('gc', `k${i}`, { i, again: true }, 1), 2);
          return i;
        }),
      ),
    );
    assert.deepEqual(results, Array.from({ length: n }, (_, i) => i));
    for (let i = 0; i < n; i++) assert.deepEqual((await storage.channelState.get('gc', `k${i}`))?.value, { i, again: true });
    const stats = storage.groupCommitStats!;
    assert.equal(stats.callers - before.callers, n);
    // How many share one commit depends on the machine's speed (a batch takes callers for 8 ms): the
    // exact batching is checked on the class below.
    assert.ok(stats.commits - before.commits < n, `${stats.commits - before.commits} commits for ${n} transactions`);
  });

  it('a transaction that throws is undone alone and gets its error; the others commit', async () => {
    const storage = await open();
    const boom = new Error('boom');
    const outcomes = await Promise.allSettled(
      [0, 1, 2, 3, 4].map((i) =>
        storage.transaction(async (tx) => {
          await tx.channelState.set('gc', `f${i}`, { i }, 0);
          await tick();
          if (i === 2) throw boom;
          return i;
        }),
      ),
    );
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.equal((outcomes[2] as PromiseRejectedResult).reason, boom);
    assert.equal(await storage.channelState.get('gc', 'f2'), undefined, 'the failed one left nothing');
    for (const i of [0, 1, 3, 4]) assert.ok(await storage.channelState.get('gc', `f${i}`), `f${i} committed`);
  });

  it('a result comes only after the commit that makes it durable, and a batch stops at maxBatch', async () => {
    const { gc, count } = await group();
    let firstDone = false;
    let seenInSecond: boolean | undefined;
    const first = gc.run((c) => sql`insert into t values ('a')`.execute(c)).then(() => (firstDone = true));
    const second = gc.run(async (c) => {
      await tick();
      await tick();
      seenInSecond = firstDone; // the first finished its work before this one started
      await sql`insert into t values ('b')`.execute(c);
    });
    await Promise.all([first, second]);
    assert.equal(seenInSecond, false, 'the first caller was not told "done" before the shared commit');
    assert.deepEqual(gc.stats, { commits: 1, callers: 2 });
    await Promise.all(Array.from({ length: 130 }, (_, i) => gc.run((c) => sql`insert into t values (${`x${i}`})`.execute(c))));
    assert.deepEqual(gc.stats, { commits: 4, callers: 132 }, '64 + 64 + 2');
    assert.equal(await count(), 132);
  });

  it('a caller whose transaction failed can start another at once (it joins the running batch)', async () => {
    const storage = await open();
    const other = storage.transaction(async (tx) => {
      await tick();
      await tick();
      await tx.channelState.set('gc', 'other', 1, 0);
    });
    const retried = storage
      .transaction(async () => {
        throw new Error('first try');
      })
      .catch(() => storage.transaction((tx) => tx.channelState.set('gc', 'retry', 1, 0)));
    await Promise.all([other, retried]);
    assert.ok(await storage.channelState.get('gc', 'retry'));
    assert.ok(await storage.channelState.get('gc', 'other'));
  });

  it("waits for another connection's write lock without stopping the event loop", async () => {
    const { gc, count, file, busyTimeout } = await group();
    // Another connection (as the analytics feed's thread) holds the write lock for 150 ms.
    const other = new SQLite(file);
    after(() => other.close());
    other.exec('begin immediate');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    setTimeout(() => other.exec('commit'), 150);
    const t0 = performance.now();
    try {
      // A busy wait on this thread would never let the timer above release the lock.
      await gc.run((c) => sql`insert into t values ('locked')`.execute(c));
    } finally {
      clearInterval(timer);
    }
    assert.ok(performance.now() - t0 >= 140, 'it waited for the lock');
    assert.ok(ticks >= 10, `the event loop ran meanwhile (${ticks} ticks of 5 ms)`);
    assert.equal(await count(), 1);
    assert.equal(await busyTimeout(), 5000, "the connection's busy timeout is back");
  });

  it('gives the lock error to the callers after lockWaitMs', async () => {
    const { gc, count, file, busyTimeout } = await group({ lockWaitMs: 100 });
    const other = new SQLite(file);
    after(() => other.close());
    other.exec('begin immediate');
    const t0 = performance.now();
    await assert.rejects(gc.run((c) => sql`insert into t values ('never')`.execute(c)), (err: { code?: string }) => err.code === 'SQLITE_BUSY');
    assert.ok(performance.now() - t0 >= 100, 'it tried for lockWaitMs');
    other.exec('commit');
    assert.equal(await busyTimeout(), 100);
    // The lock free again, the next caller commits.
    await gc.run((c) => sql`insert into t values ('later')`.execute(c));
    assert.equal(await count(), 1);
  });
});
