import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BotDecision, ResponderTurn } from '../../src/core/responder.js';
import {
  CASES,
  HumanResponder,
  caseOf,
  postSlack,
  sendEvent,
  slackTs,
  startSlackHub,
  threadPosts,
  threadReply,
  waitFor,
  type SlackHub,
} from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SHARED = 'CSHARED1';
const OTHER = 'COTHER01';
const ACME = 'TACME';
const BETA = 'TBETA';
/** Our own workspace: the envelope's team_id in helpers.eventBody. */
const OURS = 'T1';

/** HumanResponder, plus choices as buttons for "plan" questions. */
class ChoiceResponder extends HumanResponder {
  override async respond(turn: ResponderTurn): Promise<BotDecision> {
    if (turn.kind === 'text' && /plan/.test(turn.text)) {
      this.turns.push(turn);
      return { kind: 'clarify', text: 'Which plan?', buttons: [{ label: 'Basic', value: 'plan:basic' }, { label: 'Pro <b>', value: 'plan:pro' }] };
    }
    return super.respond(turn);
  }
}

/** A customer's message in the shared channel (top level, or in `thread`). */
function shared(user: string, team: string, text: string, thread?: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const ts = slackTs();
  return { type: 'message', channel: SHARED, channel_type: 'channel', user, team, user_team: team, text, ts, ...(thread ? { thread_ts: thread } : {}), ...extra };
}

function dm(user: string, team: string, text: string, channel = `D${user.slice(1)}`): Record<string, unknown> {
  return { type: 'message', channel, channel_type: 'im', user, team, text, ts: slackTs() };
}

/** Customer-side posts (not the desk's) the fake Slack received in `channel`. */
function postsIn(h: SlackHub, channel: string) {
  return h.fake.ok('chat.postMessage').filter((c) => c.body.channel === channel);
}

