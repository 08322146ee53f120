// Reminders benchmark: N reminders all due at once through the real workflow engine (BullMQ on
// Redis, SQLite, a loopback channel), one customer each.
//   npm run bench -- reminders [--n 100000] [--batch 500] [--prof phase2.cpuprofile]
// A temp workflow: `wait: { until: dueAt }` then one `send`. Phase 1 schedules: N events, all with
// the same dueAt a day ahead, go in through the engine's own `accept` (not HTTP), `batch` at a time
// (acceptPerSec: creating N customers, events, runs and delayed jobs). Phase 2 makes them due at
// once: the hub's clock moves past dueAt and BullMQ promotes the delayed due-slot job (as Redis would
// at dueAt); measured from then until all N reminders are sent (deliverSeconds, perSec, and this
// process's CPU time per reminder, cpuMsPerReminder: steadier on a busy machine). The RSS is
// sampled every 500 ms (rssMbMax; rssMbAfter once delivered and collected; heapMbBefore/After: the JS
// heap in use after a full GC, before phase 1 and after delivery), and raw BullMQ (add +
// process N trivial jobs on the same Redis) gives the ratio. Last line: JSON.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { hubConfigSchema } from '../src/hub/config-schema.js';
import { Hub } from '../src/hub/hub.js';
import { LoopbackAdapter } from '../src/adapters/loopback/index.js';
import { WORKFLOWS_QUEUE } from '../src/workflows/engine.js';
import { sendBatchesOf } from '../src/core/conversation/outbound.js';
import { Queue } from 'bullmq';
import { cleanRedis } from '../test/helpers/hub.js';
import { rawBullmqPerSec } from './lib/raw-bullmq.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '500' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    /** Writes a CPU profile of phase 2 (the delivery) to this file (open it in Chrome's DevTools). */
    prof: { type: 'string' },
  },
});
const N = Number(values.n);
const BATCH = Number(values.batch);
const prefix = `sbbench${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'sb-bench-reminders-'));

// The config folder: the shipped templates and one workflow (one send, no wait).
const configDir = join(dir, 'config');
mkdirSync(join(configDir, 'templates'), { recursive: true });
mkdirSync(join(configDir, 'workflows'));
for (const f of ['core.yaml', 'messages.yaml']) copyFileSync(join('config', 'templates', f), join(configDir, 'templates', f));
writeFileSync(join(configDir, 'workflows', '_defaults.yaml'), 'timezone: UTC\nquietHours: off\nchannels: [preferred]\n');
writeFileSync(
  join(configDir, 'workflows', 'reminder.yaml'),
  `kind: reminder
trigger:
  event: reminder.due
  data: { reminderId: string, dueAt: datetime }
steps:
  - id: due
    wait: { until: dueAt }
  - id: remind
    send: { text: { en: "Your reminder {{reminderId}} is due", zh: "您的提醒 {{reminderId}} 到期了" } }
