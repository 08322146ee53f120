/**
 * What a customer sees around a hand-over (one message per hand-over, whatever the path), the CSAT
 * answer (taken only as the answer to the question asked last), and agents' names on channels that
 * cannot show a sender name (a first line).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { Responder } from '../../src/core/responder.js';
import type { StoredMessage } from '../../src/core/model.js';
import { createResponder } from '../../src/hub/bot.js';
import { startFakeTelegram } from '../fakes/telegram-bot-api.js';
import { makeAdapter } from '../telegram/harness.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const agent = { id: 'U1', name: 'Dana (Support)' };

async function conversationOf(t: TestHub, channel: string, user: string) {
  const ident = await until(() => t.hub.storage.customers.findIdentity(channel, user), 10_000, `identity ${user}`);
  const [conv] = await t.hub.storage.conversations.ofCustomer(ident.customerId);
  assert.ok(conv, `no conversation for ${user}`);
  return conv;
}

const outbound = async (t: TestHub, conversationId: string): Promise<StoredMessage[]> =>
  (await t.hub.storage.messages.ofConversation(conversationId)).filter((m) => m.direction === 'out');

describe('one hand-over, one message (knowledge bot from config/knowledge)', () => {
  let t: TestHub;
  const lb = new LoopbackAdapter();
  before(async () => {
    t = await startTestHub({ adapters: [lb], responderFactory: createResponder });
  });
  after(() => t.stop());

  const cases: [string, string, Partial<Parameters<LoopbackAdapter['receive']>[2]>, string, RegExp][] = [
    ['asked in Chinese words', '转人工', {}, 'asked_for_human', /人工/],
    ['asked in English words', 'I want to talk to a real person', {}, 'asked_for_human', /person/],
    ['an off-topic question', 'What is the boiling point of tungsten on Mars?', {}, 'low_confidence', /colleague|person/],
    ['/human', '/human', { kind: 'command', command: { name: 'human' } }, 'asked_for_human', /person/],
  ];
  for (const [name, text, extra, reason, said] of cases) {
    it(`${name}: the customer gets one hand-over message`, async () => {
      const user = `h-${name}`;
      await lb.receive(user, text, extra);
      const conv = await until(async () => {
        const c = await conversationOf(t, 'loopback', user);
        return c.status === 'waiting_agent' && c;
      }, 10_000, `${user} escalated`);
      assert.equal(conv.escalationReason, reason);
      // The hand-over's replies are written in the transaction that escalates: all there now.
      const out = await outbound(t, conv.id);
      assert.equal(out.length, 1, `hand-over messages: ${JSON.stringify(out.map((m) => m.text))}`);
      assert.match(out[0]?.text ?? '', said);
      const sent = await until(() => lb.sentTo(user).length >= 1 && lb.sentTo(user), 10_000, 'the hand-over sent');
      assert.equal(sent.length, 1);
    });
  }

  it('a bot failure hands over with one message too', async () => {
    const failing: Responder = {
      respond: async () => {
        throw new Error('knowledge service down');
      },
    };
    const lb2 = new LoopbackAdapter();
    const t2 = await startTestHub({ adapters: [lb2], responder: failing });
    after(() => t2.stop());
    await lb2.receive('f1', 'hello?');
    const conv = await until(async () => {
      const c = await conversationOf(t2, 'loopback', 'f1');
      return c.status === 'waiting_agent' && c;
    });
    const out = await outbound(t2, conv.id);
    assert.deepEqual(out.map((m) => m.text), ["Sorry, something went wrong on my side. I've asked a colleague to help."]);
  });
});

describe('CSAT is taken only as the answer to the question asked last', () => {
  let t: TestHub;
  const lb = new LoopbackAdapter();
  const bot: Responder = {
    respond: async (turn) =>
      /human/.test(turn.text)
        ? { kind: 'escalate', reason: 'asked_for_human', priority: 'normal' }
        : { kind: 'answer', text: `bot: ${turn.text}`, confidence: 0.9 },
  };
  before(async () => {
    t = await startTestHub({ adapters: [lb], responder: bot });
  });
  after(() => t.stop());

  /** A conversation handed over, then resolved by an agent; resolves once the CSAT question is sent. */
  async function resolved(user: string) {
    await lb.receive(user, 'a human please');
    const conv = await until(async () => {
      const c = await conversationOf(t, 'loopback', user);
      return c.status === 'waiting_agent' && c;
    });
    await t.hub.agentActions.resolve(conv.id, agent);
    await until(() => lb.sentTo(user).some((m) => m.buttons?.length === 5), 10_000, 'the CSAT question');
    return conv;
  }
  const eventsOf = async (id: string, type: string) => (await t.hub.storage.events.ofConversation(id)).filter((e) => e.type === type);

  it('a bare "3" right after the CSAT question is the score', async () => {
    const conv = await resolved('c-yes');
    await lb.receive('c-yes', '3');
    const [given] = await until(async () => {
      const e = await eventsOf(conv.id, 'csat.given');
      return e.length > 0 && e;
    });
    assert.equal((given?.payload as { score: number }).score, 3);
    assert.equal((await t.hub.storage.conversations.get(conv.id))?.botState.csat, 3);
  });

  it('a bare "3" answering a later message of the hub is an ordinary message (it reopens the case)', async () => {
    const conv = await resolved('c-no');
    await t.hub.proactive.sendToCustomer({
      customerId: conv.customerId,
      conversationId: conv.id,
      kind: 'reminder',
      key: 'renewal-c-no',
      content: { text: 'Your plan renews soon. Which plan do you want: 1, 2 or 3?' },
    });
    await until(() => lb.sentTo('c-no').some((m) => m.text.startsWith('Your plan renews')), 10_000, 'the reminder');
    await lb.receive('c-no', '3');
    await until(async () => (await eventsOf(conv.id, 'conversation.reopened')).length === 1, 10_000, 'the reopen');
    assert.deepEqual(await eventsOf(conv.id, 'csat.given'), []);
    const c = await t.hub.storage.conversations.get(conv.id);
    assert.equal(c?.status, 'waiting_agent');
    assert.equal(c?.botState.csat, undefined);
  });
});

