/**
 * Business-signed link tokens, adversarially (issue #16): the API issues them, a Telegram
 * `/start <token>` (mapped from a Bot API update by the real mapper) links the identity through the
 * turn chain as the hub composes it with `identityTurnHandlers` first. Forged, replayed, expired and
 * other-channel tokens change nothing and get a clear answer; a token for A never reaches B.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { mapUpdate } from '../../src/adapters/telegram/mapper.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { processInbound, type InboundDeps } from '../../src/core/conversation/inbound.js';
import { coreTurnHandlers } from '../../src/core/conversation/handlers.js';
import { composeTurn } from '../../src/core/conversation/turn.js';
import { linkByToken } from '../../src/core/customers/link-tokens.js';
import { identityTurnHandlers } from '../../src/hub/identity.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { DIALECTS } from '../helpers/env.js';

const CRM = generateToken();
let updateId = 1000;

function startUpdate(userId: number, payload: string, lang = 'en'): unknown {
  updateId += 1;
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      from: { id: userId, is_bot: false, first_name: `U${userId}`, language_code: lang },
      chat: { id: userId, first_name: `U${userId}`, type: 'private' },
      date: 1735812005,
      text: `/start ${payload}`,
      entities: [{ offset: 0, length: 6, type: 'bot_command' }],
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`link tokens (${dialect})`, () => {
    let t: TestHub;
    let deps: InboundDeps;
    const shop = new LoopbackAdapter({ channel: 'alpha' });
    /** A Telegram user opens the deep link: the bot's answer. */
    const open = async (userId: number, token: string, lang = 'en'): Promise<string> => {
      const mapped = mapUpdate(startUpdate(userId, token, lang), { botUsername: 'sb_test_bot', allowedGroups: new Set(), now: Date.now() });
      assert.ok(mapped.ok);
      await processInbound(deps, mapped.message);
      const identity = await t.hub.storage.customers.findIdentity('telegram', String(userId));
      const msgs = await t.hub.storage.messages.ofCustomer(identity?.customerId ?? '', 1000);
      return msgs.filter((m) => m.direction === 'out' && m.channel === 'telegram').pop()?.text ?? '';
    };
    const issue = async (externalId: string, body: unknown = {}) => {
      const res = await fetch(`${t.hub.url}/api/customers/${externalId}/link-tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CRM}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { customerId: string; expiresAt: string; links: Record<string, { token: string; url: string | null }> } };
    };
    const customerOfTg = async (userId: number) => (await t.hub.storage.customers.findIdentity('telegram', String(userId)))?.customerId;

    before(async () => {
      t = await startTestHub({ dialect, adapters: [shop], config: { api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(CRM) }] } } });
      const hub = t.hub;
      const core = coreTurnHandlers({ storage: hub.storage, responder: () => hub.responder, templates: hub.templates, log: hub.log, maxStrikes: 3, now: () => Date.now() });
      // The chain as src/hub/identity.ts asks hub.ts to compose it.
      deps = { ...hub.inboundDeps(), turn: composeTurn([...identityTurnHandlers(hub), ...core]) };
      await hub.storage.channelState.set('telegram', 'bot_username', 'sb_test_bot', 0);
      // The business's customer shop-7 talks on the web shop channel and waits for a person.
      await shop.receive('bob', 'where is order 77?', { userName: 'Bob' });
      await shop.waitForSent(1);
      const bob = await until(() => hub.storage.customers.findIdentity('alpha', 'bob'));
      await hub.storage.customers.setExternalId(bob.customerId, 'shop-7');
      const [conv] = await hub.storage.conversations.ofCustomer(bob.customerId);
      assert.ok(conv && (await hub.storage.conversations.update(conv.id, conv.version, { status: 'waiting_agent', escalationId: 'e1' })));
    });
    after(async () => {
      await t.stop();
    });

    it('the API gives single-use tokens and ready-made links (Telegram deep link, web chat parameter)', async () => {
      const r = await issue('shop-7');
      assert.equal(r.status, 201);
      const tg = r.body.links.telegram;
      assert.match(tg?.token ?? '', /^L[A-Za-z0-9_-]{43}$/);
      assert.equal(tg?.url, `https://t.me/sb_test_bot?start=${tg?.token}`);
      assert.match(r.body.links.webchat?.url ?? '', /\/\?sb_link=L[A-Za-z0-9_-]{43}$/);
      assert.ok(Date.parse(r.body.expiresAt) > Date.now());
      const unauth = await fetch(`${t.hub.url}/api/customers/shop-7/link-tokens`, { method: 'POST' });
      assert.equal(unauth.status, 401);
    });

    it('opening the link links the Telegram identity to the business customer; the open case carries over; a replay by someone else changes nothing', async () => {
      const { body } = await issue('shop-7');
      const token = body.links.telegram?.token ?? '';
      const bob = (await t.hub.storage.customers.byExternalId('shop-7'))?.id;
      assert.match(await open(501, token), /linked to your customer account/);
      assert.equal(await customerOfTg(501), bob);
      assert.equal((await t.hub.storage.customers.findIdentity('telegram', '501'))?.verified, true);
      const current = await t.hub.storage.conversations.route({ customerId: bob ?? '', channel: 'telegram', reopenWindowMs: 0 });
      assert.equal(current.conversation.status, 'waiting_agent', 'the open escalation is the current conversation');
      const [link] = await t.hub.storage.audit.list({ customerId: bob ?? '', action: 'link', limit: 1 });
      assert.equal(link?.actor.kind, 'customer');
      assert.equal(link?.actor.name, 'telegram:501 (link token)');
      assert.equal((link?.details.proof as { linkToken?: string } | undefined)?.linkToken !== undefined, true);

      // The same user again: already linked. Another user replaying the token: refused, nothing moves.
      assert.match(await open(501, token), /already linked/);
      assert.match(await open(502, token, 'zh'), /已被使用过/);
      const intruder = await customerOfTg(502);
      assert.notEqual(intruder, bob);
      const seen = (await t.hub.storage.messages.ofCustomer(intruder ?? '', 100)).map((m) => m.text).join('\n');
      assert.ok(!seen.includes('order 77'), 'the intruder sees none of the victim’s history');
      assert.ok((await t.hub.storage.audit.list({ customerId: bob ?? '', action: 'link_refused', limit: 10 })).some((e) => e.reason === 'used'));
    });

    it('forged, spliced, other-channel and expired tokens are refused with a clear answer and link nothing', async () => {
      const a = await issue('shop-A');
      const b = await issue('shop-B');
      const ta = a.body.links.telegram?.token ?? '';
      const tb = b.body.links.telegram?.token ?? '';
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      assert.match(await open(601, flip(ta, 40)), /isn't valid/, 'a changed MAC');
      assert.match(await open(601, flip(ta, 3)), /isn't valid/, 'a changed nonce');
      // A's nonce and expiry with B's MAC: the MAC covers the stored customer, so it points nowhere.
      assert.match(await open(601, ta.slice(0, 22) + tb.slice(22)), /isn't valid/);
      assert.match(await open(601, 'L' + 'x'.repeat(43)), /isn't valid/);
      assert.match(await open(601, a.body.links.webchat?.token ?? ''), /another channel/);
      const before = await customerOfTg(601);
      assert.notEqual(before, a.body.customerId);
      assert.notEqual(before, b.body.customerId);
      // Still unused after all that: A's token links its opener to A, never to B.
      assert.match(await open(601, ta), /linked to your customer account/);
      assert.equal(await customerOfTg(601), a.body.customerId);
      assert.notEqual(await customerOfTg(601), b.body.customerId);

      const short = await issue('shop-C', { ttlMinutes: 1 });
      const tc = short.body.links.telegram?.token ?? '';
      const late = await linkByToken(t.hub.storage, { token: tc, channel: 'telegram', platformUserId: '602', now: Date.parse(short.body.expiresAt) });
      assert.equal(late.outcome, 'expired');
      assert.equal((await t.hub.storage.linkTokens.get(Buffer.from(tc.slice(1), 'base64url').subarray(0, 12).toString('hex')))?.usedAt, null);
    });

    it('concurrent attempts: one token opened by two people at once, and a grant’s two channel tokens at once: exactly one link, no partial merge', async () => {
      const { body } = await issue('shop-race', { channels: ['telegram', 'loopback'] });
      const token = body.links.telegram?.token ?? '';
      for (const u of [801, 802, 803]) await open(u, 'not-a-token'); // three Telegram customers exist
      const now = Date.now();
      const race = await Promise.all([801, 802].map((u) => linkByToken(t.hub.storage, { token, channel: 'telegram', platformUserId: String(u), now })));
      assert.deepEqual(race.map((r) => r.outcome).sort(), ['linked', 'used']);
      const winner = race[0]?.outcome === 'linked' ? 801 : 802;
      const loser = winner === 801 ? 802 : 801;
      assert.equal(await customerOfTg(winner), body.customerId);
      assert.notEqual(await customerOfTg(loser), body.customerId);
      assert.equal((await t.hub.storage.customers.identitiesOf(body.customerId)).length, 1);
      // The grant's other token is spent with it.
      const sibling = await linkByToken(t.hub.storage, { token: body.links.loopback?.token ?? '', channel: 'loopback', platformUserId: 'x', now });
      assert.equal(sibling.outcome, 'used');
    });

    it('a /start without a token still gets the welcome', async () => {
      const mapped = mapUpdate(startUpdate(701, 'promo-spring'), { botUsername: 'sb_test_bot', allowedGroups: new Set(), now: Date.now() });
      assert.ok(mapped.ok);
      await processInbound(deps, mapped.message);
      const id = await customerOfTg(701);
      const out = (await t.hub.storage.messages.ofCustomer(id ?? '', 10)).filter((m) => m.direction === 'out');
      assert.equal(out[0]?.text, t.hub.templates.render('welcome', 'en'));
    });
  });
}