`,
);

let rssMax = 0;
const sampleRss = () => (rssMax = Math.max(rssMax, process.memoryUsage().rss / 1048576));
const sampler = setInterval(sampleRss, 500);

const lb = new LoopbackAdapter();
const config = hubConfigSchema.parse({
  logLevel: 'silent',
  storage: { url: `sqlite:${join(dir, 'bench.db')}` },
  redis: { url: values.redis, prefix },
  queues: { outboundConcurrency: 64 },
  server: { port: 0 },
});
// The hub's clock: real time until phase 2 moves it past dueAt.
let offset = 0;
const clock = { now: () => Date.now() + offset };
const hub = await Hub.start({ config, adapters: [lb], configDir, clock, log: pino({ level: 'silent' }) });
const engine = hub.workflows.engine;
if (!engine) throw new Error('the workflow engine did not load');

// A full GC when measuring memory (V8's gc, exposed at run time: `npm run bench` passes no flags).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
gc();
const heapBefore = process.memoryUsage().heapUsed / 1048576;

// ---- phase 1: N reminders scheduled for one moment a day ahead
const dueAt = Date.now() + 86_400_000;
let acceptPerSec = 0;
{
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      const data = { reminderId: `r${j}`, dueAt: new Date(dueAt).toISOString() };
      batch.push(engine.accept({ type: 'reminder.due', customer: { identities: [{ channel: lb.channel, id: `c${j}` }], locale: 'en' }, data }, `bench-r${j}`));
    }
    await Promise.all(batch);
  }
  const queue = new Queue(WORKFLOWS_QUEUE, { connection: { url: values.redis }, prefix });
  // Every run's first step ran (its wait is a scheduled row) and the due slot waits in Redis (one delayed job).
  for (;;) {
    const c = await queue.getJobCounts('wait', 'active', 'delayed');
    if ((c.wait ?? 0) + (c.active ?? 0) === 0 && (c.delayed ?? 0) >= 1 && engine.batchStats.jobs >= N) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  acceptPerSec = N / ((performance.now() - t0) / 1000);
  console.log(`phase 1: ${N} reminders scheduled (accepted, waiting in Redis) -> ${acceptPerSec.toFixed(0)} events/s`);
  await queue.close();
}

// ---- phase 2: all due at once -> all sent
let deliverSeconds = 0;
let rssAfter = 0;
// The JavaScript heap in use after delivery and a full GC, against before phase 1 (heapMbBefore):
// what the run keeps per reminder (the RSS stays near its high-water mark: V8 and the allocators keep pages).
let heapAfter = 0;
// This process's CPU per reminder in phase 2 (all its threads): steadier than the rate on a busy machine.
let cpuMsPerReminder = 0;
// How many sends shared their first reads (src/core/conversation/outbound.ts).
let sendsPerRead = 0;
{
  const queue = new Queue(WORKFLOWS_QUEUE, { connection: { url: values.redis }, prefix });
  offset = dueAt - Date.now() + 1000;
  const profiler = values.prof ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await queue.promoteJobs({ count: N });
  await lb.waitForSent(N, 3_600_000);
  deliverSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const reads = sendBatchesOf(hub.storage).stats;
  sendsPerRead = reads.messages / Math.max(1, reads.reads);
  cpuMsPerReminder = (cpu.user + cpu.system) / 1000 / N;
  if (profiler && values.prof) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(values.prof, JSON.stringify(profile));
    profiler.disconnect();
  }
  await queue.close();
  if (lb.sent.length !== N) throw new Error(`expected ${N} reminders, got ${lb.sent.length}`);
  console.log(`phase 2: ${N} reminders due at once, all sent in ${deliverSeconds.toFixed(2)} s -> ${(N / deliverSeconds).toFixed(0)} reminders/s`);
  lb.sent.length = 0;
  gc();
  rssAfter = process.memoryUsage().rss / 1048576;
  heapAfter = process.memoryUsage().heapUsed / 1048576;
}
sampleRss();
clearInterval(sampler);
await hub.stop();

// ---- phase 3: raw BullMQ on the same Redis
const rawPerSec = await rawBullmqPerSec(values.redis, prefix, N, (i) => ({ i }));
console.log(`phase 3: raw BullMQ ${N} jobs -> ${rawPerSec.toFixed(0)} jobs/s`);

await cleanRedis(prefix, values.redis);
rmSync(dir, { recursive: true, force: true });

const perSec = N / deliverSeconds;
console.log(
  JSON.stringify({
    bench: 'reminders',
    reminders: N,
    deliverSeconds: Number(deliverSeconds.toFixed(2)),
    perSec: Math.round(perSec),
    cpuMsPerReminder: Number(cpuMsPerReminder.toFixed(3)),
    sendsPerRead: Number(sendsPerRead.toFixed(1)),
    stepJobsPerBatch: Number((engine.batchStats.jobs / Math.max(1, engine.batchStats.batches)).toFixed(1)),
    rssMbMax: Math.round(rssMax),
    rssMbAfter: Math.round(rssAfter),
    heapMbBefore: Math.round(heapBefore),
    heapMbAfter: Math.round(heapAfter),
    acceptPerSec: Math.round(acceptPerSec),
    bullmqRawPerSec: Math.round(rawPerSec),
    ratio: Number((perSec / rawPerSec).toFixed(3)),
  }),
);
process.exit(0);
