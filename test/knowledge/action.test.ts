import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isHubError } from '../../src/core/errors.js';
import { actionSpecSchema, callAction, renderTemplate, type ActionSpec } from '../../src/knowledge/action.js';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import type { BotDecision } from '../../src/core/responder.js';
import { turn } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
let handler: (res: ServerResponse) => void = (res) => res.end('{}');
const seen: Seen[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString('utf8')));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    handler(res);
  });
});
let base = '';
let pending: NodeJS.Timeout | undefined;
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  clearTimeout(pending);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  seen.length = 0;
});

const json = (status: number, body: string) => (res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
};
const spec = (over: Partial<Record<keyof ActionSpec, unknown>>): ActionSpec => actionSpecSchema.parse({ url: `${base}/orders/{{orderId}}`, ...over });

describe('actionSpecSchema', () => {
  it('applies defaults and rejects bad methods', () => {
    assert.deepEqual(actionSpecSchema.parse({ url: 'https://x/{{a}}' }), { url: 'https://x/{{a}}', method: 'GET', headers: {}, timeoutMs: 5000 });
    assert.equal(actionSpecSchema.safeParse({ url: 'https://x', method: 'DELETE' }).success, false);
  });
});

describe('callAction', () => {
  it('GETs with URL-encoded slots and env-substituted headers, returning the JSON object', async () => {
    handler = json(200, '{"status":"shipped","eta":"2024-06-01","items":[{"name":"Mug"}]}');
    const res = await callAction(spec({ headers: { authorization: 'Bearer ${SHOP_TOKEN}', 'x-tenant': 'acme' } }), { orderId: 'A 1 & 2' }, { env: { SHOP_TOKEN: 'tok-123' } });
    assert.deepEqual(res, { status: 'shipped', eta: '2024-06-01', items: [{ name: 'Mug' }] });
    assert.equal(seen[0]?.method, 'GET');
    assert.equal(seen[0]?.url, '/orders/A%201%20%26%202');
    assert.equal(seen[0]?.headers.authorization, 'Bearer tok-123');
    assert.equal(seen[0]?.headers['x-tenant'], 'acme');
  });

  it('POSTs a body with JSON-escaped slots', async () => {
    handler = json(200, '{"data":{"order":{"id":"42","state":"paid"}}}');
    const res = await callAction(
      spec({ url: `${base}/lookup`, method: 'POST', body: '{"order": "{{orderId}}", "note": "{{note}}"}', resultPath: 'data.order' }),
      { orderId: '42', note: 'he said "hi"\nand left' },
      { env: {} },
    );
    assert.deepEqual(res, { id: '42', state: 'paid' });
    assert.equal(seen[0]?.method, 'POST');
    assert.equal(seen[0]?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(seen[0]?.body ?? ''), { order: '42', note: 'he said "hi"\nand left' });
  });

  it('resultPath: wraps a primitive, fails when missing', async () => {
    handler = json(200, '{"data":{"count":3}}');
    assert.deepEqual(await callAction(spec({ resultPath: 'data.count' }), { orderId: '1' }), { value: 3 });
    await assert.rejects(callAction(spec({ resultPath: 'data.order' }), { orderId: '1' }), (err) => isHubError(err, 'ACTION_FAILED') && err.context.resultPath === 'data.order');
  });

  it('a 500 -> ACTION_FAILED with status (retry); a 404 is final', async () => {
    handler = json(500, '{"error":"boom"}');
    await assert.rejects(callAction(spec({}), { orderId: '1' }), (err) => {
      assert.ok(isHubError(err, 'ACTION_FAILED'));
      assert.equal(err.context.status, 500);
      assert.equal(err.retry, 'retry');
      return true;
    });
    handler = json(404, '{"error":"no such order"}');
    await assert.rejects(callAction(spec({}), { orderId: '1' }), (err) => isHubError(err, 'ACTION_FAILED') && err.context.status === 404 && err.retry === 'final');
  });

  it('a slow endpoint -> ACTION_FAILED with timeout, quickly', async () => {
    handler = (res) => void (pending = setTimeout(() => json(200, '{}')(res), 1000));
    const started = Date.now();
    await assert.rejects(callAction(spec({ timeoutMs: 100 }), { orderId: '1' }), (err) => {
      assert.ok(isHubError(err, 'ACTION_FAILED'));
      assert.equal(err.context.timeout, true);
      return true;
    });
    assert.ok(Date.now() - started < 800);
  });

  it('a non-JSON or non-object body -> ACTION_FAILED', async () => {
    for (const body of ['<html>oops</html>', '[1,2]', '"text"', 'null', '']) {
      handler = json(200, body);
      await assert.rejects(callAction(spec({}), { orderId: '1' }), (err) => isHubError(err, 'ACTION_FAILED') && err.context.invalidBody === true, body);
    }
  });

  it('a network error -> ACTION_FAILED (network)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(callAction(spec({ url: `http://127.0.0.1:${port}/x` }), {}), (err) => isHubError(err, 'ACTION_FAILED') && err.context.network === true);
  });

  it('a missing env var -> CONFIG_MISSING_ENV naming it, before any request', async () => {
    await assert.rejects(callAction(spec({ headers: { authorization: 'Bearer ${SHOP_TOKEN_MISSING}' } }), { orderId: '1' }, { env: {} }), (err) => {
      assert.ok(isHubError(err, 'CONFIG_MISSING_ENV'));
      assert.match(err.message, /SHOP_TOKEN_MISSING/);
      assert.equal(err.context.variable, 'SHOP_TOKEN_MISSING');
      return true;
    });
    assert.equal(seen.length, 0);
  });

  it('a missing slot -> ACTION_FAILED (final), before any request', async () => {
    await assert.rejects(callAction(spec({}), {}), (err) => isHubError(err, 'ACTION_FAILED') && err.context.missingVar === 'orderId' && err.retry === 'final');
    assert.equal(seen.length, 0);
  });

  it('uses the injected fetch', async () => {
    const calls: string[] = [];
    const fetchImpl: typeof fetch = async (input) => {
      calls.push(String(input));
      return new Response('{"ok":true}', { status: 200 });
    };
    assert.deepEqual(await callAction(spec({}), { orderId: '7' }, { fetchImpl }), { ok: true });
    assert.deepEqual(calls, [`${base}/orders/7`]);
  });
});

