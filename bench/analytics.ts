/**
 * `npm run bench -- analytics [--messages 1000000] [--dialect both|sqlite|postgres] [--runs 30]`:
 * seeds a 90-day history of N stored messages with its analytics read models (bench/analytics-seed.ts,
 * the read models built by the real fold) in SQLite and in PostgreSQL, then times every query the
 * dashboard makes (what each GET /api/analytics/<table> runs, without HTTP) over the last 30 days
 * by day (the dashboard's default) and over all 90 days by week. Target: each under 300 ms.
 * Last line: JSON with per-query p50/p99 and row counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { openDb, migrate } from '../src/core/storage/db.js';
import { storageMigrations } from '../src/core/storage/migrations/index.js';
import { Storage } from '../src/core/storage/storage.js';
import { AnalyticsKpis } from '../src/analytics/kpis.js';
import { TABLES, table } from '../src/analytics/tables.js';
import { parseRange } from '../src/analytics/range.js';
import { postgresDb, type TestDb } from '../test/helpers/env.js';
import { seedAnalytics, type SeedCounts } from './analytics-seed.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    dialect: { type: 'string', default: 'both' },
    runs: { type: 'string', default: '30' },
  },
});
const N = Number(values.messages);
const RUNS = Number(values.runs);
const TARGET_MS = 300;
const END = Date.UTC(2026, 11, 1);
const DAYS = 90;

interface QueryResult {
  p50: number;
  p99: number;
  rows: number;
}

function percentile(sorted: number[], p: number): number {
  return Number((sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0).toFixed(1));
}

function rowsOf(json: unknown): number {
  const j = json as { rows?: unknown[]; series?: unknown[]; clusters?: unknown[] };
  return (j.rows ?? j.series ?? j.clusters ?? []).length;
}

async function run(dialect: 'sqlite' | 'postgres'): Promise<{ seedSeconds: number; counts: SeedCounts; queries: Record<string, QueryResult> }> {
  let tdb: TestDb;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sb-bench-analytics-'));
    tdb = { url: `sqlite:${join(dir, 'hub.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  } else {
    tdb = await postgresDb();
  }
  try {
    const db = openDb(tdb.url);
    await migrate(db, storageMigrations);
    const t0 = performance.now();
    const counts = await seedAnalytics(db, { messages: N, days: DAYS, end: END, channels: ['webchat', 'telegram', 'wechat', 'email'] });
    await (db.dialect === "postgres" ? sql`vacuum analyze` : sql`analyze`).execute(db.kysely);
    const seedSeconds = (performance.now() - t0) / 1000;
    await db.close();
    console.log(`${dialect}: seeded ${counts.messages} messages, ${counts.cases} cases, ${counts.volume} volume rows, ${counts.questions} gap questions, ${counts.proactive} proactive in ${seedSeconds.toFixed(1)} s`);

    const storage = await Storage.open(tdb.url);
    const kpis = new AnalyticsKpis(storage);
    const queries: Record<string, QueryResult> = {};
    const ranges = {
      '30d-day': parseRange({ from: '2026-11-01', to: '2026-11-30', bucket: 'day', tz: 'Asia/Shanghai' }, { timeZone: 'UTC', now: END }),
      '90d-week': parseRange({ from: '2026-09-02', to: '2026-11-30', bucket: 'week', tz: 'UTC' }, { timeZone: 'UTC', now: END }),
    };
    for (const [rname, r] of Object.entries(ranges)) {
      for (const name of TABLES) {
        const times: number[] = [];
        let rows = 0;
        for (let i = 0; i < RUNS + 3; i++) {
          const s = performance.now();
          const res = await table(name, kpis, r);
          const ms = performance.now() - s;
          if (i >= 3) times.push(ms);
          rows = rowsOf(res.json);
        }
        times.sort((a, b) => a - b);
        const q = { p50: percentile(times, 0.5), p99: percentile(times, 0.99), rows };
        queries[`${name}@${rname}`] = q;
        console.log(`  ${dialect} ${name}@${rname}: p50 ${q.p50} ms, p99 ${q.p99} ms, ${rows} rows${q.p99 > TARGET_MS ? '  (OVER TARGET)' : ''}`);
      }
    }
    await storage.close();
    return { seedSeconds: Number(seedSeconds.toFixed(1)), counts, queries };
  } finally {
    await tdb.drop();
  }
}

const dialects = values.dialect === 'both' ? (['sqlite', 'postgres'] as const) : ([values.dialect as 'sqlite' | 'postgres'] as const);
const out: Record<string, Awaited<ReturnType<typeof run>>> = {};
for (const d of dialects) out[d] = await run(d);
const worst = Math.max(...Object.values(out).flatMap((r) => Object.values(r.queries).map((q) => q.p99)));
console.log(JSON.stringify({ bench: 'analytics', messages: N, days: DAYS, runs: RUNS, targetMs: TARGET_MS, worstP99Ms: worst, ok: worst < TARGET_MS, ...out }));
process.exit(0);
