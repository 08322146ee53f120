import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { Responder } from '../../src/core/responder.js';
import { HubError } from '../../src/core/errors.js';
import { composeTurn, emptyPlan, type Turn, type TurnHandler } from '../../src/core/conversation/turn.js';
import type { EventType } from '../../src/core/events.js';
import { startTestHub, until } from '../helpers/hub.js';
import { DIALECTS } from '../helpers/env.js';

const echo: Responder = { respond: async (t) => ({ kind: 'answer', text: `echo: ${t.text}`, confidence: 0.9 }) };
const turn = {} as Turn;

describe('turn chain', () => {
  it('runs handlers in order; calling next() twice is an error', async () => {
    const seen: string[] = [];
    const pass = (name: string): TurnHandler => ({ name, handle: async (_t, next) => (seen.push(name), next()) });
    const plan = await composeTurn([pass('a'), pass('b')])(turn);
    assert.deepEqual(seen, ['a', 'b']);
    assert.deepEqual(plan, emptyPlan());
    const twice: TurnHandler = {
      name: 'greedy',
      handle: async (_t, next) => {
        await next();
        return next();
      },
    };
    await assert.rejects(composeTurn([twice, pass('c')])(turn), (e: unknown) => e instanceof HubError && /greedy called next\(\) twice/.test(e.message));
  });

  it('a module handler before the bot takes the answer it waits for; other messages reach the bot', async () => {
    const lb = new LoopbackAdapter();
    let botTurns = 0;
    const bot: Responder = { respond: async (t) => (botTurns++, { kind: 'answer', text: `bot: ${t.text}` }) };
    const choice: TurnHandler = {
      name: 'renewal-choice',
      handle: async (t, next) => (/^[12]$/.test(t.msg.text) ? { ...emptyPlan(), replies: [{ author: 'system', text: `choice ${t.msg.text} noted` }] } : next()),
    };
    const t = await startTestHub({ adapters: [lb], responder: bot, turnHandlers: [choice] });
    after(() => t.stop());
    await lb.receive('c1', '2');
    await lb.receive('c1', 'hello');
    await lb.waitForSent(2);
    assert.deepEqual(lb.sent.map((s) => s.text), ['choice 2 noted', 'bot: hello']);
    assert.equal(botTurns, 1);
  });
});

describe('event subscribers', () => {
  it('every subscriber of a type gets each event once, after commit, with its typed payload', async () => {
    const lb = new LoopbackAdapter();
    const got: { sub: string; type: EventType; detail: string }[] = [];
    const t = await startTestHub({
      adapters: [lb],
      responder: echo,
      subscribe: (subs) => {
        subs
          .on('reports', 'bot.answered', async (e) => void got.push({ sub: 'reports', type: e.type, detail: String(e.payload.confidence) }))
          .on('reports', 'message.sent', async (e) => void got.push({ sub: 'reports', type: e.type, detail: e.payload.author }))
          .on('workflows', 'bot.answered', async (e) => void got.push({ sub: 'workflows', type: e.type, detail: e.payload.messageId }));
      },
    });
    after(() => t.stop());
    const m = await lb.receive('s1', 'hi');
    await t.hub.accept(m); // a redelivery: answered and announced once
    await lb.waitForSent(1);
    await until(() => got.length >= 3, 5000, 'three deliveries');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(got.map((g) => `${g.sub}:${g.type}`).sort(), ['reports:bot.answered', 'reports:message.sent', 'workflows:bot.answered']);
    assert.equal(got.find((g) => g.sub === 'reports' && g.type === 'bot.answered')?.detail, '0.9');
    assert.equal(got.find((g) => g.type === 'message.sent')?.detail, 'bot');
  });
});

