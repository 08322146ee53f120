import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HubError } from '../../src/core/errors.js';
import type { OutboundMessage } from '../../src/core/types.js';
import {
  CASES,
  caseOf,
  clickButton,
  conversationOf,
  sendEvent,
  startSlackHub,
  threadPosts,
  threadReply,
  waitFor,
  type SlackHub,
} from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const blocked = new Set<string>();

describe('slack desk (HTTP Events API, real hub, fake Slack)', () => {
  let h: SlackHub;
  before(async () => {
    h = await startSlackHub({
      slack: { unclaimedReminderMinutes: 0.02 },
      loopback: {
        onSend: (m: OutboundMessage) => {
          if (m.author === 'agent' && blocked.has(m.ref.chatId)) {
            throw new HubError('RECIPIENT_UNREACHABLE', 'bot was blocked by the user', { retry: 'final' });
          }
        },
      },
    });
  });
  after(() => h.stop());

  it('escalation from web chat posts one case message with the case fields and buttons', async () => {
    await h.lb.receive('alice', 'where is my order 123?', { userName: 'Alice' });
    await h.lb.waitForSent(1);
    await h.lb.receive('alice', 'I want a human', { userName: 'Alice' });
    const { conversation, ref } = await caseOf(h, 'alice');
    assert.equal(ref.channel, CASES);
    assert.equal(conversation.status, 'waiting_agent');
    const posts = h.fake.ok('chat.postMessage').filter((c) => c.body.ts === undefined && c.body.thread_ts === undefined);
    assert.equal(posts.length, 1);
    const blocks = JSON.stringify(posts[0]?.body.blocks);
    for (const s of ['Alice', 'webchat', 'Customer asked for a person', 'Summary', 'where is my order 123', 'Suggested replies', 'Answer 1', 'Sentiment', 'Language']) {
      assert.ok(blocks.includes(s), `case message lacks ${s}`);
    }
    for (const id of ['sb_claim', 'sb_resolve', 'sb_return', 'sb_save']) assert.ok(blocks.includes(id), `no button ${id}`);
    const handover = h.lb.sentTo('alice').at(-1);
    assert.match(handover?.text ?? '', /person/);
    // The escalation event delivered to the desk again (past its receipt) posts nothing new.
    const escalated = (await h.t.hub.storage.events.ofConversation(conversation.id)).filter((e) => e.type === 'conversation.escalated');
    assert.equal(escalated.length, 1);
    assert.equal(await h.t.hub.subs.deliver('desk-slack', escalated[0]!), true);
    await sleep(300);
    assert.equal(h.fake.ok('chat.postMessage').filter((c) => c.body.thread_ts === undefined).length, 1);
  });

  it('relays customer messages to the thread tagged with the channel, and the bot stays silent', async () => {
    const { ref } = await caseOf(h, 'alice');
    const sentBefore = h.lb.sentTo('alice').length;
    await h.lb.receive('alice', 'it was due <!channel> yesterday', { userName: 'Alice' });
    const post = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('due')), 'relay');
    assert.match(post.text, /^\*\[webchat\]\* \*Alice\*: it was due &lt;!channel&gt; yesterday$/);
    await sleep(200);
    assert.equal(h.lb.sentTo('alice').length, sentBefore);
  });

  it('an agent reply in the thread reaches the customer under the agent name, claims the case and gets the delivered reaction', async () => {
    const { conversation, ref } = await caseOf(h, 'alice');
    h.fake.users.set('UDANA', { name: 'dana', real_name: 'Dana Scully', display_name: 'Dana' });
    const ev = threadReply('UDANA', 'Hi Alice, it ships <https://track.example/1|today>.', ref.ts);
    const r = await sendEvent(h, ev);
    assert.equal(r.status, 200);
    const sent = await waitFor(() => h.lb.sentTo('alice').find((m) => m.author === 'agent'), 'agent reply sent');
    assert.equal(sent.text, 'Hi Alice, it ships today (https://track.example/1).');
    assert.equal(sent.authorName, 'Dana');
    const c = await h.t.hub.storage.conversations.get(conversation.id);
    assert.equal(c?.status, 'agent');
    assert.equal(c?.assignee, 'UDANA');
    await waitFor(() => h.fake.ok('reactions.add').find((x) => x.body.timestamp === ev.ts && x.body.name === 'white_check_mark'), 'delivered reaction');
    await waitFor(() => h.fake.ok('chat.update').some((u) => u.body.ts === ref.ts && JSON.stringify(u.body.blocks).includes('Claimed by <@UDANA>')), 'case shows assignee');
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('claimed the case by replying')), 'claim note');

    // Slack retries the same event (and delivers it twice): still one message to the customer.
    const again = await sendEvent(h, ev, { retryNum: 1 });
    assert.equal(again.status, 200);
    await sendEvent(h, ev, { retryNum: 2 });
    await sleep(400);
    assert.equal(h.lb.sentTo('alice').filter((m) => m.author === 'agent').length, 1);
  });

  it('attachments: a platform http(s) url is linked (escaped), another scheme is not, a handle without server.publicUrl says why there is no link', async () => {
    const { ref } = await caseOf(h, 'alice');
    await h.lb.receive('alice', 'files attached', {
      userName: 'Alice',
      kind: 'media',
      attachments: [
        { name: 'scan<1>.pdf', mimeType: 'application/pdf', url: 'https://files.example/a?x=1&y=2' },
        { name: 'evil.html', mimeType: 'text/html', url: 'javascript:alert(1)' },
        { name: 'photo.jpg', mimeType: 'image/jpeg', fetchHandle: 'handle-1' },
      ],
    });
    const post = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('files attached')), 'relay with files');
    assert.ok(post.text.includes('\n:paperclip: <https://files.example/a?x=1&amp;y=2|scan&lt;1&gt;.pdf>'), post.text);
    assert.ok(post.text.includes('\n:paperclip: evil.html\n'), post.text);
    assert.ok(!post.text.includes('javascript:'), post.text);
    assert.ok(post.text.endsWith('\n:paperclip: photo.jpg _(no link: the hub has no server.publicUrl)_'), post.text);
  });

  it('an internal note is not relayed; the bot\'s own posts are ignored; edits are logged', async () => {
    const { ref } = await caseOf(h, 'alice');
    const before = h.lb.sentTo('alice').length;
    assert.equal((await sendEvent(h, threadReply('UDANA', 'Note: customer is a VIP', ref.ts))).status, 200);
    assert.equal((await sendEvent(h, threadReply('UBOT', 'bot says hi', ref.ts, { bot_id: 'BBOT' }))).status, 200);
    const edited = {
      type: 'message',
      subtype: 'message_changed',
      channel: CASES,
      ts: '1900000000.000001',
      message: { ts: '1900000000.000002', thread_ts: ref.ts, text: 'changed', user: 'UDANA' },
      previous_message: { ts: '1900000000.000002', thread_ts: ref.ts, text: 'old', user: 'UDANA' },
    };
    assert.equal((await sendEvent(h, edited)).status, 200);
    await sleep(400);
    assert.equal(h.lb.sentTo('alice').length, before);
    assert.ok(h.logs.some((l) => l.includes('was edited')));
  });

  it('a customer follow-up while an agent has the case is relayed and not answered by the bot', async () => {
    const { ref } = await caseOf(h, 'alice');
    const before = h.lb.sentTo('alice').length;
    await h.lb.receive('alice', 'thanks, one more question', { userName: 'Alice' });
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('one more question')), 'relay while agent');
    await sleep(200);
    assert.equal(h.lb.sentTo('alice').length, before);
  });

  it('unsigned, badly signed and stale requests get 401 and change nothing', async () => {
    const { ref } = await caseOf(h, 'alice');
    const count = () => h.lb.sentTo('alice').length;
    const before = count();
    const calls = h.fake.calls.length;
    const forged = () => threadReply('UEVE', 'forged reply', ref.ts);
    assert.equal((await sendEvent(h, forged(), { secret: null })).status, 401);
    assert.equal((await sendEvent(h, forged(), { secret: 'wrong-secret' })).status, 401);
    assert.equal((await sendEvent(h, forged(), { timestamp: Math.floor(Date.now() / 1000) - 600 })).status, 401);
    const c = await caseOf(h, 'alice');
    assert.equal((await clickButton(h, 'UEVE', 'sb_resolve', c.conversation.id, ref.ts, { secret: null })).status, 401);
    await sleep(300);
    assert.equal(count(), before);
    assert.equal(h.fake.calls.slice(calls).filter((x) => x.method === 'chat.postMessage' && String(x.body.text).includes('forged')).length, 0);
    assert.equal((await h.t.hub.storage.conversations.get(c.conversation.id))?.status, 'agent');
  });

  it('correctly signed requests dated more than 5 minutes ahead get 401 and change nothing; within the window they are accepted', async () => {
    const { conversation, ref } = await caseOf(h, 'alice');
    const now = Math.floor(Date.now() / 1000);
    const agentReplies = () => h.lb.sentTo('alice').filter((m) => m.author === 'agent');
    const before = agentReplies().length;
    for (const [ahead, text] of [[600, 'ten minutes ahead'], [365 * 86_400, 'a year ahead']] as const) {
      const r = await sendEvent(h, threadReply('UDANA', text, ref.ts), { timestamp: now + ahead });
      assert.equal(r.status, 401, `${text}: ${r.status}`);
      const click = await clickButton(h, 'UEVE', 'sb_return', conversation.id, ref.ts, { timestamp: now + ahead });
      assert.equal(click.status, 401, `${text} (button): ${click.status}`);
    }
    await sleep(300);
    assert.equal(agentReplies().length, before);
    assert.equal((await h.t.hub.storage.conversations.get(conversation.id))?.status, 'agent');
    assert.ok(h.logs.some((l) => l.includes('in the future')), 'the refusal is logged');
    // Slack's clock may be a little ahead or behind ours: both edges of the window pass.
    for (const [skew, text] of [[240, 'four minutes ahead'], [-240, 'four minutes behind']] as const) {
      const r = await sendEvent(h, threadReply('UDANA', text, ref.ts), { timestamp: now + skew });
      assert.equal(r.status, 200, `${text}: ${r.status}`);
      await waitFor(() => agentReplies().some((m) => m.text === text), `${text} relayed`);
    }
  });

  it('Claim, Resolve (CSAT question with buttons, answer posted and stored) and reopen', async () => {
    await h.lb.receive('bob', 'human please', { userName: 'Bob' });
    const { conversation, ref } = await caseOf(h, 'bob');
    assert.equal((await clickButton(h, 'UFOX', 'sb_claim', conversation.id, ref.ts)).status, 200);
    let c = await h.t.hub.storage.conversations.get(conversation.id);
    assert.equal(c?.assignee, 'UFOX');
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('<@UFOX> claimed the case')), 'claim note');
    assert.equal((await clickButton(h, 'UFOX', 'sb_resolve', conversation.id, ref.ts)).status, 200);
    c = await h.t.hub.storage.conversations.get(conversation.id);
    assert.equal(c?.status, 'resolved');
    const q = await waitFor(() => h.lb.sentTo('bob').find((m) => m.buttons?.length === 5), 'csat question');
    assert.match(q.text, /1.*5/);
    await waitFor(() => h.fake.ok('chat.update').some((u) => u.body.ts === ref.ts && JSON.stringify(u.body.blocks).includes('Resolved')), 'case resolved');
    await h.lb.receive('bob', '5', { kind: 'button', buttonValue: 'csat:5' });
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('5/5')), 'csat in thread');
    c = await h.t.hub.storage.conversations.get(conversation.id);
    assert.equal(c?.botState.csat, 5);
    assert.ok((await h.t.hub.storage.events.ofConversation(conversation.id)).some((e) => e.type === 'csat.given' && JSON.stringify(e.payload).includes('"score":5')));
    await waitFor(() => h.fake.ok('chat.update').some((u) => u.body.ts === ref.ts && JSON.stringify(u.body.blocks).includes('(5/5)')), 'case shows csat');

    // Within the reopen window a new message reopens the case in the same thread.
    await h.lb.receive('bob', 'actually it broke again', { userName: 'Bob' });
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('reopened')), 'reopen note');
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('broke again')), 'reopen relay');
    c = await h.t.hub.storage.conversations.get(conversation.id);
    assert.equal(c?.status, 'agent');
  });

  it('Return to bot gives the conversation back: the next message is answered by the bot', async () => {
    await h.lb.receive('carol', 'human!', { userName: 'Carol' });
    const { conversation, ref } = await caseOf(h, 'carol');
    assert.equal((await clickButton(h, 'UFOX', 'sb_return', conversation.id, ref.ts)).status, 200);
    assert.equal((await h.t.hub.storage.conversations.get(conversation.id))?.status, 'bot');
    await h.lb.receive('carol', 'hello again');
    await waitFor(() => h.lb.sentTo('carol').find((m) => m.text === 'bot: hello again'), 'bot answer');
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('back to the bot')), 'return note');
  });

  it('Save answer stores the answer as a pending answer in the database (once) and tells the agent it awaits approval', async () => {
    await h.lb.receive('dave', 'human', { userName: 'Dave' });
    const { conversation, ref } = await caseOf(h, 'dave');
    await h.lb.receive('dave', 'How do I reset my password?');
    await waitFor(() => threadPosts(h, ref.ts).some((p) => p.text.includes('reset my password')), 'relay');
    h.fake.users.set('UDANA', { name: 'dana', real_name: 'Dana Scully', display_name: 'Dana' });
    await sendEvent(h, threadReply('UDANA', 'Use the "Forgot password" link on the login page.', ref.ts));
    await waitFor(() => h.lb.sentTo('dave').find((m) => m.author === 'agent'), 'agent answer');
    await clickButton(h, 'UDANA', 'sb_save', conversation.id, ref.ts);
    const note = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('awaits an admin')), 'save note');
    const pending = async () => (await h.t.hub.storage.pendingAnswers.list('pending')).filter((a) => a.conversationId === conversation.id);
    const rows = await pending();
    assert.equal(rows.length, 1);
    const a = rows[0]!;
    assert.deepEqual(
      { question: a.question, answer: a.answer, locale: a.locale, by: a.proposedBy, name: a.proposedByName, status: a.status },
      { question: 'How do I reset my password?', answer: 'Use the "Forgot password" link on the login page.', locale: 'en', by: 'slack:UDANA', name: 'Dana', status: 'pending' },
    );
    assert.match(note.text, new RegExp(`^:books: <@UDANA> proposed the last answer for the knowledge base as \\*#${a.id}\\*\\. It awaits an admin's approval`));
    assert.equal(existsSync(join(h.dir, 'knowledge', 'learned.yaml')), false, 'the desk writes no knowledge file');
    // Saved again by another agent (or the action redelivered): still one row; the agent is told.
    await clickButton(h, 'UEVE', 'sb_save', conversation.id, ref.ts);
    const again = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('already proposed')), 'second save note');
    assert.equal(again.text, `:information_source: <@UEVE> this answer was already proposed as *#${a.id}* by <@UDANA>: awaiting an admin's approval.`);
    assert.deepEqual((await pending()).map((p) => p.id), [a.id]);
  });

  it('a failed delivery gets the failure reaction and a thread note with the reason', async () => {
    await h.lb.receive('erin', 'human', { userName: 'Erin' });
    const { ref } = await caseOf(h, 'erin');
    blocked.add('erin');
    const ev = threadReply('UDANA', 'Are you still there?', ref.ts);
    await sendEvent(h, ev);
    await waitFor(() => h.fake.ok('reactions.add').find((x) => x.body.timestamp === ev.ts && x.body.name === 'x'), 'failed reaction');
    const note = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('did not reach')), 'failure note');
    assert.match(note.text, /blocked/);
  });

  it('an unclaimed case gets a reminder mentioning the on-call group', async () => {
    await h.lb.receive('frank', 'human', { userName: 'Frank' });
    const { ref } = await caseOf(h, 'frank');
    const r = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('<!subteam^SONCALL>')), 'reminder', 8000);
    assert.match(r.text, /without an agent/);
  });

  it('a reply in an unknown thread is ignored with a log line', async () => {
    const total = h.lb.sent.length;
    const r = await sendEvent(h, threadReply('UDANA', 'hello?', '1111111111.000001'));
    assert.equal(r.status, 200);
    await sleep(200);
    assert.equal(h.lb.sent.length, total);
    assert.ok(h.logs.some((l) => l.includes('unknown thread')));
  });

  it('url verification is answered after the signature check', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'abc123', token: 'x' });
    const { postSlack } = await import('./helpers.js');
    const ok = await postSlack(h.eventsUrl, body, 'application/json');
    assert.equal(ok.status, 200);
    assert.match(ok.text, /abc123/);
    assert.equal((await postSlack(h.eventsUrl, body, 'application/json', { secret: null })).status, 401);
  });
});

