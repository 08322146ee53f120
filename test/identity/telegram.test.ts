/**
 * A link token end to end on Telegram: the real adapter against the fake Bot API stores its bot
 * username (getMe) for the API's deep links; the `/start <token>` update, mapped by the adapter's
 * mapper, goes through the chain as src/hub/identity.ts composes it, and the confirmation reaches
 * the user through the real send path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TelegramAdapter } from '../../src/adapters/telegram/index.js';
import { mapUpdate } from '../../src/adapters/telegram/mapper.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { processInbound, type InboundDeps } from '../../src/core/conversation/inbound.js';
import { coreTurnHandlers } from '../../src/core/conversation/handlers.js';
import { composeTurn } from '../../src/core/conversation/turn.js';
import { identityTurnHandlers } from '../../src/hub/identity.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { makeAdapter } from '../telegram/harness.js';

const CRM = generateToken();

describe('link token on Telegram, end to end', () => {
  let fake: FakeTelegram;
  let adapter: TelegramAdapter;
  let t: TestHub;
  let deps: InboundDeps;

  before(async () => {
    fake = await startFakeTelegram();
    adapter = makeAdapter(fake);
    t = await startTestHub({ adapters: [adapter], config: { api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(CRM) }] } } });
    const hub = t.hub;
    const core = coreTurnHandlers({ storage: hub.storage, responder: () => hub.responder, templates: hub.templates, log: hub.log, maxStrikes: 3, now: () => Date.now() });
    deps = { ...hub.inboundDeps(), turn: composeTurn([...identityTurnHandlers(hub), ...core]) };
  });
  after(async () => {
    await t.stop();
    await fake.close();
  });

  it('deep link from the API, /start <token>, linked, confirmed in the user’s language', async () => {
    await until(async () => (await t.hub.storage.channelState.get('telegram', 'bot_username'))?.value === fake.bot.username, 5000, 'the bot username stored');
    const res = await fetch(`${t.hub.url}/api/customers/crm-900/link-tokens`, { method: 'POST', headers: { authorization: `Bearer ${CRM}` } });
    assert.equal(res.status, 201);
    const body = (await res.json()) as { customerId: string; links: { telegram: { url: string; token: string } } };
    const url = new URL(body.links.telegram.url);
    assert.equal(`${url.origin}${url.pathname}`, `https://t.me/${fake.bot.username}`);
    const token = url.searchParams.get('start') ?? '';
    assert.equal(token, body.links.telegram.token);

    // What Telegram sends when the user taps Start on that link.
    const update = { update_id: 77, ...fake.updates.text(930_000_001, `/start ${token}`, { first_name: 'Mei', language_code: 'zh-hans' }) };
    const mapped = mapUpdate(update, { botUsername: fake.bot.username, allowedGroups: new Set(), now: Date.now() });
    assert.ok(mapped.ok, JSON.stringify(mapped));
    await processInbound(deps, mapped.message);
    const sent = await fake.waitFor(() => fake.sent.filter((s) => s.chat_id === '930000001').length > 0 && fake.sent.filter((s) => s.chat_id === '930000001'), 10_000, 'the confirmation');
    assert.match(sent[0]?.text ?? '', /已将此账号与您在我们这里的客户账户关联/);
    assert.equal((await t.hub.storage.customers.findIdentity('telegram', '930000001'))?.customerId, body.customerId);
  });
});
