/**
 * Outgoing webhooks end to end: a real hub (queues on Redis, SQLite) sends conversation events to a
 * receiver on 127.0.0.1 that checks each signature with the code of docs/webhooks.md.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { ManualClock } from '../../src/core/clock.js';
import type { Responder } from '../../src/core/responder.js';
import type { EventType } from '../../src/core/events.js';
import type { HubOptions } from '../../src/hub/hub.js';
import { SETTLED_RETENTION_MS, type WebhookDelivery } from '../../src/webhooks/index.js';
import { signatureHeader } from '../../src/webhooks/payload.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { startReceiver, docsVerify, type Receiver } from './receiver.js';

const echo: Responder = { respond: async (t) => ({ kind: 'answer', text: `echo: ${t.text}`, confidence: 0.9 }) };

interface Setup {
  t: TestHub;
  lb: LoopbackAdapter;
  rx: Receiver;
  logs: { level: number; msg: string; webhook?: string; eventId?: string; statusCode?: number }[];
  log(endpoint?: string): Promise<WebhookDelivery[]>;
}

type Events = ('*' | EventType)[];

async function setup(opts: { events?: Events; more?: { name?: string; url: string; events: Events; secret: string; timeoutMs?: number }[]; hub?: Partial<HubOptions> } = {}): Promise<Setup> {
  const rx = await startReceiver();
  const lb = new LoopbackAdapter();
  const logs: Setup['logs'] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Setup['logs'][number]) });
  const t = await startTestHub({
    adapters: [lb],
    responder: echo,
    log,
    ...opts.hub,
    config: { webhooks: [{ name: 'rx', url: rx.url, events: opts.events ?? ['*'], secret: rx.secret }, ...(opts.more ?? [])] },
  });
  after(async () => {
    await t.stop();
    await rx.close();
  });
  return { t, lb, rx, logs, log: (endpoint = 'rx') => t.hub.webhooks.deliveries.recent({ endpoint, limit: 100 }) };
}

/** Waits until every delivery of `endpoint` is settled and there are at least `n`. */
function settled(s: Setup, n: number, endpoint = 'rx', timeoutMs = 10_000): Promise<WebhookDelivery[]> {
  return until(async () => {
    const l = await s.log(endpoint);
    return l.length >= n && l.every((d) => d.status !== 'pending') ? l : undefined;
  }, timeoutMs, `${n} settled deliveries to ${endpoint}`);
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('outgoing webhooks', () => {
  it('POSTs each conversation event once as signed JSON: id, type, createdAt, conversation, customer, data; in order per conversation', async () => {
    const s = await setup();
    for (let i = 1; i <= 4; i++) await s.lb.receive('u1', `question ${i}`);
    await s.lb.receive('u2', 'hello');
    await s.lb.waitForSent(5);
    // Per message: message.received, bot.answered, message.sent.
    const log = await settled(s, 15);
    assert.ok(log.every((d) => d.status === 'delivered' && d.attempts === 1 && d.lastStatusCode === 200 && d.lastError === null && d.deliveredAt !== null));
    assert.equal(s.rx.requests.length, 15);
    assert.ok(s.rx.requests.every((r) => r.verified && r.body.id === r.eventId));
    assert.deepEqual([...s.rx.counts().values()], Array(15).fill(1));

    const storage = s.t.hub.storage;
    const ident = await storage.customers.findIdentity('loopback', 'u1');
    const [conv] = await storage.conversations.ofCustomer(ident!.customerId);
    const events = await storage.events.ofConversation(conv!.id);
    // Four questions, each answered and its answer sent (a reply may be sent after the next question came in).
    const types = events.map((e) => e.type);
    assert.deepEqual([...types].sort(), [...Array(4).fill('bot.answered'), ...Array(4).fill('message.received'), ...Array(4).fill('message.sent')]);
    assert.equal(types[0], 'message.received');
    assert.ok(types.indexOf('bot.answered') < types.indexOf('message.sent'));
    const mine = s.rx.requests.filter((r) => r.body.conversation.id === conv!.id);
    // One conversation's events arrive in the order they happened.
    assert.deepEqual(mine.map((r) => r.eventId), events.map((e) => e.id));
    for (const e of events) {
      const got = mine.find((r) => r.eventId === e.id)!.body;
      assert.deepEqual(got, {
        id: e.id,
        type: e.type,
        createdAt: new Date(e.at).toISOString(),
        conversation: { id: conv!.id, channel: 'loopback', status: 'bot' },
        customer: { id: ident!.customerId, identities: [{ channel: 'loopback', id: 'u1' }] },
        data: e.payload,
      });
    }
    assert.match(mine[0]!.signature, /^t=\d{10},v1=[0-9a-f]{64}$/);
  });

  it('a tampered body, another secret or a timestamp older than 5 minutes fails verification', async () => {
    const s = await setup({ events: ['message.received'] });
    await s.lb.receive('u1', 'hi');
    await settled(s, 1);
    const verify = await docsVerify();
    const [r] = s.rx.requests;
    const t = Number(/^t=(\d+)/.exec(r!.signature)![1]);
    assert.equal(verify(r!.raw, r!.signature, s.rx.secret, t + 10), true);
    assert.equal(verify(r!.raw.replace('"hi"', '"hI"').replace('"toAgent":false', '"toAgent":true'), r!.signature, s.rx.secret, t + 10), false);
    assert.equal(verify(`${r!.raw} `, r!.signature, s.rx.secret, t + 10), false);
    assert.equal(verify(r!.raw, r!.signature, 'another-secret-0123456789', t + 10), false);
    // One hex digit changed (replacing it with '0' changed nothing when it was '0' already: 1 run in 16).
    assert.equal(verify(r!.raw, r!.signature.replace(/v1=(.)/, (_, c: string) => `v1=${c === '0' ? '1' : '0'}`), s.rx.secret, t + 10), false);
    assert.equal(verify(r!.raw, undefined, s.rx.secret), false);
    // A replay: correctly signed, but 5 minutes and a second old.
    assert.equal(verify(r!.raw, r!.signature, s.rx.secret, t + 301), false);
    const old = Math.floor(Date.now() / 1000) - 301;
    assert.equal(verify(r!.raw, signatureHeader(s.rx.secret, r!.raw, old), s.rx.secret), false);
    assert.equal(verify(r!.raw, signatureHeader(s.rx.secret, r!.raw, old + 10), s.rx.secret), true);
  });

  it('retries after a 500 (then delivers) and after a network error, with exponential backoff', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}/hooks`;
    const s = await setup({ events: ['message.received'], more: [{ name: 'dead', url: dead, events: ['message.received'], secret: 'dead-secret-0123456789' }] });
    s.rx.answer = (_r, n) => (n === 0 ? { status: 500, body: 'database\nunavailable' } : { status: 200 });
    await s.lb.receive('u1', 'hi');
    const [d] = await settled(s, 1);
    assert.deepEqual([d!.status, d!.attempts, d!.lastStatusCode, d!.lastError], ['delivered', 2, 200, null]);
    assert.deepEqual(s.rx.requests.map((r) => r.status), [500, 200]);
    assert.ok(s.rx.requests[1]!.at - s.rx.requests[0]!.at >= 40, 'the retry waited (queues.backoffMs 50)');
    const retryLog = s.logs.find((l) => l.msg.startsWith('webhook failed, will retry: HTTP 500: database unavailable'));
    assert.ok(retryLog && retryLog.webhook === 'rx' && retryLog.statusCode === 500, 'the retry is logged');

    const down = await until(async () => {
      const [x] = await s.log('dead');
      return x && x.attempts >= 3 ? x : undefined;
    }, 10_000, 'three attempts at a closed port');
    assert.equal(down.status, 'pending');
    assert.equal(down.lastStatusCode, null);
    assert.match(down.lastError ?? '', /^network error: ECONNREFUSED/);
    assert.ok(down.nextAttemptAt! > down.updatedAt, 'the next try is planned');
  });

  it('honours Retry-After on 429 (seconds) and 503 (an HTTP date)', { timeout: 30_000 }, async () => {
    const s = await setup({ events: ['message.received'] });
    s.rx.answer = (r, n) => {
      if (n > 0) return { status: 200 };
      if (r.body.customer.identities[0]?.id === 'u1') return { status: 429, headers: { 'retry-after': '2' } };
      return { status: 503, headers: { 'retry-after': new Date(Date.now() + 3000).toUTCString() } };
    };
    await s.lb.receive('u1', 'hi');
    await s.lb.receive('u2', 'hi');
    const log = await settled(s, 2, 'rx', 15_000);
    assert.ok(log.every((d) => d.status === 'delivered' && d.attempts === 2));
    const gap = (user: string) => {
      const rs = s.rx.requests.filter((r) => r.body.customer.identities[0]?.id === user);
      assert.deepEqual(rs.map((r) => r.status), [user === 'u1' ? 429 : 503, 200]);
      return rs[1]!.at - rs[0]!.at;
    };
    assert.ok(gap('u1') >= 1950, `429 with Retry-After: 2 retried after ${gap('u1')} ms`);
    // An HTTP date has whole seconds: 3 s from now is 2 to 3 s away.
    assert.ok(gap('u2') >= 1950, `503 with a Retry-After date retried after ${gap('u2')} ms`);
  });

  it('a 4xx other than 429 is final and logged; later events of the conversation still go', async () => {
    const s = await setup({ events: ['message.received'] });
    let first = true;
    s.rx.answer = () => (first ? ((first = false), { status: 422, body: 'unknown field "data"' }) : { status: 204 });
    await s.lb.receive('u1', 'one');
    const [d] = await settled(s, 1);
    assert.deepEqual([d!.status, d!.attempts, d!.lastStatusCode, d!.lastError], ['failed', 1, 422, 'HTTP 422: unknown field "data"']);
    const warn = s.logs.find((l) => l.level === 40 && l.msg.startsWith('webhook refused, not retried: HTTP 422'));
    assert.ok(warn, 'a warning is logged');
    assert.deepEqual([warn.webhook, warn.eventId, warn.statusCode], ['rx', d!.eventId, 422]);
    await s.lb.receive('u1', 'two');
    const log = await settled(s, 2);
    assert.deepEqual(log.map((x) => [x.status, x.attempts]), [['delivered', 1], ['failed', 1]]);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(s.rx.requests.map((r) => r.status), [422, 204], 'the refused event was not POSTed again');
  });

  it('a redirect is not followed (final, naming the target); no answer within timeoutMs is retried', async () => {
    const slow = await startReceiver();
    after(() => slow.close());
    let slowCalls = 0;
    slow.answer = () => (slowCalls++ === 0 ? { status: 200, delayMs: 1500 } : { status: 200 });
    const s = await setup({ events: ['message.received'], more: [{ name: 'slow', url: slow.url, events: ['message.received'], secret: slow.secret, timeoutMs: 1000 }] });
    s.rx.answer = () => ({ status: 308, headers: { location: 'https://new.example.com/hooks' } });
    await s.lb.receive('u1', 'hi');
    const [d] = await settled(s, 1);
    assert.deepEqual([d!.status, d!.attempts, d!.lastStatusCode], ['failed', 1, 308]);
    assert.equal(d!.lastError, 'HTTP 308: redirected to https://new.example.com/hooks; put the final URL in hub.yaml');
    const [t] = await settled(s, 1, 'slow');
    assert.deepEqual([t!.status, t!.attempts, t!.lastStatusCode], ['delivered', 2, 200]);
    const timedOut = s.logs.find((l) => l.webhook === 'slow' && l.msg.startsWith('webhook failed, will retry'));
    assert.equal(timedOut?.msg, 'webhook failed, will retry: no answer within 1000 ms');
  });

  it('a pending delivery whose job Redis lost is queued again by the sweep', async () => {
    const s = await setup({ events: ['message.received'], hub: { sweepAfterMs: 1000 } });
    const storage = s.t.hub.storage;
    // A delivery recorded while its job never reached Redis (or Redis forgot it).
    const [e] = await storage.transaction((tx) =>
      tx.events.append('conv-lost', 'cust-lost', [{ type: 'message.received', actor: 'customer', payload: { messageId: 'm-lost', channel: 'loopback', toAgent: false } }], () => true),
    );
    await storage.events.markDispatched([e!.id]); // so only the webhooks sweep can bring it out
    const body = JSON.stringify({ id: e!.id, type: e!.type });
    await storage.webhookDeliveries.record({ endpoint: 'rx', eventId: e!.id, eventType: e!.type, conversationId: 'conv-lost', body });
    const [d] = await settled(s, 1, 'rx', 10_000);
    assert.equal(d!.status, 'delivered');
    assert.deepEqual(s.rx.requests.map((r) => [r.eventId, r.raw, r.verified]), [[e!.id, body, true]]);
  });

  it('the sweep deletes settled deliveries once their retention (30 days) has passed', async () => {
    const clock = new ManualClock(Date.now());
    const s = await setup({ events: ['message.received'], hub: { clock, sweepAfterMs: 1000 } });
    await s.lb.receive('u1', 'hi');
    const [d] = await settled(s, 1);
    assert.equal(d!.status, 'delivered');
    clock.advance(SETTLED_RETENTION_MS - 60_000);
    await new Promise((r) => setTimeout(r, 2500)); // two sweeps at least: a minute short, it stays
    assert.deepEqual((await s.log()).map((x) => x.id), [d!.id]);
    clock.advance(120_000);
    await until(async () => (await s.log()).length === 0, 10_000, 'the delivery deleted');
    assert.ok(s.logs.some((l) => l.msg === 'webhooks sweep: settled deliveries past their retention deleted'));
  });

  it('gives up 24 h after the event', async () => {
    const clock = new ManualClock(Date.now());
    const s = await setup({ events: ['message.received'], hub: { clock } });
    s.rx.answer = () => ({ status: 502 });
    await s.lb.receive('u1', 'hi');
    await until(async () => ((await s.log())[0]?.attempts ?? 0) >= 1, 10_000, 'a first attempt');
    clock.advance(24 * 3600_000);
    const [d] = await settled(s, 1);
    assert.equal(d!.status, 'failed');
    assert.match(d!.lastError ?? '', /^HTTP 502 \(gave up: the next try would be more than 24 h after the event\)$/);
    const n = s.rx.requests.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.rx.requests.length, n);
  });

  it('keeps the order of a conversation while its first delivery is retried; other conversations go on', { timeout: 30_000 }, async () => {
    const s = await setup({ events: ['message.received'] });
    let held: string | undefined;
    s.rx.answer = (r, n) => {
      held ??= r.eventId;
      return r.eventId === held && n < 2 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 };
    };
    await s.lb.receive('u1', 'one');
    await until(() => s.rx.requests.length === 1, 5000, 'the first POST');
    await s.lb.receive('u1', 'two');
    await s.lb.receive('u2', 'elsewhere');
    // u2's conversation is not held back by u1's.
    await until(() => s.rx.requests.some((r) => r.body.customer.identities[0]?.id === 'u2' && r.status === 200), 5000, "u2's event");
    const firstId = s.rx.requests[0]!.eventId;
    assert.ok(s.rx.requests.filter((r) => r.eventId === firstId).every((r) => r.status === 503), "u2's event went out while u1's first was still being retried");
    await settled(s, 3, 'rx', 15_000);
    const u1 = s.rx.requests.filter((r) => r.body.customer.identities[0]?.id === 'u1').map((r) => [r.eventId, r.status]);
    const second = u1.find(([id]) => id !== firstId)![0];
    assert.deepEqual(u1, [
      [firstId, 503],
      [firstId, 503],
      [firstId, 200],
      [second, 200],
    ]);
    assert.ok(Number(second) > Number(firstId));
  });

  it("a slow endpoint (5 s) delays neither a customer's reply nor the other subscribers of the events", { timeout: 40_000 }, async () => {
    const probed = new Map<string, number>();
    const s = await setup({
      events: ['message.received'],
      hub: { subscribe: (subs) => void subs.on('probe', 'message.received', async (e) => void probed.set(e.payload.messageId, Date.now())) },
    });
    s.rx.answer = () => ({ status: 200, delayMs: 5000 });
    const started = Date.now();
    const users = Array.from({ length: 10 }, (_, i) => `u${i}`);
    for (const u of users) await s.lb.receive(u, 'hello');
    await s.lb.waitForSent(users.length, 5000);
    const replies = Date.now() - started;
    assert.ok(replies < 2500, `10 replies took ${replies} ms`);
    await until(() => probed.size === users.length, 5000, 'the probe subscriber');
    const probe = Math.max(...probed.values()) - started;
    assert.ok(probe < 2500, `the other subscriber got the 10 events within ${probe} ms`);
    await until(() => s.rx.requests.length >= users.length, 5000, 'every POST under way');
    assert.equal((await s.log()).filter((d) => d.status === 'delivered').length, 0, 'no webhook answered yet');
    const log = await settled(s, users.length, 'rx', 20_000);
    assert.ok(log.every((d) => d.status === 'delivered'));
  });
});
