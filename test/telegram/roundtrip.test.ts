import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BotDecision, Responder, ResponderTurn } from '../../src/core/responder.js';
import type { TelegramAdapter } from '../../src/adapters/telegram/index.js';
import { startFakeTelegram, type FakeTelegram, type SentMessage } from '../fakes/telegram-bot-api.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { makeAdapter } from './harness.js';

const LONG_REPLY = Array.from({ length: 1000 }, (_, i) => `word${i % 10}`).join(' ').slice(0, 5000);

/** A scripted bot: answers questions with buttons, thanks for button presses, echoes the rest. */
class ScriptedBot implements Responder {
  readonly turns: ResponderTurn[] = [];
  async respond(turn: ResponderTurn): Promise<BotDecision> {
    this.turns.push(turn);
    if (turn.kind === 'button') return { kind: 'answer', text: `Glad it helped (${turn.buttonValue ?? '?'})` };
    if (turn.text.includes('password')) {
      return {
        kind: 'answer',
        text: 'Open Settings > Security > Reset password.',
        buttons: [
          { label: 'Yes', value: 'yes' },
          { label: 'No', value: 'no' },
        ],
        confidence: 0.9,
      };
    }
    if (turn.text === 'long please') return { kind: 'answer', text: LONG_REPLY };
    return { kind: 'answer', text: `You said: ${turn.text}` };
  }
}

