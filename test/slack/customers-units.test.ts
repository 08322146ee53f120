import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { slackConfigSchema } from '../../src/adapters/slack/config.js';
import { slackCustomers } from '../../src/adapters/slack/index.js';
import { mapAction, mapMessage, threadTsOf, type MapEnv } from '../../src/adapters/slack/mapper.js';
import { choiceBlocks } from '../../src/adapters/slack/blocks.js';
import { SlackTransport } from '../../src/adapters/slack/transport.js';
import { Router } from '../../src/http/router.js';
import { pino } from 'pino';
import { WebClient } from '@slack/web-api';
import { SlackProfiles } from '../../src/adapters/slack/profiles.js';
import { startFakeSlack } from '../fakes/slack-api.js';

const env: MapEnv = { sharedChannels: new Set(['CSHARED1']), ownTeams: new Set(), deliveredTeam: 'TOURS', now: 1_800_000_000_000 };
const base = { enabled: true, botToken: 'xoxb-1', signingSecret: 's', caseChannel: 'CCASES' };

describe('slack customers: config', () => {
  it('refuses the case channel as a customer channel, and a channel listed twice', () => {
    const r = slackConfigSchema.safeParse({ ...base, customers: { channels: ['CSHARED1', 'CCASES'] } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0]?.path, ['customers', 'channels', 1]);
    assert.match(r.error?.issues[0]?.message ?? '', /case channel cannot be a customer channel/);
    const d = slackConfigSchema.safeParse({ ...base, customers: { channels: ['CSHARED1', 'CSHARED1'] } });
    assert.match(d.error?.issues[0]?.message ?? '', /listed twice/);
    assert.equal(slackConfigSchema.safeParse({ ...base, customers: { channels: ['general'] } }).success, false, 'a name is no channel id');
  });

  it('defaults: no DMs, no channels, profiles looked up', () => {
    const c = slackConfigSchema.parse({ ...base, customers: {} });
    assert.deepEqual(c.customers, { directMessages: false, channels: [], ownTeamIds: [], lookupProfiles: true });
    assert.equal(slackConfigSchema.parse(base).customers, undefined);
  });

  it('the registry builds the customer side only for a section with customers (a desk-only hub has no slack channel)', () => {
    assert.equal(slackCustomers.wanted?.(slackConfigSchema.parse(base)), false);
    assert.equal(slackCustomers.wanted?.(slackConfigSchema.parse({ ...base, customers: { directMessages: true } })), true);
  });
});

describe('slack customers: mapper', () => {
  it('a top-level shared-channel message: id channel:ts, customer team:user, thread key channel:ts, answered in its thread', () => {
    const r = mapMessage({ type: 'message', channel: 'CSHARED1', user: 'UA', user_team: 'TACME', team: 'TACME', text: 'hi <@UB> &amp; you', ts: '1.000001' }, env);
    assert.ok(r.ok);
    assert.equal(r.message.platformMessageId, 'CSHARED1:1.000001');
    assert.equal(r.message.platformUserId, 'TACME:UA');
    assert.equal(r.message.threadKey, 'CSHARED1:1.000001');
    assert.equal(r.message.ref.threadId, '1.000001');
    assert.equal(r.message.text, 'hi  & you');
    const reply = mapMessage({ type: 'message', channel: 'CSHARED1', user: 'UA', user_team: 'TACME', text: 'more', ts: '2.000001', thread_ts: '1.000001' }, env);
    assert.ok(reply.ok);
    assert.equal(reply.message.threadKey, 'CSHARED1:1.000001');
  });

  it('a DM has no thread key; our own team in a shared channel, other channels, bots are refused with a reason', () => {
    const d = mapMessage({ type: 'message', channel: 'D1', channel_type: 'im', user: 'UA', team: 'TOURS', text: 'hello', ts: '3.1' }, env);
    assert.ok(d.ok);
    assert.equal(d.message.threadKey, undefined);
    assert.equal(d.message.ref.extra?.kind, 'dm');
    const own = mapMessage({ type: 'message', channel: 'CSHARED1', user: 'UO', user_team: 'TOURS', text: 'x', ts: '4.1' }, env);
    assert.ok(!own.ok && /own workspace/.test(own.reason));
    const ownListed = mapMessage({ type: 'message', channel: 'CSHARED1', user: 'UO', user_team: 'TACME', text: 'x', ts: '4.2' }, { ...env, ownTeams: new Set(['TACME']) });
    assert.ok(!ownListed.ok);
    const other = mapMessage({ type: 'message', channel: 'COTHER', user: 'UA', text: 'x', ts: '5.1' }, env);
    assert.ok(!other.ok && /no customer channel/.test(other.reason));
    const bot = mapMessage({ type: 'message', channel: 'CSHARED1', bot_id: 'B1', text: 'x', ts: '6.1' }, env);
    assert.ok(!bot.ok && bot.quiet);
    assert.ok(!mapMessage({ nonsense: true }, env).ok);
  });

  it('a button press maps to a button message in its thread', () => {
    const r = mapAction(
      {
        type: 'block_actions',
        user: { id: 'UA', team_id: 'TACME' },
        channel: { id: 'CSHARED1' },
        message: { ts: '9.1', thread_ts: '1.000001' },
        actions: [{ action_id: 'sbc_0', value: 'plan:basic', action_ts: '9.5', text: { type: 'plain_text', text: 'Basic' } }],
      },
      env,
    );
    assert.ok(r.ok);
    assert.equal(r.message.kind, 'button');
    assert.equal(r.message.buttonValue, 'plan:basic');
    assert.equal(r.message.platformMessageId, 'CSHARED1:9.1:press:9.5');
    assert.equal(r.message.threadKey, 'CSHARED1:1.000001');
  });

  it('thread keys turn back into the thread ts only for their own channel', () => {
    assert.equal(threadTsOf('CSHARED1:1.000001', 'CSHARED1'), '1.000001');
    assert.equal(threadTsOf('CSHARED1:1.000001', 'COTHER'), undefined);
    assert.equal(threadTsOf(undefined, 'CSHARED1'), undefined);
  });

  it('choice buttons: one action id per choice, 25 to a block, labels escaped and clipped', () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ label: i === 0 ? `<!channel> ${'x'.repeat(100)}` : `c${i}`, value: `v${i}` }));
    const blocks = choiceBlocks('pick one', many) as { type: string; elements?: { action_id: string; text: { text: string } }[] }[];
    assert.equal(blocks.length, 3);
    assert.equal(blocks[1]?.elements?.length, 25);
    assert.equal(blocks[2]?.elements?.[4]?.action_id, 'sbc_29');
    const first = blocks[1]?.elements?.[0]?.text.text ?? '';
    assert.ok(first.startsWith('&lt;!channel&gt;') && first.length <= 75, first);
  });
});

