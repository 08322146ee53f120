import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { Responder } from '../../src/core/responder.js';
import type { InboundMessage } from '../../src/core/types.js';
import { processInbound } from '../../src/core/conversation/inbound.js';
import { openHubStorage, startTestHub, until } from '../helpers/hub.js';
import { hashToken } from '../../src/api/tokens.js';

const echo: Responder = { respond: async (t) => ({ kind: 'answer', text: `echo: ${t.text}` }) };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept')) resolve(child);
    });
  });
}

describe('operations and resilience', () => {
  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    const lb = new LoopbackAdapter();
    const t = await startTestHub({ adapters: [lb], responder: echo, config: { api: { tokens: [{ name: 'ops', roles: ['admin'], sha256: hashToken('sb_ops') }] } } });
    after(() => t.stop());
    await lb.receive('o1', 'hi');
    await lb.waitForSent(1);
    const health = await fetch(`${t.hub.url}/healthz`);
    assert.equal(health.status, 200);
    const ready = await (await fetch(`${t.hub.url}/readyz`)).json();
    assert.deepEqual(ready, { ok: true, storage: 'ok', redis: 'ok' });
    const metrics = await (await fetch(`${t.hub.url}/metrics`, { headers: { authorization: 'Bearer sb_ops' } })).text();
    assert.match(metrics, /switchboard_messages_in_total\{channel="loopback"\} 1/);
    assert.match(metrics, /switchboard_messages_out_total\{channel="loopback"\} 1/);
    assert.match(metrics, /switchboard_reply_latency_seconds_count\{channel="loopback"\} 1/);
    assert.match(metrics, /switchboard_queue_depth\{queue="in-\d"\} 0/);
    // The inbound job waited and ran; the reply went out directly from the worker that decided it
    // (its run ends after its delivery mark commits, a moment after the platform has it), no send job.
    const stages = await until(async () => {
      const m = await (await fetch(`${t.hub.url}/metrics`, { headers: { authorization: 'Bearer sb_ops' } })).text();
      return /switchboard_job_run_seconds_count\{stage="direct-send"\} 1\n/.test(m) ? m : undefined;
    }, 5000, 'the direct send counted');
    assert.match(stages, /switchboard_job_wait_seconds_count\{stage="inbound"\} 1\n/);
    for (const stage of ['inbound', 'direct-send']) {
      assert.match(stages, new RegExp(`switchboard_job_run_seconds_count\\{stage="${stage}"\\} 1\n`));
      assert.match(stages, new RegExp(`switchboard_job_run_seconds_bucket\\{le="30",stage="${stage}"\\} 1\n`));
    }
    assert.doesNotMatch(stages, /stage="outbound"/);
    assert.equal((await fetch(`${t.hub.url}/nope`)).status, 404);
  });

  it('a crash between commit and enqueue: the redelivered job re-queues the stored reply, sent once', async () => {
    const lb = new LoopbackAdapter();
    // The send queue's path (as for a channel whose sends need its connection).
    const t = await startTestHub({ adapters: [lb], responder: echo, config: { queues: { directSends: false } } });
    after(() => t.stop());
    const msg = crashMessage('crash-1', 'c1');
    // Process once with a queue whose outbound add "crashes" after the commit.
    const crashing = Object.create(t.hub.queues) as typeof t.hub.queues;
    crashing.addOutbound = async () => {
      throw new Error('process died');
    };
    const deps = { ...t.hub.inboundDeps(), queues: crashing };
    await assert.rejects(processInbound(deps, msg), /process died/);
    assert.equal(lb.sent.length, 0);
    // BullMQ redelivers the same job to a healthy worker.
    await t.hub.accept(msg);
    await lb.waitForSent(1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(lb.sent.map((s) => s.text), ['echo: hello']);
  });

  it('a crash as the direct send starts: the redelivered job leaves the young reply alone, the sweep sends it once', async () => {
    const lb = new LoopbackAdapter();
    const t = await startTestHub({ adapters: [lb], responder: echo, sweepAfterMs: 600 });
    after(() => t.stop());
    const msg = crashMessage('crash-2', 'c2');
    const inbound = t.hub.inboundDeps();
    const dying = { take: () => { throw new Error('process died'); }, mayHold: inbound.direct!.mayHold.bind(inbound.direct) };
    await assert.rejects(processInbound({ ...inbound, direct: dying }, msg), /process died/);
    // Redelivered at once: a direct send could still be on the reply, so the job does not queue it.
    await t.hub.accept(msg);
    const reply = await until(async () => (await t.hub.storage.messages.pendingOutbound(0))[0], 5000, 'the pending reply');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(lb.sent.length, 0);
    assert.equal((await t.hub.storage.messages.get(reply.id))?.deliveryStatus, 'pending');
    // Once it is older than the sweep's age, the sweep queues it: sent, once.
    await lb.waitForSent(1, 10_000);
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(lb.sent.map((s) => s.text), ['echo: hello']);
  });

  it('Redis going away and coming back: accepted messages are answered, new ones wait, the hub keeps running', { timeout: 30_000 }, async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const lb = new LoopbackAdapter();
    const t = await startTestHub({
      adapters: [lb],
      responder: echo,
      shutdownGraceMs: 2000,
      config: { redis: { url: `redis://127.0.0.1:${port}` } },
    });
    after(async () => {
      await t.hub.stop();
      await t.db.drop();
      redis.kill('SIGKILL');
    });
    await lb.receive('r1', 'before');
    await lb.waitForSent(1);
    redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    // While Redis is down, accepting fails clearly (the platform is not acknowledged and redelivers).
    const pending = lb.receive('r1', 'during');
    const outcome = await Promise.race([pending.then(() => 'accepted', () => 'rejected'), new Promise((r) => setTimeout(() => r('waiting'), 500))]);
    assert.notEqual(outcome, 'accepted');
    redis = await startRedis(port);
    await pending.catch(() => lb.receive('r1', 'during'));
    await lb.waitForSent(2, 15_000);
    assert.deepEqual(lb.sent.map((s) => s.text), ['echo: before', 'echo: during']);
    const ready = await fetch(`${t.hub.url}/readyz`);
    assert.equal(ready.status, 200);
  });

  it('graceful stop lets the in-flight job finish', async () => {
    const lb = new LoopbackAdapter();
    let started = false;
    const slow: Responder = {
      respond: async (turn) => {
        started = true;
        await new Promise((r) => setTimeout(r, 400));
        return { kind: 'answer', text: `slow: ${turn.text}` };
      },
    };
    const t = await startTestHub({ adapters: [lb], responder: slow });
    await lb.receive('g1', 'hi');
    await until(() => started, 5000, 'job started');
    await t.hub.stop();
    const ident = await t.hub.storage.customers.findIdentity('loopback', 'g1').catch(() => undefined);
    void ident;
    // The reply was decided and stored before the workers closed.
    const storage = await openHubStorage(t.db.url);
    const id = await storage.customers.findIdentity('loopback', 'g1');
    const [conv] = await storage.conversations.ofCustomer(id!.customerId);
    const msgs = await storage.messages.ofConversation(conv!.id);
    assert.deepEqual(msgs.map((m) => m.text), ['hi', 'slow: hi']);
    await storage.close();
    await t.stop();
  });
});