describe('telegram round trips through a real hub', () => {
  let fake: FakeTelegram;
  let adapter: TelegramAdapter;
  let t: TestHub;
  const bot = new ScriptedBot();
  let nextUser = 910_000_000;
  const user = () => ++nextUser;
  const sentTo = (id: number): SentMessage[] => fake.sent.filter((s) => s.chat_id === String(id));
  const callsTo = (id: number) => fake.callsOf('sendMessage').filter((c) => String(c.params.chat_id) === String(id));

  before(async () => {
    fake = await startFakeTelegram();
    adapter = makeAdapter(fake);
    t = await startTestHub({ adapters: [adapter], responder: bot });
    // The hub connects long adapters under the lease at start-up.
    await fake.waitFor(() => fake.callsOf('getUpdates').length > 0, 5000, 'the hub to start polling');
  });
  after(async () => {
    await t.stop();
    await fake.close();
  });

  it('a question is answered, with an inline keyboard', async () => {
    const u = user();
    fake.pushUpdate(fake.updates.text(u, 'how do I reset my password?'));
    const [reply] = await fake.waitFor(() => sentTo(u).length >= 1 && sentTo(u), 10_000, 'the answer');
    assert.equal(reply?.text, 'Open Settings > Security > Reset password.');
    assert.deepEqual(reply?.params.reply_markup, {
      inline_keyboard: [
        [
          { text: 'Yes', callback_data: 'yes' },
          { text: 'No', callback_data: 'no' },
        ],
      ],
    });
    const ident = await t.hub.storage.customers.findIdentity('telegram', String(u));
    assert.ok(ident);
  });

  it('a button press comes back as a customer message and is answered (answerCallbackQuery called)', async () => {
    const u = user();
    fake.pushUpdate(fake.updates.text(u, 'password help'));
    const [question] = await fake.waitFor(() => sentTo(u).length >= 1 && sentTo(u), 10_000, 'the answer');
    assert.ok(question);
    const botMsg = fake.updates.botMessage(u, question.text, [
      [
        { text: 'Yes', callback_data: 'yes' },
        { text: 'No', callback_data: 'no' },
      ],
    ]);
    const press = fake.pushUpdate(fake.updates.callback(u, 'yes', botMsg));
    const replies = await fake.waitFor(() => sentTo(u).length >= 2 && sentTo(u), 10_000, 'the reply to the press');
    assert.equal(replies[1]?.text, 'Glad it helped (yes)');
    const queryId = (press.callback_query as { id: string }).id;
    assert.ok(fake.answeredCallbacks.some((a) => a.callback_query_id === queryId));
    const turn = bot.turns.find((x) => x.kind === 'button' && x.buttonValue === 'yes');
    assert.equal(turn?.text, 'Yes');
  });

  it('/human escalates: the conversation waits for an agent', async () => {
    const u = user();
    fake.pushUpdate(fake.updates.text(u, '/human'));
    await fake.waitFor(() => sentTo(u).length >= 1, 10_000, 'the hand-over notice');
    const ident = await t.hub.storage.customers.findIdentity('telegram', String(u));
    assert.ok(ident);
    const [conv] = await t.hub.storage.conversations.ofCustomer(ident.customerId);
    assert.equal(conv?.status, 'waiting_agent');
    assert.equal(conv?.escalationReason, 'asked_for_human');
  });

  it('a user who blocked the bot is marked unreachable and the send is not retried', async () => {
    const u = user();
    fake.blockUser(u);
    fake.pushUpdate(fake.updates.text(u, 'hello then goodbye'));
    const ident = await until(async () => {
      const i = await t.hub.storage.customers.findIdentity('telegram', String(u));
      return i?.unreachableAt ? i : undefined;
    }, 10_000, 'identity marked unreachable');
    assert.match(ident.unreachableReason ?? '', /blocked by the user/);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(callsTo(u).length, 1);
  });

  it('a 429 is honoured: sent once, after retry_after', async () => {
    const u = user();
    fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
    fake.pushUpdate(fake.updates.text(u, 'rate me'));
    await fake.waitFor(() => sentTo(u).length >= 1, 10_000, 'the send after the wait');
    const calls = callsTo(u);
    assert.equal(calls.length, 2);
    assert.equal(calls[0]?.status, 429);
    assert.equal(calls[1]?.status, 200);
    const waited = (calls[1]?.at ?? 0) - (calls[0]?.at ?? 0);
    assert.ok(waited >= 950, `waited ${waited} ms`);
    assert.equal(sentTo(u).length, 1);
  });

  it('5xx and network errors are retried until the message is sent, once', async () => {
    const u = user();
    fake.failNext('sendMessage', { error_code: 502, description: 'Bad Gateway' });
    fake.failNext('sendMessage', 'network');
    fake.failNext('sendMessage', { error_code: 500, description: 'Internal Server Error' });
    fake.pushUpdate(fake.updates.text(u, 'flaky'));
    await fake.waitFor(() => sentTo(u).length >= 1, 10_000, 'the send after retries');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sentTo(u).length, 1);
    assert.equal(sentTo(u)[0]?.text, 'You said: flaky');
    assert.equal(callsTo(u).length, 4);
  });

  it('a redelivered update (same update, again) is answered once', async () => {
    const u = user();
    const first = fake.pushUpdate(fake.updates.text(u, 'only once please'));
    await fake.waitFor(() => sentTo(u).length >= 1, 10_000, 'the answer');
    fake.redeliver(first);
    await fake.waitFor(() => fake.served.filter((id) => id === first.update_id).length === 2, 5000, 'the redelivery to be served');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(sentTo(u).length, 1);
    const ident = await t.hub.storage.customers.findIdentity('telegram', String(u));
    const [conv] = await t.hub.storage.conversations.ofCustomer(ident!.customerId);
    const customerMsgs = (await t.hub.storage.messages.ofConversation(conv!.id)).filter((m) => m.author === 'customer');
    assert.equal(customerMsgs.length, 1);
  });

  it('a 5,000-character reply is split into 2 messages of at most 4,096', async () => {
    const u = user();
    fake.pushUpdate(fake.updates.text(u, 'long please'));
    const parts = await fake.waitFor(() => sentTo(u).length >= 2 && sentTo(u), 10_000, 'both parts');
    assert.equal(parts.length, 2);
    assert.ok(parts.every((p) => p.text.length <= 4096));
    assert.equal(parts.map((p) => p.text).join(' '), LONG_REPLY);
  });

  it('markup characters in text are sent intact: *_[ never breaks a send', async () => {
    const u = user();
    fake.pushUpdate(fake.updates.text(u, 'my code is *_[abc]_* <x> & `y`'));
    const [reply] = await fake.waitFor(() => sentTo(u).length >= 1 && sentTo(u), 10_000, 'the echo');
    assert.equal(reply?.text, 'You said: my code is *_[abc]_* <x> & `y`');
  });

  it('/start with a deep-link payload reaches the core as a command (welcome sent)', async () => {
    const u = user();
    fake.pushUpdate(fake.updates.text(u, '/start link-abc123'));
    await fake.waitFor(() => sentTo(u).length >= 1, 10_000, 'the welcome');
    const ident = await t.hub.storage.customers.findIdentity('telegram', String(u));
    assert.ok(ident);
    const [conv] = await t.hub.storage.conversations.ofCustomer(ident.customerId);
    const msgs = await t.hub.storage.messages.ofConversation(conv!.id);
    assert.equal(msgs[0]?.text, '/start link-abc123');
  });
});

describe('telegram connection failures', () => {
  it('a rejected token is logged and retried under the lease; the hub keeps running', async () => {
    const fake = await startFakeTelegram();
    const adapter = makeAdapter(fake, { token: '999999:AAWrongTokenWrongTokenWrongToken' });
    const t = await startTestHub({ adapters: [adapter], responder: new ScriptedBot(), leaseTtlMs: 600 });
    after(async () => {
      await t.stop();
      await fake.close();
    });
    await fake.waitFor(() => fake.callsOf('deleteWebhook').length >= 2, 5000, 'connect to be retried');
    const health = await fetch(`${t.hub.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(fake.callsOf('getUpdates').length, 0);
  });
});
