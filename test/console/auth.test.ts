import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { Storage } from '../../src/core/storage/storage.js';
import { loadConsoleKeys, newSession, openSession, sealSession, SESSION_TTL_MS } from '../../src/console/session.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { sqliteDb } from '../helpers/env.js';
import { ConsoleClient } from './client.js';

const AGENT = generateToken();
const ADMIN = generateToken();
const EVENTS = generateToken();
const TOKENS = [
  { name: 'desk', roles: ['agent' as const], sha256: hashToken(AGENT) },
  { name: 'boss', roles: ['admin' as const], sha256: hashToken(ADMIN) },
  { name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) },
];

describe('console sessions (unit)', () => {
  it('a sealed session opens with the same key until it expires; tampered or foreign cookies do not', async () => {
    const db = sqliteDb();
    const s1 = await Storage.open(db.url);
    const s2 = await Storage.open(db.url);
    try {
      const keys = await loadConsoleKeys(s1.channelState);
      const again = await loadConsoleKeys(s2.channelState); // another process, same database
      const now = Date.UTC(2026, 5, 1);
      const s = newSession('desk', ['agent'], 'Lin', now);
      const cookie = sealSession(keys, s);
      assert.deepEqual(openSession(again, cookie, now + 1000), s, 'every process shares the key');
      assert.equal(openSession(keys, cookie, now + SESSION_TTL_MS - 1)?.name, 'desk');
      assert.equal(openSession(keys, cookie, now + SESSION_TTL_MS), undefined, 'expired');
      const [body, sig] = [cookie.slice(0, cookie.lastIndexOf('.')), cookie.slice(cookie.lastIndexOf('.') + 1)];
      const forged = Buffer.from(JSON.stringify({ ...s, roles: ['admin'] })).toString('base64url');
      assert.equal(openSession(keys, `${forged}.${sig}`, now), undefined, 'a changed body fails the signature');
      assert.equal(openSession(keys, body, now), undefined, 'unsigned');
      await s1.channelState.delete('console', 'session-key');
      const rotated = await loadConsoleKeys(s1.channelState);
      assert.equal(openSession(rotated, cookie, now), undefined, 'a new key signs everyone out');
    } finally {
      await s1.close();
      await s2.close();
      await db.drop();
    }
  });
});

