import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { RecordingContext } from '../contract/adapter-contract.js';
import { startFakeTelegram } from '../fakes/telegram-bot-api.js';
import { makeAdapter } from './harness.js';

const offsetsAsked = (calls: { method: string; params: Record<string, unknown> }[]) =>
  calls.filter((c) => c.method === 'getUpdates').map((c) => Number(c.params.offset ?? 0));

describe('telegram polling', () => {
  it('acknowledges an update only after the hub queued it, and retries it until then', async () => {
    const fake = await startFakeTelegram();
    after(() => fake.close());
    const adapter = makeAdapter(fake);
    const ctx = new RecordingContext();
    await adapter.mount(ctx);
    ctx.failAccept = new Error('redis is away');
    await adapter.connect();
    after(() => adapter.stop());
    const u = fake.pushUpdate(fake.updates.text(42, 'are you there?'));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(ctx.accepted.length, 0);
    assert.ok(offsetsAsked(fake.calls).every((o) => o <= u.update_id), 'offset not moved past the update');
    ctx.failAccept = undefined;
    await ctx.waitForAccepted(1);
    await fake.waitFor(() => offsetsAsked(fake.calls).includes(u.update_id + 1), 5000, 'offset acknowledged');
    assert.equal(ctx.accepted.length, 1);
  });

  it('acknowledges ignored updates (sticker, unknown type) and goes on with the next', async () => {
    const fake = await startFakeTelegram();
    after(() => fake.close());
    const adapter = makeAdapter(fake);
    const ctx = new RecordingContext();
    await adapter.mount(ctx);
    await adapter.connect();
    after(() => adapter.stop());
    fake.pushUpdate({ message: { message_id: 1, date: 1, chat: { id: 5, type: 'private' }, from: { id: 5, is_bot: false }, sticker: { file_id: 's' } } });
    fake.pushUpdate({ poll: { id: 'p1', question: '?' } });
    fake.pushUpdate({ message: 'garbage' });
    const last = fake.pushUpdate(fake.updates.text(5, 'after the noise'));
    await ctx.waitForAccepted(1);
    await fake.waitFor(() => offsetsAsked(fake.calls).includes(last.update_id + 1), 5000, 'offset past all');
    assert.deepEqual(ctx.accepted.map((m) => m.text), ['after the noise']);
  });

  it('keeps polling through 5xx, 429 and network errors of getUpdates', async () => {
    const fake = await startFakeTelegram();
    after(() => fake.close());
    const adapter = makeAdapter(fake);
    const ctx = new RecordingContext();
    await adapter.mount(ctx);
    fake.failNext('getUpdates', { error_code: 502, description: 'Bad Gateway' });
    fake.failNext('getUpdates', 'network');
    fake.failNext('getUpdates', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    await adapter.connect();
    after(() => adapter.stop());
    fake.pushUpdate(fake.updates.text(6, 'still there'));
    await ctx.waitForAccepted(1, 8000);
    assert.equal(ctx.accepted[0]?.text, 'still there');
  });

  it('stops promptly (the pending long poll is aborted) and confirms the offset; a restart gets only what was not acknowledged', async () => {
    const fake = await startFakeTelegram();
    after(() => fake.close());
    const first = makeAdapter(fake, { pollingTimeoutSec: 30 });
    const ctx = new RecordingContext();
    await first.mount(ctx);
    await first.connect();
    fake.pushUpdate(fake.updates.text(7, 'one'));
    await ctx.waitForAccepted(1);
    await fake.waitFor(() => fake.pollers() === 1, 5000, 'a pending long poll');
    const t0 = Date.now();
    await first.stop();
    assert.ok(Date.now() - t0 < 2000, `stop took ${Date.now() - t0} ms`);
    const confirm = fake.callsOf('getUpdates').at(-1);
    assert.equal(confirm?.params.limit, 1);

    fake.pushUpdate(fake.updates.text(7, 'two'));
    const second = makeAdapter(fake);
    const ctx2 = new RecordingContext();
    await second.mount(ctx2);
    await second.connect();
    after(() => second.stop());
    await ctx2.waitForAccepted(1);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(ctx2.accepted.map((m) => m.text), ['two']);
  });

  it('connect removes a webhook left over (getUpdates would get 409) and learns the bot username', async () => {
    const fake = await startFakeTelegram();
    after(() => fake.close());
    const adapter = makeAdapter(fake);
    await adapter.mount(new RecordingContext());
    await adapter.telegram.setWebhook('https://old.example.com/hook');
    await adapter.connect();
    after(() => adapter.stop());
    assert.equal(fake.webhook, undefined);
    assert.equal(await adapter.botUsername(), 'switchboard_test_bot');
    assert.equal(fake.callsOf('deleteWebhook').at(-1)?.params.drop_pending_updates, false);
  });

  it('a connect that fails (token rejected) says so without the token, and can be retried', async () => {
    const fake = await startFakeTelegram();
    after(() => fake.close());
    const adapter = makeAdapter(fake, { token: '999999:AAWrongTokenWrongTokenWrongToken' });
    await adapter.mount(new RecordingContext());
    await assert.rejects(adapter.connect(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'AUTH_FAILED');
      assert.match(err.message, /401 Unauthorized.*check channels\.telegram\.token/);
      assert.doesNotMatch(err.message, /AAWrongToken/);
      return true;
    });
    await adapter.stop();
  });

  it('group messages: answered in allowed groups when mentioned, username learned with getMe', async () => {
    const fake = await startFakeTelegram();
    after(() => fake.close());
    const group = { id: -1001234, type: 'supergroup' as const, title: 'Customers' };
    const adapter = makeAdapter(fake, { allowedGroups: [-1001234] });
    const ctx = new RecordingContext();
    await adapter.mount(ctx);
    await adapter.connect();
    after(() => adapter.stop());
    fake.pushUpdate(fake.updates.text(8, 'chatting among ourselves', { chat: group }));
    const mention = '@switchboard_test_bot';
    fake.pushUpdate(fake.updates.text(8, `${mention} where is my parcel?`, { chat: group, entities: [{ type: 'mention', offset: 0, length: mention.length }] }));
    fake.pushUpdate(fake.updates.text(8, '/human@switchboard_test_bot', { chat: { ...group, id: -999 } }));
    fake.pushUpdate(fake.updates.text(8, '/human@switchboard_test_bot', { chat: group }));
    await ctx.waitForAccepted(2);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      ctx.accepted.map((m) => [m.kind, m.text, m.ref.chatId]),
      [
        ['text', 'where is my parcel?', '-1001234'],
        ['command', '/human', '-1001234'],
      ],
    );
  });
});
