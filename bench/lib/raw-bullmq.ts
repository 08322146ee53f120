import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * The bare BullMQ rate on this Redis, for a bench's ratio: `n` jobs added in batches of 500 and
 * processed by one worker at concurrency 200, nothing else. Cleans up its queue.
 */
export async function rawBullmqPerSec(redisUrl: string, prefix: string, n: number, data: (i: number) => object): Promise<number> {
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const q = new Queue('raw', { connection: conn, prefix });
  let done = 0;
  let finish: () => void = () => undefined;
  const all = new Promise<void>((r) => (finish = r));
  const w = new Worker(
    'raw',
    async () => {
      if (++done === n) finish();
    },
    { connection: conn, prefix, concurrency: 200, removeOnComplete: { count: 0 } },
  );
  const t0 = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    inflight.push(q.add('m', data(i), { removeOnComplete: true }));
    if (inflight.length >= 500) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  await all;
  const perSec = n / ((performance.now() - t0) / 1000);
  await w.close();
  await q.obliterate({ force: true });
  await q.close();
  conn.disconnect();
  return perSec;
}
