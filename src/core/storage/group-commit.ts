/**
 * Group commit for SQLite: transactions that arrive while one is running share its commit.
 *
 * Why: on SQLite every transaction ends in a commit that writes each page it touched to the WAL
 * (the same index pages, over and over, for the small transactions of the message pipeline). On the
 * 2-core bench machine a commit cost 130-400 µs, about half of all SQL time in
 * `bench/pipeline.ts` (counted with `bench/lib/sql-counter.mjs`). SQLite has one writer anyway:
 * concurrent callers already waited in line for the connection. Now the one in line joins the
 * running physical transaction instead of waiting for it to commit.
 *
 * How: the caller's `fn` runs inside `SAVEPOINT` … `RELEASE` within one `BEGIN IMMEDIATE`, one
 * caller after another (never interleaved: one connection). A caller whose `fn` throws is rolled
 * back to its savepoint (its writes are gone, the others' stay) and gets its error at once. The
 * others get their results only after the shared `COMMIT`: nobody acts on a write (queues a job,
 * answers an HTTP request) before it is durable, which is the guarantee a plain transaction gives.
 * A batch closes when nobody else is waiting, or at `maxBatch` callers, or after `maxBatchMs`,
 * so a caller waits at most that long for others' work. Alone, a caller costs what it did before
 * plus two statements (the savepoint's) that touch no page.
 *
 * When SQLite undoes the whole transaction by itself (an I/O error, a full disk: the savepoint is
 * gone), or the commit fails, every caller of the batch gets the error and nothing of the batch is
 * written: exactly what each of them would have seen alone.
 *
 * Rules for `fn` (as before): use only the repositories given to it (a query on the storage itself
 * waits for the connection this batch holds, forever), and wait on nothing but the database: not on
 * another transaction, nor on something another caller does once its own transaction returns (that
 * caller's result comes after the shared commit, which waits for this `fn`). Every `fn` in src/
 * keeps to this (checked when this was written: they read and write through `tx` only).
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { performance } from 'node:perf_hooks';
import type { Database } from './tables.js';

// The batch's own statements, compiled once (every transaction runs four or more of them).
const BEGIN = CompiledQuery.raw('begin immediate');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');
const SAVEPOINT = CompiledQuery.raw('savepoint sb_group');
const RELEASE = CompiledQuery.raw('release sb_group');
const ROLLBACK_TO = CompiledQuery.raw('rollback to sb_group');
const NO_BUSY_WAIT = CompiledQuery.raw('pragma busy_timeout = 0');

interface Waiting<R> {
  run(conn: Kysely<Database>): Promise<R>;
  resolve(v: R): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions {
  /** Most callers in one physical transaction. @defaultValue 64 */
  maxBatch: number;
  /** A batch takes no new caller after this long. @defaultValue 8 */
  maxBatchMs: number;
  /**
   * How long a batch waits for another connection's write lock, and the connection's
   * `busy_timeout`, restored once the batch has the lock. @defaultValue 5000
   */
  lockWaitMs?: number;
}

const isBusy = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 'SQLITE_BUSY';

export class GroupCommit {
  private readonly waiting: Waiting<unknown>[] = [];
  private draining = false;
  /** Physical commits and callers committed (the bench reports the ratio). */
  readonly stats = { commits: 0, callers: 0 };
  private readonly lockWaitMs: number;
  /** The connection's own busy wait, set back after each `begin`. */
  private readonly busyWait: CompiledQuery;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: GroupCommitOptions = { maxBatch: 64, maxBatchMs: 8 },
  ) {
    this.lockWaitMs = opts.lockWaitMs ?? 5000;
    this.busyWait = CompiledQuery.raw(`pragma busy_timeout = ${Math.max(0, Math.trunc(this.lockWaitMs))}`);
  }

  run<R>(fn: (conn: Kysely<Database>) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ run: fn, resolve, reject } as Waiting<unknown>);
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      // Between batches the connection is released: statements outside transactions waiting for
      // it (FIFO) go first.
      while (this.waiting.length > 0) await this.db.connection().execute((conn) => this.batch(conn));
    } catch (err) {
      // Acquiring the connection failed (the database is closing): nobody waiting can run.
      for (const w of this.waiting.splice(0)) w.reject(err);
    } finally {
      this.draining = false;
    }
  }

  private async batch(conn: Kysely<Database>): Promise<void> {
    const done: { w: Waiting<unknown>; value: unknown }[] = [];
    const started = performance.now();
    try {
      await this.begin(conn);
    } catch (err) {
      for (const w of this.waiting.splice(0)) w.reject(err);
      return;
    }
    while (this.waiting.length > 0 && done.length < this.opts.maxBatch && (done.length === 0 || performance.now() - started < this.opts.maxBatchMs)) {
      const w = this.waiting.shift() as Waiting<unknown>;
      let value: unknown;
      try {
        await conn.executeQuery(SAVEPOINT);
        value = await w.run(conn);
        await conn.executeQuery(RELEASE);
      } catch (err) {
        w.reject(err);
        if (await this.undo(conn)) continue;
        // SQLite undid the whole transaction: nothing of this batch is written.
        for (const d of done) d.w.reject(err);
        return;
      }
      done.push({ w, value });
    }
    try {
      await conn.executeQuery(COMMIT);
    } catch (err) {
      await conn.executeQuery(ROLLBACK).catch(() => undefined);
      for (const d of done) d.w.reject(err);
      return;
    }
    this.stats.commits++;
    this.stats.callers += done.length;
    for (const d of done) d.w.resolve(d.value);
  }

  /**
   * `BEGIN IMMEDIATE` without blocking the event loop. Another connection may hold the write lock
   * (the analytics feed's thread, another process); SQLite's busy handler would wait for it on this
   * thread, and the whole process (Redis replies, HTTP, timers) would stand still until it is free.
   * Instead the begin is tried without a busy wait, and retried after a pause of 1, then 2 ms
   * (timers: the loop runs meanwhile) until `lockWaitMs`, when the lock error goes to the callers.
   */
  private async begin(conn: Kysely<Database>): Promise<void> {
    await conn.executeQuery(NO_BUSY_WAIT);
    try {
      const deadline = performance.now() + this.lockWaitMs;
      for (let pause = 1; ; pause = Math.min(pause * 2, MAX_LOCK_PAUSE_MS)) {
        try {
          await conn.executeQuery(BEGIN);
          return;
        } catch (err) {
          if (!isBusy(err) || performance.now() >= deadline) throw err;
        }
        await new Promise((r) => setTimeout(r, pause));
      }
    } finally {
      await conn.executeQuery(this.busyWait);
    }
  }

  /** Rolls back to the savepoint; false when the transaction itself is gone. */
  private async undo(conn: Kysely<Database>): Promise<boolean> {
    try {
      await conn.executeQuery(ROLLBACK_TO);
      await conn.executeQuery(RELEASE);
      return true;
    } catch {
      await conn.executeQuery(ROLLBACK).catch(() => undefined);
      return false;
    }
  }
}

/**
 * The longest pause between two tries of `BEGIN IMMEDIATE`. Short, because the other writer (the
 * analytics feed's thread) pauses between its transactions and the lock is free only then; a failed
 * try costs a few microseconds.
 */
const MAX_LOCK_PAUSE_MS = 2;
