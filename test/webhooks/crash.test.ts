/**
 * Every event type of the core's catalogue reaches a webhook endpoint once in effect although the
 * worker POSTing it is killed (SIGKILL) mid-request, and events or jobs delivered again after a
 * success POST nothing.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { pino } from 'pino';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { HubQueues } from '../../src/core/queues/hub-queues.js';
import { EVENTS_QUEUE } from '../../src/core/queues/names.js';
import { EventDispatcher } from '../../src/core/queues/event-dispatcher.js';
import { createRedis } from '../../src/core/queues/redis.js';
import { EventSubscriptions, eventCatalogue, type EventPayloads, type EventType, type NewEvent } from '../../src/core/events.js';
import { Webhooks, WEBHOOKS_QUEUE } from '../../src/webhooks/index.js';
import { REDIS_URL, postgresDb, uniqueName } from '../helpers/env.js';
import { cleanRedis, openHubStorage, until } from '../helpers/hub.js';
import { startWorkerProcess } from '../helpers/spawn-worker.js';
import { startReceiver } from './receiver.js';

/** A payload for every type of the catalogue: a new type fails typecheck here until it has one. */
const samples: EventPayloads = {
  'message.received': { messageId: 'm1', channel: 'rec', toAgent: false },
  'bot.answered': { messageId: 'm1', confidence: 0.91, entryIds: ['faq-1'], sentiment: 0.2 },
  'bot.clarified': { messageId: 'm1', confidence: 0.41, entryIds: ['faq-1', 'faq-2'], sentiment: null },
  'conversation.escalated': { escalationId: 'esc-1', reason: 'asked_for_human', priority: 'high', messageId: 'm1', sentiment: -0.7 },
  'conversation.claimed': { agentId: 'U1' },
  'agent.replied': { messageId: 'm2', agentId: 'U1', agentName: 'Dana', claimed: true },
  'note.added': { agentId: 'U1', text: 'VIP customer', key: 'note:1' },
  'conversation.resolved': { agentId: 'U1' },
  'conversation.returned_to_bot': { agentId: 'U1' },
  'conversation.reopened': { messageId: 'm3', assignee: 'U1' },
  'csat.given': { score: 5, messageId: 'm4' },
  'message.queued': { messageId: 'm5', kind: 'api', key: 'order-7', channel: 'rec' },
  'message.sent': { messageId: 'm5', channel: 'rec', author: 'system' },
  'message.failed': { messageId: 'm6', channel: 'rec', author: 'bot', code: 'NETWORK', error: 'platform down' },
  'identity.unreachable': { identityId: 'id-1', channel: 'rec', reason: 'blocked the bot' },
};

