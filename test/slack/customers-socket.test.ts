import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CASES, caseOf, eventBody, slackTs, startSlackHub, threadReply, waitFor, type SlackHub } from './helpers.js';

describe('slack customers over Socket Mode: one connection serves the desk and the customer side', () => {
  let h: SlackHub;
  before(async () => {
    h = await startSlackHub({
      slack: { mode: 'socket', appToken: 'xapp-1-test', unclaimedReminderMinutes: 0, customers: { directMessages: true, lookupProfiles: false } },
    });
    await waitFor(() => h.fake.sockets().open === 1 || undefined, 'the desk lease opens the Socket Mode connection');
  });
  after(() => h.stop());

  const envelope = (event: Record<string, unknown>) => h.fake.socketEnvelope('events_api', JSON.parse(eventBody(event)) as Record<string, unknown>);
  const dm = (text: string) => ({ type: 'message', channel: 'DSOCK', channel_type: 'im', user: 'USOCK', team: 'TACME', text, ts: slackTs() });
  const inDm = () => h.fake.ok('chat.postMessage').filter((c) => c.body.channel === 'DSOCK');

  it('a DM over the socket is acknowledged once queued and answered by the bot', async () => {
    assert.equal(await envelope(dm('hello over the socket')), true, 'acknowledged');
    const reply = await waitFor(() => inDm().find((c) => c.body.text === 'bot: hello over the socket'), 'bot reply in the DM');
    assert.equal(reply.body.thread_ts, undefined);
  });

  it("an escalated DM is answered by an agent whose thread reply arrives on the same connection", async () => {
    assert.equal(await envelope(dm('I want a human')), true);
    const { ref } = await caseOf(h, 'TACME:USOCK', 'slack');
    assert.equal(ref.channel, CASES);
    assert.equal(await envelope(threadReply('UDANA', 'Hello from the desk', ref.ts)), true);
    await waitFor(() => inDm().find((c) => String(c.body.text).endsWith('Hello from the desk')), 'agent answer in the DM');
    assert.deepEqual(h.fake.sockets(), { open: 1, opened: 1 }, 'one Socket Mode connection for both roles');
    assert.equal(h.fake.ok('apps.connections.open').length, 1);
  });
});
