/**
 * The hub's HTTP server on Fastify: request ids in answers and logs, JSON 404 / 405 / 500, upgrades
 * through Fastify's routing, cookies parsed for raw routes and upgrades, the hub's own typed routes under /api (schema validation naming the
 * field), routes registered too late, and server.trustProxy errors. Real hub or real server, real Redis.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { RequestInfo } from '../../src/core/adapter.js';
import { HubError } from '../../src/core/errors.js';
import { HttpSurface } from '../../src/http/surface.js';
import { closeServer, listen } from '../../src/http/server.js';
import { parseConfigText } from '../../src/hub/config-schema.js';
import { cleanRedis, startTestHub, type TestHub } from '../helpers/hub.js';
import { REDIS_URL, uniqueName } from '../helpers/env.js';
import { RoutesAdapter } from './routes-adapter.js';

/** Sends raw bytes and reads until the server closes the connection. */
function rawExchange(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('utf8')));
    s.on('end', () => resolve(got));
    s.on('error', reject);
    setTimeout(() => reject(new Error(`no close; got: ${got}`)), 5000).unref();
  });
}

/** Opens a WebSocket to `url` (http:// given) and resolves with its first message, parsed. */
function firstMessage(url: string, headers: Record<string, string> = {}): Promise<RequestInfo> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    ws.once('message', (data) => resolve(JSON.parse(String(data)) as RequestInfo));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    setTimeout(() => reject(new Error('no message')), 5000).unref();
  });
}

