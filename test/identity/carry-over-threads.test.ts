/**
 * Carry-over on a threaded chat channel (a Slack shared channel: `capabilities.threads`) and on a
 * channel without threads (docs/identity.md "An open escalation stays open"), through the hub's
 * pipeline (queues, storage, the turn chain): while a person holds the customer's case, a message
 * in a new thread, or on another channel, joins it and the answer goes back in that thread; once the
 * person hands back to the bot, messages route per channel and thread again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { mergeCustomers } from '../../src/core/customers/merge.js';
import type { Responder } from '../../src/core/responder.js';
import { DIALECTS } from '../helpers/env.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const LIN = { id: 'U-lin', name: 'Lin' };

for (const dialect of DIALECTS) {
  describe(`carry-over across threads and channels (${dialect})`, () => {
    let t: TestHub;
    const tg = new LoopbackAdapter({ channel: 'telegram' });
    const web = new LoopbackAdapter({ channel: 'webchat' });
    const shared = new LoopbackAdapter({ channel: 'shared', capabilities: { threads: true } });
    const bot: Responder = {
      respond: async (turn) =>
        /person/.test(turn.text) ? { kind: 'escalate', reason: 'asked_for_human', priority: 'normal', confidence: 1 } : { kind: 'answer', text: `Bot: ${turn.text}`, confidence: 0.9 },
    };
    const customerOf = async (channel: string, user: string) => (await until(() => t.hub.storage.customers.findIdentity(channel, user))).customerId;
    /** The stored inbound message with this text (waits until the pipeline stored it). */
    const stored = (text: string) =>
      until(async () => {
        for (const c of await t.hub.storage.conversations.ofCustomer(await customerOf('telegram', 'tg-1'))) {
          const m = (await t.hub.storage.messages.ofConversation(c.id, 100)).find((x) => x.direction === 'in' && x.text === text && x.processedAt !== null);
          if (m) return m;
        }
        return undefined;
      }, 10_000, `"${text}" processed`);

    before(async () => {
      t = await startTestHub({ dialect, responder: bot, adapters: [tg, web, shared] });
    });
    after(async () => {
      await t?.stop();
    });

    it('a new Slack-style thread and the web chat join the Telegram case; answers go back where each message came from; after hand-back, per channel again', async () => {
      await tg.receive('tg-1', 'I want a person');
      await tg.waitForSent(1);
      const tgCustomer = await customerOf('telegram', 'tg-1');
      const [esc] = await t.hub.storage.conversations.ofCustomer(tgCustomer);
      assert.equal(esc?.status, 'waiting_agent');
      const caseId = esc?.id ?? '';
      // The same person in a shared channel (thread t1) and in the web chat, each with the bot.
      await shared.receive('S-1', 'hello from slack', { threadKey: 't1', ref: { channel: 'shared', chatId: 'C-1', threadId: 't1' } });
      await shared.waitForSent(1);
      assert.equal(shared.sent[0]?.threadKey, 't1');
      await web.receive('v-1', 'hello from web');
      await web.waitForSent(1);
      const admin = { kind: 'token' as const, name: 'ops' };
      await mergeCustomers(t.hub.storage, { survivorId: tgCustomer, mergedId: await customerOf('shared', 'S-1'), actor: admin, reason: 'verified' });
      await mergeCustomers(t.hub.storage, { survivorId: tgCustomer, mergedId: await customerOf('webchat', 'v-1'), actor: admin, reason: 'verified' });
      assert.equal((await t.hub.storage.conversations.get(caseId))?.createdAt, esc?.createdAt, 'the merge leaves the case as it was');

      // A new thread (t2) and the web chat: both in the Telegram case, the bot silent.
      const botAnswers = async (id: string) => (await t.hub.storage.messages.causedBy(id)).filter((m) => m.author === 'bot');
      await shared.receive('S-1', 'new thread question', { threadKey: 't2', ref: { channel: 'shared', chatId: 'C-1', threadId: 't2' } });
      const inT2 = await stored('new thread question');
      assert.equal(inT2.conversationId, caseId);
      assert.equal(inT2.ref.threadKey, 't2', 'the message keeps its thread');
      assert.deepEqual(await botAnswers(inT2.id), []);
      // The console (the only desk here) got it relayed and tells the customer, once, in that thread.
      await shared.waitForSent(2);
      assert.equal(shared.sent[1]?.author, 'system');
      assert.match(shared.sent[1]?.text ?? '', /with our team/);
      assert.equal(shared.sent[1]?.threadKey, 't2');
      await web.receive('v-1', 'and from the web');
      const fromWeb = await stored('and from the web');
      assert.equal(fromWeb.conversationId, caseId);
      assert.deepEqual(await botAnswers(fromWeb.id), []);
      // The old thread too (its conversation is still open with the bot).
      await shared.receive('S-1', 'back in t1', { threadKey: 't1', ref: { channel: 'shared', chatId: 'C-1', threadId: 't1' } });
      const inT1 = await stored('back in t1');
      assert.equal(inT1.conversationId, caseId);
      assert.deepEqual(await botAnswers(inT1.id), []);

      // The agent answers: where the customer wrote last (t1), then after a t2 message in t2.
      await t.hub.agentActions.reply(caseId, LIN, 'Lin: looking', 'ev-a');
      await shared.waitForSent(3);
      assert.equal(shared.sent[2]?.text, 'Lin: looking');
      assert.equal(shared.sent[2]?.threadKey, 't1');
      await shared.receive('S-1', 'more in t2', { threadKey: 't2', ref: { channel: 'shared', chatId: 'C-1', threadId: 't2' } });
      await stored('more in t2');
      await t.hub.agentActions.reply(caseId, LIN, 'Lin: found it', 'ev-b');
      await shared.waitForSent(4);
      assert.equal(shared.sent[3]?.text, 'Lin: found it');
      assert.equal(shared.sent[3]?.threadKey, 't2');
      assert.deepEqual(web.sent.map((m) => m.text), ['Bot: hello from web'], 'nothing more in the web chat');
      assert.equal(tg.sent.length, 1, 'nothing of it on Telegram');

      // The person hands back to the bot: per channel and thread again.
      await t.hub.agentActions.returnToBot(caseId, LIN);
      await shared.receive('S-1', 'one more in t2', { threadKey: 't2', ref: { channel: 'shared', chatId: 'C-1', threadId: 't2' } });
      const after = await stored('one more in t2');
      assert.notEqual(after.conversationId, caseId);
      assert.equal((await t.hub.storage.conversations.get(after.conversationId))?.threadKey, 't2');
      await shared.waitForSent(5);
      assert.equal(shared.sent[4]?.text, 'Bot: one more in t2');
      assert.equal(shared.sent[4]?.threadKey, 't2');
      // Without a thread: the customer's latest conversation without a thread key, as before (here the
      // web chat's, newer than the case), with the bot, answered on Telegram.
      await tg.receive('tg-1', 'thanks');
      const thanks = await stored('thanks');
      assert.notEqual(thanks.conversationId, caseId);
      assert.equal((await t.hub.storage.conversations.get(thanks.conversationId))?.channel, 'webchat');
      await tg.waitForSent(2);
      assert.equal(tg.sent[1]?.text, 'Bot: thanks');
    });
  });
}