describe('slack transport: one per app and hub', () => {
  const log = pino({ level: 'silent' });
  it('the desk and the customer side of one hub get the same transport (one route, one Socket Mode connection)', () => {
    const http = new Router();
    const cfg = slackConfigSchema.parse({ ...base, customers: { directMessages: true } });
    const a = SlackTransport.of(http, cfg, log);
    assert.equal(SlackTransport.of(http, { ...cfg }, log), a);
    assert.equal(http.routes.filter((r) => r.path === cfg.eventsPath).length, 1, 'one Events API route');
    assert.notEqual(SlackTransport.of(new Router(), cfg, log), a, 'another hub has its own');
    const socket = slackConfigSchema.parse({ ...base, mode: 'socket', appToken: 'xapp-1-A', customers: { directMessages: true } });
    const s1 = SlackTransport.of(http, socket, log);
    assert.equal(SlackTransport.of(http, { ...socket }, log), s1);
    assert.notEqual(SlackTransport.of(http, { ...socket, appToken: 'xapp-1-B' }, log), s1, 'another app token is another app');
  });
});

describe('slack customers: profile lookups', () => {
  it('stay within their budget (Slack waits 3 s for the ack), cache what they got, and ask a refused method once', async () => {
    const fake = await startFakeSlack();
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    try {
      const client = new WebClient('xoxb-test', { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } });
      const profiles = new SlackProfiles(client, log, true, 300);
      fake.users.set('UA', { name: 'a', real_name: 'Ann Lee', display_name: 'Ann', email: 'ann@acme.example', team_id: 'TACME' });
      fake.teams.set('TACME', 'Acme Corp');
      fake.failNext('users.info', { delayMs: 1500 });
      const t0 = Date.now();
      assert.deepEqual(await profiles.of('UA', 'TACME'), {}, 'nothing yet: users.info is slow');
      assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
      assert.deepEqual(await profiles.of('UA', 'TACME'), { name: 'Ann', email: 'ann@acme.example', team: 'TACME', company: 'Acme Corp' });
      const asked = fake.calls.length;
      await profiles.of('UA', 'TACME');
      assert.equal(fake.calls.length, asked, 'cached');
      fake.failNext('team.info', { error: 'missing_scope' });
      assert.equal((await profiles.of('UB', 'TBETA')).company, undefined);
      await profiles.of('UC', 'TGAMMA');
      assert.equal(fake.calls.filter((c) => c.method === 'team.info' && ['TBETA', 'TGAMMA'].includes(String(c.body.team))).length, 1, 'team.info not asked again');
      assert.equal(lines.filter((l) => l.includes('add the scope team:read')).length, 1);
    } finally {
      await fake.close();
    }
  });
});