describe('slack as a customer channel (DMs and a shared channel, one transport with the desk, fake Slack)', () => {
  let h: SlackHub;
  let bot: ChoiceResponder;
  before(async () => {
    bot = new ChoiceResponder();
    h = await startSlackHub({
      responder: bot,
      slack: { unclaimedReminderMinutes: 0, customers: { directMessages: true, channels: [SHARED] } },
    });
    h.fake.teams.set(ACME, 'Acme Corp');
    h.fake.teams.set(OURS, 'Our Company');
    h.fake.users.set('UALICE', { name: 'alice', real_name: 'Alice Chen', display_name: 'Alice', email: 'alice@acme.example', team_id: ACME });
  });
  after(() => h.stop());

  it('a DM is answered by the bot in the DM; the customer is team + user, with name, email and company from users.info / team.info', async () => {
    const ev = dm('UALICE', ACME, 'hello, where is my invoice?');
    assert.equal((await sendEvent(h, ev)).status, 200);
    const reply = await waitFor(() => postsIn(h, 'DALICE')[0], 'bot reply in the DM');
    assert.equal(reply.body.text, 'bot: hello, where is my invoice?');
    assert.equal(reply.body.thread_ts, undefined);
    const ident = await h.t.hub.storage.customers.findIdentity('slack', `${ACME}:UALICE`);
    assert.ok(ident);
    assert.equal(ident.displayName, 'Alice (Acme Corp)');
    assert.equal(ident.lastRef.chatId, 'DALICE');
    assert.equal(ident.lastRef.extra?.email, 'alice@acme.example');
    assert.equal(ident.lastRef.extra?.company, 'Acme Corp');
    const msg = await h.t.hub.storage.messages.byKey(`slack:DALICE:${String(ev.ts)}`);
    assert.equal(msg?.text, 'hello, where is my invoice?');
  });

  it('a shared-channel question is answered in its thread', async () => {
    const ev = shared('UBOB', ACME, 'how do I reset my password?');
    assert.equal((await sendEvent(h, ev)).status, 200);
    const reply = await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === ev.ts), 'reply in the thread');
    assert.equal(reply.body.text, 'bot: how do I reset my password?');
    const conv = (await h.t.hub.storage.conversations.ofCustomer((await h.t.hub.storage.customers.findIdentity('slack', `${ACME}:UBOB`))!.customerId)).at(-1);
    assert.equal(conv?.threadKey, `${SHARED}:${String(ev.ts)}`);
  });

  it("two customers' questions in one channel stay apart, and a reply in a thread continues that thread's conversation", async () => {
    const carol = shared('UCAROL', BETA, 'question one from carol');
    const dave = shared('UDAVE', ACME, 'question two from dave');
    await sendEvent(h, carol);
    await sendEvent(h, dave);
    await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === carol.ts), 'carol answered in her thread');
    await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === dave.ts), 'dave answered in his thread');
    const follow = shared('UCAROL', BETA, 'and a follow-up', String(carol.ts));
    await sendEvent(h, follow);
    await waitFor(() => postsIn(h, SHARED).filter((c) => c.body.thread_ts === carol.ts).length === 2 || undefined, 'follow-up answered in the same thread');
    const convs = async (user: string, team: string) => {
      const id = await h.t.hub.storage.customers.findIdentity('slack', `${team}:${user}`);
      return h.t.hub.storage.conversations.ofCustomer(id!.customerId);
    };
    const [c1, c2] = [await convs('UCAROL', BETA), await convs('UDAVE', ACME)];
    assert.equal(c1.length, 1, 'the follow-up continued carol\'s conversation');
    assert.equal(c2.length, 1);
    assert.notEqual(c1[0]?.id, c2[0]?.id);
    const texts = (await h.t.hub.storage.messages.ofConversation(c1[0]!.id, 10)).map((m) => m.text);
    assert.ok(texts.includes('and a follow-up') && !texts.includes('question two from dave'), texts.join(' | '));
  });

  it('choices are Block Kit buttons; a press comes back as the answer', async () => {
    const ev = shared('UERIN', ACME, 'which plan fits us?');
    await sendEvent(h, ev);
    const q = await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === ev.ts), 'question with buttons');
    const blocks = JSON.stringify(q.body.blocks);
    assert.ok(blocks.includes('"action_id":"sbc_0"') && blocks.includes('"value":"plan:pro"'), blocks);
    assert.ok(blocks.includes('Pro &lt;b&gt;'), 'labels are escaped');
    const payload = {
      type: 'block_actions',
      team: { id: OURS },
      user: { id: 'UERIN', username: 'erin', team_id: ACME },
      channel: { id: SHARED },
      container: { type: 'message', channel_id: SHARED, message_ts: '1700009999.000001', thread_ts: ev.ts },
      message: { type: 'message', ts: '1700009999.000001', thread_ts: ev.ts },
      actions: [{ type: 'button', action_id: 'sbc_1', block_id: 'sbc_choices_0', value: 'plan:pro', action_ts: slackTs(), text: { type: 'plain_text', text: 'Pro <b>' } }],
    };
    const r = await postSlack(h.eventsUrl, `payload=${encodeURIComponent(JSON.stringify(payload))}`, 'application/x-www-form-urlencoded');
    assert.equal(r.status, 200);
    const turn = await waitFor(() => bot.turns.find((t) => t.kind === 'button' && t.buttonValue === 'plan:pro'), 'the press reaches the bot');
    assert.equal(turn.channel, 'slack');
    await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === ev.ts && c.body.text === 'bot: Pro &lt;b&gt;'), 'answer to the press in the thread');
  });

  it("an escalation from the shared channel goes to the desk, and the agent's answer reaches the customer's thread", async () => {
    const ev = shared('UFRANK', ACME, 'I need a human please');
    await sendEvent(h, ev);
    const { conversation, ref } = await caseOf(h, `${ACME}:UFRANK`, 'slack');
    assert.equal(ref.channel, CASES);
    assert.equal(conversation.status, 'waiting_agent');
    const handover = await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === ev.ts), 'handover notice in the thread');
    assert.match(String(handover.body.text), /person|human|agent/i);
    h.fake.users.set('UDANA', { name: 'dana', real_name: 'Dana Scully', display_name: 'Dana' });
    assert.equal((await sendEvent(h, threadReply('UDANA', 'Hi Frank, I am on it.', ref.ts))).status, 200);
    const answer = await waitFor(() => postsIn(h, SHARED).find((c) => String(c.body.text).includes('I am on it')), 'agent answer in the shared thread');
    assert.equal(answer.body.thread_ts, ev.ts);
    assert.equal(answer.body.text, 'Dana:\nHi Frank, I am on it.');
    // The customer's follow-up in the thread is relayed to the case, not answered by the bot.
    await sendEvent(h, shared('UFRANK', ACME, 'thanks, order 42', String(ev.ts)));
    await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('order 42')), 'relay to the case thread');
    // Nothing the desk posted in the case channel became a customer conversation.
    assert.equal(postsIn(h, CASES).filter((c) => String(c.body.text).startsWith('bot:')).length, 0);
  });

  it('a member of our own workspace speaking in the shared channel is ignored (logged); a message in the case channel never becomes a conversation', async () => {
    const before = postsIn(h, SHARED).length;
    await sendEvent(h, shared('UOURS', OURS, 'our account manager says hi'));
    await sendEvent(h, { type: 'message', channel: CASES, user: 'UZED', team: ACME, text: 'top-level in the case channel', ts: slackTs() });
    await sleep(500);
    assert.equal(postsIn(h, SHARED).length, before);
    assert.equal(await h.t.hub.storage.customers.findIdentity('slack', `${OURS}:UOURS`), undefined);
    assert.equal(await h.t.hub.storage.customers.findIdentity('slack', `${ACME}:UZED`), undefined);
    assert.ok(h.logs.some((l) => l.includes('member of our own workspace')), 'logged');
  });

  it('retries of one message (same event, and the same message under another event id) are answered once', async () => {
    const ev = shared('UGINA', ACME, 'is the API down?');
    const id = `EvRetry${String(ev.ts)}`;
    assert.equal((await sendEvent(h, ev, {}, id)).status, 200);
    assert.equal((await sendEvent(h, ev, { retryNum: 1 }, id)).status, 200);
    assert.equal((await sendEvent(h, ev)).status, 200);
    await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === ev.ts), 'answer');
    await sleep(600);
    assert.equal(postsIn(h, SHARED).filter((c) => c.body.thread_ts === ev.ts).length, 1);
  });

  it('bad input: bot messages, edits without new text, deletions, other channels are logged and not answered; a file without text is kept', async () => {
    const before = postsIn(h, SHARED).length;
    const root = shared('UHANK', ACME, 'first');
    await sendEvent(h, root);
    await waitFor(() => postsIn(h, SHARED).find((c) => c.body.thread_ts === root.ts), 'answer to first');
    const inputs: Record<string, unknown>[] = [
      // Our own reply echoed back, and another app's post.
      { type: 'message', channel: SHARED, bot_id: 'BBOT', user: 'UBOT', text: 'bot: first', ts: slackTs(), thread_ts: root.ts },
      { type: 'message', subtype: 'bot_message', channel: SHARED, bot_id: 'BOTHER', text: 'CI passed', ts: slackTs() },
      // A link preview added to the customer's message (no text edit) and a deletion.
      { type: 'message', subtype: 'message_changed', channel: SHARED, ts: slackTs(), message: { user: 'UHANK', text: 'first', ts: root.ts }, previous_message: { user: 'UHANK', text: 'first', ts: root.ts } },
      { type: 'message', subtype: 'message_deleted', channel: SHARED, ts: slackTs(), deleted_ts: root.ts, previous_message: { user: 'UHANK', text: 'first', ts: root.ts } },
      { type: 'message', subtype: 'channel_join', channel: SHARED, user: 'UNEW', team: ACME, text: '<@UNEW> has joined the channel', ts: slackTs() },
    ];
    for (const ev of inputs) assert.equal((await sendEvent(h, ev)).status, 200);
    await sleep(600);
    assert.equal(postsIn(h, SHARED).length, before + 1, 'no answer to any of them (no loop)');
    assert.ok(h.logs.some((l) => l.includes('deleted a message; the hub keeps what it received')));
    // A file share without text: kept as a media message with its file.
    const file = shared('UHANK', ACME, '', String(root.ts), { subtype: 'file_share', files: [{ id: 'F1', name: 'error.png', mimetype: 'image/png', permalink: 'https://acme.slack.com/files/F1' }] });
    assert.equal((await sendEvent(h, file)).status, 200);
    const stored = await waitFor(() => h.t.hub.storage.messages.byKey(`slack:${SHARED}:${String(file.ts)}`), 'file message stored');
    assert.equal(stored.kind, 'media');
    assert.equal(stored.attachments[0]?.name, 'error.png');
    assert.ok(h.logs.some((l) => l.includes('file share without text')));
    // A real edit is a new message (the original stays).
    const edit = { type: 'message', subtype: 'message_changed', channel: SHARED, ts: slackTs(), message: { user: 'UHANK', team: ACME, text: 'first, edited', ts: root.ts, thread_ts: root.ts, edited: { user: 'UHANK', ts: '1800009999.000001' } }, previous_message: { user: 'UHANK', text: 'first', ts: root.ts } };
    await sendEvent(h, edit);
    await waitFor(() => h.t.hub.storage.messages.byKey(`slack:${SHARED}:${String(root.ts)}:edit:1800009999.000001`), 'edit stored as a new message');
    // A channel that is no customer channel.
    await sendEvent(h, { type: 'message', channel: OTHER, user: 'UIVY', team: ACME, text: 'elsewhere', ts: slackTs() });
    await sleep(300);
    assert.equal(await h.t.hub.storage.customers.findIdentity('slack', `${ACME}:UIVY`), undefined);
  });

  it('a channel the app was removed from: logged on channel_left; a reply there fails as unreachable, logged, and is kept', async () => {
    assert.equal((await sendEvent(h, { type: 'channel_left', channel: SHARED, actor_id: 'UADMIN' })).status, 200);
    await waitFor(() => h.logs.find((l) => l.includes(`removed from customer channel ${SHARED}`)), 'channel_left logged');
    h.fake.failNext('chat.postMessage', { error: 'not_in_channel' });
    const ev = shared('UJOE', ACME, 'anyone there?');
    await sendEvent(h, ev);
    const id = await waitFor(() => h.t.hub.storage.customers.findIdentity('slack', `${ACME}:UJOE`), 'customer stored');
    const conv = await waitFor(async () => (await h.t.hub.storage.conversations.ofCustomer(id.customerId)).at(-1), 'conversation');
    const failed = await waitFor(async () => (await h.t.hub.storage.messages.ofConversation(conv.id, 10)).find((m) => m.author === 'bot' && m.deliveryStatus === 'failed'), 'reply marked failed');
    assert.match(failed.error ?? '', /not_in_channel/);
    assert.ok(h.logs.some((l) => l.includes(`cannot post to customer chat ${SHARED} (not_in_channel)`)));
    const inbound = await h.t.hub.storage.messages.byKey(`slack:${SHARED}:${String(ev.ts)}`);
    assert.equal(inbound?.text, 'anyone there?', 'the customer message is kept');
  });
});
