import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export interface TestDb {
  url: string;
  drop(): Promise<void>;
}

/**
 * The folder of this test process's SQLite files, removed when the process exits: a test that ends
 * without `drop()` (a hub it leaves to the runner, a failed assertion) leaves nothing behind.
 */
let processRoot: string | undefined;
function testRoot(): string {
  if (processRoot === undefined) {
    const root = mkdtempSync(join(tmpdir(), 'sb-test-'));
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
    processRoot = root;
  }
  return processRoot;
}

/** A fresh SQLite file in a temp folder. */
export function sqliteDb(): TestDb {
  const dir = mkdtempSync(join(testRoot(), 'db-'));
  return { url: `sqlite:${join(dir, 'hub.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh PostgreSQL database, dropped afterwards. */
export async function postgresDb(): Promise<TestDb> {
  const name = uniqueName('sb_t_');
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export type Dialect = 'sqlite' | 'postgres';
export const DIALECTS: Dialect[] = ['sqlite', 'postgres'];

export function makeDb(d: Dialect): Promise<TestDb> {
  return d === 'sqlite' ? Promise.resolve(sqliteDb()) : postgresDb();
}
