import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { pino } from 'pino';
import type { App } from '@slack/bolt';
import { slackConfigSchema } from '../../src/adapters/slack/config.js';
import { isOpen, opensAt } from '../../src/adapters/slack/business-hours.js';
import { caseBlocks, caseText, esc, mention, slackLink, slackToPlain, type CaseView } from '../../src/adapters/slack/blocks.js';
import { timestampSkewSec } from '../../src/adapters/slack/desk.js';
import { lastAnswer } from '../../src/adapters/slack/learned.js';
import type { StoredMessage } from '../../src/core/model.js';
import { parseRemindKey, slackOrigin } from '../../src/adapters/slack/keys.js';
import { reminderJobId } from '../../src/core/queues/names.js';
import { toHubError } from '../../src/adapters/slack/api.js';
import { failureReason } from '../../src/adapters/slack/jobs.js';
import { DeferredAckSocketReceiver, type SocketEventArgs } from '../../src/adapters/slack/socket-receiver.js';
import { WebAPIPlatformError, WebAPIRateLimitedError } from '@slack/web-api';

const silent = pino({ level: 'silent' });
const base = { enabled: true, botToken: 'xoxb-1', caseChannel: 'C1' };

describe('slack config', () => {
  it('requires the signing secret in http mode and the app token in socket mode, with clear messages', () => {
    const http = slackConfigSchema.safeParse(base);
    assert.equal(http.success, false);
    assert.match(JSON.stringify(http.error?.issues), /signingSecret.*required in http mode/);
    const socket = slackConfigSchema.safeParse({ ...base, mode: 'socket' });
    assert.match(JSON.stringify(socket.error?.issues), /appToken.*required in socket mode/);
    const ok = slackConfigSchema.parse({ ...base, signingSecret: 's', apiUrl: 'http://127.0.0.1:9/api' });
    assert.equal(ok.apiUrl, 'http://127.0.0.1:9/api/');
    assert.equal(ok.notePrefix, 'note:');
    assert.equal(ok.eventsPath, '/slack/events');
    assert.equal(ok.attachmentLinkMinutes, 24 * 60);
    assert.equal(slackConfigSchema.parse({ ...base, signingSecret: 's', attachmentLinkMinutes: 5 }).attachmentLinkMinutes, 5);
    for (const bad of [0, 8 * 24 * 60]) {
      const r = slackConfigSchema.safeParse({ ...base, signingSecret: 's', attachmentLinkMinutes: bad });
      assert.match(JSON.stringify(r.error?.issues), /attachmentLinkMinutes/);
    }
    assert.ok(slackConfigSchema.safeParse({ ...base, mode: 'socket', appToken: 'xapp-1' }).success);
    assert.equal(slackConfigSchema.safeParse({ ...base, signingSecret: 's', businessHours: { timezone: 'Mars/Base' } }).success, false);
    assert.equal(slackConfigSchema.safeParse({ ...base, signingSecret: 's', extra: 1 }).success, false);
  });
  it('accepts the documented hub.yaml example', () => {
    const doc = parse(readFileSync('test/fixtures/slack/hub.example.yaml', 'utf8')) as { channels: { slack: unknown } };
    const c = slackConfigSchema.parse(doc.channels.slack);
    assert.equal(c.businessHours?.timezone, 'Asia/Shanghai');
    assert.equal(c.agentName, '{name} (Support)');
  });
});

