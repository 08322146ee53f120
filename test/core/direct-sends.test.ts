/**
 * Direct sends (src/core/conversation/direct-sends.ts): the worker that decided a reply sends it
 * right after the commit; the send queue takes what it cannot send, and nothing goes out twice.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { HubError } from '../../src/core/errors.js';
import { outboundQueueName } from '../../src/core/queues/names.js';
import type { Responder } from '../../src/core/responder.js';
import type { OutboundMessage } from '../../src/core/types.js';
import { DirectSends } from '../../src/core/conversation/direct-sends.js';
import { REDIS_URL } from '../helpers/env.js';
import { openHubStorage, startTestHub, until, type TestHub } from '../helpers/hub.js';

const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `echo: ${turn.text}`, confidence: 0.9 }) };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function sendQueue(t: TestHub): Queue {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const q = new Queue(outboundQueueName('loopback'), { connection: redis, prefix: t.config.redis.prefix });
  after(async () => {
    await q.close();
    redis.disconnect();
  });
  return q;
}

async function replyTo(t: TestHub, user: string): Promise<string> {
  const ident = await t.hub.storage.customers.findIdentity('loopback', user);
  const conv = await t.hub.storage.conversations.latest(ident!.customerId);
  const out = (await t.hub.storage.messages.ofConversation(conv!.id)).filter((m) => m.direction === 'out');
  assert.equal(out.length, 1);
  return out[0]!.id;
}

describe('direct sends', () => {
  it('a reply goes out from the worker that decided it, with no send job', async () => {
    const lb = new LoopbackAdapter();
    const t = await startTestHub({ adapters: [lb], responder: echo });
    after(() => t.stop());
    const q = sendQueue(t);
    await lb.receive('d1', 'hi');
    await lb.waitForSent(1);
    const id = await replyTo(t, 'd1');
    await until(async () => ((await t.hub.storage.messages.get(id))?.deliveryStatus === 'sent') || undefined);
    assert.equal(await q.getJob(id), undefined, 'no send job');
    assert.deepEqual(lb.sent.map((m) => m.text), ['echo: hi']);
  });

  it('a try that fails hands the reply to the send queue, whose job sends it once', async () => {
    let fails = 1;
    const lb = new LoopbackAdapter({
      onSend: () => {
        if (fails-- > 0) throw new HubError('NETWORK', 'platform hiccup', { retry: 'retry' });
      },
    });
    const t = await startTestHub({ adapters: [lb], responder: echo, config: { queues: { backoffMs: 50 } } });
    after(() => t.stop());
    const q = sendQueue(t);
    await lb.receive('d2', 'hi');
    await lb.waitForSent(1);
    const id = await replyTo(t, 'd2');
    const job = await until(async () => (await q.getJob(id)) ?? undefined, 5000, 'the send job');
    await until(async () => ((await job.isCompleted()) ? true : undefined), 5000, 'the job to complete');
    await sleep(200);
    assert.deepEqual(lb.sent.map((m) => m.text), ['echo: hi']);
  });

  it('a send slower than the sweep age is claimed: the sweep does not queue it again', async () => {
    const lb = new LoopbackAdapter({ onSend: () => sleep(1500) });
    const t = await startTestHub({ adapters: [lb], responder: echo, sweepAfterMs: 500 });
    after(() => t.stop());
    const q = sendQueue(t);
    await lb.receive('d3', 'hi');
    await lb.waitForSent(1, 10_000);
    const id = await replyTo(t, 'd3');
    // The sweep ran at least twice while the send was in flight (every 1 s); let it run again after.
    await sleep(1500);
    assert.equal(lb.sent.length, 1, 'sent once');
    assert.equal(await q.getJob(id), undefined, 'the sweep queued no job');
    assert.equal((await t.hub.storage.messages.get(id))?.deliveryStatus, 'sent');
  });

  it("a sender's replies keep their order when the first is still being sent", async () => {
    const sent: string[] = [];
    const lb = new LoopbackAdapter({
      onSend: async (m: OutboundMessage) => {
        if (m.text === 'echo: one') await sleep(400);
        sent.push(m.text);
      },
    });
    const t = await startTestHub({ adapters: [lb], responder: echo });
    after(() => t.stop());
    await lb.receive('d4', 'one');
    await lb.receive('d4', 'two');
    await lb.receive('d4', 'three');
    await lb.waitForSent(3, 10_000);
    await sleep(200);
    assert.deepEqual(sent, ['echo: one', 'echo: two', 'echo: three']);
  });

  it('a stopping hub finishes its direct sends first', async () => {
    let started = false;
    const lb = new LoopbackAdapter({
      onSend: async () => {
        started = true;
        await sleep(500);
      },
    });
    const t = await startTestHub({ adapters: [lb], responder: echo });
    after(() => t.stop());
    await lb.receive('d5', 'hi');
    await until(() => started || undefined, 5000, 'the send to start');
    const id = await replyTo(t, 'd5');
    await t.hub.stop();
    assert.equal(lb.sent.length, 1, 'the send ended before stop did');
    const storage = await openHubStorage(t.db.url);
    after(() => storage.close());
    assert.equal((await storage.messages.get(id))?.deliveryStatus, 'sent', 'and its delivery is recorded');
  });

  it("a gateway sends nothing directly but leaves the workers' young pending replies alone", async () => {
    const lb = new LoopbackAdapter();
    const t = await startTestHub({ adapters: [lb], responder: echo });
    after(() => t.stop());
    let now = 1_000_000;
    const outbound = t.hub.outboundDeps();
    const gateway = new DirectSends({ outbound: () => outbound, queues: t.hub.queues, limit: 4, sweepAfterMs: 60_000, backoffMs: 100, now: () => now, takes: false });
    await lb.receive('d6', 'hi');
    await lb.waitForSent(1);
    const row = (await t.hub.storage.messages.get(await replyTo(t, 'd6')))!;
    const pending = { ...row, deliveryStatus: 'pending' as const, createdAt: now - 1000 };
    assert.equal(gateway.take([pending]), false, 'a gateway takes nothing');
    assert.equal(gateway.mayHold(pending), true, 'a young pending reply may be in a worker\'s hands');
    now += 60_000;
    assert.equal(gateway.mayHold(pending), false, 'once older than the sweep age it is anybody\'s');
    assert.equal(gateway.mayHold({ ...pending, createdAt: now, channel: 'elsewhere' }), false, 'a channel without direct sends here');
    assert.equal(gateway.mayHold({ ...row, deliveryStatus: 'sent', createdAt: now }), false, 'a reply already sent');
  });
});