describe('console sign-in and guard (real hub)', () => {
  let t: TestHub;
  const clock = new ManualClock(Date.now());
  before(async () => {
    t = await startTestHub({ clock, config: { api: { tokens: TOKENS } } });
  });
  after(async () => t?.stop());

  it('an HTML page without a session goes to the sign-in page; JSON without one is 401', async () => {
    const c = new ConsoleClient(t.hub.url);
    const page = await c.request('GET', '/console', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/console/login?next=%2Fconsole');
    const api = await c.request('GET', '/console/api/inbox');
    assert.equal(api.status, 401);
    assert.match(((await api.json()) as { error: string }).error, /sign in at \/console\/login/);
  });

  it('Bearer tokens: agent and admin pass, events is 403, a wrong one 401', async () => {
    const c = new ConsoleClient(t.hub.url);
    for (const [tok, status] of [[AGENT, 200], [ADMIN, 200], [EVENTS, 403], [generateToken(), 401]] as const) {
      const res = await c.request('GET', '/console/api/inbox', { headers: { authorization: `Bearer ${tok}` } });
      assert.equal(res.status, status, `token status ${status}`);
    }
    // A Bearer call needs no CSRF token (no browser sends the header by itself).
    const conv = await t.hub.storage.conversations.create((await t.hub.storage.customers.create({ displayName: 'Ann' })).id, 'webchat', null);
    const res = await c.request('POST', `/console/api/conversations/${conv.id}/claim`, { headers: { authorization: `Bearer ${AGENT}` } });
    assert.equal(res.status, 200);
    assert.equal((await t.hub.storage.conversations.get(conv.id))?.assignee, 'console:desk');
  });

  it('a wrong token is refused with a clear message; a token without the role too; the right one sets a signed HttpOnly SameSite cookie', async () => {
    const c = new ConsoleClient(t.hub.url);
    const wrong = await c.signIn('sb_not-a-token');
    assert.equal(wrong.status, 401);
    assert.match(((await wrong.json()) as { error: string }).error, /wrong token/);
    const events = await c.signIn(EVENTS);
    assert.equal(events.status, 403);
    assert.match(((await events.json()) as { error: string }).error, /needs agent or admin/);
    const ok = await c.signIn(AGENT, 'Lin');
    assert.equal(ok.status, 200);
    const set = ok.headers.getSetCookie().find((x) => x.startsWith('sb_console='));
    assert.ok(set);
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.match(set, /Max-Age=28800/);
    const me = (await (await c.request('GET', '/console/api/me')).json()) as Record<string, unknown>;
    const { csrfToken, ...who } = me;
    assert.deepEqual(who, { id: 'console:Lin', name: 'Lin', roles: ['agent'], expiresAt: clock.now() + SESSION_TTL_MS });
    // The token from /me works for state changes (what other console pages use).
    assert.equal(typeof csrfToken, 'string');
    c.csrf = String(csrfToken);
    assert.equal((await c.request('POST', '/console/logout')).status, 200);
  });

  it('a state change with the cookie but without the CSRF token is refused', async () => {
    const c = new ConsoleClient(t.hub.url);
    assert.equal((await c.signIn(AGENT, 'Lin')).status, 200);
    const conv = await t.hub.storage.conversations.create((await t.hub.storage.customers.create({ displayName: 'Bo' })).id, 'webchat', null);
    const bare = await c.request('POST', `/console/api/conversations/${conv.id}/claim`, { csrf: false });
    assert.equal(bare.status, 403);
    const forged = await c.request('POST', `/console/api/conversations/${conv.id}/claim`, { csrf: false, headers: { 'x-csrf-token': 'abc-def' } });
    assert.equal(forged.status, 403);
    assert.equal((await t.hub.storage.conversations.get(conv.id))?.assignee, null, 'nothing changed');
    const other = new ConsoleClient(t.hub.url);
    assert.equal((await other.signIn(AGENT, 'Mo')).status, 200);
    const tossed = await c.request('POST', `/console/api/conversations/${conv.id}/claim`, { csrf: false, headers: { 'x-csrf-token': other.csrf } });
    assert.equal(tossed.status, 403, "another session's token does not fit this session");
    const good = await c.request('POST', `/console/api/conversations/${conv.id}/claim`);
    assert.equal(good.status, 200);
    assert.equal((await t.hub.storage.conversations.get(conv.id))?.assignee, 'console:Lin');
    const loginWithout = await new ConsoleClient(t.hub.url).request('POST', '/console/login', { body: { token: AGENT } });
    assert.equal(loginWithout.status, 403, 'sign-in itself needs the login page token');
  });

  it('the session expires after 8 hours; sign-out ends it', async () => {
    const c = new ConsoleClient(t.hub.url);
    assert.equal((await c.signIn(AGENT)).status, 200);
    const saved = c.cookieHeader();
    assert.equal((await c.request('GET', '/console/api/me')).status, 200);
    clock.advance(SESSION_TTL_MS + 1000);
    assert.equal((await c.request('GET', '/console/api/me')).status, 401, 'expired even if the browser kept the cookie');
    clock.advance(-SESSION_TTL_MS - 1000);
    assert.equal((await c.request('GET', '/console/api/me')).status, 200);
    assert.equal((await c.request('POST', '/console/logout')).status, 200);
    assert.equal(c.jar.has('sb_console'), false, 'cookie cleared');
    assert.ok(saved.includes('sb_console='));
  });

  it('another hub process on the same database takes the cookie (one key, kept across restarts); a token removed from hub.yaml ends its sessions', async () => {
    const desk = new ConsoleClient(t.hub.url);
    const boss = new ConsoleClient(t.hub.url);
    assert.equal((await desk.signIn(AGENT)).status, 200);
    assert.equal((await boss.signIn(ADMIN)).status, 200);
    // The second hub knows only the admin token: "desk" was removed from its hub.yaml.
    const other = await startTestHub({ db: t.db, clock, config: { api: { tokens: [TOKENS[1]!] } } });
    try {
      const at = (c: ConsoleClient) => fetch(`${other.hub.url}/console/api/me`, { headers: { cookie: c.cookieHeader() } });
      assert.equal((await at(boss)).status, 200, 'signed by the shared key');
      assert.equal((await at(desk)).status, 401, 'the token is gone');
    } finally {
      await other.stop();
    }
  });

  it('wrong tokens are rate limited per client IP', async () => {
    const c = new ConsoleClient(t.hub.url);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await c.signIn(`sb_wrong${i}`)).status);
    // One wrong token came from this address before (a token lacking the role is not counted, nor are right ones): 10 are answered, then 429.
    assert.deepEqual(statuses, [...Array(9).fill(401), 429, 429]);
    const right = await c.signIn(AGENT);
    assert.equal(right.status, 429, 'while limited, even the right token waits');
    assert.ok(Number(right.headers.get('retry-after')) > 0);
    assert.match(((await right.json()) as { error: string }).error, /too many wrong tokens/);
  });
});