describe('database locked', () => {
  it('a message arriving while another process holds the SQLite write lock is answered once the lock is gone', { timeout: 30_000 }, async () => {
    const SQLite = (await import('better-sqlite3')).default;
    const lb = new LoopbackAdapter();
    const t = await startTestHub({ adapters: [lb], responder: echo });
    after(() => t.stop());
    await lb.receive('l1', 'first');
    await lb.waitForSent(1);
    // Another process (an admin's sqlite3 shell, a backup) takes the write lock for longer than busy_timeout.
    const other = new SQLite(t.db.url.slice('sqlite:'.length));
    other.prepare('BEGIN EXCLUSIVE').run();
    await lb.receive('l1', 'while locked');
    await new Promise((r) => setTimeout(r, 6500));
    assert.deepEqual(lb.sent.map((s) => s.text), ['echo: first'], 'nothing is answered while the database is locked');
    other.prepare('COMMIT').run();
    other.close();
    await lb.waitForSent(2, 20_000);
    assert.deepEqual(lb.sent.map((s) => s.text), ['echo: first', 'echo: while locked']);
  });
});

function crashMessage(platformMessageId: string, user: string): InboundMessage {
  return { channel: 'loopback', platformMessageId, platformUserId: user, ref: { channel: 'loopback', chatId: user }, kind: 'text', text: 'hello', attachments: [], receivedAt: Date.now() };
}
