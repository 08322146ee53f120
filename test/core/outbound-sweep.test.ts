/**
 * A send that failed all its attempts (the platform down for longer than the backoff lasted) is
 * tried again by the sweep once the platform is back: a plain re-add would be ignored, the failed
 * job keeping its id for a week.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { HubError } from '../../src/core/errors.js';
import { outboundQueueName } from '../../src/core/queues/names.js';
import type { Responder } from '../../src/core/responder.js';
import { REDIS_URL } from '../helpers/env.js';
import { startTestHub, until } from '../helpers/hub.js';

describe('the sweep and sends that failed every attempt', () => {
  it('a pending send whose job failed for good is retried, and sent once the platform is back', async () => {
    let down = true;
    const lb = new LoopbackAdapter({
      onSend: () => {
        if (down) throw new HubError('NETWORK', 'platform unreachable', { retry: 'retry' });
      },
    });
    const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `re: ${turn.text}`, confidence: 0.9 }) };
    const t = await startTestHub({ adapters: [lb], responder: echo, config: { queues: { attempts: 2, backoffMs: 10 } }, sweepAfterMs: 400 });
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(outboundQueueName('loopback'), { connection: redis, prefix: t.config.redis.prefix });
    after(async () => {
      await queue.close();
      redis.disconnect();
      await t.stop();
    });
    await lb.receive('u1', 'hello');
    // Both attempts fail: the job is failed, the row still pending.
    const failed = await until(async () => (await queue.getFailed())[0], 10_000, 'the send job to fail');
    assert.equal(failed.attemptsMade, 2);
    const row = await t.hub.storage.messages.get(failed.data.messageId as string);
    assert.equal(row?.deliveryStatus, 'pending');
    down = false;
    await lb.waitForSent(1, 10_000);
    assert.equal(lb.sent[0]?.text, 're: hello');
    await until(async () => (await t.hub.storage.messages.get(failed.data.messageId as string))?.deliveryStatus === 'sent' || undefined);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(lb.sent.length, 1, 'sent once');
  });
});

describe('the sweep and subscriber jobs that failed every attempt', () => {
  it('a subscriber down for longer than its backoff gets the event once it is back, once', async () => {
    let down = true;
    const seen: string[] = [];
    const lb = new LoopbackAdapter();
    const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `re: ${turn.text}`, confidence: 0.9 }) };
    const t = await startTestHub({
      adapters: [lb],
      responder: echo,
      config: { queues: { attempts: 2, backoffMs: 10 } },
      sweepAfterMs: 400,
      subscribe: (subs) =>
        subs.on('crm-sync', 'message.received', async (e) => {
          if (down) throw new HubError('NETWORK', 'the CRM is down', { retry: 'retry' });
          seen.push(e.id);
        }),
    });
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('events', { connection: redis, prefix: t.config.redis.prefix });
    after(async () => {
      await queue.close();
      redis.disconnect();
      await t.stop();
    });
    await lb.receive('u2', 'hello');
    const failed = await until(async () => (await queue.getFailed()).find((j) => j.name === 'crm-sync'), 10_000, 'the subscriber job to fail');
    assert.equal(failed.attemptsMade, 2);
    down = false;
    await until(() => seen.length > 0 || undefined, 10_000, 'the subscriber to get the event');
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(seen.length, 1, 'once');
  });
});
