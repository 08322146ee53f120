// Pipeline benchmark: the real pipeline (BullMQ on Redis, SQLite, a responder) behind a loopback
// adapter with many synthetic customers.
//   npm run bench -- pipeline [--messages 20000] [--customers 2000] [--rate 500] [--seconds 20]
// Phase 1: N messages as fast as they go -> msgPerSec. Phase 2: a steady offered load -> latency
// from inbound accepted to reply sent (p50/p99). Phase 3: raw BullMQ add+process of N jobs on the
// same Redis -> bullmqRawPerSec. Last line: JSON.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { hubConfigSchema } from '../src/hub/config-schema.js';
import { Hub } from '../src/hub/hub.js';
import { LoopbackAdapter } from '../src/adapters/loopback/index.js';
import type { Responder } from '../src/core/responder.js';
import { KnowledgeBot } from '../src/knowledge/bot.js';
import { botConfigSchema } from '../src/knowledge/config.js';
import { cleanRedis } from '../test/helpers/hub.js';
import { rawBullmqPerSec } from './lib/raw-bullmq.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    customers: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    partitions: { type: 'string', default: '16' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    responder: { type: 'string', default: 'knowledge' },
  },
});
const N = Number(values.messages);
const CUSTOMERS = Number(values.customers);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const prefix = `sbbench${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));

// The hub's own knowledge bot on the demo knowledge base (config/knowledge), or a fixed answer.
const questions = ['how do I reset my password', '怎么退款？', 'how can I get an invoice', '怎么修改收货地址'];
const fixed: Responder = { respond: async () => ({ kind: 'answer', text: 'You can reset your password in Settings.' }) };
const responder: Responder =
  values.responder === 'fixed'
    ? fixed
    : await KnowledgeBot.create({ dir: 'config/knowledge', bot: botConfigSchema.parse({}) });

const lb = new LoopbackAdapter();
const config = hubConfigSchema.parse({
  logLevel: 'silent',
  storage: { url: `sqlite:${join(dir, 'bench.db')}` },
  redis: { url: values.redis, prefix },
  queues: { partitions: Number(values.partitions), outboundConcurrency: 64 },
  server: { port: 0 },
});
const hub = await Hub.start({ config, adapters: [lb], responder, log: pino({ level: 'silent' }) });

function pct(sorted: number[], p: number): number {
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) : 0;
}

// ---- phase 1: throughput
let msgPerSec = 0;
{
  const t0 = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    inflight.push(lb.receive(`c${i % CUSTOMERS}`, questions[i % questions.length] ?? ''));
    if (inflight.length >= 500) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  await lb.waitForSent(N, 600_000);
  if (lb.sent.length !== N) throw new Error(`expected ${N} replies, got ${lb.sent.length}`);
  const secs = (performance.now() - t0) / 1000;
  msgPerSec = N / secs;
  console.log(`phase 1: ${N} messages in ${secs.toFixed(2)} s -> ${(N / secs).toFixed(0)} msg/s`);
}

// ---- phase 2: steady load, latency accepted -> sent
const latencies: number[] = [];
{
  const total = RATE * SECONDS;
  const base = lb.sent.length;
  const acceptedAt = new Map<string, number>();
  const origSend = lb.send.bind(lb);
  lb.send = async (m) => {
    const r = await origSend(m);
    const a = acceptedAt.get(m.ref.chatId);
    if (a !== undefined) {
      latencies.push(performance.now() - a);
      acceptedAt.delete(m.ref.chatId);
    }
    return r;
  };
  const t0 = performance.now();
  let sentCount = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
      while (sentCount < due) {
        const id = `steady${sentCount}`; // one message per fresh customer: latency is per message
        sentCount++;
        void lb.receive(id, questions[sentCount % questions.length] ?? '').then(() => acceptedAt.set(id, performance.now()));
      }
      if (sentCount >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  await lb.waitForSent(base + total, 120_000);
  latencies.sort((a, b) => a - b);
  console.log(
    `phase 2: ${total} messages at ${RATE}/s -> p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms`,
  );
}
const rssMb = process.memoryUsage().rss / 1048576;
await hub.stop();
await responder.close?.();

// ---- phase 3: raw BullMQ on the same Redis
const rawPerSec = await rawBullmqPerSec(values.redis, prefix, N, (i) => ({ i, text: `question ${i}` }));
console.log(`phase 3: raw BullMQ ${N} jobs -> ${rawPerSec.toFixed(0)} jobs/s`);

// Clean up the bench's keys and files.
await cleanRedis(prefix, values.redis);
rmSync(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    bench: 'pipeline',
    messages: N,
    msgPerSec: Math.round(msgPerSec),
    p50Ms: Number(pct(latencies, 50).toFixed(2)),
    p99Ms: Number(pct(latencies, 99).toFixed(2)),
    bullmqRawPerSec: Math.round(rawPerSec),
    ratio: Number((msgPerSec / rawPerSec).toFixed(3)),
    rssMb: Math.round(rssMb),
  }),
);
process.exit(0);
