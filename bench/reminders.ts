// Reminders benchmark: N reminders all due at once through the real workflow engine (BullMQ on
// Redis, SQLite, a loopback channel), one customer each.
//   npm run bench -- reminders [--n 100000] [--batch 500]
// A temp workflow with one `send` step and no wait; the events go in through the engine's own
// `accept` (not HTTP), `batch` at a time. Measured: from the first event until all N reminders are
// sent (deliverSeconds, perSec), the process RSS sampled every 500 ms (max), and raw BullMQ
// (add + process N trivial jobs on the same Redis) for the ratio. Last line: JSON.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { hubConfigSchema } from '../src/hub/config-schema.js';
import { Hub } from '../src/hub/hub.js';
import { LoopbackAdapter } from '../src/adapters/loopback/index.js';
import { cleanRedis } from '../test/helpers/hub.js';
import { rawBullmqPerSec } from './lib/raw-bullmq.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '500' },
    redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
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
  data: { reminderId: string }
steps:
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
const hub = await Hub.start({ config, adapters: [lb], configDir, log: pino({ level: 'silent' }) });
const engine = hub.workflows.engine;
if (!engine) throw new Error('the workflow engine did not load');

// ---- phase 1: N reminders due at once, first event -> all sent
let deliverSeconds = 0;
{
  const t0 = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      batch.push(engine.accept({ type: 'reminder.due', customer: { identities: [{ channel: lb.channel, id: `c${j}` }], locale: 'en' }, data: { reminderId: `r${j}` } }, `bench-r${j}`));
    }
    await Promise.all(batch);
  }
  const acceptedSecs = (performance.now() - t0) / 1000;
  console.log(`phase 1: ${N} events accepted in ${acceptedSecs.toFixed(2)} s -> ${(N / acceptedSecs).toFixed(0)} events/s`);
  await lb.waitForSent(N, 3_600_000);
  deliverSeconds = (performance.now() - t0) / 1000;
  if (lb.sent.length !== N) throw new Error(`expected ${N} reminders, got ${lb.sent.length}`);
  console.log(`phase 1: ${N} reminders sent in ${deliverSeconds.toFixed(2)} s -> ${(N / deliverSeconds).toFixed(0)} reminders/s`);
}
sampleRss();
clearInterval(sampler);
await hub.stop();

// ---- phase 2: raw BullMQ on the same Redis
const rawPerSec = await rawBullmqPerSec(values.redis, prefix, N, (i) => ({ i }));
console.log(`phase 2: raw BullMQ ${N} jobs -> ${rawPerSec.toFixed(0)} jobs/s`);

await cleanRedis(prefix, values.redis);
rmSync(dir, { recursive: true, force: true });

const perSec = N / deliverSeconds;
console.log(
  JSON.stringify({
    bench: 'reminders',
    reminders: N,
    deliverSeconds: Number(deliverSeconds.toFixed(2)),
    perSec: Math.round(perSec),
    rssMbMax: Math.round(rssMax),
    bullmqRawPerSec: Math.round(rawPerSec),
    ratio: Number((perSec / rawPerSec).toFixed(3)),
  }),
);
process.exit(0);
