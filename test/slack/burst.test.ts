import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { CASES, caseOf, clickButton, sendEvent, startSlackHub, threadPosts, threadReply, waitFor } from './helpers.js';

// The bug this guards: a burst of customer messages right after a hand-over raced the case post, two
// case messages were posted for one escalation and an agent's reply in the first thread was dropped.
describe('slack desk: a hand-over followed by a burst of messages', () => {
  it('posts exactly one case per escalation and every agent reply reaches the customer (3 rounds)', { timeout: 60_000 }, async () => {
    const h = await startSlackHub({ config: { escalation: { reopenWindowMinutes: 0 } } });
    after(() => h.stop());
    const casePosts = () => h.fake.ok('chat.postMessage').filter((c) => c.body.thread_ts === undefined && c.body.channel === CASES);
    for (let round = 1; round <= 3; round++) {
      await h.lb.receive('burst', `round ${round}: I want a human`, { userName: 'Bea' });
      for (let i = 1; i <= 7; i++) await h.lb.receive('burst', `round ${round} message ${i}`, { userName: 'Bea' });
      const { conversation, ref } = await caseOf(h, 'burst');
      await waitFor(() => threadPosts(h, ref.ts).filter((p) => p.text.includes(`round ${round} message`)).length === 7, `7 relays in round ${round}`);
      assert.equal(casePosts().length, round, `one case message per escalation (round ${round})`);
      const relayed = threadPosts(h, ref.ts).filter((p) => p.text.includes(`round ${round} message`));
      assert.equal(new Set(relayed.map((p) => p.text)).size, 7, 'each message relayed once');

      const reply = `Hello Bea, round ${round} answer`;
      assert.equal((await sendEvent(h, threadReply('UAGENT', reply, ref.ts))).status, 200);
      await waitFor(() => h.lb.sentTo('burst').some((m) => m.author === 'agent' && m.text === reply), `agent reply of round ${round}`);
      assert.equal(h.logs.some((l) => l.includes('unknown thread')), false);
      assert.equal((await clickButton(h, 'UAGENT', 'sb_resolve', conversation.id, ref.ts)).status, 200);
      await waitFor(async () => (await h.t.hub.storage.conversations.get(conversation.id))?.status === 'resolved', 'resolved');
      // Answer the CSAT question so the next round starts a new conversation with the bot.
      await waitFor(() => h.lb.sentTo('burst').some((m) => m.buttons?.length === 5 && m.conversationId === conversation.id), 'csat question');
    }
    assert.equal(casePosts().length, 3);
    assert.equal(h.lb.sentTo('burst').filter((m) => m.author === 'agent').length, 3);
  });

  it('the same event handled by two workers at once posts once (the other waits and then finds the post)', async () => {
    const h = await startSlackHub();
    after(() => h.stop());
    await h.lb.receive('twice', 'I want a human', { userName: 'Tess' });
    const { conversation, ref } = await caseOf(h, 'twice');
    await h.lb.receive('twice', 'are you there?', { userName: 'Tess' });
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('are you there')), 'relay');
    // The hand-over message itself was never relayed (it opened the case): relay it from two workers at once.
    const first = (await h.t.hub.storage.events.ofConversation(conversation.id)).find((e) => e.type === 'message.received')!;
    const ev = { ...first, payload: { ...(first.payload as object), toAgent: true } };
    const both = await Promise.allSettled([h.t.hub.subs.deliver('desk-slack', ev), h.t.hub.subs.deliver('desk-slack', ev)]);
    assert.ok(both.some((r) => r.status === 'fulfilled'));
    for (const r of both) if (r.status === 'rejected') assert.match(String(r.reason), /being made by another worker/);
    await h.t.hub.subs.deliver('desk-slack', ev); // the waiting one, retried: finds the post
    assert.equal(threadPosts(h, ref.ts).filter((p) => p.text.includes('I want a human')).length, 1);
    assert.equal(threadPosts(h, ref.ts).filter((p) => p.text.includes('are you there')).length, 1);
  });
});