for (const dialect of DIALECTS) {
  describe(`proactive sends (${dialect})`, () => {
    it('prefers the preferred channel, skips unreachable identities, tries the given order, and sends once per key', async () => {
      const tg = new LoopbackAdapter({ channel: 'tg' });
      const mail = new LoopbackAdapter({ channel: 'mail' });
      const t = await startTestHub({ dialect, adapters: [tg, mail], responder: echo });
      after(() => t.stop());
      await tg.receive('ann-tg', 'hi');
      await tg.waitForSent(1);
      const ident = await t.hub.storage.customers.findIdentity('tg', 'ann-tg');
      const customerId = ident!.customerId;
      const content = { text: 'Your plan renews on 1 Jan.' };

      const first = await t.hub.proactive.sendToCustomer({ customerId, content, kind: 'reminder', key: 'renew-1' });
      const again = await t.hub.proactive.sendToCustomer({ customerId, content, kind: 'reminder', key: 'renew-1' });
      await tg.waitForSent(2);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(first.channel, 'tg');
      assert.equal(again.duplicate, true);
      assert.equal(again.messageId, first.messageId);
      assert.deepEqual(tg.sentTo('ann-tg').map((m) => m.text), ['echo: hi', 'Your plan renews on 1 Jan.']);
      const queued = (await t.hub.storage.events.ofConversation(first.conversationId)).filter((e) => e.type === 'message.queued');
      assert.equal(queued.length, 1);
      assert.deepEqual(queued[0]?.payload, { messageId: first.messageId, kind: 'reminder', key: 'renew-1', channel: 'tg' });

      // The customer has no mail identity: a mail-only request is refused by name.
      await assert.rejects(
        t.hub.proactive.sendToCustomer({ customerId, content, kind: 'alert', key: 'mail-only', channels: ['mail'] }),
        (e: unknown) => e instanceof HubError && e.code === 'RECIPIENT_UNREACHABLE' && /tried \(mail\)/.test(e.message),
      );
      // Unreachable on tg: nothing left to try.
      await t.hub.storage.customers.markUnreachable('tg', 'ann-tg', 'blocked');
      await assert.rejects(t.hub.proactive.sendToCustomer({ customerId, content, kind: 'alert', key: 'after-block' }), /no reachable identity/);
    });

    it('falls back to the most recently used channel and opens a conversation when none is open', async () => {
      const tg = new LoopbackAdapter({ channel: 'tg' });
      const chat = new LoopbackAdapter({ channel: 'chat' });
      const t = await startTestHub({ dialect, adapters: [tg, chat], responder: echo });
      after(() => t.stop());
      await chat.receive('bo', 'hello from chat');
      await chat.waitForSent(1);
      const customerId = (await t.hub.storage.customers.findIdentity('chat', 'bo'))!.customerId;
      const [open] = await t.hub.storage.conversations.ofCustomer(customerId);
      const r = await t.hub.proactive.sendToCustomer({ customerId, content: { text: 'Risk alert: new login' }, kind: 'alert', key: 'risk-1', channels: ['tg', 'chat'] });
      assert.equal(r.channel, 'chat');
      assert.equal(r.conversationId, open!.id, 'the open conversation on that channel is reused');
      await chat.waitForSent(2);
      // Resolved: the next proactive message opens a new conversation.
      await t.hub.storage.conversations.update(open!.id, (await t.hub.storage.conversations.get(open!.id))!.version, { status: 'resolved', resolvedAt: Date.now() });
      const r2 = await t.hub.proactive.sendToCustomer({ customerId, content: { text: 'Second alert' }, kind: 'alert', key: 'risk-2' });
      assert.notEqual(r2.conversationId, open!.id);
      await chat.waitForSent(3);
      assert.equal(chat.sent.at(-1)?.text, 'Second alert');
    });
  });
}

describe('capabilities', () => {
  it('threads: a channel that declares threads keeps two threads apart; one that does not ignores thread keys', async () => {
    const mail = new LoopbackAdapter({ channel: 'mail', capabilities: { threads: true } });
    const plain = new LoopbackAdapter({ channel: 'plain' });
    const t = await startTestHub({ adapters: [mail, plain], responder: echo });
    after(() => t.stop());
    await mail.receive('dee', 'order 1', { threadKey: '<a@x>' });
    await mail.receive('dee', 'invoice', { threadKey: '<b@x>' });
    await mail.receive('dee', 'order 1 again', { threadKey: '<a@x>' });
    await plain.receive('eve', 'one', { threadKey: 'ignored-1' });
    await plain.receive('eve', 'two', { threadKey: 'ignored-2' });
    await mail.waitForSent(3);
    await plain.waitForSent(2);
    const dee = (await t.hub.storage.customers.findIdentity('mail', 'dee'))!.customerId;
    const convs = await t.hub.storage.conversations.ofCustomer(dee);
    assert.deepEqual(convs.map((c) => c.threadKey), ['<a@x>', '<b@x>']);
    assert.equal((await t.hub.storage.messages.ofConversation(convs[0]!.id)).filter((m) => m.author === 'customer').length, 2);
    const eve = (await t.hub.storage.customers.findIdentity('plain', 'eve'))!.customerId;
    assert.deepEqual((await t.hub.storage.conversations.ofCustomer(eve)).map((c) => c.threadKey), [null]);
  });

  it('attachments: sent as files where the channel can, else as name + link lines in the text', async () => {
    const files = new LoopbackAdapter({ channel: 'files', capabilities: { attachments: true } });
    const text = new LoopbackAdapter({ channel: 'text' });
    const t = await startTestHub({ adapters: [files, text], responder: echo });
    after(() => t.stop());
    const attachments = [{ name: 'invoice.pdf', mimeType: 'application/pdf', url: 'https://files.example/inv.pdf' }];
    for (const [lb, user] of [[files, 'f1'], [text, 't1']] as const) {
      await lb.receive(user, 'hi');
      await lb.waitForSent(1);
      const customerId = (await t.hub.storage.customers.findIdentity(lb.channel, user))!.customerId;
      await t.hub.proactive.sendToCustomer({ customerId, content: { text: 'Your invoice', attachments }, kind: 'notice', key: `inv-${user}` });
      await lb.waitForSent(2);
    }
    assert.deepEqual(files.sent[1]?.attachments, attachments);
    assert.equal(files.sent[1]?.text, 'Your invoice');
    assert.equal(text.sent[1]?.attachments, undefined);
    assert.equal(text.sent[1]?.text, 'Your invoice\ninvoice.pdf: https://files.example/inv.pdf');
  });
});