describe("agents' names on channels that cannot show a sender name", () => {
  it('the loopback (declared without sender names) gets the name as a first line; a channel with names gets it as authorName', async () => {
    const plain = new LoopbackAdapter({ channel: 'plain', capabilities: { authorNames: false } });
    const named = new LoopbackAdapter({ channel: 'named' });
    const bot: Responder = { respond: async () => ({ kind: 'escalate', reason: 'asked_for_human', priority: 'normal' }) };
    const t = await startTestHub({ adapters: [plain, named], responder: bot });
    after(() => t.stop());
    for (const [lb, user] of [
      [plain, 'p1'],
      [named, 'n1'],
    ] as const) {
      await lb.receive(user, 'help');
      const conv = await until(async () => {
        const c = await conversationOf(t, lb.channel, user);
        return c.status === 'waiting_agent' && c;
      });
      await t.hub.agentActions.reply(conv.id, agent, 'Your refund is on its way.', `reply-${user}`);
    }
    const p = await until(() => plain.sentTo('p1').find((m) => m.author === 'agent'), 10_000, 'agent reply (plain)');
    assert.equal(p.text, 'Dana (Support):\nYour refund is on its way.');
    const n = await until(() => named.sentTo('n1').find((m) => m.author === 'agent'), 10_000, 'agent reply (named)');
    assert.equal(n.text, 'Your refund is on its way.');
    assert.equal(n.authorName, 'Dana (Support)');
  });

  it('a Telegram customer sees the agent name on the first line of the reply', async () => {
    const fake = await startFakeTelegram();
    const bot: Responder = { respond: async () => ({ kind: 'escalate', reason: 'asked_for_human', priority: 'normal' }) };
    const t = await startTestHub({ adapters: [makeAdapter(fake)], responder: bot });
    after(async () => {
      await t.stop();
      await fake.close();
    });
    fake.pushUpdate(fake.updates.text(424242, 'I need a person'));
    const conv = await until(async () => {
      const c = await conversationOf(t, 'telegram', '424242').catch(() => undefined);
      return c?.status === 'waiting_agent' && c;
    }, 15_000, 'telegram escalation');
    await t.hub.agentActions.reply(conv.id, agent, 'Hi, I am looking at your order.', 'tg-reply-1');
    const sent = await fake.waitFor(() => fake.sent.find((s) => s.chat_id === '424242' && s.text.includes('looking at')), 10_000, 'agent reply on Telegram');
    assert.equal(sent.text, 'Dana (Support):\nHi, I am looking at your order.');
  });
});

describe('a message marked noReply (loop protection) is kept, never answered', () => {
  let t: TestHub;
  const lb = new LoopbackAdapter();
  before(async () => {
    t = await startTestHub({ adapters: [lb], responderFactory: createResponder });
  });
  after(() => t.stop());

  it('an auto-reply is stored and counted as received, with no reply and no escalation', async () => {
    const m = await lb.receive('ooo', 'I am out of the office until Monday. 转人工', { noReply: 'auto-reply (Auto-Submitted: auto-replied)' });
    const row = await until(async () => {
      const r = await t.hub.storage.messages.byKey(`loopback:${m.platformMessageId}`);
      return r?.processedAt ? r : undefined;
    });
    assert.equal(row.text, 'I am out of the office until Monday. 转人工');
    const conv = await conversationOf(t, 'loopback', 'ooo');
    assert.equal(conv.status, 'bot');
    assert.deepEqual(await outbound(t, conv.id), []);
    // The same words without the mark get the bot (here: a hand-over).
    await lb.receive('ooo', '转人工');
    await until(async () => (await conversationOf(t, 'loopback', 'ooo')).status === 'waiting_agent' || undefined);
    // While a person has the case, a marked message still reaches them (relayed), unanswered.
    await lb.receive('ooo', 'Automatic reply: on leave', { noReply: 'auto-reply (subject)' });
    await until(async () => (await t.hub.storage.messages.ofConversation(conv.id)).some((x) => x.text === 'Automatic reply: on leave' && x.processedAt !== null) || undefined);
    const out = await outbound(t, conv.id);
    assert.equal(out.length, 1, JSON.stringify(out.map((x) => x.text)));
  });
});
