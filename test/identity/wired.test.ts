/**
 * The hub as wired (src/hub/hub.ts composing `identityTurnHandlers(this)` first, docs/identity.md
 * "Wiring"): a Telegram `/start <token>` pushed through the fake Bot API's polling is linked and
 * confirmed; a bare `/start` still gets the welcome. Skipped until hub.ts has the line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { makeAdapter } from '../telegram/harness.js';

const CRM = generateToken();
describe('wired hub: /start <token> through polling', () => {
  let fake: FakeTelegram;
  let t: TestHub;
  before(async () => {
    fake = await startFakeTelegram();
    t = await startTestHub({ adapters: [makeAdapter(fake)], config: { api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(CRM) }] } } });
    await fake.waitFor(() => fake.callsOf('getUpdates').length > 0, 5000, 'polling');
  });
  after(async () => {
    await t.stop();
    await fake.close();
  });
  it('links and confirms', async () => {
    await until(async () => (await t.hub.storage.channelState.get('telegram', 'bot_username'))?.value === fake.bot.username, 5000, 'username');
    const res = await fetch(`${t.hub.url}/api/customers/crm-1/link-tokens`, { method: 'POST', headers: { authorization: `Bearer ${CRM}` } });
    const body = (await res.json()) as { customerId: string; links: { telegram: { token: string } } };
    fake.pushUpdate(fake.updates.text(940_000_001, `/start ${body.links.telegram.token}`));
    const sent = await fake.waitFor(() => fake.sent.filter((s) => s.chat_id === '940000001').length > 0 && fake.sent.filter((s) => s.chat_id === '940000001'), 10_000, 'reply');
    assert.match(sent[0]?.text ?? '', /linked to your customer account/);
    assert.equal((await t.hub.storage.customers.findIdentity('telegram', '940000001'))?.customerId, body.customerId);
    fake.pushUpdate(fake.updates.text(940_000_002, '/start'));
    const w = await fake.waitFor(() => fake.sent.filter((s) => s.chat_id === '940000002').length > 0 && fake.sent.filter((s) => s.chat_id === '940000002'), 10_000, 'welcome');
    assert.equal(w[0]?.text, t.hub.templates.render('welcome', 'en'));
  });
});
