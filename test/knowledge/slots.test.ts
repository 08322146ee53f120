import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import { botConfigSchema } from '../../src/knowledge/config.js';
import type { BotDecision } from '../../src/core/responder.js';
import type { JsonObject } from '../../src/core/types.js';
import { FIXTURES, tempCopy, turn } from './helpers.js';

let server: Server;
let bot: KnowledgeBot | undefined;
let cleanup: (() => Promise<void>) | undefined;
const seen: { url: string; auth: string | undefined }[] = [];

before(async () => {
  process.env.KB_TEST_TOKEN = 'secret-token';
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    const m = /^\/orders\/(\d+)$/.exec(req.url ?? '');
    if (m?.[1] === '99999999') return void setTimeout(() => res.end('{}'), 2000); // slower than timeoutMs
    if (m?.[1] === '50000000') {
      res.statusCode = 500;
      return void res.end('{"error":"down"}');
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'shipped', eta: '2026-12-01' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const tmp = await tempCopy('shop');
  cleanup = tmp.cleanup;
  const src = await readFile(join(FIXTURES, 'orders-action.yaml'), 'utf8');
  await writeFile(join(tmp.dir, 'orders.yaml'), src.replace('${PORT}', String(port)));
  bot = await KnowledgeBot.create({ dir: tmp.dir, bot: botConfigSchema.parse({}) });
});

after(async () => {
  await bot?.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await cleanup?.();
});

async function say(text: string, state: JsonObject, locale?: string): Promise<BotDecision> {
  assert.ok(bot, 'bot loaded');
  return bot.respond(turn(text, locale, { state }));
}

test('asks for the order number, remembers it across turns, calls the endpoint and answers', async () => {
  const d1 = await say('我的订单什么时候能发货', {});
  assert.equal(d1.kind, 'answer');
  assert.ok(d1.kind === 'answer' && d1.text.includes('订单号'), JSON.stringify(d1));
  assert.ok(d1.state && typeof d1.state.slots === 'object');

  const d2 = await say('订单号是 12345678', d1.state ?? {});
  assert.ok(d2.kind === 'answer', JSON.stringify(d2));
  assert.equal(d2.text, '订单 12345678 状态：shipped，预计 2026-12-01 送达。');
  assert.equal(d2.entryIds?.[0], 'order_status');
  assert.equal(d2.state?.slots, undefined, 'slot state is cleared after the action');
  const call = seen.at(-1);
  assert.equal(call?.url, '/orders/12345678');
  assert.equal(call?.auth, 'Bearer secret-token');
});

test('a message that already holds the slot goes straight to the action', async () => {
  const d = await say('where is my order 87654321?', {}, 'en');
  assert.ok(d.kind === 'answer' && d.text === 'Order 87654321 is shipped, arriving 2026-12-01.', JSON.stringify(d));
});

test('a reply without the slot asks again; a new question leaves the dialogue', async () => {
  const d1 = await say('track my order', {}, 'en');
  assert.ok(d1.kind === 'answer' && d1.text.includes('order number'));
  const d2 = await say('hold on, let me look', d1.state ?? {}, 'en');
  assert.ok(d2.kind === 'answer' && d2.text.includes('order number'), JSON.stringify(d2));
  assert.ok(d2.state && d2.state.slots, 'still waiting for the slot');
  const d3 = await say('what is your return policy', d2.state ?? {}, 'en');
  assert.equal(d3.entryIds?.[0], 'refund_policy');
  assert.equal(d3.state?.slots, undefined);
  const d4 = await say('取消', d1.state ?? {}, 'zh');
  assert.ok(d4.kind === 'answer' && d4.text.includes('取消'));
  assert.equal(d4.state?.slots, undefined);
});

test('endpoint timeout escalates with action_failed and a polite text', async () => {
  const started = Date.now();
  const d = await say('我的订单 99999999 到哪了', {});
  assert.ok(Date.now() - started < 1500);
  assert.ok(d.kind === 'escalate' && d.reason === 'action_failed', JSON.stringify(d));
  assert.ok(d.kind === 'escalate' && d.text && d.text.includes('抱歉'));
});

test('endpoint HTTP error escalates with action_failed', async () => {
  const d = await say('where is my order 50000000', {}, 'en');
  assert.ok(d.kind === 'escalate' && d.reason === 'action_failed', JSON.stringify(d));
});

test('with onActionFailure.escalate false, the failure is answered and flagged unresolved', async () => {
  const b = await KnowledgeBot.fromEntries([
    {
      id: 'order_status',
      questions: ['where is my order', 'track my order'],
      answer: 'Order {{order_no}}: {{status}}',
      slots: [{ name: 'order_no', pattern: '(\\d{6,})', prompt: 'Order number?' }],
      action: { url: 'http://127.0.0.1:1/orders/{{order_no}}', timeoutMs: 200 },
      onActionFailure: { escalate: false },
    },
    { id: 'other', questions: ['opening hours'], answer: '9-5' },
  ]);
  const d = await b.respond(turn('where is my order 1234567', 'en'));
  assert.ok(d.kind === 'answer' && d.unresolved === true && d.text.startsWith('Sorry'), JSON.stringify(d));
});
