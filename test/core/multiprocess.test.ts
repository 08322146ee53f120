import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { HubQueues } from '../../src/core/queues/hub-queues.js';
import { createRedis } from '../../src/core/queues/redis.js';
import type { InboundMessage } from '../../src/core/types.js';
import { REDIS_URL, postgresDb, uniqueName } from '../helpers/env.js';
import { cleanRedis, until } from '../helpers/hub.js';
import { startWorkerProcess } from '../helpers/spawn-worker.js';

describe('several worker processes on one Redis + PostgreSQL', () => {
  it('a worker killed mid-work loses nothing: every message answered exactly once, in order per sender', { timeout: 60_000 }, async () => {
    const db = await postgresDb();
    const prefix = uniqueName('sbmp');
    const config = hubConfigSchema.parse({
      storage: { url: db.url },
      redis: { url: REDIS_URL, prefix },
      queues: { partitions: 4, backoffMs: 50, lockMs: 2500 },
    });
    const json = JSON.stringify(config);
    // A reply the killed worker was sending itself (a direct send) is queued by the sweep once it is SB_SWEEP_MS old.
    const [a, b] = await Promise.all([startWorkerProcess(json, { SB_BOT_DELAY_MS: '60', SB_SWEEP_MS: '3000' }), startWorkerProcess(json, { SB_BOT_DELAY_MS: '60', SB_SWEEP_MS: '3000' })]);
    const redis = createRedis(REDIS_URL);
    const queues = new HubQueues(redis, { prefix, ...config.queues });
    after(async () => {
      a.kill('SIGKILL');
      b.kill('SIGTERM');
      await queues.close();
      redis.disconnect();
      await cleanRedis(prefix);
      await db.drop();
    });

    const users = 6;
    const perUser = 8;
    for (let i = 0; i < perUser; i++) {
      for (let u = 0; u < users; u++) {
        const msg: InboundMessage = {
          channel: 'rec',
          platformMessageId: `u${u}-m${i}`,
          platformUserId: `u${u}`,
          ref: { channel: 'rec', chatId: `u${u}` },
          kind: 'text',
          text: `u${u} #${i}`,
          attachments: [],
          receivedAt: Date.now(),
        };
        await queues.addInbound(msg);
        if (i === 0 && u === 0) await queues.addInbound(msg); // a platform redelivery
      }
    }
    const reader = new Redis(REDIS_URL);
    after(() => reader.disconnect());
    // Kill one worker while it is busy.
    await until(async () => (await reader.llen(`${prefix}:sent`)) >= 6, 20_000, 'first replies');
    a.kill('SIGKILL');
    const total = users * perUser;
    try {
      await until(async () => (await reader.llen(`${prefix}:sent`)) >= total, 45_000, `${total} replies`);
    } catch (err) {
      // Say where the missing replies are stuck.
      const counts: Record<string, unknown> = {};
      for (const name of [...Array.from({ length: config.queues.partitions }, (_, p) => `in-${p}`), 'out-rec']) {
        counts[name] = await queues.queue(name).getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
      }
      const { openDb } = await import('../../src/core/storage/db.js');
      const d = openDb(db.url);
      const rows = await d.kysely
        .selectFrom('messages')
        .select(['direction', 'delivery_status', 'processed_at'])
        .execute();
      await d.close();
      const summary = rows.reduce<Record<string, number>>((acc, r) => {
        const k = `${r.direction}:${r.delivery_status}:${r.processed_at ? 'p' : '-'}`;
        acc[k] = (acc[k] ?? 0) + 1;
        return acc;
      }, {});
      throw new Error(`${(err as Error).message}; sent ${await reader.llen(`${prefix}:sent`)}; queues ${JSON.stringify(counts)}; rows ${JSON.stringify(summary)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
    const sent = (await reader.lrange(`${prefix}:sent`, 0, -1)).map((s) => JSON.parse(s) as { chat: string; text: string });
    assert.equal(sent.length, total, 'no reply lost, none doubled');
    for (let u = 0; u < users; u++) {
      const mine = sent.filter((s) => s.chat === `u${u}`).map((s) => s.text);
      assert.deepEqual(mine, Array.from({ length: perUser }, (_, i) => `echo: u${u} #${i}`), `order for u${u}`);
    }
  });
});
