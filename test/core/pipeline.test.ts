import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { BotDecision, Responder, ResponderTurn } from '../../src/core/responder.js';
import { HubError } from '../../src/core/errors.js';
import { startTestHub, until } from '../helpers/hub.js';
import { DIALECTS } from '../helpers/env.js';

/** A responder that echoes, remembers turns, and escalates on "human". */
class EchoResponder implements Responder {
  readonly turns: ResponderTurn[] = [];
  async respond(turn: ResponderTurn): Promise<BotDecision> {
    this.turns.push(turn);
    if (turn.text.includes('human')) return { kind: 'escalate', reason: 'asked_for_human', priority: 'normal' };
    if (turn.text.includes('??')) return { kind: 'answer', text: 'not sure', unresolved: true };
    return { kind: 'answer', text: `echo: ${turn.text}`, buttons: [{ label: 'More', value: 'more' }], confidence: 0.9 };
  }
}

for (const dialect of DIALECTS) {
  describe(`pipeline (${dialect})`, () => {
    it('answers a message once, through both queues, and stores the history', async () => {
      const lb = new LoopbackAdapter();
      const bot = new EchoResponder();
      const t = await startTestHub({ dialect, adapters: [lb], responder: bot });
      after(() => t.stop());
      const m = await lb.receive('u1', 'hello');
      // The platform redelivers the same message: answered once.
      await t.hub.accept(m);
      await lb.waitForSent(1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(lb.sent.length, 1);
      assert.equal(lb.sent[0]?.text, 'echo: hello');
      assert.deepEqual(lb.sent[0]?.buttons, [{ label: 'More', value: 'more' }]);
      const ident = await t.hub.storage.customers.findIdentity('loopback', 'u1');
      assert.ok(ident);
      const [conv] = await t.hub.storage.conversations.ofCustomer(ident.customerId);
      assert.ok(conv);
      const msgs = await t.hub.storage.messages.ofConversation(conv.id);
      assert.deepEqual(
        msgs.map((x) => [x.author, x.deliveryStatus]),
        [
          ['customer', 'received'],
          ['bot', 'sent'],
        ],
      );
    });

    it('keeps order per sender and passes history to the bot', async () => {
      const lb = new LoopbackAdapter();
      const bot = new EchoResponder();
      const t = await startTestHub({ dialect, adapters: [lb], responder: bot, config: { queues: { partitions: 2 } } });
      after(() => t.stop());
      for (let i = 0; i < 20; i++) await lb.receive('order-user', `n${i}`);
      await lb.waitForSent(20);
      assert.deepEqual(
        lb.sent.map((s) => s.text),
        Array.from({ length: 20 }, (_, i) => `echo: n${i}`),
      );
      const last = bot.turns.at(-1);
      assert.ok(last && last.history.length >= 10);
      assert.equal(last.history.at(-1)?.text, 'echo: n18');
    });

    it('a responder that says it uses no history is given none (the core does not read it)', async () => {
      const lb = new LoopbackAdapter();
      const bot = Object.assign(new EchoResponder(), { usesHistory: false });
      const t = await startTestHub({ dialect, adapters: [lb], responder: bot });
      after(() => t.stop());
      for (let i = 0; i < 3; i++) await lb.receive('nohist-user', `n${i}`);
      await lb.waitForSent(3);
      assert.deepEqual(bot.turns.map((x) => x.history.length), [0, 0, 0]);
    });

    it('escalates: the customer is told, the conversation waits for an agent and the bot stays silent', async () => {
      const lb = new LoopbackAdapter();
      const bot = new EchoResponder();
      const t = await startTestHub({ dialect, adapters: [lb], responder: bot });
      after(() => t.stop());
      await lb.receive('u2', 'I want a human');
      await lb.waitForSent(1);
      assert.match(lb.sent[0]?.text ?? '', /person|人工/);
      const ident = await t.hub.storage.customers.findIdentity('loopback', 'u2');
      const [conv] = await t.hub.storage.conversations.ofCustomer(ident!.customerId);
      assert.equal(conv?.status, 'waiting_agent');
      assert.equal(conv?.escalationReason, 'asked_for_human');
      const turnsBefore = bot.turns.length;
      await lb.receive('u2', 'hello?');
      await until(async () => {
        const msgs = await t.hub.storage.messages.ofConversation(conv!.id);
        return msgs.filter((x) => x.author === 'customer' && x.processedAt !== null).length === 2;
      });
      assert.equal(bot.turns.length, turnsBefore);
      // The bot stays silent; with no desk configured the console is the desk, and its one notice per
      // escalation tells the customer a person will answer (sent by a subscriber, so it may come later).
      const notice = await until(() => lb.sent[1], 10_000, 'the waiting notice');
      assert.match(notice.text ?? '', /A person will answer you here|客服会在这里回复您/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(lb.sent.length, 2);
      const events = await t.hub.storage.events.ofConversation(conv!.id);
      assert.ok(events.some((e) => e.type === 'conversation.escalated'));
      assert.deepEqual(
        events.filter((e) => e.type === 'message.received').map((e) => (e.payload as { toAgent: boolean }).toAgent),
        [false, true],
      );
    });

    it('three unresolved turns in a row escalate', async () => {
      const lb = new LoopbackAdapter();
      const t = await startTestHub({ dialect, adapters: [lb], responder: new EchoResponder() });
      after(() => t.stop());
      await lb.receive('u3', 'what??');
      await lb.receive('u3', 'and??');
      await lb.receive('u3', 'hm??');
      await lb.waitForSent(3);
      assert.equal(lb.sent[0]?.text, 'not sure');
      assert.equal(lb.sent[1]?.text, 'not sure');
      assert.match(lb.sent[2]?.text ?? '', /person/);
      const ident = await t.hub.storage.customers.findIdentity('loopback', 'u3');
      const [conv] = await t.hub.storage.conversations.ofCustomer(ident!.customerId);
      assert.equal(conv?.escalationReason, 'three_strikes');
    });
  });
}

describe('outbound', () => {
  it('splits long replies by capability and retries transient send failures without duplicates', async () => {
    let failures = 2;
    const lb = new LoopbackAdapter({
      capabilities: { maxTextLength: 100 },
      onSend: () => {
        if (failures-- > 0) throw new HubError('NETWORK', 'connection reset', { retry: 'retry' });
      },
    });
    const long: Responder = { respond: async () => ({ kind: 'answer', text: 'word '.repeat(50).trim() }) };
    const t = await startTestHub({ adapters: [lb], responder: long });
    after(() => t.stop());
    await lb.receive('s1', 'hi');
    await lb.waitForSent(3);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(lb.sent.length, 3);
    assert.ok(lb.sent.every((s) => s.text.length <= 100));
    assert.equal(lb.sent.map((s) => s.text).join(' '), 'word '.repeat(50).trim());
  });

  it('a final platform error marks the identity unreachable and is not retried', async () => {
    let calls = 0;
    const lb = new LoopbackAdapter({
      onSend: () => {
        calls++;
        throw new HubError('RECIPIENT_UNREACHABLE', 'bot was blocked by the user', { retry: 'final' });
      },
    });
    const t = await startTestHub({ adapters: [lb], responder: new EchoResponder() });
    after(() => t.stop());
    await lb.receive('blocked', 'hi');
    const ident = await until(async () => {
      const i = await t.hub.storage.customers.findIdentity('loopback', 'blocked');
      return i?.unreachableAt ? i : undefined;
    });
    assert.match(ident.unreachableReason ?? '', /blocked/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(calls, 1);
    const [conv] = await t.hub.storage.conversations.ofCustomer(ident.customerId);
    const types = (await t.hub.storage.events.ofConversation(conv!.id)).map((e) => e.type);
    assert.ok(types.includes('message.failed') && types.includes('identity.unreachable'), types.join());
  });

  it('a 429 waits for the platform delay and then sends once', async () => {
    let first = true;
    const lb = new LoopbackAdapter({
      onSend: () => {
        if (first) {
          first = false;
          throw new HubError('PLATFORM_RATE_LIMITED', 'too many requests', { retry: 'delay', retryAfterMs: 400 });
        }
      },
    });
    const t = await startTestHub({ adapters: [lb], responder: new EchoResponder() });
    after(() => t.stop());
    const started = Date.now();
    await lb.receive('r1', 'hi');
    await lb.waitForSent(1);
    assert.ok(Date.now() - started >= 380, 'waited the retry-after');
    assert.equal(lb.sent.length, 1);
  });
});

describe('bad input', () => {
  it('refuses empty, huge and unknown-channel messages with clear errors', async () => {
    const lb = new LoopbackAdapter();
    const t = await startTestHub({ adapters: [lb], responder: new EchoResponder() });
    after(() => t.stop());
    await assert.rejects(lb.receive('x', '   '), /text is empty/);
    await assert.rejects(lb.receive('x', 'a'.repeat(1_048_576)), /limit is 20000/);
    await assert.rejects(lb.receive('x', 'hi', { channel: 'nope', ref: { channel: 'nope', chatId: 'x' } }), /unknown channel "nope"/);
    // Binary garbage is cleaned, not fatal.
    await lb.receive('x', 'he\u0000llo\u0007');
    await lb.waitForSent(1);
    assert.equal(lb.sent[0]?.text, 'echo: hello');
  });
});

describe('order of replies', () => {
  it('replies of one conversation reach the platform in the order they were decided, even when the first send is slow', async () => {
    let firstStarted!: () => void;
    const started = new Promise<void>((r) => (firstStarted = r));
    let first = true;
    const lb = new LoopbackAdapter({
      onSend: async () => {
        if (first) {
          first = false;
          firstStarted();
          await new Promise((r) => setTimeout(r, 300));
        }
      },
    });
    const bot: Responder = { respond: async (turn) => ({ kind: 'answer', text: `re: ${turn.text}`, confidence: 0.9 }) };
    const t = await startTestHub({ adapters: [lb], responder: bot });
    after(() => t.stop());
    await lb.receive('ord', 'where is my order 123');
    // The first reply is decided and its send is under way (slow) when the second message arrives.
    await started;
    await lb.receive('ord', 'hello?');
    await lb.waitForSent(2);
    assert.deepEqual(
      lb.sent.map((m) => m.text),
      ['re: where is my order 123', 're: hello?'],
    );
  });
});
