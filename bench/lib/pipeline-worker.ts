// One worker process of `npm run bench -- pipeline --workers N`: a hub in role `worker` on the bench's
// Redis and database (config as JSON in SB_BENCH_CONFIG), the bench's responder, and a loopback
// channel whose sends are reported to the parent over IPC (chat id and time, batched every 5 ms).
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { Hub } from '../../src/hub/hub.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { benchResponder } from './responder.js';

const config = hubConfigSchema.parse(JSON.parse(process.env.SB_BENCH_CONFIG ?? '{}'));
const responder = await benchResponder(process.env.SB_BENCH_RESPONDER ?? 'knowledge');
let batch: [string, number][] = [];
const flush = setInterval(() => {
  if (batch.length === 0) return;
  process.send?.({ sent: batch });
  batch = [];
}, 5);
// Wall-clock milliseconds with sub-millisecond precision, comparable across processes.
const lb = new LoopbackAdapter({ onSend: (m) => void batch.push([m.ref.chatId, performance.timeOrigin + performance.now()]), keepSent: false });
const hub = await Hub.start({ config, role: 'worker', adapters: [lb], responder, log: pino({ level: 'silent' }) });
process.send?.({ ready: true, rssMb: process.memoryUsage().rss / 1048576 });
process.on('message', (m: { stop?: boolean; rss?: boolean }) => {
  if (m.rss) process.send?.({ rssMb: process.memoryUsage().rss / 1048576 });
  if (m.stop) {
    clearInterval(flush);
    void hub.stop().then(async () => {
      await responder.close?.();
      process.exit(0);
    });
  }
});
