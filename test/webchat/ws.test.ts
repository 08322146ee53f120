import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { webchatAdapter, webchatConfigSchema } from '../../src/adapters/webchat/index.js';
import type { ServerFrame } from '../../src/adapters/webchat/mapper.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { sqliteDb, uniqueName } from '../helpers/env.js';
import { ChatClient } from './client.js';
import { EchoResponder } from './echo.js';
import { escalateConversation } from '../../src/core/conversation/escalate.js';

type Msg = Extract<ServerFrame, { type: 'message' }>;
const isReply = (f: ServerFrame): f is Msg => f.type === 'message' && f.author !== 'customer';

describe('webchat over a real hub', () => {
  let t: TestHub;
  let base: string;
  before(async () => {
    const config = webchatConfigSchema.parse({
      cookieSecret: 'test-secret-0123456789abcdef',
      allowedOrigins: ['https://shop.example'],
      title: { zh: '测试客服', en: 'Test <Support>' },
    });
    const adapter = await webchatAdapter.create(config, { log: pino({ level: 'silent' }), dataDir: '/nonexistent' });
    // A bot that thinks a moment, so the typing dots come before its reply.
    t = await startTestHub({ adapters: [adapter], responder: new EchoResponder(150) });
    base = t.hub.url;
  });
  after(() => t.stop());

  it('serves the page with a signed HttpOnly cookie, the script and the stylesheet', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const cookie = page.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^sb_wc=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Max-Age=31536000; Path=\/; HttpOnly; SameSite=Lax$/);
    const html = await page.text();
    assert.match(html, /data-title-en="Test &#60;Support&#62;"/);
    // A visitor with a valid cookie keeps it: no new cookie.
    const again = await fetch(`${base}/`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
    assert.equal(again.headers.get('set-cookie'), null);
    await again.text();

    const js = await fetch(`${base}/widget.js`);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /max-age=300/);
    const etag = js.headers.get('etag') ?? '';
    assert.ok(etag);
    await js.text();
    const cached = await fetch(`${base}/widget.js`, { headers: { 'if-none-match': etag } });
    assert.equal(cached.status, 304);
    const css = await fetch(`${base}/webchat/widget.css`);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    await css.text();
    assert.equal((await fetch(`${base}/webchat/nope.js`)).status, 404);
  });

  it('round trip: ack, typing on, reply with buttons, typing off; history after reconnect; every tab gets it', async () => {
    const a = await ChatClient.connect(base, { query: 'lang=en-US' });
    assert.match(a.setCookie ?? '', /HttpOnly; SameSite=Lax/);
    const tab2 = await ChatClient.connect(base, { cookie: a.cookie });
    assert.equal(tab2.visitorId, a.visitorId);
    a.send({ type: 'message', id: 'm1', text: 'hello there' });
    await a.waitFor((f) => f.type === 'ack' && f.id === 'm1');
    await a.waitFor((f) => f.type === 'typing' && f.on);
    const reply = await a.waitFor(isReply);
    assert.equal(reply.text, 'echo: hello there');
    assert.deepEqual(reply.buttons, [{ label: 'More', value: 'more' }]);
    const off = a.frames.findIndex((f) => f.type === 'typing' && !f.on);
    assert.ok(off >= 0 && off < a.frames.indexOf(reply), 'typing off right before the reply');
    // The other tab sees the customer's message and the reply.
    await tab2.waitFor((f) => f.type === 'message' && f.author === 'customer' && f.text === 'hello there');
    await tab2.waitFor(isReply);

    // Pressing a button.
    a.send({ type: 'button', id: 'b1', value: 'more', label: 'More' });
    const next = await a.waitFor((f): f is Msg => isReply(f) && f.text === 'echo: More (more)');
    assert.ok(next);
    a.close();
    tab2.close();

    const back = await ChatClient.connect(base, { cookie: a.cookie });
    assert.equal(back.visitorId, a.visitorId);
    const hist = back.frames.find((f) => f.type === 'history');
    assert.ok(hist?.type === 'history');
    assert.deepEqual(
      hist.messages.map((m) => [m.author, m.text]),
      [
        ['customer', 'hello there'],
        ['bot', 'echo: hello there'],
        ['customer', 'More'],
        ['bot', 'echo: More (more)'],
      ],
    );
    assert.deepEqual(hist.messages[1]?.buttons, [{ label: 'More', value: 'more' }]);
    back.close();
  });

  it('no typing dots for a message to a person: once the conversation is handed over, only the bot\'s turns show them', async () => {
    const a = await ChatClient.connect(base);
    a.send({ type: 'message', id: 'h1', text: 'hello' });
    await a.waitFor((f) => f.type === 'typing' && f.on);
    await a.waitFor(isReply);
    const identity = await t.hub.storage.customers.findIdentity('webchat', a.visitorId);
    const conversation = (await t.hub.storage.conversations.ofCustomer(identity?.customerId ?? '')).at(-1);
    assert.ok(conversation);
    await escalateConversation(t.hub.changeDeps(), conversation.id, { escalationId: 'typing-test', reason: 'asked_for_human', priority: 'normal', actor: 'system' });
    const before = a.frames.length;
    a.send({ type: 'message', id: 'h2', text: 'are you there?' });
    await a.waitFor((f) => f.type === 'ack' && f.id === 'h2');
    await a.waitFor((f) => f.type === 'message' && f.author === 'customer' && f.id === 'h2');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(a.frames.slice(before).filter((f) => f.type === 'typing' && f.on).length, 0, 'no typing dots while a person has the case');
    a.close();
  });

  it('a forged or unsigned cookie is a new visitor', async () => {
    const a = await ChatClient.connect(base);
    const [name, value] = (a.cookie ?? '').split('=');
    const [id, sig] = (value ?? '').split('.');
    const flipped = `${sig?.slice(0, -2)}${sig?.endsWith('AA') ? 'AB' : 'AA'}`;
    const forged = await ChatClient.connect(base, { cookie: `${name}=${id}.${flipped}` });
    assert.notEqual(forged.visitorId, a.visitorId);
    assert.ok(forged.setCookie, 'a fresh signed cookie is issued');
    const unsigned = await ChatClient.connect(base, { cookie: `${name}=${id}` });
    assert.notEqual(unsigned.visitorId, a.visitorId);
    for (const c of [a, forged, unsigned]) c.close();
  });

  it('the visitor cookie is read among the site\'s other cookies: page, session and WebSocket keep the visitor', async () => {
    const a = await ChatClient.connect(base);
    assert.ok(a.cookie, 'a first visit gets the cookie');
    const jar = `theme=dark; ${a.cookie ?? ''}; cart=a%20b`;
    const page = await fetch(`${base}/`, { headers: { cookie: jar } });
    assert.equal(page.headers.get('set-cookie'), null, 'the page found the cookie');
    await page.text();
    const session = await fetch(`${base}/webchat/session`, { headers: { cookie: jar } });
    assert.equal(session.headers.get('set-cookie'), null);
    assert.equal(((await session.json()) as { visitorId: string }).visitorId, a.visitorId);
    const tab = await ChatClient.connect(base, { cookie: jar });
    assert.equal(tab.visitorId, a.visitorId, 'the WebSocket upgrade found the cookie');
    assert.equal(tab.setCookie, undefined);
    for (const c of [a, tab]) c.close();
  });

  it('bad frames get clear errors; the socket, other sockets and the hub keep working', async () => {
    const c = await ChatClient.connect(base);
    const other = await ChatClient.connect(base);
    const err = async (frame: string | Buffer, code: string, pattern: RegExp) => {
      const from = c.mark();
      c.ws.send(frame);
      const e = await c.waitFor((f) => f.type === 'error', from);
      assert.ok(e.type === 'error');
      assert.equal(e.code, code);
      assert.match(e.message, pattern);
    };
    await err('{not json', 'BAD_FRAME', /not valid JSON/);
    await err('[1,2]', 'BAD_FRAME', /JSON object/);
    await err('{"type":"explode"}', 'UNKNOWN_TYPE', /unknown frame type "explode"/);
    await err('{"type":"message","id":"x1"}', 'BAD_FRAME', /text/);
    await err('{"type":"message","id":"bad id!","text":"hi"}', 'BAD_FRAME', /id/);
    await err(JSON.stringify({ type: 'message', id: 'big', text: 'a'.repeat(1_048_576) }), 'TOO_LARGE', /limit is 131072/);
    await err(Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'BAD_FRAME', /binary/);
    await err(JSON.stringify({ type: 'message', id: 'e1', text: '   ' }), 'INPUT_INVALID', /text is empty/);
    await err(JSON.stringify({ type: 'message', id: 'e2', text: 'x'.repeat(20_001) }), 'INPUT_INVALID', /limit is 20000/);
    assert.equal(c.closed, undefined);
    const from = c.mark();
    c.send({ type: 'message', id: 'ok1', text: 'still here' });
    assert.equal((await c.waitFor(isReply, from)).text, 'echo: still here');
    other.send({ type: 'message', id: 'ok2', text: 'me too' });
    assert.equal((await other.waitFor(isReply)).text, 'echo: me too');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    c.close();
    other.close();
  });

  it('a resent client message id is acknowledged again and answered once', async () => {
    const c = await ChatClient.connect(base);
    c.send({ type: 'message', id: 'dup1', text: 'once please' });
    await c.waitFor((f) => f.type === 'ack' && f.id === 'dup1');
    c.close();
    // Reconnect (same cookie) and resend, as the widget does with an unacknowledged message.
    const again = await ChatClient.connect(base, { cookie: c.cookie });
    again.send({ type: 'message', id: 'dup1', text: 'once please' });
    await again.waitFor((f) => f.type === 'ack' && f.id === 'dup1');
    const hist = async () => (await t.hub.adapterContext().history('webchat', c.visitorId, 50)).map((m) => m.text);
    const deadline = Date.now() + 8000;
    while (!(await hist()).includes('echo: once please') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(await hist(), ['once please', 'echo: once please']);
    assert.ok(again.messages().filter(isReply).length <= 1);
    again.close();
  });

  it('rate limits a visitor sending too fast', async () => {
    const c = await ChatClient.connect(base);
    for (let i = 0; i < 14; i++) c.send({ type: 'message', id: `r${i}`, text: `burst ${i}` });
    const e = await c.waitFor((f) => f.type === 'error' && f.code === 'RATE_LIMITED');
    assert.ok(e.type === 'error' && e.id?.startsWith('r'));
    assert.equal(c.closed, undefined);
    c.close();
    // A flood of cheap frames (history requests, junk) is cut off per socket, which stays open.
    const f = await ChatClient.connect(base);
    for (let i = 0; i < 80; i++) f.send(i % 2 ? '{"type":"history"}' : 'junk');
    await f.waitFor((x) => x.type === 'error' && x.code === 'RATE_LIMITED' && /frames/.test(x.message));
    const histories = () => f.frames.filter((x) => x.type === 'history').length;
    assert.ok(histories() <= 12, `history requests are limited (${histories()})`);
    assert.equal(f.closed, undefined);
    f.close();
  });

  it('checks the Origin; an allowed site gets a token through /webchat/session that works on the socket', async () => {
    await assert.rejects(ChatClient.connect(base, { origin: 'https://evil.example' }), /403/);
    const denied = await fetch(`${base}/webchat/session`, { headers: { origin: 'https://evil.example' } });
    assert.equal(denied.status, 403);
    const s = await fetch(`${base}/webchat/session`, { headers: { origin: 'https://shop.example' } });
    assert.equal(s.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.equal(s.headers.get('access-control-allow-credentials'), 'true');
    const body = (await s.json()) as { visitorId: string; token: string; title: { en: string } };
    assert.equal(body.title.en, 'Test <Support>');
    const c = await ChatClient.connect(base, { origin: 'https://shop.example', query: `token=${encodeURIComponent(body.token)}` });
    assert.equal(c.visitorId, body.visitorId);
    c.close();
    // Same-origin callers never see the token (the page relies on the HttpOnly cookie).
    const same = (await (await fetch(`${base}/webchat/session`)).json()) as { token?: string };
    assert.equal(same.token, undefined);
  });
});

describe('webchat across processes', () => {
  it('a reply sent by a worker process reaches the socket held by the gateway process', async () => {
    const db = sqliteDb();
    const prefix = uniqueName('sbwc');
    const make = () =>
      webchatAdapter.create(webchatConfigSchema.parse({ cookieSecret: 'shared-secret-0123456789' }), {
        log: pino({ level: 'silent' }),
        dataDir: '/nonexistent',
      });
    const config = { redis: { prefix } };
    const gateway = await startTestHub({ role: 'gateway', db, config, adapters: [await make()] });
    const worker = await startTestHub({ role: 'worker', db, config, adapters: [await make()], responder: new EchoResponder() });
    try {
      const c = await ChatClient.connect(gateway.hub.url);
      c.send({ type: 'message', id: 'x1', text: 'from afar' });
      assert.equal((await c.waitFor(isReply)).text, 'echo: from afar');
      c.close();
    } finally {
      await worker.stop();
      await gateway.stop();
      await db.drop();
    }
  });
});