describe('slack desk: rate limits, business hours, PostgreSQL', () => {
  it('round trip on PostgreSQL: case, agent reply, resolve', async () => {
    const h = await startSlackHub({ dialect: 'postgres', slack: { unclaimedReminderMinutes: 0 } });
    after(() => h.stop());
    await h.lb.receive('pg', 'human', { userName: 'Pat' });
    const { conversation, ref } = await caseOf(h, 'pg');
    await sendEvent(h, threadReply('UDANA', 'On it.', ref.ts));
    await waitFor(() => h.lb.sentTo('pg').find((m) => m.author === 'agent' && m.text === 'On it.'), 'agent reply');
    await clickButton(h, 'UDANA', 'sb_resolve', conversation.id, ref.ts);
    await waitFor(() => h.lb.sentTo('pg').find((m) => m.buttons?.length === 5), 'csat question');
    assert.equal((await h.t.hub.storage.conversations.get(conversation.id))?.status, 'resolved');
  });

  it('a 429 from chat.postMessage is honoured: the case is posted once after Retry-After', async () => {
    const h = await startSlackHub({ slack: { unclaimedReminderMinutes: 0 } });
    after(() => h.stop());
    h.fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await h.lb.receive('gina', 'human', { userName: 'Gina' });
    await caseOf(h, 'gina');
    const posts = h.fake.calls.filter((c) => c.method === 'chat.postMessage');
    assert.equal(posts.length, 2);
    assert.equal(posts[0]?.status, 429);
    assert.equal(posts.filter((p) => p.ok).length, 1);
    assert.ok((posts[1]?.at ?? 0) - (posts[0]?.at ?? 0) >= 900, 'waited for Retry-After');
  });

  it('outside business hours the customer is told when to expect an answer', async () => {
    const weekday = ((new Date().getUTCDay() + 6) % 7) + 1;
    const closedToday = [1, 2, 3, 4, 5, 6, 7].filter((d) => d !== weekday);
    const h = await startSlackHub({
      slack: { unclaimedReminderMinutes: 0, businessHours: { timezone: 'UTC', days: closedToday, open: '09:00', close: '18:00' } },
    });
    after(() => h.stop());
    await h.lb.receive('hank', '我要人工客服');
    await caseOf(h, 'hank');
    const msg = await waitFor(() => h.lb.sentTo('hank').find((m) => m.text.includes('非工作时间')), 'after-hours notice');
    assert.match(msg.text, /明天 09:00/);
  });
});
