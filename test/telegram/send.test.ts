import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingContext } from '../contract/adapter-contract.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import type { TelegramAdapter } from '../../src/adapters/telegram/index.js';
import { callbackDataFor } from '../../src/adapters/telegram/buttons.js';
import { HubError } from '../../src/core/errors.js';
import type { OutboundMessage } from '../../src/core/types.js';
import type { AdapterContext } from '../../src/core/adapter.js';
import { makeAdapter } from './harness.js';

const out = (chatId: string, text: string, extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
  id: `o-${Math.random()}`,
  conversationId: 'c1',
  ref: { channel: 'telegram', chatId, extra: { chatType: 'private', messageId: 1 } },
  text,
  author: 'bot',
  ...extra,
});

async function sendError(adapter: TelegramAdapter, m: OutboundMessage): Promise<HubError> {
  try {
    await adapter.send(m);
  } catch (err) {
    assert.ok(err instanceof HubError, `a HubError, got ${String(err)}`);
    return err;
  }
  return assert.fail('send should have failed');
}

describe('telegram send', () => {
  let fake: FakeTelegram;
  let adapter: TelegramAdapter;
  before(async () => {
    fake = await startFakeTelegram();
    adapter = makeAdapter(fake);
    await adapter.mount(new RecordingContext());
  });
  after(async () => {
    await adapter.stop();
    await fake.close();
  });

  it('sends plain text without parse_mode: a customer\'s *_[`<b>& arrives intact', async () => {
    const text = 'Order *_[ A-1042 ]_* `x` <b>bold?</b> & co. 1+1=2!';
    const res = await adapter.send(out('501', text));
    const s = fake.sent.at(-1);
    assert.equal(s?.text, text);
    assert.equal(s?.params.parse_mode, undefined);
    assert.deepEqual(res.platformMessageIds, [String(s?.message_id)]);
  });

  it('buttons become an inline keyboard; values over 64 bytes are hashed to fit', async () => {
    const long = `order:${'x'.repeat(80)}`;
    await adapter.send(out('502', 'Pick', { buttons: [{ label: 'Yes', value: 'yes' }, { label: 'No', value: 'no' }, { label: 'Details of my order', value: long }] }));
    const markup = fake.sent.at(-1)?.params.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] };
    assert.deepEqual(markup.inline_keyboard, [
      [
        { text: 'Yes', callback_data: 'yes' },
        { text: 'No', callback_data: 'no' },
      ],
      [{ text: 'Details of my order', callback_data: callbackDataFor(long) }],
    ]);
    assert.ok(Buffer.byteLength(callbackDataFor(long)) <= 64);
  });

  it('a press on a hashed button comes back with the full value, found in the customer history', async () => {
    const long = `order:${'y'.repeat(80)}`;
    const ctx = new RecordingContext();
    const withHistory: AdapterContext = {
      accept: (m) => ctx.accept(m),
      http: ctx.http,
      bus: ctx.bus,
      log: ctx.log,
      state: (c) => ctx.state(c),
      history: async () => [{ id: 'h1', author: 'bot', text: 'Pick', at: 1, buttons: [{ label: 'Details', value: long }] }],
      withPerson: async () => false,
    };
    const a = makeAdapter(fake);
    await a.mount(withHistory);
    const msg = fake.updates.botMessage(503, 'Pick', [[{ text: 'Details', callback_data: callbackDataFor(long) }]]);
    await a.handleUpdate({ update_id: 1, ...fake.updates.callback(503, callbackDataFor(long), msg) });
    assert.equal(ctx.accepted.at(-1)?.buttonValue, long);
    assert.equal(ctx.accepted.at(-1)?.text, 'Details');
    await a.stop();
  });

  it('replies in a group thread to the asking message', async () => {
    await adapter.send(out('-100777', 'for the group', { ref: { channel: 'telegram', chatId: '-100777', extra: { chatType: 'supergroup', messageId: 55 } } }));
    assert.deepEqual(fake.sent.at(-1)?.params.reply_parameters, { message_id: 55, allow_sending_without_reply: true });
  });

  it('429 -> PLATFORM_RATE_LIMITED, delay retry_after', async () => {
    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } });
    const e = await sendError(adapter, out('504', 'hi'));
    assert.equal(e.code, 'PLATFORM_RATE_LIMITED');
    assert.equal(e.retry, 'delay');
    assert.equal(e.retryAfterMs, 7000);
  });

  it('403 blocked, 400 chat not found -> RECIPIENT_UNREACHABLE, final', async () => {
    fake.blockUser(505);
    const blocked = await sendError(adapter, out('505', 'hi'));
    assert.equal(blocked.code, 'RECIPIENT_UNREACHABLE');
    assert.equal(blocked.retry, 'final');
    assert.match(blocked.message, /bot was blocked by the user/);
    fake.failNext('sendMessage', { error_code: 400, description: 'Bad Request: chat not found' });
    const gone = await sendError(adapter, out('506', 'hi'));
    assert.equal(gone.code, 'RECIPIENT_UNREACHABLE');
    fake.failNext('sendMessage', { error_code: 403, description: 'Forbidden: user is deactivated' });
    assert.equal((await sendError(adapter, out('507', 'hi'))).code, 'RECIPIENT_UNREACHABLE');
  });

  it('other 400 -> PLATFORM_REFUSED final; 5xx and network errors -> NETWORK retry; the token never shows', async () => {
    fake.failNext('sendMessage', { error_code: 400, description: 'Bad Request: message text is empty' });
    const refused = await sendError(adapter, out('508', 'hi'));
    assert.equal(refused.code, 'PLATFORM_REFUSED');
    assert.equal(refused.retry, 'final');
    fake.failNext('sendMessage', { error_code: 502, description: 'Bad Gateway' });
    const down = await sendError(adapter, out('508', 'hi'));
    assert.equal(down.code, 'NETWORK');
    assert.equal(down.retry, 'retry');
    fake.failNext('sendMessage', 'network');
    const reset = await sendError(adapter, out('508', 'hi'));
    assert.equal(reset.code, 'NETWORK');
    assert.equal(reset.retry, 'retry');
    for (const e of [refused, down, reset]) {
      assert.ok(!e.message.includes(fake.token), e.message);
      assert.ok(!JSON.stringify(e.context).includes(fake.token));
    }
  });

  it('refuses an empty text or one over 4096 characters before calling Telegram', async () => {
    assert.equal((await sendError(adapter, out('509', '  '))).code, 'PLATFORM_REFUSED');
    assert.equal((await sendError(adapter, out('509', 'x'.repeat(4097)))).retry, 'final');
  });

  it('fetchAttachment streams a file through getFile and the file endpoint; what it returns holds no token', async () => {
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 250, 251]);
    fake.addFile('AgACAgIAAxkBAAIBZ2b_photo', bytes.length, bytes, 'photos/file_7.jpg');
    const file = await adapter.fetchAttachment('AgACAgIAAxkBAAIBZ2b_photo');
    const chunks: Buffer[] = [];
    for await (const c of file.body) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), bytes);
    assert.equal(file.mimeType, 'image/jpeg', 'typed by the file_path extension (the file endpoint says octet-stream)');
    assert.equal(file.size, bytes.length);
    assert.equal(file.name, 'file_7.jpg');
    assert.ok(!JSON.stringify({ ...file, body: undefined }).includes(fake.token));
    assert.deepEqual(fake.downloads.at(-1), { path: 'photos/file_7.jpg', token: true });
  });

  it('fetchAttachment of a 50 MB file: refused clearly (cloud Bot API limit), not retried; an unknown file_id is NOT_FOUND; no token in errors', async () => {
    fake.addFile('BQACAgIAAxkBAAIBaWb_bigzip', 52_428_800);
    const big = await adapter.fetchAttachment('BQACAgIAAxkBAAIBaWb_bigzip').then(() => assert.fail('should fail'), (e: unknown) => e as HubError);
    assert.equal(big.code, 'PLATFORM_REFUSED');
    assert.equal(big.retry, 'final');
    assert.match(big.message, /file is too big/);
    const unknown = await adapter.fetchAttachment('unknown-file-id').then(() => assert.fail('should fail'), (e: unknown) => e as HubError);
    assert.equal(unknown.code, 'NOT_FOUND');
    for (const e of [big, unknown]) assert.ok(!`${e.message} ${JSON.stringify(e.context)}`.includes(fake.token), e.message);
  });
});