describe('business hours', () => {
  const bh = { timezone: 'Asia/Shanghai', days: [1, 2, 3, 4, 5], open: '09:00', close: '18:00' };
  // 2024-06-07 is a Friday.
  const at = (iso: string) => Date.parse(iso);
  it('knows when the desk is open, in its time zone', () => {
    assert.equal(isOpen(bh, at('2024-06-07T02:00:00Z')), true); // Fri 10:00 Shanghai
    assert.equal(isOpen(bh, at('2024-06-07T11:00:00Z')), false); // Fri 19:00
    assert.equal(isOpen(bh, at('2024-06-08T02:00:00Z')), false); // Sat
  });
  it('says when it opens next', () => {
    assert.equal(opensAt(bh, at('2024-06-07T11:00:00Z'), 'en'), 'Monday 09:00 (Asia/Shanghai time)');
    assert.equal(opensAt(bh, at('2024-06-06T11:00:00Z'), 'zh'), '明天 09:00');
    assert.equal(opensAt(bh, at('2024-06-06T23:00:00Z'), 'en'), 'today 09:00 (Asia/Shanghai time)'); // Fri 07:00
  });
});

describe('case blocks and text', () => {
  it('escapes customer text so it cannot ping the channel', () => {
    assert.equal(esc('<!channel> & <@U1>'), '&lt;!channel&gt; &amp; &lt;@U1&gt;');
    const blocks = JSON.stringify(
      caseBlocks({
        conversationId: 'c1',
        customerName: '<!here>',
        channel: 'webchat',
        identities: [],
        locale: 'en',
        sentiment: -0.8,
        reason: 'angry',
        priority: 'high',
        summary: 's',
        lastMessages: [{ author: 'x', channel: 'webchat', text: '<!everyone>' }],
        suggestions: [],
        status: 'resolved',
        assignee: 'U1',
        csat: 4,
      }),
    );
    assert.ok(!blocks.includes('<!everyone>') && !blocks.includes('*Customer*\\n<!here>'));
    assert.ok(blocks.includes('sb_save') && !blocks.includes('sb_claim'));
    assert.ok(blocks.includes('(4/5)'));
  });
  it('escapes the notification text and the header too; mentions only for user ids; links only http(s) and unbreakable', () => {
    const v: CaseView = {
      conversationId: 'c1',
      customerName: '<!channel> <https://evil.example|Bank Support>',
      channel: 'tele<gram>',
      identities: [{ channel: 'telegram', name: '<!subteam^S1>' }],
      locale: 'en',
      sentiment: null,
      reason: '<!here>',
      priority: 'high',
      summary: 's',
      lastMessages: [],
      suggestions: [{ question: '<@U9>', answer: '<https://evil.example|ok>' }],
      status: 'agent',
      assignee: '<!channel>',
      csat: null,
    };
    const all = JSON.stringify([caseText(v), caseBlocks(v)]);
    for (const raw of ['<!channel>', '<!here>', '<https://evil', '<!subteam', '<@U9>', '<gram>']) assert.ok(!all.includes(raw), `${raw} in ${all}`);
    assert.equal(caseText(v), 'Case: &lt;!channel&gt; &lt;https://evil.example|Bank Support&gt; on tele&lt;gram&gt; — &lt;!here&gt; — Claimed by &lt;!channel&gt;');
    assert.equal(mention('U0123ABC'), '<@U0123ABC>');
    assert.equal(mention('<!channel>'), '&lt;!channel&gt;');
    assert.equal(slackLink('https://hub.example/files/t/x?exp=1&sig=ab|c>d', 'a<b>.jpg'), '<https://hub.example/files/t/x?exp=1&amp;sig=ab%7Cc%3Ed|a&lt;b&gt;.jpg>');
    assert.equal(slackLink('javascript:alert(1)', 'x.jpg'), 'x.jpg');
    assert.equal(slackLink('not a url', '<!here>'), '&lt;!here&gt;');
  });
  it('measures how far a Slack request timestamp is from our clock', () => {
    const now = 1_800_000_000_000;
    assert.equal(timestampSkewSec('1800000600', now), 600);
    assert.equal(timestampSkewSec('1799999700', now), -300);
    assert.equal(timestampSkewSec(undefined, now), undefined);
    assert.equal(timestampSkewSec('12abc', now), undefined);
  });
  it('turns agent mrkdwn into plain text', () => {
    assert.equal(slackToPlain('see <https://a.example|the docs> &amp; <https://b.example> <@U1>'), 'see the docs (https://a.example) & https://b.example');
  });
});

