/**
 * The web chat's identity linking (issue #16): signed visitors (the site's user id + HMAC-SHA256
 * under identitySecret) and the `?sb_link=` link token, over real WebSockets to the real adapter.
 * The adapter's accepted messages go through the pipeline with the chain as src/hub/identity.ts
 * asks the hub to compose it (identity handlers first).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { webchatAdapter, webchatConfigSchema } from '../../src/adapters/webchat/index.js';
import { mapUpdate } from '../../src/adapters/telegram/mapper.js';
import type { ChannelAdapter } from '../../src/core/adapter.js';
import { processInbound, type InboundDeps } from '../../src/core/conversation/inbound.js';
import { coreTurnHandlers } from '../../src/core/conversation/handlers.js';
import { composeTurn } from '../../src/core/conversation/turn.js';
import { issueLinkTokens } from '../../src/core/customers/link-tokens.js';
import { identityTurnHandlers } from '../../src/hub/identity.js';
import type { ServerFrame } from '../../src/adapters/webchat/mapper.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { ChatClient } from '../webchat/client.js';
import { EchoResponder } from '../webchat/echo.js';

const SECRET = 'site-identity-secret-0123456789';
const sign = (userId: string, secret = SECRET) => createHmac('sha256', secret).update(userId).digest('hex');
type Msg = Extract<ServerFrame, { type: 'message' }>;
const isReply = (f: ServerFrame): f is Msg => f.type === 'message' && f.author !== 'customer';

describe('web chat identity: signed visitors and link tokens', () => {
  let t: TestHub;
  let deps: InboundDeps | undefined;
  const logLines: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, cb) => (logLines.push(String(chunk)), cb()) }));
  const customerOf = async (visitorId: string) => (await t.hub.storage.customers.findIdentity('webchat', visitorId))?.customerId;

  before(async () => {
    const config = webchatConfigSchema.parse({ cookieSecret: 'test-secret-0123456789abcdef', identitySecret: SECRET });
    const real = await webchatAdapter.create(config, { log, dataDir: '/nonexistent' });
    // The real adapter; what it accepts runs through the pipeline with the identity handlers first.
    const adapter: ChannelAdapter = {
      channel: real.channel,
      capabilities: real.capabilities,
      connection: real.connection,
      sendNeedsConnection: real.sendNeedsConnection,
      mount: (ctx) =>
        real.mount({
          ...ctx,
          accept: async (m) => {
            if (!deps) throw new Error('not ready');
            await processInbound(deps, m);
            return { jobId: `${m.channel}~${m.platformMessageId}` };
          },
        }),
      send: (m) => real.send(m),
      stop: () => real.stop(),
    };
    t = await startTestHub({ adapters: [adapter], responder: new EchoResponder(), log });
    const hub = t.hub;
    const core = coreTurnHandlers({ storage: hub.storage, responder: () => hub.responder, templates: hub.templates, log: hub.log, maxStrikes: 3, now: () => Date.now() });
    deps = { ...hub.inboundDeps(), turn: composeTurn([...identityTurnHandlers(hub), ...core]) };
  });
  after(() => t.stop());

  it('a valid pair links the visitor to that customer; the history follows them to another device', async () => {
    const laptop = await ChatClient.connect(t.hub.url);
    laptop.send({ type: 'identify', userId: 'user-42', userHash: sign('user-42') });
    const business = await until(async () => {
      const c = await t.hub.storage.customers.get((await customerOf(laptop.visitorId)) ?? '');
      return c?.externalId === 'user-42' && c;
    }, 5000, 'the laptop visitor linked');
    laptop.send({ type: 'message', id: 'm1', text: 'hello from my laptop' });
    await laptop.waitFor(isReply);
    assert.equal((await t.hub.storage.customers.findIdentity('webchat', laptop.visitorId))?.verified, true);

    const phone = await ChatClient.connect(t.hub.url);
    assert.notEqual(phone.visitorId, laptop.visitorId);
    phone.send({ type: 'identify', userId: 'user-42', userHash: sign('user-42') });
    await until(async () => (await customerOf(phone.visitorId)) === business.id, 5000, 'the phone visitor linked');
    phone.close();
    const again = await ChatClient.connect(t.hub.url, { cookie: phone.cookie });
    const history = again.frames.find((f) => f.type === 'history');
    assert.ok(history?.type === 'history' && history.messages.some((m) => m.text === 'hello from my laptop'), 'the laptop’s history on the phone');
    const [entry] = await t.hub.storage.audit.list({ customerId: business.id, action: 'link', limit: 1 });
    assert.match(entry?.actor.name ?? '', /^webchat:.+ \(signed user id\)$/);
    laptop.close();
    again.close();
  });

  it('a missing or wrong hash leaves the visitor anonymous and is logged', async () => {
    const c = await ChatClient.connect(t.hub.url);
    c.send({ type: 'message', id: 'x1', text: 'hi' });
    await c.waitFor(isReply);
    const mine = await customerOf(c.visitorId);
    c.send({ type: 'identify', userId: 'user-42', userHash: sign('user-42', 'not-the-secret-000000000') });
    c.send({ type: 'identify', userId: 'user-42' });
    c.send({ type: 'identify', userId: 'user-42', userHash: sign('user-43') });
    await until(() => logLines.filter((l) => l.includes('signed visitor refused')).length >= 3, 5000, 'three refusals logged');
    assert.ok(logLines.some((l) => l.includes('"hash":"missing"')));
    assert.equal(await customerOf(c.visitorId), mine);
    assert.equal((await t.hub.storage.customers.get(mine ?? ''))?.externalId, null);
    c.close();
  });

  it('a Telegram user typing /identify links nothing (only the web chat adapter can vouch)', async () => {
    const update = {
      update_id: 5,
      message: { message_id: 5, from: { id: 4242, is_bot: false, first_name: 'M' }, chat: { id: 4242, type: 'private' }, date: 1, text: '/identify user-42', entities: [{ offset: 0, length: 9, type: 'bot_command' }] },
    };
    const mapped = mapUpdate(update, { botUsername: 'b', allowedGroups: new Set(), now: Date.now() });
    assert.ok(mapped.ok && deps);
    await processInbound(deps, mapped.message);
    const id = await t.hub.storage.customers.findIdentity('telegram', '4242');
    assert.notEqual((await t.hub.storage.customers.get(id?.customerId ?? ''))?.externalId, 'user-42');
  });

  it('the page’s link token (?sb_link=) links the visitor and confirms', async () => {
    const issued = await issueLinkTokens(t.hub.storage, { externalId: 'crm-7', channels: ['webchat'], ttlMs: 60_000, actor: { kind: 'token', name: 't' }, now: Date.now() });
    const c = await ChatClient.connect(t.hub.url);
    const mark = c.mark();
    c.send({ type: 'link', id: 'lnk1', token: issued.tokens.webchat });
    const reply = await c.waitFor(isReply, mark);
    assert.match(reply.text, /linked to your customer account|已将此账号/);
    assert.equal(await customerOf(c.visitorId), issued.customerId);
    c.close();
  });
});
