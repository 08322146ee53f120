import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { caseOf, sendEvent, slackTs, startSlackHub, threadPosts, waitFor, type SlackHub } from './helpers.js';

describe('slack customers: a file shared in a DM opens for agents through a signed hub link', () => {
  let h: SlackHub;
  before(async () => {
    h = await startSlackHub({ publicUrl: true, slack: { unclaimedReminderMinutes: 0, customers: { directMessages: true, lookupProfiles: false } } });
  });
  after(() => h.stop());

  it("the relay links the hub, which fetches the file from Slack with the bot token (never in the link)", async () => {
    const content = Buffer.from('%PDF-1.4 invoice 42');
    h.fake.files.set('F0INVOICE', { name: 'invoice.pdf', mimetype: 'application/pdf', content });
    const dm = (extra: Record<string, unknown>) => ({ type: 'message', channel: 'DKIM', channel_type: 'im', user: 'UKIM', team: 'TACME', ts: slackTs(), ...extra });
    await sendEvent(h, dm({ text: 'I want a human' }));
    const { ref } = await caseOf(h, 'TACME:UKIM', 'slack');
    const file = { id: 'F0INVOICE', name: 'invoice.pdf', mimetype: 'application/pdf', size: content.length, permalink: 'https://acme.slack.com/files/UKIM/F0INVOICE/invoice.pdf' };
    assert.equal((await sendEvent(h, dm({ subtype: 'file_share', text: '', files: [file] }))).status, 200);
    const relay = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('invoice.pdf')), 'relay with the file');
    const link = /<(http[^|>]+)\|invoice\.pdf>/.exec(relay.text)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(link, relay.text);
    assert.ok(link.startsWith(`${h.t.hub.url}/files/slack/`), relay.text);
    assert.ok(!link.includes(h.fake.botToken), 'no token in the link');
    const res = await fetch(link);
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), content);
    assert.ok(h.fake.ok('files.info').some((c) => c.body.file === 'F0INVOICE'));
  });
});