describe('slot values in the URL (path traversal)', () => {
  const statusUrl = () => `${base}/api/orders/{{order_no}}/status`;
  const refused = ['..', '.', '../../admin', 'a/b', '%2e%2e', '%2E%2e', '%252e%252e', 'x?y=1', 'a\\b', 'a#b', 'a%2Fb', 'a\nb', 'a\u202eb', ''];

  it('refuses dot segments, separators and control characters (also percent-encoded) before any request', async () => {
    handler = json(200, '{"status":"shipped"}');
    for (const value of refused) {
      await assert.rejects(callAction(spec({ url: statusUrl() }), { order_no: value }), (err) => {
        assert.ok(isHubError(err, 'ACTION_FAILED'), String(err));
        assert.equal(err.context.invalidSlot, 'order_no');
        assert.equal(err.retry, 'final');
        return true;
      }, JSON.stringify(value));
    }
    assert.deepEqual(seen.map((s) => s.url), []);
    assert.deepEqual(await callAction(spec({ url: statusUrl() }), { order_no: 'A-123_x.y' }), { status: 'shipped' });
    assert.deepEqual(seen.map((s) => s.url), ['/api/orders/A-123_x.y/status']);
  });

  it('a query value is encoded as one value', async () => {
    handler = json(200, '{}');
    await callAction(spec({ url: `${base}/api/search?q={{q}}&lang=en` }), { q: 'a b&lang=zh+1' });
    assert.deepEqual(seen.map((s) => s.url), ['/api/search?q=a%20b%26lang%3Dzh%2B1&lang=en']);
    await assert.rejects(callAction(spec({ url: `${base}/api/search?q={{q}}` }), { q: 'x?y=1' }), (err) => isHubError(err, 'ACTION_FAILED') && err.context.invalidSlot === 'q');
    assert.equal(seen.length, 1);
  });

  it('a slot in the scheme or host fails the load, and the call when the spec skipped the schema', async () => {
    const parsed = actionSpecSchema.safeParse({ url: 'https://{{tenant}}.shop.example/api/orders/{{order_no}}' });
    assert.equal(parsed.success, false);
    assert.match(parsed.error?.issues[0]?.message ?? '', /\{\{tenant\}\} is in the scheme or host/);
    assert.equal(actionSpecSchema.safeParse({ url: '{{base}}/api/orders' }).success, false);
    const raw: ActionSpec = { url: 'http://{{host}}/x', method: 'GET', headers: {}, timeoutMs: 1000 };
    await assert.rejects(callAction(raw, { host: '127.0.0.1' }), (err) => isHubError(err, 'ACTION_FAILED') && err.context.invalidSlot === 'host');
  });

  it('the bot asks again for a value that would leave its path segment, and calls only with a valid one', async () => {
    handler = json(200, '{"status":"shipped"}');
    const bot = await KnowledgeBot.fromEntries([
      {
        id: 'order_status',
        questions: ['where is my order', 'track my order'],
        answer: 'Order {{order_no}} is {{status}}.',
        slots: [{ name: 'order_no', prompt: 'What is your order number?' }],
        action: { url: statusUrl(), headers: { authorization: 'Bearer hub-secret' } },
      },
      { id: 'hours', questions: ['opening hours'], answer: '9-5' },
    ]);
    const first = await bot.respond(turn('where is my order', 'en'));
    assert.ok(first.kind === 'answer' && first.text === 'What is your order number?', JSON.stringify(first));
    const state = first.state ?? {};
    for (const value of ['..', '../../admin', 'a/b', '%2e%2e', 'x?y=1']) {
      const d: BotDecision = await bot.respond(turn(value, 'en', { state }));
      assert.ok(d.kind === 'answer', JSON.stringify(d));
      assert.equal(d.text, "Sorry, that doesn't look right. What is your order number?", value);
      assert.ok(d.state?.slots, `${value}: still waiting for the order number`);
    }
    assert.deepEqual(seen.map((s) => s.url), [], 'no request for a refused value');
    const done = await bot.respond(turn('A123', 'en', { state }));
    assert.ok(done.kind === 'answer' && done.text === 'Order A123 is shipped.', JSON.stringify(done));
    assert.deepEqual(seen.map((s) => s.url), ['/api/orders/A123/status']);
    await bot.close();
  });
});

describe('renderTemplate', () => {
  it('renders nested paths, arrays and missing values', () => {
    const vars = { order: { id: 'A1', status: 'shipped', items: [{ name: 'Mug' }], tags: ['a', 'b'], qty: 2, paid: true } };
    assert.equal(renderTemplate('订单 {{order.id}}：{{ order.status }}，{{order.items.0.name}} x{{order.qty}}', vars), '订单 A1：shipped，Mug x2');
    assert.equal(renderTemplate('{{order.tags}} {{order.paid}}', vars), 'a, b true');
    assert.equal(renderTemplate('[{{order.missing}}][{{nope.x}}][{{constructor}}][{{order.id.length}}]', vars), '[][][][]');
    assert.equal(renderTemplate('{{order.items}}', vars), '[{"name":"Mug"}]');
    assert.equal(renderTemplate('no slots', vars), 'no slots');
  });
});