describe('keys and errors', () => {
  it('round-trips reminder keys and makes BullMQ-safe job ids', () => {
    assert.deepEqual(parseRemindKey('after:claim:U1:123.4'), { kind: 'after', action: 'claim', user: 'U1', ts: '123.4' });
    assert.deepEqual(parseRemindKey('unclaimed:m-1'), { kind: 'unclaimed', escalationId: 'm-1' });
    assert.equal(parseRemindKey('nope'), undefined);
    assert.ok(!reminderJobId('slack', 'c', 'after:claim:U1:1.2').includes(':'));
    assert.deepEqual(slackOrigin('agent:slack:C1:123.456'), { channel: 'C1', ts: '123.456' });
  });
  it('maps Slack failures to the queue policy', () => {
    const rl = toHubError('chat.postMessage', new WebAPIRateLimitedError(3), silent);
    assert.equal(rl.retry, 'delay');
    assert.equal(rl.retryAfterMs, 3000);
    const auth = toHubError('chat.postMessage', new WebAPIPlatformError({ ok: false, error: 'token_expired' }), silent);
    assert.equal(auth.code, 'AUTH_FAILED');
    assert.equal(auth.retry, 'retry');
    const gone = toHubError('chat.update', new WebAPIPlatformError({ ok: false, error: 'message_not_found' }), silent);
    assert.equal(gone.code, 'NOT_FOUND');
    const removed = toHubError('chat.postMessage', new WebAPIPlatformError({ ok: false, error: 'not_in_channel' }), silent, 'C1');
    assert.equal(removed.retry, 'retry');
    assert.equal(failureReason('RECIPIENT_UNREACHABLE: bot was blocked by the user'), 'the customer blocked us or left');
    assert.equal(failureReason('outside the 24h window'), 'the reply window expired');
  });
});

describe('Save answer', () => {
  it('takes the last agent answer with text and the customer question before it', () => {
    const m = (id: string, author: 'customer' | 'agent' | 'bot', text: string) => ({ id, author, text }) as StoredMessage;
    const found = lastAnswer([m('1', 'customer', 'old question'), m('2', 'customer', 'How do I reset it?'), m('3', 'bot', 'hm'), m('4', 'agent', 'Use the link.'), m('5', 'agent', ' '), m('6', 'customer', 'thanks')]);
    assert.deepEqual([found?.question.id, found?.answer.id], ['2', '4']);
    assert.equal(lastAnswer([m('1', 'agent', 'hello'), m('2', 'customer', 'hi')]), undefined, 'no question before the answer');
    assert.equal(lastAnswer([m('1', 'customer', 'hi')]), undefined, 'no answer');
  });
});

describe('Socket Mode receiver', () => {
  function fakeClient() {
    let listener: ((a: SocketEventArgs) => void) | undefined;
    return {
      on: (_e: 'slack_event', l: (a: SocketEventArgs) => void) => {
        listener = l;
      },
      removeAllListeners: () => undefined,
      start: async () => undefined,
      disconnect: () => undefined,
      emit: (a: SocketEventArgs) => listener?.(a),
    };
  }
  it('acknowledges an envelope only after the listeners succeeded', async () => {
    const client = fakeClient();
    const r = new DeferredAckSocketReceiver({ appToken: 'xapp-1', log: silent }, client);
    const order: string[] = [];
    let fail = false;
    const app = {
      processEvent: async () => {
        await new Promise((x) => setTimeout(x, 20));
        if (fail) throw new Error('queue down');
        order.push('processed');
      },
    };
    r.init(app as unknown as App);
    await r.onEvent({ body: {}, ack: async () => void order.push('acked') });
    assert.deepEqual(order, ['processed', 'acked']);
    fail = true;
    await r.onEvent({ body: {}, ack: async () => void order.push('acked') });
    assert.deepEqual(order, ['processed', 'acked'], 'a failed event is not acknowledged (Slack redelivers it)');
  });
});
