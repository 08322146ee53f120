import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { HubQueues } from '../../src/core/queues/hub-queues.js';
import { EVENTS_QUEUE } from '../../src/core/queues/names.js';
import { createRedis } from '../../src/core/queues/redis.js';
import type { InboundMessage } from '../../src/core/types.js';
import { REDIS_URL, postgresDb, uniqueName } from '../helpers/env.js';
import { cleanRedis, openHubStorage, until } from '../helpers/hub.js';
import { startWorkerProcess } from '../helpers/spawn-worker.js';

describe('conversation events across a crash', () => {
  it('a worker killed (SIGKILL) between commit and dispatch loses no event; no subscriber sees one twice in effect', { timeout: 60_000 }, async () => {
    const db = await postgresDb();
    const prefix = uniqueName('sbev');
    const config = hubConfigSchema.parse({
      storage: { url: db.url },
      redis: { url: REDIS_URL, prefix },
      queues: { partitions: 2, backoffMs: 50, lockMs: 1500 },
    });
    const json = JSON.stringify(config);
    const redis = createRedis(REDIS_URL);
    const queues = new HubQueues(redis, { prefix, ...config.queues });
    const children: ChildProcess[] = [];
    after(async () => {
      for (const c of children) c.kill('SIGKILL');
      await queues.close();
      redis.disconnect();
      await cleanRedis(prefix);
      await db.drop();
    });

    // Worker A commits the turn (reply row + events) and dies before queueing anything.
    const a = await startWorkerProcess(json, { SB_BOT_DELAY_MS: '10', SB_KILL_AFTER_COMMIT: '1', SB_PROBE: '1' });
    children.push(a);
    const died = new Promise<NodeJS.Signals | null>((r) => a.once('exit', (_code, signal) => r(signal)));
    const msg: InboundMessage = {
      channel: 'rec',
      platformMessageId: 'k1',
      platformUserId: 'u1',
      ref: { channel: 'rec', chatId: 'u1' },
      kind: 'text',
      text: 'hello',
      attachments: [],
      receivedAt: Date.now(),
    };
    await queues.addInbound(msg);
    assert.equal(await died, 'SIGKILL');
    const storage = await openHubStorage(db.url);
    after(() => storage.close());
    const ident = await storage.customers.findIdentity('rec', 'u1');
    const [conv] = await storage.conversations.ofCustomer(ident!.customerId);
    const committed = await storage.events.ofConversation(conv!.id);
    assert.deepEqual(committed.map((e) => [e.type, e.dispatchedAt]), [
      ['message.received', null],
      ['bot.answered', null],
    ]);
    assert.equal(await redis.llen(`${prefix}:sent`), 0);

    // Worker B takes the stalled job over (and its sweep would find the events): everything arrives once.
    children.push(await startWorkerProcess(json, { SB_BOT_DELAY_MS: '10', SB_PROBE: '1', SB_SWEEP_MS: '1000' }));
    await until(async () => (await redis.llen(`${prefix}:sent`)) === 1 && Object.keys(await redis.hgetall(`${prefix}:probe`)).length === 3, 20_000, 'reply and events');
    // A subscriber's effect can land before the dispatch stamps its event: wait for the stamps.
    const events = await until(async () => {
      const all = await storage.events.ofConversation(conv!.id);
      return all.every((e) => e.dispatchedAt !== null) ? all : undefined;
    }, 10_000, 'every event stamped dispatched');
    assert.deepEqual(events.map((e) => e.type), ['message.received', 'bot.answered', 'message.sent']);
    assert.ok(events.every((e) => e.dispatchedAt !== null));
    const probe = await redis.hgetall(`${prefix}:probe`);
    assert.deepEqual(Object.values(probe), ['1', '1', '1']);

    // The same deliveries queued again (their BullMQ jobs gone): the receipts keep the effects at one.
    await queues.queue(EVENTS_QUEUE).clean(0, 1000, 'completed');
    await queues.addEventJobs(events.map((e) => ({ subscriber: 'probe', eventId: e.id })));
    await until(async () => (await queues.queue(EVENTS_QUEUE).getCompletedCount()) >= 3, 10_000, 'redelivered jobs done');
    assert.deepEqual(Object.values(await redis.hgetall(`${prefix}:probe`)), ['1', '1', '1']);
    assert.deepEqual(await redis.lrange(`${prefix}:sent`, 0, -1), [JSON.stringify({ chat: 'u1', text: 'echo: hello' })]);
  });
});
