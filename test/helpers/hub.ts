import { pino } from 'pino';
import { Redis } from 'ioredis';
import { hubConfigSchema, type HubConfig, type HubConfigInput } from '../../src/hub/config-schema.js';
import { Hub, type HubOptions } from '../../src/hub/hub.js';
import { REDIS_URL, makeDb, uniqueName, type Dialect, type TestDb } from './env.js';
import { Storage } from '../../src/core/storage/storage.js';
import { hubPiiCodec } from '../../src/hub/pii.js';

/**
 * The storage of a test hub's database as a hub process opens it: with the PII keys the test hubs
 * share (`<dataDir>/pii-keys`, the default data folder), so lookups and sealed columns read back.
 */
export function openHubStorage(url: string, opts: Omit<Parameters<typeof Storage.open>[1] & object, 'pii'> = {}): Promise<Storage> {
  return Storage.open(url, { ...opts, pii: hubPiiCodec({ dataDir: hubConfigSchema.parse({}).dataDir }) });
}

export interface TestHub {
  hub: Hub;
  db: TestDb;
  config: HubConfig;
  stop(): Promise<void>;
}

/**
 * A real hub (real Redis, real SQLite/PostgreSQL) isolated by a random queue prefix and a fresh
 * database; port 0 so tests run side by side.
 */
export async function startTestHub(
  opts: Omit<HubOptions, 'config'> & { dialect?: Dialect; config?: HubConfigInput; db?: TestDb } = {},
): Promise<TestHub> {
  const db = opts.db ?? (await makeDb(opts.dialect ?? 'sqlite'));
  const input: HubConfigInput = opts.config ?? {};
  const config = hubConfigSchema.parse({
    ...input,
    logLevel: input.logLevel ?? (process.env.TEST_LOG ? 'debug' : 'silent'),
    server: { port: 0, ...input.server },
    storage: { url: db.url },
    redis: { url: input.redis?.url ?? REDIS_URL, prefix: input.redis?.prefix ?? uniqueName('sbt') },
    queues: { partitions: 4, backoffMs: 50, ...input.queues },
  });
  const log = opts.log ?? pino({ level: config.logLevel });
  const hub = await Hub.start({ ...opts, config, log });
  return {
    hub,
    db,
    config,
    stop: async () => {
      await hub.stop();
      await cleanRedis(config.redis.prefix);
      if (!opts.db) await db.drop();
    },
  };
}

/** Deletes every key under `prefix` (a test's or a benchmark's queues). */
export async function cleanRedis(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
