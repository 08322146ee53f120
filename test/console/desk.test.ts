/**
 * The console as the only desk (no Slack): the waiting notice, once per escalation and never to an
 * auto-reply; live updates over SSE; the demo order API behind the demo knowledge base.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { createResponder } from '../../src/hub/bot.js';
import { CONSOLE_SUBSCRIBER } from '../../src/console/live.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
// @ts-expect-error a plain ESM script without types
import { startDemoOrders, DEMO_ORDERS_PORT } from '../../scripts/demo-orders.mjs';

const AGENT = generateToken();

async function conversationOf(t: TestHub, user: string) {
  const ident = await until(() => t.hub.storage.customers.findIdentity('loopback', user), 10_000, `identity ${user}`);
  return until(async () => (await t.hub.storage.conversations.ofCustomer(ident.customerId)).at(-1));
}

describe('the console as the only desk', () => {
  let t: TestHub;
  const lb = new LoopbackAdapter();
  before(async () => {
    t = await startTestHub({ adapters: [lb], config: { api: { tokens: [{ name: 'desk', roles: ['agent'], sha256: hashToken(AGENT) }] } } });
  });
  after(() => t.stop());

  it('a waiting customer hears once that a person will answer; an auto-reply hears nothing', async () => {
    await lb.receive('w1', 'help me'); // the default bot hands everything over
    const conv = await until(async () => ((await conversationOf(t, 'w1')).status === 'waiting_agent' ? conversationOf(t, 'w1') : undefined));
    await until(() => lb.sentTo('w1').length === 1 || undefined);
    // The bot's turn is nothing for the console (it hears only relayed messages): no console job for it.
    const first = (await t.hub.storage.events.ofConversation(conv.id)).find((e) => e.type === 'message.received');
    assert.ok(first);
    assert.ok(!t.hub.subs.subscribersOf(first.type, first.payload).includes(CONSOLE_SUBSCRIBER));
    assert.ok(t.hub.subs.subscribersOf(first.type, { ...(first.payload as object), toAgent: true }).includes(CONSOLE_SUBSCRIBER), 'a relayed message is for the console');
    const auto = await lb.receive('w1', 'Out of office', { noReply: 'auto-reply (Auto-Submitted)' });
    const autoRow = await until(async () => {
      const r = await t.hub.storage.messages.byKey(`loopback:${auto.platformMessageId}`);
      return r?.processedAt ? r : undefined;
    });
    await until(async () => (await t.hub.storage.events.ofConversation(conv.id)).some((e) => e.type === 'message.received' && e.dispatchedAt !== null && (e.payload as { messageId?: string }).messageId === autoRow.id) || undefined);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(lb.sentTo('w1').length, 1, 'the auto-reply is not answered');
    await lb.receive('w1', 'hello?');
    await until(() => lb.sentTo('w1').length === 2 || undefined, 10_000, 'the waiting notice');
    await lb.receive('w1', 'anyone?');
    await until(async () => (await t.hub.storage.messages.ofConversation(conv.id)).filter((m) => m.author === 'customer' && m.processedAt !== null).length === 4 || undefined);
    await new Promise((r) => setTimeout(r, 300));
    const texts = lb.sentTo('w1').map((m) => m.text);
    assert.equal(texts.length, 2, JSON.stringify(texts));
    assert.match(texts[1] ?? '', /A person will answer you here/);
    // Once claimed, nothing more is said for the person.
    await t.hub.agentActions.claim(conv.id, { id: 'console:Lin', name: 'Lin' });
    await lb.receive('w1', 'still there?');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(lb.sentTo('w1').length, 2);
  });

  it('the conversation view: history with files (links the agent can open), profile, identities', async () => {
    await lb.receive('f1', 'here is the photo', { attachments: [{ name: 'broken.jpg', mimeType: 'image/jpeg', url: 'https://files.example/broken.jpg' }, { name: 'note.txt', mimeType: 'text/plain' }] });
    const conv = await until(async () => ((await conversationOf(t, 'f1')).status === 'waiting_agent' ? conversationOf(t, 'f1') : undefined));
    const res = await fetch(`${t.hub.url}/console/api/conversations/${conv.id}?lang=en`, { headers: { authorization: `Bearer ${AGENT}` } });
    assert.equal(res.status, 200);
    const v = (await res.json()) as { history: { text: string; attachments: { name: string; url: string | null }[] }[]; identities: { channel: string; id: string }[]; summary: string };
    const m = v.history.find((x) => x.text === 'here is the photo');
    assert.deepEqual(m?.attachments.map((a) => [a.name, a.url]), [['broken.jpg', 'https://files.example/broken.jpg'], ['note.txt', null]]);
    assert.deepEqual(v.identities.map((i) => [i.channel, i.id]), [['loopback', 'f1']]);
    assert.match(v.summary, /here is the photo/);
    const missing = await fetch(`${t.hub.url}/console/api/conversations/nope`, { headers: { authorization: `Bearer ${AGENT}` } });
    assert.equal(missing.status, 404);
  });

  it('/console/events streams what changes, for any gateway (through the bus)', async () => {
    const ac = new AbortController();
    const res = await fetch(`${t.hub.url}/console/events`, { headers: { authorization: `Bearer ${AGENT}` }, signal: ac.signal });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    let seen = '';
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        seen += Buffer.from(value).toString('utf8');
        if (seen.includes('conversation.escalated')) return;
      }
    })();
    await until(() => seen.includes('event: hello') || undefined);
    await lb.receive('live-1', 'I need help');
    await Promise.race([read, new Promise((_, rej) => setTimeout(() => rej(new Error(`no event in: ${seen}`)), 10_000))]);
    const conv = await conversationOf(t, 'live-1');
    assert.match(seen, new RegExp(`"type":"conversation.escalated","conversationId":"${conv.id}"`));
    ac.abort();
  });
});

describe('the demo: npm start serves the order API the demo knowledge base calls', () => {
  let t: TestHub;
  let orders: { close(): void } | undefined;
  const lb = new LoopbackAdapter();
  before(async () => {
    process.env.SHOP_API_TOKEN = 'demo-test-token';
    orders = await startDemoOrders({ token: 'demo-test-token' });
    if (orders) t = await startTestHub({ adapters: [lb], responderFactory: createResponder });
  });
  after(async () => {
    orders?.close();
    await t?.stop();
  });

  it('a demo order number is answered from the API; an unknown one goes to a person', async (ctx) => {
    if (!orders) return ctx.skip(`port ${DEMO_ORDERS_PORT} is taken (npm start running?)`);
    await lb.receive('o1', 'where is my order 10001001');
    await until(() => lb.sentTo('o1').length >= 1 || undefined);
    assert.match(lb.sentTo('o1')[0]?.text ?? '', /Order 10001001 is shipped, in transit, expected delivery: 2026-12-09/);
    await lb.receive('o2', '我的订单到哪了 12345678');
    const conv = await until(async () => ((await conversationOf(t, 'o2')).status === 'waiting_agent' ? conversationOf(t, 'o2') : undefined), 10_000, 'hand-over');
    assert.equal(conv.escalationReason, 'action_failed');
  });
});
