// Pipeline benchmark: the real pipeline (BullMQ on Redis, SQLite or PostgreSQL, a responder) behind a
// loopback adapter with many synthetic customers.
//   npm run bench -- pipeline [--messages 20000] [--customers 2000] [--rate 500] [--rate2 1000]
//     [--seconds 20] [--responder knowledge|fixed] [--db sqlite|postgres] [--workers 0]
//     [--feed-seconds 15] (the analytics feed's interval; 3600: effectively off during the bench)
// Phase 1: N messages as fast as they go -> msgPerSec. Phases 2 and 3: a steady offered load (--rate,
// then --rate2), one message per new customer -> latency from inbound accepted to reply sent
// (p50/p99). Phase 4: raw BullMQ add+process of N jobs on the same Redis -> bullmqRawPerSec.
// --db postgres: a fresh database on TEST_PG_URL's server (dropped after). --workers N: this process
// only accepts (role gateway); N child processes (bench/lib/pipeline-worker.ts, role worker) do the
// work on the same Redis and database and report their sends over IPC; figures are the aggregate.
// rssMb: the largest resident size of any process, sampled after each phase (rssByPhase);
// heapByPhase: this process's V8 heap then, used / committed MB (its main thread's share of rssMb).
// serverCpuMsPerMsg: CPU of the postgres and redis-server processes on this machine per message in
// phase 1 (Linux; bench/lib/server-cpu.ts).
// stages2/stages3 (one process only): per queue stage, the p99 of a job's wait for a worker and of its
// run in phases 2 and 3, as the upper bound of the hub's histogram bucket it falls in (ms);
// directSendRun: a reply the worker that decided it sent itself (no queue, so no wait).
// Last line: JSON.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { hubConfigSchema } from '../src/hub/config-schema.js';
import { Hub } from '../src/hub/hub.js';
import { LoopbackAdapter } from '../src/adapters/loopback/index.js';
import { cleanRedis } from '../test/helpers/hub.js';
import { rawBullmqPerSec } from './lib/raw-bullmq.js';
import { serverCpuMsPerMsg, serverCpuSeconds } from './lib/server-cpu.js';
import { BENCH_QUESTIONS, benchResponder } from './lib/responder.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    customers: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '500' },
    rate2: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    partitions: { type: 'string', default: '16' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    responder: { type: 'string', default: 'knowledge' },
    db: { type: 'string', default: 'sqlite' },
    workers: { type: 'string', default: '0' },
    'feed-seconds': { type: 'string', default: '15' },
  },
});
const N = Number(values.messages);
const CUSTOMERS = Number(values.customers);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);
const prefix = `sbbench${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
const now = () => performance.timeOrigin + performance.now();

// ---- the database
const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let dbUrl = `sqlite:${join(dir, 'bench.db')}`;
let dropDb = async () => undefined as void;
if (values.db === 'postgres') {
  const name = `sbbench_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  dbUrl = u.toString();
  dropDb = async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
} else if (values.db !== 'sqlite') throw new Error(`--db: sqlite or postgres, not ${values.db}`);

// ---- sends, from this process or the workers
let sentCount = 0;
const acceptedAt = new Map<string, number>();
let latencies: number[] = [];
const sentWaiters: { n: number; resolve: () => void }[] = [];
function onSent(chatId: string, at: number): void {
  sentCount++;
  const a = acceptedAt.get(chatId);
  if (a !== undefined) {
    latencies.push(at - a);
    acceptedAt.delete(chatId);
  }
  for (const w of [...sentWaiters]) if (sentCount >= w.n) (sentWaiters.splice(sentWaiters.indexOf(w), 1), w.resolve());
}
function waitForSent(n: number, timeoutMs: number): Promise<void> {
  if (sentCount >= n) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} sent messages (have ${sentCount})`)), timeoutMs);
    sentWaiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
  });
}

const config = hubConfigSchema.parse({
  logLevel: 'silent',
  storage: { url: dbUrl },
  redis: { url: values.redis, prefix },
  queues: { partitions: Number(values.partitions), outboundConcurrency: 64 },
  server: { port: 0 },
  analytics: { feedSeconds: Number(values['feed-seconds']) },
});
const responder = WORKERS > 0 ? undefined : await benchResponder(values.responder);
const lb = new LoopbackAdapter({ onSend: (m) => onSent(m.ref.chatId, now()), keepSent: false });
const hub = await Hub.start({
  config,
  role: WORKERS > 0 ? 'gateway' : 'start',
  adapters: [lb],
  ...(responder ? { responder } : {}),
  log: pino({ level: 'silent' }),
});
const children: ChildProcess[] = [];
const childRss = new Map<ChildProcess, number>();
for (let i = 0; i < WORKERS; i++) {
  const child = fork(join(import.meta.dirname, 'lib', 'pipeline-worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SB_BENCH_CONFIG: JSON.stringify(config), SB_BENCH_RESPONDER: values.responder },
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { ready?: boolean; sent?: [string, number][]; rssMb?: number }) => {
      if (m.sent) for (const [chat, at] of m.sent) onSent(chat, at);
      if (m.rssMb !== undefined) childRss.set(child, m.rssMb);
      if (m.ready) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bench worker exited with ${code}`)));
  });
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) : 0;
}
const rssByPhase: number[] = [];
const heapByPhase: [number, number][] = [];
async function sampleRss(): Promise<void> {
  for (const c of children) c.send({ rss: true });
  await new Promise((r) => setTimeout(r, 100));
  const m = process.memoryUsage();
  rssByPhase.push(Math.round(Math.max(m.rss / 1048576, ...childRss.values())));
  heapByPhase.push([Math.round(m.heapUsed / 1048576), Math.round(m.heapTotal / 1048576)]);
}

