/**
 * A Redis that forgets (no AOF): the hub warns at start-up, naming the fix, and re-applies the
 * per-partition ordering setting as soon as it reconnects to a Redis that lost it. Each test runs
 * its own redis-server on a free port, so it can be configured and killed.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { AdapterContext, ChannelAdapter } from '../../src/core/adapter.js';
import type { Responder } from '../../src/core/responder.js';
import type { Capabilities } from '../../src/core/types.js';
import { inboundQueueName } from '../../src/core/queues/names.js';
import { startTestHub, until } from '../helpers/hub.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A private redis-server: `kill()` is a crash (SIGKILL), `start()` brings it back on the same port. */
async function privateRedis(args: string[]) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-redis-'));
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const ping = async () => {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  };
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args], { stdio: 'ignore' });
    await until(ping, 10_000, `redis-server on ${port}`);
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    await new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGKILL');
    });
  };
  await start();
  return {
    url,
    start,
    kill,
    close: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function logCapture() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

const echo: Responder = { respond: async (t) => ({ kind: 'answer', text: `echo: ${t.text}` }) };

describe('redis that forgets', () => {
  it('start-up warns loudly, naming the fix, when Redis has no AOF or may evict; says nothing when it persists', async () => {
    const forgetful = await privateRedis(['--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru']);
    const durable = await privateRedis(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']);
    after(async () => {
      await forgetful.close();
      await durable.close();
    });
    const a = logCapture();
    const t1 = await startTestHub({ adapters: [new LoopbackAdapter()], responder: echo, config: { redis: { url: forgetful.url } }, log: a.log });
    await t1.stop();
    const warns = a.lines.filter((l) => l.level === 40 && /^WARNING: Redis/.test(l.msg)).map((l) => l.msg);
    assert.equal(warns.length, 2, JSON.stringify(warns));
    assert.match(warns[0] ?? '', /without persistence \(appendonly no\).*messages already acknowledged.*Fix: set `appendonly yes`/);
    assert.match(warns[1] ?? '', /maxmemory-policy allkeys-lru.*Fix: set `maxmemory-policy noeviction`/);

    const b = logCapture();
    const t2 = await startTestHub({ adapters: [new LoopbackAdapter()], responder: echo, config: { redis: { url: durable.url } }, log: b.log });
    await t2.stop();
    assert.deepEqual(b.lines.filter((l) => /WARNING: Redis/.test(l.msg)), []);
  });

  it('after a crash and restart without persistence, every inbound partition is back to one job at a time at once (not at the next sweep)', async () => {
    const redis = await privateRedis(['--appendonly', 'no']);
    after(() => redis.close());
    const lb = new LoopbackAdapter();
    const partitions = 4;
    // The sweep (which also re-applies the setting) runs every sweepAfterMs / 2 = 5 minutes here.
    const t = await startTestHub({ adapters: [lb], responder: echo, config: { redis: { url: redis.url }, queues: { partitions } }, sweepAfterMs: 600_000 });
    after(() => t.stop());
    const prefix = t.config.redis.prefix;
    const probe = new Redis(redis.url, { maxRetriesPerRequest: null });
    probe.on('error', () => undefined); // refused while Redis is down
    const queues = Array.from({ length: partitions }, (_, p) => new Queue(inboundQueueName(p), { connection: probe, prefix }));
    after(async () => {
      await Promise.all(queues.map((q) => q.close()));
      probe.disconnect();
    });
    const settings = () => Promise.all(queues.map((q) => q.getGlobalConcurrency()));
    assert.deepEqual(await settings(), [1, 1, 1, 1]);

    await redis.kill();
    await redis.start();
    // The restarted Redis has no data: the hub must set the ordering again as soon as it reconnects.
    await until(async () => (await settings()).every((c) => c === 1), 5000, 'partition concurrency re-applied after the restart');

    // And the hub works on: a burst of one sender is answered in order.
    for (let i = 0; i < 5; i++) await lb.receive('after-restart', `m${i}`);
    await until(() => lb.sentTo('after-restart').length === 5, 15_000, 'answers after the restart');
    await t.stop(); // before the private Redis goes away (after() hooks run in the order they were added)
    assert.deepEqual(lb.sentTo('after-restart').map((m) => m.text), ['echo: m0', 'echo: m1', 'echo: m2', 'echo: m3', 'echo: m4']);
  });
});

/** A channel holding one long connection, to see the lease it is held under. */
class LongChannel implements ChannelAdapter {
  readonly channel = 'longline';
  readonly capabilities: Capabilities = { threads: false, buttons: false, maxTextLength: 1000, attachments: false, authorNames: false };
  readonly connection = 'long' as const;
  readonly sendNeedsConnection = false;
  connected = 0;
  async mount(_ctx: AdapterContext): Promise<void> {}
  async connect(): Promise<void> {
    this.connected++;
  }
  async send(): Promise<{ platformMessageIds: string[] }> {
    return { platformMessageIds: [] };
  }
  async stop(): Promise<void> {}
}

describe('the lease of a long connection', () => {
  it('lives as long as queues.leaseMs says', async () => {
    const ch = new LongChannel();
    const t = await startTestHub({ adapters: [ch], responder: echo, config: { queues: { leaseMs: 4000 } } });
    after(() => t.stop());
    await until(() => ch.connected === 1, 10_000, 'the connection');
    const r = new Redis(t.config.redis.url);
    after(() => r.disconnect());
    const ttl = await r.pttl(`${t.config.redis.prefix}:lease:channel:longline`);
    assert.ok(ttl > 0 && ttl <= 4000, `lease TTL ${ttl} ms`);
  });
});