describe('outgoing webhooks across a crash', () => {
  it('every event type is delivered once in effect through a worker SIGKILL mid-POST; redelivered events and jobs POST nothing', { timeout: 90_000 }, async () => {
    const db = await postgresDb();
    const prefix = uniqueName('sbwh');
    const rx = await startReceiver();
    const config = hubConfigSchema.parse({
      storage: { url: db.url },
      redis: { url: REDIS_URL, prefix },
      queues: { partitions: 2, backoffMs: 50, lockMs: 1500 },
      webhooks: [{ url: rx.url, events: ['*'], secret: rx.secret }],
    });
    const json = JSON.stringify(config);
    const redis = createRedis(REDIS_URL);
    const queues = new HubQueues(redis, { prefix, ...config.queues });
    const storage = await openHubStorage(db.url);
    const log = pino({ level: 'silent' });
    const webhooks = new Webhooks(config.webhooks, { storage, redis, prefix, log });
    const children: ChildProcess[] = [];
    after(async () => {
      for (const c of children) c.kill('SIGKILL');
      await webhooks.close();
      await queues.close();
      redis.disconnect();
      await storage.close();
      await rx.close();
      await cleanRedis(prefix);
      await db.drop();
    });

    // Worker A will be killed while its first POST waits for the receiver's answer.
    const a = await startWorkerProcess(json);
    children.push(a);
    const died = new Promise<NodeJS.Signals | null>((r) => a.once('exit', (_code, signal) => r(signal)));
    let killed = false;
    rx.answer = async (_r, n) => {
      if (!killed) {
        killed = true;
        a.kill('SIGKILL');
        await died;
      }
      return n === 0 ? { status: 200 } : { status: 204 };
    };

    // One event of every type of the catalogue, in one conversation, written as the core writes them.
    const { customer } = await storage.customers.resolve({
      channel: 'rec',
      platformMessageId: 'p1',
      platformUserId: 'u1',
      ref: { channel: 'rec', chatId: 'u1' },
      kind: 'text',
      text: 'hello',
      attachments: [],
      receivedAt: Date.now(),
    });
    const conv = await storage.conversations.create(customer.id, 'rec', null);
    const types = Object.keys(eventCatalogue) as EventType[];
    const newEvents = types.map((type) => ({ type, actor: 'system', payload: samples[type] }) as NewEvent);
    const subs = new EventSubscriptions();
    webhooks.subscribe(subs);
    const dispatcher = new EventDispatcher(subs, storage, queues, log);
    const events = await storage.transaction((tx) => tx.events.append(conv.id, customer.id, newEvents, (t) => dispatcher.wanted(t)));
    assert.equal(events.length, types.length, 'every type is wanted by the "*" endpoint');
    await dispatcher.dispatch(events);

    assert.equal(await died, 'SIGKILL');
    // Worker B takes the killed worker's jobs over once their lock expires.
    children.push(await startWorkerProcess(json));
    const ids = events.map((e) => e.id);
    const all = await until(async () => {
      const l = await webhooks.deliveries.recent({ limit: 100 });
      return l.length === ids.length && l.every((d) => d.status === 'delivered') ? l : undefined;
    }, 30_000, 'every delivery delivered');
    assert.deepEqual(all.map((d) => d.eventType).sort(), [...types].sort());

    // Every event arrived, verified; only the one in flight at the kill arrived twice (the receiver dedupes on its id).
    const counts = rx.counts();
    assert.deepEqual([...counts.keys()].sort(), [...ids].sort());
    const firstId = rx.requests[0]!.eventId;
    assert.equal(firstId, ids[0]);
    assert.deepEqual(
      ids.map((id) => counts.get(id)),
      ids.map((id) => (id === firstId ? 2 : 1)),
    );
    // In the order they happened, the crashed one first.
    const arrival = rx.requests.map((r) => r.eventId).filter((id, i, l) => l.indexOf(id) === i);
    assert.deepEqual(arrival, ids);
    for (const r of rx.requests) {
      const e = events.find((x) => x.id === r.eventId)!;
      assert.equal(r.body.type, e.type);
      assert.deepEqual(r.body.data, samples[e.type as EventType]);
      assert.deepEqual(r.body.conversation, { id: conv.id, channel: 'rec', status: 'bot' });
      assert.deepEqual(r.body.customer, { id: customer.id, identities: [{ channel: 'rec', id: 'u1' }] });
    }
    const seen = rx.requests.length;

    // The same events delivered again after their receipts are gone: the delivery rows stop a second POST.
    const sql = new pg.Client({ connectionString: db.url });
    sql.on('error', () => undefined); // the database is dropped with FORCE at the end
    await sql.connect();
    await sql.query(`DELETE FROM event_receipts WHERE subscriber = 'webhooks'`);
    const eventsQueue = queues.queue(EVENTS_QUEUE);
    await eventsQueue.clean(0, 1000, 'completed');
    await queues.addEventJobs(ids.map((eventId) => ({ subscriber: 'webhooks', eventId })));
    await until(async () => (await eventsQueue.getCompletedCount()) >= ids.length, 15_000, 'redelivered event jobs done');
    const receipts = await sql.query(`SELECT count(*)::int AS n FROM event_receipts WHERE subscriber = 'webhooks'`);
    assert.equal(receipts.rows[0].n, ids.length);
    await sql.end();
    // And the delivery jobs themselves queued again (a sweep, a Redis that replays): nothing either.
    const whQueue = queues.queue(WEBHOOKS_QUEUE);
    await whQueue.addBulk(all.map((d) => ({ name: 'deliver', data: { deliveryId: d.id }, opts: { jobId: `again-${d.id}` } })));
    await until(async () => (await whQueue.getJobCounts('waiting', 'active')).waiting === 0, 10_000, 'delivery jobs done');
    await until(async () => (await whQueue.getJobCounts('active')).active === 0, 10_000, 'no delivery job active');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(rx.requests.length, seen, 'nothing was POSTed again');
    const after2 = await webhooks.deliveries.recent({ limit: 100 });
    assert.ok(after2.every((d) => d.status === 'delivered'));
    assert.deepEqual(
      after2.map((d) => d.attempts).sort(),
      all.map((d) => d.attempts).sort(),
    );
  });
});
