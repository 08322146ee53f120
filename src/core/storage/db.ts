import { dirname, resolve } from 'node:path';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type Migration,
  type MigrationProvider,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type PostgresQueryResult,
  type SqliteDatabase,
} from 'kysely';
import SQLite from 'better-sqlite3';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { HubError } from '../errors.js';
import { ensurePrivateDir, ensurePrivateFile, tightenFile } from '../private-files.js';
import type { Database } from './tables.js';
import { coreMigrations, type Dialect, type MigrationSet } from './migrations/index.js';

export type { Dialect, MigrationSet };

const require = createRequire(import.meta.url);

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

// pg returns BIGINT as string by default; our bigints are epoch ms, safe as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

/** SQLite only: how a connection is set up. */
export interface SqliteOptions {
  /**
   * Start the checkpoint thread (`startCheckpointer`) for this file. Default true; false for a
   * second connection in a process whose first one has it (the analytics feed's thread).
   */
  checkpointer?: boolean;
  /** Page cache in MiB. Default 64 (the hub's connection); a secondary reader needs less. */
  cacheMb?: number;
}

/** How `openDb` connects: SQLite's options, and PostgreSQL's prepared statements. */
export interface DbOptions extends SqliteOptions {
  /** PostgreSQL: named prepared statements (`withPreparedStatements`). Default true. */
  preparedStatements?: boolean;
}

export function openDb(url: string, opts: DbOptions = {}): Db {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length) || ':memory:';
    if (file !== ':memory:') {
      // The database is the operator's only: 0700 folder, 0600 files (WAL and shm follow the file).
      ensurePrivateDir(dirname(resolve(file)));
      ensurePrivateFile(file);
      for (const extra of ['-wal', '-shm']) tightenFile(`${file}${extra}`);
    }
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`cache_size = -${Math.round((opts.cacheMb ?? 64) * 1024)}`); // KiB when negative
    sqlite.pragma('temp_store = MEMORY');
    // The answering thread checkpoints only as a safety net; the worker below does the bulk.
    sqlite.pragma('wal_autocheckpoint = 4000');
    const checkpointer = file === ':memory:' || opts.checkpointer === false ? undefined : startCheckpointer(resolve(file));
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    return {
      kysely,
      dialect: 'sqlite',
      close: async () => {
        await checkpointer?.terminate();
        await kysely.destroy();
      },
    };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    pool.on('error', () => undefined); // idle client errors surface on the next query instead
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: opts.preparedStatements === false ? pool : withPreparedStatements(pool) }) });
    return { kysely, dialect: 'postgres', close: () => kysely.destroy() };
  }
  throw new HubError('CONFIG_INVALID', `storage.url: unsupported database URL (use sqlite:<file> or postgres://…)`);
}

/**
 * WAL checkpoints copy pages back into the database file; run on the answering thread they stall
 * it for tens of milliseconds every few hundred messages (the p99 of bench/pipeline.ts). A worker
 * thread with its own connection runs PASSIVE checkpoints every 200 ms, which block no reader or
 * writer, so the main connection's own automatic checkpoint finds little left to copy.
 */
function startCheckpointer(file: string): Worker {
  const code = `
    const { workerData } = require('node:worker_threads');
    const Database = require(workerData.module);
    const db = new Database(workerData.file);
    db.pragma('busy_timeout = 1000');
    setInterval(() => {
      try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
    }, 200);
  `;
  const w = new Worker(code, { eval: true, workerData: { file, module: require.resolve('better-sqlite3') } });
  w.unref();
  w.on('error', () => undefined);
  return w;
}

/**
 * Kysely's SQLite driver prepares every statement anew; preparing costs more than running our
 * small indexed queries, so keep prepared statements by SQL text (bounded).
 */
function withStatementCache(db: SQLite.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
      return stmt as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}

/**
 * PostgreSQL: every query and change statement becomes a named prepared statement (name by SQL
 * text), which each connection parses and plans once and then only binds and executes. Kysely's
 * driver sends unnamed statements, which the server parses, analyses and plans on every execution:
 * for the pipeline's small indexed statements that was most of the server's CPU (bench/pipeline.ts
 * on PostgreSQL, see docs/speed.md). At most `max` distinct texts are named (the rest run unnamed),
 * so a query built with a varying `in (…)` list cannot grow the server's memory without bound.
 * Other statements (`begin`, `commit`, DDL of migrations) run as before.
 *
 * A prepared `select *` fails once the table's columns change under it (another process migrating
 * a newer schema): its text is never named again on that connection, and the query is run again
 * unnamed at once (inside a transaction that retry fails too, as the error aborted the
 * transaction: the caller's retry, a job's next attempt, then runs unnamed).
 */
export function withPreparedStatements(pool: pg.Pool, max = 2000): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < max && PREPARABLE.test(text)) {
      name = `sb${names.size.toString(36)}`;
      names.set(text, name);
    }
    return name;
  };
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const stale = new WeakMap<pg.PoolClient, Set<string>>();
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    async function run<R>(text: string, values: readonly unknown[]): Promise<PostgresQueryResult<R>> {
      const name = stale.get(client)?.has(text) ? undefined : nameOf(text);
      if (name === undefined) return (await client.query(text, [...values])) as unknown as PostgresQueryResult<R>;
      try {
        return (await client.query({ name, text, values: [...values] })) as unknown as PostgresQueryResult<R>;
      } catch (err) {
        if ((err as { code?: unknown }).code !== PLAN_CHANGED) throw err;
        let set = stale.get(client);
        if (!set) stale.set(client, (set = new Set()));
        set.add(text);
        return (await client.query(text, [...values])) as unknown as PostgresQueryResult<R>;
      }
    }
    const query = ((q: string | PostgresCursor<unknown>, values?: readonly unknown[]) =>
      typeof q === 'string' ? run(q, values ?? []) : client.query(q as never)) as PostgresPoolClient['query'];
    return { query, release: () => client.release() };
  };
  return {
    async connect() {
      const client = await pool.connect();
      let w = wrapped.get(client);
      if (!w) wrapped.set(client, (w = wrap(client)));
      return w;
    },
    end: () => pool.end(),
  };
}

const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;
/** SQLSTATE feature_not_supported: "cached plan must not change result type". */
const PLAN_CHANGED = '0A000';

/** Applies the core's migrations and every module's (each set in its own name order). */
export async function migrate(db: Db, modules: readonly MigrationSet[] = []): Promise<void> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const set of [coreMigrations, ...modules]) {
        for (const [name, m] of Object.entries(set.migrations)) {
          const key = set.module === 'core' ? name : `${set.module}:${name}`;
          if (out[key]) throw new HubError('INTERNAL', `migration ${key} is contributed twice`);
          const down = m.down;
          out[key] = { up: (k) => m.up(k, db.dialect), ...(down ? { down: (k: Kysely<unknown>) => down(k) } : {}) };
        }
      }
      return out;
    },
  };
  // Modules are registered independently: a module's new migration may sort before another's applied one.
  const migrator = new Migrator({ db: db.kysely, provider, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new HubError('STORAGE', `database migration ${failed} failed: ${String((error as Error).message ?? error)}`, {
      cause: error,
    });
  }
}
