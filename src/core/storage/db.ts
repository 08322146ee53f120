import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { HubError } from '../errors.js';
import type { Database } from './tables.js';
import * as m001 from './migrations/001_core.js';
import type { Dialect } from './migrations/001_core.js';

export type { Dialect };

/** Every migration, in order. A module adds its tables with one more entry here. */
const MIGRATIONS: Record<string, { up(db: Kysely<unknown>, d: Dialect): Promise<void>; down(db: Kysely<unknown>): Promise<void> }> = {
  '001_core': m001 as never,
};

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

// pg returns BIGINT as string by default; our bigints are epoch ms, safe as numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));

export function openDb(url: string): Db {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length) || ':memory:';
    if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    return { kysely, dialect: 'sqlite', close: () => kysely.destroy() };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    pool.on('error', () => undefined); // idle client errors surface on the next query instead
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { kysely, dialect: 'postgres', close: () => kysely.destroy() };
  }
  throw new HubError('CONFIG_INVALID', `storage.url: unsupported database URL (use sqlite:<file> or postgres://…)`);
}

export async function migrate(db: Db): Promise<void> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(MIGRATIONS)) {
        out[name] = { up: (k) => m.up(k, db.dialect), down: (k) => m.down(k) };
      }
      return out;
    },
  };
  const migrator = new Migrator({ db: db.kysely, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new HubError('STORAGE', `database migration ${failed} failed: ${String((error as Error).message ?? error)}`, {
      cause: error,
    });
  }
}