describe('the hub on Fastify', () => {
  let t: TestHub;
  const routes = new RoutesAdapter();
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    t = await startTestHub({ role: 'gateway', adapters: [routes], log, config: { channels: { webchat: { enabled: true } } } });
  });
  after(() => t.stop());

  it('every answer carries its request id; the handler and the log lines see the same; a sane client id is kept', async () => {
    const res = await fetch(`${t.hub.url}/t/info`);
    const id = res.headers.get('x-request-id');
    assert.match(id ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(((await res.json()) as { id: string }).id, id);
    const line = lines.find((l) => l.reqId === id && l.msg === 'http request');
    assert.ok(line, 'a debug line per request, with its reqId');
    assert.equal(line.level, 20);
    assert.equal(line.status, 200);
    const kept = await fetch(`${t.hub.url}/t/info`, { headers: { 'x-request-id': 'lb-1234.abc' } });
    assert.equal(kept.headers.get('x-request-id'), 'lb-1234.abc');
    const replaced = await fetch(`${t.hub.url}/t/info`, { headers: { 'x-request-id': 'bad id\twith tab' } });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(!lines.some((l) => l.level === 30 && l.msg === 'http request'), 'requests are not logged at info');
  });

  it('404 and 405 are JSON; 405 names the allowed methods; HEAD works where GET does', async () => {
    const nf = await fetch(`${t.hub.url}/no/such/page`);
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { error: 'not found: GET /no/such/page' });
    const na = await fetch(`${t.hub.url}/healthz`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(na.status, 405);
    assert.equal(na.headers.get('allow'), 'GET, HEAD');
    assert.match(((await na.json()) as { error: string }).error, /POST not allowed on \/healthz/);
    const adapterRoute = await fetch(`${t.hub.url}/t/echo`, { method: 'PUT', body: 'x' });
    assert.equal(adapterRoute.status, 405);
    assert.equal(adapterRoute.headers.get('allow'), 'POST');
    const apiNf = await fetch(`${t.hub.url}/api/nothing`);
    assert.equal(apiNf.status, 404);
    assert.match(apiNf.headers.get('content-type') ?? '', /^application\/json/);
    const apiNa = await fetch(`${t.hub.url}/api/t/raw`, { method: 'DELETE' });
    assert.equal(apiNa.status, 405);
    assert.equal((await fetch(`${t.hub.url}/healthz`, { method: 'HEAD' })).status, 200);
  });

  it('ops routes: /healthz and /readyz', async () => {
    assert.deepEqual(await (await fetch(`${t.hub.url}/healthz`)).json(), { ok: true });
    const ready = await fetch(`${t.hub.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ok: true, storage: 'ok', redis: 'ok' });
  });

  it('prefix routes (`/t/files/*`) match below the prefix', async () => {
    const res = await fetch(`${t.hub.url}/t/files/a/b.txt?x=1`);
    assert.deepEqual(await res.json(), { url: '/t/files/a/b.txt?x=1' });
  });

  it('a handler that throws: 500 JSON without details, logged with the request id', async () => {
    const res = await fetch(`${t.hub.url}/t/boom`);
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'internal error' });
    const id = res.headers.get('x-request-id');
    assert.ok(lines.some((l) => l.reqId === id && l.level === 50 && /handler bug/.test(String(l.msg))));
  });

  it('upgrades: an unknown path gets 404 and the socket closes; a plain GET on an upgrade path gets 426', async () => {
    const handshake = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    assert.match(await rawExchange(t.hub.url, handshake('/nowhere')), /^HTTP\/1\.1 404 /);
    assert.match(await rawExchange(t.hub.url, handshake('/t/info')), /^HTTP\/1\.1 404 /);
    const plain = await fetch(`${t.hub.url}/webchat/ws`);
    assert.equal(plain.status, 426);
  });

  it('cookies: parsed by the server from the Cookie header, for raw routes, /api raw routes and WebSocket upgrades alike', async () => {
    // First of a repeated name wins, values are decoded, a part without `=` is skipped.
    const cookie = 'theme=dark; sb_wc=abc.def; note=a%20b; theme=light; bare';
    const want = { theme: 'dark', sb_wc: 'abc.def', note: 'a b' };
    const info = async (path: string, headers: Record<string, string>) => ((await (await fetch(`${t.hub.url}${path}`, { headers })).json()) as RequestInfo).cookies;
    assert.deepEqual(await info('/t/info', { cookie }), want);
    assert.deepEqual(await info('/api/t/raw', { cookie }), want);
    assert.deepEqual(await info('/t/info', {}), {});
    const upgraded = await firstMessage(`${t.hub.url}/t/ws-info`, { cookie });
    assert.deepEqual(upgraded.cookies, want);
    assert.match(upgraded.id, /^[0-9a-f-]{36}$/, 'the upgrade went through Fastify (request id)');
    assert.deepEqual((await firstMessage(`${t.hub.url}/t/ws-info`)).cookies, {});
  });

  it('a route registered after the server started is refused, naming it', () => {
    assert.throws(
      () => t.hub.router.route('GET', '/late', () => undefined),
      (e: unknown) => e instanceof HubError && /route GET \/late registered after the HTTP server started/.test(e.message),
    );
  });
});

describe('the hub\'s own typed routes under /api', () => {
  const prefix = uniqueName('sbapi');
  let server: Server;
  let base: string;

  before(async () => {
    const surface = new HttpSurface();
    surface.api(async (api) => {
      api.post<{ Body: { customer: { id: string }; text: string } }>(
        '/things',
        {
          schema: {
            body: {
              type: 'object',
              required: ['customer', 'text'],
              properties: {
                customer: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } },
                text: { type: 'string', maxLength: 10 },
              },
            },
          },
        },
        async (request, reply) => reply.code(202).send({ got: request.body.text, by: request.body.customer.id }),
      );
    });
    server = await listen(surface, '127.0.0.1', 0, {
      bodyLimit: 2048,
      trustProxy: false,
      apiRateLimit: { max: 100, windowMs: 60_000 },
      redisUrl: REDIS_URL,
      redisPrefix: prefix,
      log: pino({ level: 'silent' }),
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await closeServer(server);
    await cleanRedis(prefix);
  });

  const post = (body: string, type = 'application/json') => fetch(`${base}/api/things`, { method: 'POST', headers: { 'content-type': type }, body });

  it('a valid body reaches the handler, typed', async () => {
    const res = await post(JSON.stringify({ customer: { id: 'c1' }, text: 'hello' }));
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { got: 'hello', by: 'c1' });
  });

  it('a body failing its schema: 400 naming the field', async () => {
    const missing = await post(JSON.stringify({ customer: { id: 'c1' } }));
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), { error: "body must have required property 'text'", code: 'FST_ERR_VALIDATION', field: 'body.text' });
    const nested = await post(JSON.stringify({ customer: {}, text: 'x' }));
    assert.equal(((await nested.json()) as { field: string }).field, 'body.customer.id');
    const long = await post(JSON.stringify({ customer: { id: 'c' }, text: 'x'.repeat(11) }));
    assert.deepEqual(await long.json(), { error: 'body/text must NOT have more than 10 characters', code: 'FST_ERR_VALIDATION', field: 'body.text' });
  });

  it('bad JSON 400, another content type 415, a body over the limit 413: all JSON', async () => {
    const bad = await post('{"customer": ');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { code: string }).code, 'FST_ERR_CTP_INVALID_JSON_BODY');
    const form = await post('a=b', 'application/x-www-form-urlencoded');
    assert.equal(form.status, 415);
    assert.match(form.headers.get('content-type') ?? '', /^application\/json/);
    const big = await post(JSON.stringify({ customer: { id: 'c1' }, text: 'x'.repeat(4000) }));
    assert.equal(big.status, 413);
    assert.match(((await big.json()) as { error: string }).error, /limit of 2048 bytes/);
  });

  it('405 with Allow and 404, as JSON', async () => {
    const na = await fetch(`${base}/api/things`);
    assert.equal(na.status, 405);
    assert.equal(na.headers.get('allow'), 'POST');
    const nf = await fetch(`${base}/api/other`, { method: 'POST' });
    assert.equal(nf.status, 404);
    assert.deepEqual(await nf.json(), { error: 'not found: POST /api/other' });
  });
});

describe('server.trustProxy in hub.yaml', () => {
  it('a number of hops, a list of addresses / CIDRs, true or false; a bad entry is named', () => {
    const parse = (v: string) => parseConfigText('hub.yaml', `server:\n  trustProxy: ${v}\n`, { env: {} }).server.trustProxy;
    assert.equal(parse('1'), 1);
    assert.deepEqual(parse('[10.0.0.0/8, loopback, "::1"]'), ['10.0.0.0/8', 'loopback', '::1']);
    assert.equal(parse('true'), true);
    assert.throws(() => parse('[10.0.0.0/33]'), (e: unknown) => e instanceof HubError && /hub\.yaml:2: server\.trustProxy\[0\]: "10\.0\.0\.0\/33" is not an IP address, a CIDR/.test(e.message));
    assert.throws(() => parse('[proxy.example.com]'), /server\.trustProxy\[0\]: "proxy\.example\.com" is not an IP address/);
    assert.throws(() => parse('"127.0.0.1"'), /server\.trustProxy: must be false, a number of proxy hops/);
  });

  it('channels.webchat.trustProxy: true stops start-up, pointing to server.trustProxy', () => {
    assert.throws(
      () => parseConfigText('hub.yaml', 'channels:\n  webchat:\n    trustProxy: true\n', { env: {} }),
      (e: unknown) => e instanceof HubError && /hub\.yaml:3: channels\.webchat\.trustProxy: moved to server\.trustProxy/.test(e.message),
    );
  });
});
