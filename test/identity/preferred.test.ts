/**
 * The preferred channel after a link (issue #16, docs/identity.md "Preferred channel"): a customer
 * who wrote on Telegram and linked their email, then writes by email, gets proactive messages
 * without a channel by email (the core's proactive send and `POST /api/messages`); one the business
 * set explicitly (`PATCH /api/customers/:id`) stays whatever channel they write on, until cleared.
 * The hub as wired (identity handlers first), loopback channels named `telegram` and `email`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { emailLinkTag } from '../../src/core/customers/link-tokens.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { DIALECTS } from '../helpers/env.js';

const CRM = generateToken();
const DESK = generateToken();

for (const dialect of DIALECTS) {
  describe(`preferred channel after a link (${dialect})`, () => {
    let t: TestHub;
    const tg = new LoopbackAdapter({ channel: 'telegram' });
    const mail = new LoopbackAdapter({ channel: 'email' });
    let seq = 0;
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${t.hub.url}/api${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    /** Answers sent on `a` (not the proactive notices, which are sent in their own time). */
    const answers = (a: LoopbackAdapter) => a.sent.filter((m) => !/^(notice \d+|Your parcel shipped)$/.test(m.text)).length;
    /** A customer message, processed (its answer sent). */
    const write = async (a: LoopbackAdapter, user: string, text: string, more = {}) => {
      const before = answers(a);
      await a.receive(user, text, more);
      await until(() => answers(a) > before, 10_000, `the answer to "${text}"`);
    };
    const proactiveChannel = async (customerId: string) => {
      seq += 1;
      return (await t.hub.proactive.sendToCustomer({ customerId, content: { text: `notice ${seq}` }, kind: 'notice', key: `pref-${dialect}-${seq}` })).channel;
    };
    const preferredOf = async (id: string) => (await t.hub.storage.customers.get(id))?.preferredChannel;

    before(async () => {
      t = await startTestHub({
        dialect,
        adapters: [tg, mail],
        responder: { respond: async (turn) => ({ kind: 'answer', text: `Answer to: ${turn.text}`, confidence: 0.9 }) },
        config: {
          api: {
            tokens: [
              { name: 'crm', roles: ['events'], sha256: hashToken(CRM) },
              { name: 'desk', roles: ['agent'], sha256: hashToken(DESK) },
            ],
          },
        },
      });
    });
    after(async () => {
      await t.stop();
    });

    it('after a link the preferred channel follows the customer: Telegram, then email once they write by email', async () => {
      await write(tg, 'tg-1', 'hello, where is my parcel?');
      const first = (await t.hub.storage.customers.findIdentity('telegram', 'tg-1'))?.customerId ?? '';
      assert.equal(await preferredOf(first), 'telegram');

      // The business's signed-in user opens a Telegram link, then mails the email reply address.
      const tgToken = (await call('POST', '/customers/crm-1/link-tokens', CRM, { channels: ['telegram'] })).body as { customerId: string; links: Record<string, { token: string }> };
      const business = tgToken.customerId;
      await write(tg, 'tg-1', `/start ${tgToken.links.telegram?.token}`, { kind: 'command', command: { name: 'start', payload: tgToken.links.telegram?.token } });
      assert.equal((await t.hub.storage.customers.findIdentity('telegram', 'tg-1'))?.customerId, business);
      assert.equal(await proactiveChannel(business), 'telegram');

      const emailToken = (await call('POST', '/customers/crm-1/link-tokens', CRM, { channels: ['email'] })).body as { links: Record<string, { token: string }> };
      // What the email mapper hands over for a mail to support+link-<tag>@… (extra.linkToken).
      await write(mail, 'ann@example.com', 'my parcel?', { extra: { linkToken: emailLinkTag(emailToken.links.email?.token ?? '') } });
      assert.equal((await t.hub.storage.customers.findIdentity('email', 'ann@example.com'))?.customerId, business);
      assert.equal(await preferredOf(business), 'email', 'the link was written by email');
      assert.equal(await proactiveChannel(business), 'email');

      await write(tg, 'tg-1', 'any news?');
      assert.equal(await proactiveChannel(business), 'telegram');
      await write(mail, 'ann@example.com', 'still waiting');
      assert.equal(await proactiveChannel(business), 'email');
      // POST /api/messages without channels tries the same channel first.
      const sent = await call('POST', '/messages', CRM, { customer: { externalId: 'crm-1' }, text: 'Your parcel shipped' });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const view = await until(async () => {
        const v = (await call('GET', `/messages/${String(sent.body.id)}`, CRM)).body as { attempts: { channel: string }[] };
        return v.attempts.length > 0 && v;
      });
      assert.equal(view.attempts[0]?.channel, 'email');
    });

    it('a channel the business set stays whichever channel the customer writes on; cleared, it follows them again', async () => {
      const business = (await t.hub.storage.customers.byExternalId('crm-1'))?.id ?? '';
      const set = await call('PATCH', `/customers/${business}`, DESK, { preferredChannel: 'telegram', agent: 'Lin' });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body, { customerId: business, preferredChannel: 'telegram', explicit: true });
      await write(mail, 'ann@example.com', 'hello again by mail');
      assert.equal(await preferredOf(business), 'telegram');
      assert.equal(await proactiveChannel(business), 'telegram');

      const cleared = await call('PATCH', `/customers/${business}`, DESK, { preferredChannel: null });
      assert.deepEqual(cleared.body, { customerId: business, preferredChannel: 'telegram', explicit: false });
      await write(mail, 'ann@example.com', 'and again');
      assert.equal(await proactiveChannel(business), 'email');
    });

    it('refuses a channel the customer cannot be reached on, an unknown customer and a caller without the role', async () => {
      const business = (await t.hub.storage.customers.byExternalId('crm-1'))?.id ?? '';
      const bad = await call('PATCH', `/customers/${business}`, DESK, { preferredChannel: 'wechat' });
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.error), /no identity on channel "wechat".*telegram/);
      assert.equal(bad.body.field, 'body.preferredChannel');
      assert.equal((await call('PATCH', '/customers/nobody', DESK, { preferredChannel: null })).status, 404);
      assert.equal((await call('PATCH', `/customers/${business}`, CRM, { preferredChannel: 'email' })).status, 403);
      assert.equal((await call('PATCH', `/customers/${business}`, DESK, { channel: 'email' })).status, 400);
      assert.equal(await preferredOf(business), 'email');
    });
  });
}