// ---- phase 1: throughput
let msgPerSec = 0;
let cpuMsPerMsg = 0;
let serverCpu: Record<string, number> | undefined;
{
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const server0 = serverCpuSeconds();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    inflight.push(lb.receive(`c${i % CUSTOMERS}`, BENCH_QUESTIONS[i % BENCH_QUESTIONS.length] ?? ''));
    if (inflight.length >= 500) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  await waitForSent(N, 600_000);
  const secs = (performance.now() - t0) / 1000;
  msgPerSec = N / secs;
  // CPU time of this process per message: steadier than msg/s on a busy machine (with --workers, the gateway's only).
  const cpu = process.cpuUsage(cpu0);
  cpuMsPerMsg = (cpu.user + cpu.system) / 1000 / N;
  serverCpu = serverCpuMsPerMsg(server0, serverCpuSeconds(), N);
  console.log(`phase 1: ${N} messages in ${secs.toFixed(2)} s -> ${msgPerSec.toFixed(0)} msg/s`);
}
await sampleRss();

// ---- phases 2 and 3: steady load, latency accepted -> sent, one message per new customer
async function steady(tag: string, rate: number): Promise<{ p50: number; p99: number; stages: Record<string, number> }> {
  latencies = [];
  hub.metrics.jobWait.reset();
  hub.metrics.jobRun.reset();
  const total = rate * SECONDS;
  const base = sentCount;
  const t0 = performance.now();
  let offered = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      while (offered < due) {
        const id = `${tag}-${offered}`;
        offered++;
        void lb.receive(id, BENCH_QUESTIONS[offered % BENCH_QUESTIONS.length] ?? '').then(() => acceptedAt.set(id, now()));
      }
      if (offered >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  await waitForSent(base + total, 300_000);
  const sorted = latencies.sort((a, b) => a - b);
  const stages = { ...(await stageP99(hub.metrics.jobWait, 'Wait')), ...(await stageP99(hub.metrics.jobRun, 'Run')) };
  const r = { p50: Number(pct(sorted, 50).toFixed(2)), p99: Number(pct(sorted, 99).toFixed(2)), stages };
  console.log(`${tag}: ${total} messages at ${rate}/s -> p50 ${r.p50} ms, p99 ${r.p99} ms; stage p99 <= ${JSON.stringify(stages)}`);
  await sampleRss();
  return r;
}
/** Per stage (inbound, outbound, direct-send), the upper bound in ms of the bucket holding the 99th percentile. */
async function stageP99(h: typeof hub.metrics.jobRun, what: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const { values: rows } = await h.get();
  for (const stage of ['inbound', 'outbound', 'direct-send']) {
    const buckets = rows.filter((v) => v.metricName?.endsWith('_bucket') && v.labels.stage === stage);
    const count = rows.find((v) => v.metricName?.endsWith('_count') && v.labels.stage === stage)?.value ?? 0;
    if (count === 0) continue;
    const le = (buckets.find((b) => b.value >= 0.99 * count)?.labels as { le?: string | number } | undefined)?.le;
    out[`${stage.replace('-s', 'S')}${what}`] = le !== undefined && le !== '+Inf' ? Number(le) * 1000 : Infinity;
  }
  return out;
}
const at1 = await steady('phase 2', Number(values.rate));
const at2 = await steady('phase 3', Number(values.rate2));

const groupCommit = hub.storage.groupCommitStats;
for (const c of children) c.send({ stop: true });
await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
await hub.stop();
await responder?.close?.();

// ---- phase 4: raw BullMQ on the same Redis
const rawPerSec = await rawBullmqPerSec(values.redis, prefix, N, (i) => ({ i, text: `question ${i}` }));
console.log(`phase 4: raw BullMQ ${N} jobs -> ${rawPerSec.toFixed(0)} jobs/s`);

// Clean up the bench's keys, database and files.
await cleanRedis(prefix, values.redis);
await dropDb();
rmSync(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    bench: 'pipeline',
    db: values.db,
    workers: WORKERS,
    responder: values.responder,
    messages: N,
    msgPerSec: Math.round(msgPerSec),
    cpuMsPerMsg: Number(cpuMsPerMsg.toFixed(3)),
    ...(serverCpu ? { serverCpuMsPerMsg: serverCpu } : {}),
    p50Ms: at1.p50,
    p99Ms: at1.p99,
    rate2: Number(values.rate2),
    p50Ms2: at2.p50,
    p99Ms2: at2.p99,
    ...(WORKERS === 0 ? { stages2: at1.stages, stages3: at2.stages } : {}),
    bullmqRawPerSec: Math.round(rawPerSec),
    ratio: Number((msgPerSec / rawPerSec).toFixed(3)),
    rssMb: Math.max(...rssByPhase),
    rssByPhase,
    heapByPhase,
    ...(groupCommit && groupCommit.commits > 0 ? { txPerCommit: Number((groupCommit.callers / groupCommit.commits).toFixed(2)) } : {}),
  }),
);
process.exit(0);
