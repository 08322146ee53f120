/**
 * Body limits on the hub's Fastify server: an oversized webhook body is answered 413 as JSON (the
 * connection used to be reset), before any handler runs; bodies within the limit reach raw handlers
 * byte for byte (Slack's signature over the raw body still verifies). Real hub, real Slack desk
 * (Bolt's HTTPReceiver) and Telegram webhook adapter against their fakes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { makeAdapter } from '../telegram/harness.js';
import { eventBody, postSlack, slackTs, startSlackHub, type SlackHub } from '../slack/helpers.js';
import { startTestHub } from '../helpers/hub.js';
import { RoutesAdapter } from './routes-adapter.js';

const TG_SECRET = 'wh-secret_0123456789';
const MiB = 1_048_576;

/** POSTs `body` with node:http (not fetch), so a reset shows up as an error instead of a status. Content-Type '' sends none. */
function post(url: string, body: Buffer | string, headers: Record<string, string> = {}, chunked = false): Promise<{ status: number; json: Record<string, unknown>; connection?: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const all: Record<string, string> = { 'content-type': 'application/json', ...headers, ...(chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }) };
    if (all['content-type'] === '') delete all['content-type'];
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: all },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown>, ...(res.headers.connection ? { connection: res.headers.connection } : {}) });
          } catch {
            reject(new Error(`not JSON (${res.statusCode} ${res.headers['content-type']}): ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    if (chunked) {
      // No Content-Length: the limit is found while reading.
      const b = Buffer.from(body);
      for (let i = 0; i < b.length; i += 64 * 1024) req.write(b.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(body);
  });
}

describe('body limits: 413 as JSON instead of a reset', () => {
  let fake: FakeTelegram;
  let h: SlackHub;
  let tgUrl: string;

  before(async () => {
    fake = await startFakeTelegram();
    const telegram = makeAdapter(fake, { mode: 'webhook', webhook: { secretToken: TG_SECRET } });
    h = await startSlackHub({ adapters: [telegram] });
    tgUrl = `${h.t.hub.url}/webhooks/telegram`;
  });
  after(async () => {
    await h.stop();
    await fake.close();
  });

  it('a 2 MiB POST to the Telegram webhook: 413 JSON naming the limit, with the right secret or without', async () => {
    const big = JSON.stringify({ update_id: 1, pad: 'x'.repeat(2 * MiB) });
    for (const headers of [{ 'x-telegram-bot-api-secret-token': TG_SECRET }, {}]) {
      const res = await post(tgUrl, big, headers);
      assert.equal(res.status, 413);
      assert.equal(res.json.code, 'FST_ERR_CTP_BODY_TOO_LARGE');
      assert.match(String(res.json.error), /over the limit of 1048576 bytes/);
    }
  });

  it('a 2 MiB POST to the Slack events path: 413 JSON, Bolt never sees it', async () => {
    const big = eventBody({ type: 'message', channel: 'COTHER', user: 'U1', text: 'x'.repeat(2 * MiB), ts: slackTs() });
    const res = await postSlack(h.eventsUrl, big, 'application/json');
    assert.equal(res.status, 413);
    const json = JSON.parse(res.text) as { error: string };
    assert.match(json.error, /over the limit/);
  });

  it('chunked (no Content-Length): 413 once the limit is passed', async () => {
    const res = await post(tgUrl, 'x'.repeat(2 * MiB), { 'x-telegram-bot-api-secret-token': TG_SECRET }, true);
    assert.equal(res.status, 413);
  });

  it('within the limit the raw body reaches the handlers unchanged: Slack signatures verify, Telegram updates are accepted', async () => {
    const body = eventBody({ type: 'message', channel: 'COTHER', user: 'U1', text: 'hello 你好', ts: slackTs() });
    assert.equal((await postSlack(h.eventsUrl, body, 'application/json', { secret: 'wrong-secret-0123456789' })).status, 401);
    assert.equal((await postSlack(h.eventsUrl, body, 'application/json')).status, 200);
    const update = JSON.stringify({ update_id: 77, ...fake.updates.text(777, 'webhook after a 413') });
    const res = await post(tgUrl, update, { 'x-telegram-bot-api-secret-token': TG_SECRET });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ok: true });
  });
});

describe('body limits: server.bodyLimit and a route\'s own bodyLimit', () => {
  it('server.bodyLimit bounds every route; a route asks for less through the port; raw handlers read the same bytes', async () => {
    const routes = new RoutesAdapter();
    const t = await startTestHub({ adapters: [routes], config: { server: { bodyLimit: 4096 } } });
    try {
      const ok = Buffer.alloc(4096, 7);
      const echo = await post(`${t.hub.url}/t/echo`, ok, { 'content-type': 'application/octet-stream' });
      assert.equal(echo.status, 200);
      assert.equal(echo.json.bytes, 4096);
      assert.equal(echo.json.sha, createHash('sha256').update(ok).digest('hex'));
      const streamed = await post(`${t.hub.url}/t/stream`, ok, { 'content-type': 'text/plain' });
      assert.deepEqual(streamed.json, { bytes: 4096 });

      const over = await post(`${t.hub.url}/t/echo`, Buffer.alloc(4097, 7), { 'content-type': 'application/octet-stream' });
      assert.equal(over.status, 413);
      assert.match(String(over.json.error), /limit of 4096 bytes/);

      assert.equal((await post(`${t.hub.url}/t/small`, 'x'.repeat(64), { 'content-type': 'text/plain' })).status, 200);
      const small = await post(`${t.hub.url}/t/small`, 'x'.repeat(65), { 'content-type': 'text/plain' });
      assert.equal(small.status, 413);
      assert.match(String(small.json.error), /limit of 64 bytes/);
      // No Content-Type at all is still a body, read and limited the same way.
      assert.equal((await post(`${t.hub.url}/t/small`, 'x'.repeat(65), { 'content-type': '' })).status, 413);
    } finally {
      await t.stop();
    }
  });
});
