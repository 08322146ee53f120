/**
 * Two desks over the same agent actions: with Slack configured, what an agent does in the console
 * shows in the Slack case thread, and what one does in Slack shows in the console (its API).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { caseOf, sendEvent, startSlackHub, threadPosts, threadReply, waitFor, type SlackHub } from '../slack/helpers.js';

const AGENT = generateToken();

describe('the console beside the Slack desk', () => {
  let h: SlackHub;
  before(async () => {
    h = await startSlackHub({ config: { api: { tokens: [{ name: 'desk', roles: ['agent'], sha256: hashToken(AGENT) }] } } });
  });
  after(() => h?.stop());

  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${h.t.hub.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${AGENT}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it('claimed, answered, noted and resolved in the console: each shows once in the Slack thread', async () => {
    await h.lb.receive('cara', 'I want a human', { userName: 'Cara' });
    const { conversation, ref } = await caseOf(h, 'cara');
    const inbox = (await (await call('GET', '/console/api/inbox')).json()) as { items: { id: string }[] };
    assert.ok(inbox.items.some((i) => i.id === conversation.id), 'the Slack case is in the console inbox too');
    const base = `/console/api/conversations/${conversation.id}`;
    assert.equal((await call('POST', `${base}/claim`)).status, 200);
    assert.equal((await call('POST', `${base}/reply`, { text: 'Hello Cara, looking now.', key: 'r1' })).status, 200);
    assert.equal((await call('POST', `${base}/reply`, { text: 'Hello Cara, looking now.', key: 'r1' })).status, 200); // a resend: sent once
    assert.equal((await call('POST', `${base}/note`, { text: 'VIP customer', key: 'n1' })).status, 200);
    assert.equal((await call('POST', `${base}/resolve`)).status, 200);
    const want = [/Claimed on another desk by \*desk \(console\)\*/, /\*desk \(console\)\* replied to the customer: Hello Cara, looking now\./, /Note by \*desk \(console\)\*: VIP customer/, /Resolved on another desk/];
    await waitFor(() => want.every((re) => threadPosts(h, ref.ts).some((p) => re.test(p.text))), 'the console actions in the thread');
    const posts = threadPosts(h, ref.ts).map((p) => p.text);
    for (const re of want) assert.equal(posts.filter((p) => re.test(p)).length, 1, `${re} once in ${JSON.stringify(posts)}`);
    assert.equal(h.lb.sentTo('cara').filter((m) => m.author === 'agent').length, 1);
    // The case message itself was refreshed (chat.update) after the console's changes.
    assert.ok(h.fake.ok('chat.update').some((c) => c.body.ts === ref.ts));
  });

  it('answered in Slack: the console shows the reply and the claim', async () => {
    await h.lb.receive('dev', 'I want a human', { userName: 'Dev' });
    const { conversation, ref } = await caseOf(h, 'dev');
    h.fake.users.set('UDANA', { name: 'dana', real_name: 'Dana Scully', display_name: 'Dana' });
    assert.equal((await sendEvent(h, threadReply('UDANA', 'Hi Dev, on it.', ref.ts))).status, 200);
    const view = await waitFor(async () => {
      const v = (await (await call('GET', `/console/api/conversations/${conversation.id}`)).json()) as { conversation: { assignee: string | null }; history: { author: string; text: string }[] };
      return v.history.some((m) => m.author === 'agent' && m.text === 'Hi Dev, on it.') && v;
    }, 'the Slack reply in the console');
    assert.equal(view.conversation.assignee, 'UDANA');
    // Nothing mirrored back to Slack for the desk's own reply.
    assert.equal(threadPosts(h, ref.ts).filter((p) => /another desk|replied to the customer/.test(p.text)).length, 0);
  });
});
