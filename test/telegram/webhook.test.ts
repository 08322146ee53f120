import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RecordingContext } from '../contract/adapter-contract.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import type { TelegramAdapter } from '../../src/adapters/telegram/index.js';
import { makeAdapter } from './harness.js';

const SECRET = 'wh-secret_0123456789';
const PATH = '/webhooks/telegram';

describe('telegram webhook mode', () => {
  let fake: FakeTelegram;
  let adapter: TelegramAdapter;
  let ctx: RecordingContext;
  let server: Server;
  let url: string;

  before(async () => {
    fake = await startFakeTelegram();
    adapter = makeAdapter(fake, { mode: 'webhook', webhook: { secretToken: SECRET, url: 'https://hub.example.com/webhooks/telegram' } });
    ctx = new RecordingContext();
    await adapter.mount(ctx);
    server = createServer((req, res) => void ctx.router.handle(req, res).catch(() => undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
  });
  after(async () => {
    await adapter.stop();
    await new Promise<void>((r) => server.close(() => r()));
    await fake.close();
  });

  const post = (body: string, secret?: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret !== undefined ? { 'x-telegram-bot-api-secret-token': secret } : {}) },
      body,
    });

  it('refuses a missing or wrong secret with 401 and processes nothing', async () => {
    const body = JSON.stringify({ update_id: 1, ...fake.updates.text(777, 'sneaky') });
    assert.equal((await post(body)).status, 401);
    assert.equal((await post(body, 'wrong')).status, 401);
    assert.equal((await post(body, `${SECRET}x`)).status, 401);
    assert.equal(ctx.accepted.length, 0);
  });

  it('answers 400 to a malformed body or one that is not an update', async () => {
    assert.equal((await post('{"update_id": 2, "message": ', SECRET)).status, 400);
    assert.equal((await post('[1,2,3]', SECRET)).status, 400);
    assert.equal((await post('{"message": {}}', SECRET)).status, 400);
    assert.equal(ctx.accepted.length, 0);
  });

  it('accepts a good update with 200, only after the hub queued it', async () => {
    const res = await post(JSON.stringify({ update_id: 10, ...fake.updates.text(777, 'hello from a webhook') }), SECRET);
    assert.equal(res.status, 200);
    assert.equal(ctx.accepted.length, 1);
    assert.equal(ctx.accepted[0]?.text, 'hello from a webhook');
  });

  it('answers 503 when the hub cannot queue it, so Telegram redelivers; the redelivery goes through', async () => {
    const body = JSON.stringify({ update_id: 11, ...fake.updates.text(777, 'while redis is away') });
    ctx.failAccept = new Error('redis is away');
    assert.equal((await post(body, SECRET)).status, 503);
    ctx.failAccept = undefined;
    assert.equal((await post(body, SECRET)).status, 200);
    assert.equal(ctx.accepted.at(-1)?.text, 'while redis is away');
  });

  it('acknowledges (200) updates it ignores: a sticker, an unknown update type', async () => {
    const before = ctx.accepted.length;
    const sticker = { update_id: 12, message: { message_id: 5, date: 1, chat: { id: 777, type: 'private' }, from: { id: 777, is_bot: false }, sticker: { file_id: 'x' } } };
    assert.equal((await post(JSON.stringify(sticker), SECRET)).status, 200);
    assert.equal((await post(JSON.stringify({ update_id: 13, poll: { id: '1' } }), SECRET)).status, 200);
    assert.equal(ctx.accepted.length, before);
  });

  it('a button press through the webhook is accepted and answered with answerCallbackQuery', async () => {
    const msg = fake.updates.botMessage(777, 'Pick one', [[{ text: 'Refund', callback_data: 'refund' }]]);
    const press = fake.updates.callback(777, 'refund', msg);
    assert.equal((await post(JSON.stringify({ update_id: 14, ...press }), SECRET)).status, 200);
    assert.equal(ctx.accepted.at(-1)?.buttonValue, 'refund');
    assert.equal(fake.answeredCallbacks.length, 1);
  });

  it('registers the webhook URL and secret with setWebhook on connect (held under the lease)', async () => {
    assert.equal(adapter.connection, 'long');
    await adapter.connect();
    assert.equal(fake.webhook?.url, 'https://hub.example.com/webhooks/telegram');
    assert.equal(fake.webhook?.secret_token, SECRET);
    assert.deepEqual(fake.webhook?.allowed_updates, ['message', 'edited_message', 'callback_query']);
    await adapter.disconnect();
  });

  it('is stateless when no public URL is configured (the webhook is registered elsewhere)', () => {
    const a = makeAdapter(fake, { mode: 'webhook', webhook: { secretToken: SECRET } });
    assert.equal(a.connection, 'stateless');
  });
});
