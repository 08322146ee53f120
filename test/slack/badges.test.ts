/**
 * Channel badges in the Slack case (issue #16, docs/identity.md "Shared history"): once a customer
 * is linked across channels, the case message's "Last messages" show their history on every channel
 * with each message's badge (`[Web chat]`, `[Telegram]`), and the relays in the thread carry the
 * badge of the channel the customer wrote on. A customer on one channel keeps the plain format.
 * Fake Slack API on loopback, real hub, loopback channels named `webchat` and `telegram`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { channelBadge } from '../../src/adapters/slack/blocks.js';
import { mergeCustomers } from '../../src/core/customers/merge.js';
import { caseOf, startSlackHub, threadPosts, waitFor, type SlackHub } from './helpers.js';

/** The "Last messages" section of the latest case message posted or updated for the customer `name`. */
function lastMessagesOf(h: SlackHub, name: string): string {
  const calls = [...h.fake.ok('chat.postMessage'), ...h.fake.ok('chat.update')].filter((c) => c.body.thread_ts === undefined && String(c.body.text).startsWith(`Case: ${name} `)).sort((a, b) => a.at - b.at);
  const blocks = (calls.at(-1)?.body.blocks ?? []) as { text?: { text?: string } }[];
  return blocks.map((b) => b.text?.text ?? '').find((t) => t.startsWith('*Last messages*')) ?? '';
}

describe('channel badges in the Slack case history', () => {
  let h: SlackHub;
  const tg = new LoopbackAdapter({ channel: 'telegram' });

  before(async () => {
    h = await startSlackHub({ adapters: [tg], slack: { unclaimedReminderMinutes: 0 } });
  });
  after(async () => {
    await h.stop();
  });

  it('names the known channels and escapes an unknown one', () => {
    assert.deepEqual(['telegram', 'email', 'webchat', 'wechat', 'slack'].map(channelBadge), ['[Telegram]', '[Email]', '[Web chat]', '[WeChat]', '[Slack]']);
    assert.equal(channelBadge('<!here>'), '[&lt;!here&gt;]');
  });

  it('a linked customer: every line of the case history and every relay carries its channel badge', async () => {
    await tg.receive('tg-1', 'my parcel is late', { userName: 'Mei' });
    await tg.waitForSent(1);
    await h.lb.receive('web-1', 'hello from the shop', { userName: 'Mei' });
    await h.lb.waitForSent(1);
    const web = await h.t.hub.storage.customers.findIdentity('webchat', 'web-1');
    const tel = await h.t.hub.storage.customers.findIdentity('telegram', 'tg-1');
    assert.ok(web && tel);
    await mergeCustomers(h.t.hub.storage, { survivorId: web.customerId, mergedId: tel.customerId, actor: { kind: 'agent', name: 'test' }, reason: 'same person' });

    await h.lb.receive('web-1', 'I want a human', { userName: 'Mei' });
    const { ref } = await caseOf(h, 'web-1', 'webchat');
    const history = await waitFor(() => lastMessagesOf(h, 'Mei') || undefined, 'the case history');
    assert.match(history, />\*\[Telegram\]\* \*Mei\*: my parcel is late/);
    assert.match(history, />\*\[Web chat\]\* \*Mei\*: hello from the shop/);
    assert.match(history, />\*\[Web chat\]\* \*Mei\*: I want a human/);
    assert.doesNotMatch(history, /_\(webchat\)_/);

    // The customer writes again on Telegram: the message comes to the same case, badged.
    await tg.receive('tg-1', 'any news?', { userName: 'Mei' });
    const relay = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('any news?')), 'the Telegram relay');
    assert.equal(relay.text, '*[Telegram]* *Mei*: any news?');
    await h.lb.receive('web-1', 'still waiting', { userName: 'Mei' });
    const relay2 = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('still waiting')), 'the web chat relay');
    assert.equal(relay2.text, '*[Web chat]* *Mei*: still waiting');
  });

  it('a customer on one channel: no badges, the history and relays as before', async () => {
    await h.lb.receive('web-2', 'I want a human', { userName: 'Ola' });
    const { ref } = await caseOf(h, 'web-2', 'webchat');
    const history = await waitFor(() => lastMessagesOf(h, 'Ola') || undefined, 'the case history');
    assert.match(history, />\*Ola\* _\(webchat\)_: I want a human/);
    assert.doesNotMatch(history, /\[Web chat\]/);
    await h.lb.receive('web-2', 'hello?', { userName: 'Ola' });
    const relay = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('hello?')), 'the relay');
    assert.equal(relay.text, '*[webchat]* *Ola*: hello?');
  });
});
