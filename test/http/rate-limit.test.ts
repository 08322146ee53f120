/**
 * Rate limits in Redis (@fastify/rate-limit's store under `<redis.prefix>:rl:`): two gateways on one
 * Redis count the same calls, and behind one trusted proxy a client cannot get a fresh bucket by
 * writing its own X-Forwarded-For. Real hubs, real Redis; the web chat's own routes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { REDIS_URL, sqliteDb, uniqueName } from '../helpers/env.js';
import { RoutesAdapter } from './routes-adapter.js';

/** The web chat's limit per client IP and route (src/adapters/webchat/adapter.ts IP_HTTP). */
const WEBCHAT_MAX = 50;
const WEBCHAT = { webchat: { enabled: true } };

async function statuses(url: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

const count = (xs: number[], s: number) => xs.filter((x) => x === s).length;

describe('rate limits shared by two gateways on one Redis', () => {
  const db = sqliteDb();
  const prefix = uniqueName('sbrl');
  let a: TestHub;
  let b: TestHub;

  before(async () => {
    a = await startTestHub({ db, role: 'gateway', config: { redis: { prefix }, server: { apiRateLimit: { max: 4, windowSeconds: 60 } }, channels: WEBCHAT }, adapters: [new RoutesAdapter()] });
    b = await startTestHub({ db, role: 'gateway', config: { redis: { prefix }, server: { apiRateLimit: { max: 4, windowSeconds: 60 } }, channels: WEBCHAT }, adapters: [new RoutesAdapter()] });
  });
  after(async () => {
    await b.hub.stop();
    await a.stop();
    await db.drop();
  });

  it('the web chat session limit counts the calls of both gateways; the keys live under <prefix>:rl: and expire', async () => {
    const first = await statuses(`${a.hub.url}/webchat/session`, 30);
    const second = await statuses(`${b.hub.url}/webchat/session`, 30);
    assert.equal(count(first, 200), 30);
    assert.equal(count(second, 200), WEBCHAT_MAX - 30);
    assert.equal(count(second, 429), 60 - WEBCHAT_MAX);
    const res = await fetch(`${a.hub.url}/webchat/session`);
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.match(((await res.json()) as { error: string }).error, /Rate limit exceeded/);
    // The page has its own bucket.
    assert.equal((await fetch(`${b.hub.url}/`)).status, 200);

    const r = new Redis(REDIS_URL);
    try {
      const keys = await r.keys(`${prefix}:rl:*`);
      assert.ok(keys.some((k) => k.includes('/webchat/session')), keys.join(', '));
      for (const k of keys) assert.ok((await r.pttl(k)) > 0, `${k} has no expiry`);
    } finally {
      r.disconnect();
    }
  });

  it('/api/* (an adapter\'s raw /api route too) is limited per client IP across gateways: server.apiRateLimit', async () => {
    const got = [...(await statuses(`${a.hub.url}/api/t/raw`, 2)), ...(await statuses(`${b.hub.url}/api/t/raw`, 3))];
    assert.deepEqual(got, [200, 200, 200, 200, 429]);
    // Unknown /api paths count too (no free probing), and answer JSON.
    const res = await fetch(`${b.hub.url}/api/nothing-here`);
    assert.equal(res.status, 429);
  });

  it('WebSocket upgrades are limited the same way (429 on the handshake)', async () => {
    const wsUrl = `${a.hub.url.replace('http', 'ws')}/webchat/ws`;
    const results: (number | 'open')[] = [];
    for (let i = 0; i < WEBCHAT_MAX + 2; i++) {
      results.push(
        await new Promise<number | 'open'>((resolve, reject) => {
          const ws = new WebSocket(wsUrl, { headers: { origin: a.hub.url } });
          ws.on('open', () => {
            ws.close();
            resolve('open');
          });
          ws.on('unexpected-response', (_req, res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          ws.on('error', reject);
        }),
      );
    }
    assert.equal(results.filter((x) => x === 'open').length, WEBCHAT_MAX);
    assert.deepEqual(results.slice(WEBCHAT_MAX), [429, 429]);
  });
});

describe('server.trustProxy: whose X-Forwarded-For counts', () => {
  let t: TestHub;
  after(() => t?.stop());

  it('behind one proxy (trustProxy: 1) a spoofed X-Forwarded-For gives no fresh bucket; another client has its own', async () => {
    t = await startTestHub({ role: 'gateway', config: { server: { trustProxy: 1 }, channels: WEBCHAT }, adapters: [new RoutesAdapter()] });
    // The proxy (this test, on 127.0.0.1) appends the address it saw; the client wrote the rest.
    const viaProxy = (spoofed: string, client = '203.0.113.7') => ({ 'x-forwarded-for': `${spoofed}, ${client}` });
    const info = (await (await fetch(`${t.hub.url}/t/info`, { headers: viaProxy('10.1.1.1') })).json()) as { ip: string };
    assert.equal(info.ip, '203.0.113.7');
    const got: number[] = [];
    for (let i = 0; i <= WEBCHAT_MAX; i++) {
      const res = await fetch(`${t.hub.url}/webchat/session`, { headers: viaProxy(`10.0.${i}.${i % 250}`) });
      await res.arrayBuffer();
      got.push(res.status);
    }
    assert.equal(count(got, 200), WEBCHAT_MAX);
    assert.equal(got.at(-1), 429);
    assert.equal((await fetch(`${t.hub.url}/webchat/session`, { headers: viaProxy('10.9.9.9', '198.51.100.9') })).status, 200);
  });
});

describe('server.trustProxy: the client IP and scheme handlers get', () => {
  const ipFor = async (t: TestHub, headers: Record<string, string>) => (await (await fetch(`${t.hub.url}/t/info`, { headers })).json()) as { ip: string; https: boolean; id: string };
  const spoof = { 'x-forwarded-for': '6.6.6.6, 192.0.2.1', 'x-forwarded-proto': 'https' };

  it('false: the peer, whatever the headers say', async () => {
    const t = await startTestHub({ role: 'gateway', config: { channels: WEBCHAT }, adapters: [new RoutesAdapter()] });
    try {
      assert.deepEqual({ ...(await ipFor(t, spoof)), id: '' }, { ip: '127.0.0.1', https: false, id: '', cookies: {} });
      // The web chat's cookie is not Secure on http, a forged X-Forwarded-Proto notwithstanding.
      const page = await fetch(`${t.hub.url}/`, { headers: spoof });
      assert.match(page.headers.get('set-cookie') ?? '', /SameSite=Lax/);
    } finally {
      await t.stop();
    }
  });

  it('a list of proxy addresses: hops from them are skipped; X-Forwarded-Proto of a trusted peer counts', async () => {
    const t = await startTestHub({ role: 'gateway', config: { server: { trustProxy: ['127.0.0.1', '192.0.2.0/24'] }, channels: WEBCHAT }, adapters: [new RoutesAdapter()] });
    try {
      const got = await ipFor(t, spoof);
      assert.equal(got.ip, '6.6.6.6');
      assert.equal(got.https, true);
      const page = await fetch(`${t.hub.url}/`, { headers: spoof });
      assert.match(page.headers.get('set-cookie') ?? '', /; Secure; SameSite=None$/);
    } finally {
      await t.stop();
    }
  });

  it('true: every hop is believed (documented: the left-most entry, which a client writes)', async () => {
    const t = await startTestHub({ role: 'gateway', config: { server: { trustProxy: true } }, adapters: [new RoutesAdapter()] });
    try {
      assert.equal((await ipFor(t, spoof)).ip, '6.6.6.6');
      assert.equal((await ipFor(t, { 'x-forwarded-for': '1.2.3.4, 6.6.6.6, 192.0.2.1' })).ip, '1.2.3.4');
    } finally {
      await t.stop();
    }
  });
});
