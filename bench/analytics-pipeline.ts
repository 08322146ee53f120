/**
 * `npx tsx bench/analytics-pipeline.ts [--messages 5000] [--customers 500] [--dialect sqlite|postgres]`: what the analytics
 * read models cost the pipeline. The same N customer messages go through a hub (SQLite or
 * PostgreSQL, real Redis, a fixed answer) without analytics (the hub wires it itself: its feed's job
 * scheduler is removed right after start, so nothing feeds the read models) and with it; prints the
 * throughput of each (all replies sent) and, with analytics, how long until the read models count
 * every message. Last line JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { hubConfigSchema } from '../src/hub/config-schema.js';
import { Hub } from '../src/hub/hub.js';
import { LoopbackAdapter } from '../src/adapters/loopback/index.js';
import type { Responder } from '../src/core/responder.js';
import { Queue } from 'bullmq';
import { FEED_QUEUE } from '../src/analytics/feed.js';
import { cleanRedis } from '../test/helpers/hub.js';
import { postgresDb } from '../test/helpers/env.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '5000' }, customers: { type: 'string', default: '500' }, dialect: { type: 'string', default: 'sqlite' }, redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } } });
const N = Number(values.messages);
const CUSTOMERS = Number(values.customers);
const fixed: Responder = { respond: async () => ({ kind: 'answer', text: 'You can reset your password in Settings.', confidence: 0.9, entryIds: ['password'] }) };

async function run(withAnalytics: boolean): Promise<{ msgPerSec: number; readModelsSeconds: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-ap-'));
  const pg = values.dialect === 'postgres' ? await postgresDb() : undefined;
  const prefix = `sbbench${Date.now().toString(36)}${withAnalytics ? 'a' : 'p'}`;
  const lb = new LoopbackAdapter();
  const config = hubConfigSchema.parse({ logLevel: 'silent', storage: { url: pg?.url ?? `sqlite:${join(dir, 'bench.db')}` }, redis: { url: values.redis, prefix }, queues: { partitions: 16, outboundConcurrency: 64 }, server: { port: 0 } });
  const hub = await Hub.start({ config, adapters: [lb], responder: fixed, log: pino({ level: 'silent' }) });
  if (!withAnalytics) {
    const feed = new Queue(FEED_QUEUE, { connection: { url: values.redis }, prefix });
    await feed.removeJobScheduler('poll');
    await feed.close();
  }
  try {
    const t0 = performance.now();
    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      inflight.push(lb.receive(`c${i % CUSTOMERS}`, `how do I reset my password ${i}`));
      if (inflight.length >= 500) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    await lb.waitForSent(N, 600_000);
    const secs = (performance.now() - t0) / 1000;
    let readModelsSeconds: number | null = null;
    if (withAnalytics) {
      const range = { from: 0, to: Date.now() + 86_400_000, bucket: 'day' as const, offsetMinutes: 0, now: Date.now() };
      for (;;) {
        const inbound = (await hub.storage.analyticsKpis.volume(range)).reduce((s, v) => s + v.inbound, 0);
        if (inbound >= N) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      readModelsSeconds = (performance.now() - t0) / 1000;
    }
    console.log(`${withAnalytics ? 'with analytics' : 'without analytics'}: ${N} messages in ${secs.toFixed(2)} s -> ${(N / secs).toFixed(0)} msg/s${readModelsSeconds !== null ? `; read models complete after ${readModelsSeconds.toFixed(2)} s` : ''}`);
    return { msgPerSec: Math.round(N / secs), readModelsSeconds: readModelsSeconds === null ? null : Number(readModelsSeconds.toFixed(2)) };
  } finally {
    await hub.stop();
    await cleanRedis(prefix, values.redis);
    rmSync(dir, { recursive: true, force: true });
    await pg?.drop();
  }
}

const without = await run(false);
const withA = await run(true);
console.log(JSON.stringify({ bench: 'analytics-pipeline', dialect: values.dialect, messages: N, customers: CUSTOMERS, withoutAnalytics: without, withAnalytics: withA, ratio: Number((withA.msgPerSec / without.msgPerSec).toFixed(2)) }));
process.exit(0);
