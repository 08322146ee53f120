/**
 * `POST /api/messages` and `GET /api/messages/:id` (issue #13): a real hub on real Redis and
 * SQLite, two loopback channels standing in for platforms, tokens from api.tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { HubError } from '../../src/core/errors.js';
import { DIALECTS } from '../helpers/env.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { tempDir } from '../helpers/temp-dir.js';

const EVENTS = generateToken();
const AGENT = generateToken();
const TOKENS = [
  { name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) },
  { name: 'helpdesk', roles: ['agent' as const], sha256: hashToken(AGENT) },
];

type SendAnswer = { id: string; status: string };
type Status = { id: string; status: string; attempts: { channel: string; status: string; at: string; error?: string }[] };

function configDir(): string {
  const dir = tempDir('sb-api-');
  mkdirSync(join(dir, 'templates'));
  copyFileSync(join('config', 'templates', 'core.yaml'), join(dir, 'templates', 'core.yaml'));
  writeFileSync(
    join(dir, 'templates', 'messages.yaml'),
    ['renewal:', '  en: "Hi {{name}}, your plan renews on {{date}}."', '  zh: "{{name}}，您的套餐将于 {{date}} 续费。"', 'hello: "Hello there"', ''].join('\n'),
  );
  return dir;
}

for (const dialect of DIALECTS) {
describe(`POST /api/messages (${dialect})`, () => {
  let t: TestHub;
  /** alpha refuses this text (the blocked-bot failure), and only this one. */
  let failOnA: string | undefined;
  const lines: Record<string, unknown>[] = [];
  const a = new LoopbackAdapter({
    channel: 'alpha',
    onSend: (m) => {
      // Only the test's own message is refused: other sends to alice (the console's waiting notice for
      // her earlier message, sent by a subscriber whenever it runs) must not mark her unreachable.
      if (failOnA !== undefined && m.text === failOnA) throw new HubError('RECIPIENT_UNREACHABLE', 'the user blocked the bot', { retry: 'final' });
    },
  });
  const b = new LoopbackAdapter({ channel: 'beta' });
  const call = (path: string, init: { method?: string; token?: string; body?: unknown; key?: string } = {}) =>
    fetch(`${t.hub.url}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.key ? { 'idempotency-key': init.key } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  const send = async (body: unknown, key?: string) => {
    const res = await call('/api/messages', { token: EVENTS, body, ...(key ? { key } : {}) });
    return { status: res.status, body: (await res.json()) as SendAnswer & { error?: string; field?: string } };
  };
  const statusOf = async (id: string, until_: (s: Status) => boolean) =>
    until(async () => {
      const s = (await (await call(`/api/messages/${id}`, { token: EVENTS })).json()) as Status;
      return until_(s) ? s : undefined;
    }, 10_000, `message ${id} to settle`);

  /** alice writes on alpha (reachable there again); waits until the turn and its replies are done. */
  const writesAgain = async () => {
    const m = await a.receive('alice', 'I am back');
    const row = await until(async () => {
      const r = await t.hub.storage.messages.byKey(`alpha:${m.platformMessageId}`);
      return r?.processedAt ? r : undefined;
    });
    await until(async () => (await t.hub.storage.messages.causedBy(row.id)).every((x) => x.deliveryStatus !== 'pending'));
    assert.equal((await t.hub.storage.customers.findIdentity('alpha', 'alice'))?.unreachableAt, null);
  };

  /** A customer who wrote on alpha (user `alice`) and was linked to beta (`alice-b`). */
  let customerId: string;
  before(async () => {
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
          done();
        },
      }),
    );
    t = await startTestHub({ dialect, adapters: [a, b], configDir: configDir(), log, config: { api: { tokens: TOKENS } } });
    await a.receive('alice', 'hello, I need help');
    await a.waitForSent(1);
    const identity = await until(() => t.hub.storage.customers.findIdentity('alpha', 'alice'));
    customerId = identity.customerId;
    await t.hub.storage.customers.addIdentity({ customerId, channel: 'beta', platformUserId: 'alice-b', ref: { channel: 'beta', chatId: 'alice-b' }, verified: true });
  });
  after(() => t.stop());

  it('answers 202 queued, sends on the first channel, and GET says sent with the attempt', async () => {
    const before_ = a.sent.length;
    const r = await send({ customer: { identities: [{ channel: 'alpha', id: 'alice' }] }, text: 'Your parcel left the warehouse.' });
    assert.equal(r.status, 202);
    assert.deepEqual(Object.keys(r.body).sort(), ['id', 'status']);
    assert.equal(r.body.status, 'queued');
    await a.waitForSent(before_ + 1);
    assert.equal(a.sent.at(-1)?.text, 'Your parcel left the warehouse.');
    const s = await statusOf(r.body.id, (x) => x.status !== 'queued');
    assert.equal(s.status, 'sent');
    assert.equal(s.attempts.length, 1);
    assert.equal(s.attempts[0]?.channel, 'alpha');
    assert.equal(s.attempts[0]?.status, 'sent');
    assert.ok(!Number.isNaN(Date.parse(s.attempts[0]?.at ?? '')));
  });

  it('the same Idempotency-Key again answers 200 with the same body and sends nothing; another message under it is 409', async () => {
    const body = { customer: { identities: [{ channel: 'alpha', id: 'alice' }] }, text: 'Only once, please.' };
    const first = await send(body, 'order-77-shipped');
    assert.equal(first.status, 202);
    await until(() => a.sent.some((m) => m.text === 'Only once, please.'));
    const again = await send(body, 'order-77-shipped');
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    const other = await send({ ...body, text: 'Something else' }, 'order-77-shipped');
    assert.equal(other.status, 409);
    assert.equal(other.body.field, 'headers.idempotency-key');
    const withButtons = await send({ ...body, buttons: [{ label: 'OK', value: 'ok' }] }, 'order-77-shipped');
    assert.equal(withButtons.status, 409, 'the same text with buttons is another request');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.sent.filter((m) => m.text === 'Only once, please.').length, 1);
    assert.equal(a.sent.filter((m) => m.text === 'Something else').length, 0);
  });

  it('falls back: a channel without an identity is skipped, a blocked one fails, the next one delivers', async () => {
    failOnA = 'Your card expires soon.';
    try {
      const r = await send({ customer: { identities: [{ channel: 'alpha', id: 'alice' }] }, channels: ['gamma', 'alpha', 'beta'], text: 'Your card expires soon.' });
      assert.equal(r.status, 202);
      await until(() => b.sent.some((m) => m.text === 'Your card expires soon.'));
      assert.equal(b.sent.at(-1)?.ref.chatId, 'alice-b');
      const s = await statusOf(r.body.id, (x) => x.status === 'sent');
      assert.deepEqual(
        s.attempts.map((x) => [x.channel, x.status]),
        [
          ['gamma', 'skipped'],
          ['alpha', 'failed'],
          ['beta', 'sent'],
        ],
      );
      assert.match(s.attempts[0]?.error ?? '', /no gamma channel/);
      assert.match(s.attempts[1]?.error ?? '', /RECIPIENT_UNREACHABLE: the user blocked the bot/);
    } finally {
      failOnA = undefined;
    }
    // alpha is marked unreachable now: the next send skips it with the reason.
    const r2 = await send({ customer: { identities: [{ channel: 'beta', id: 'alice-b' }] }, channels: ['alpha', 'beta'], text: 'Second notice.' });
    const s2 = await statusOf(r2.body.id, (x) => x.status === 'sent');
    assert.deepEqual(
      s2.attempts.map((x) => [x.channel, x.status]),
      [
        ['alpha', 'skipped'],
        ['beta', 'sent'],
      ],
    );
    assert.match(s2.attempts[0]?.error ?? '', /unreachable: the user blocked the bot/);
    // Writing again makes alice reachable on alpha.
    await writesAgain();
  });

  it('a failure handled several times at once (redelivered event, two workers) moves on to the next channel once', async () => {
    failOnA = 'Exactly one fallback.';
    try {
      const r = await send({ customer: { identities: [{ channel: 'alpha', id: 'alice' }] }, channels: ['alpha', 'beta'], text: 'Exactly one fallback.' });
      const stored = await t.hub.storage.proactiveSends.get(r.body.id);
      const first = stored?.attempts[0]?.messageId;
      assert.ok(first);
      await Promise.all([1, 2, 3].map(() => t.hub.sends.failed(first, 'RECIPIENT_UNREACHABLE: blocked', Date.now())));
      await statusOf(r.body.id, (x) => x.status === 'sent');
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(b.sent.filter((m) => m.text === 'Exactly one fallback.').length, 1);
      assert.equal((await t.hub.storage.proactiveSends.get(r.body.id))?.attempts.length, 2);
      // The alpha attempt's own outbound job ends here too (failed, while alpha still fails): on a busy
      // machine it could otherwise run during the next test and mark alice unreachable again.
      await until(async () => ((await t.hub.storage.messages.get(first))?.deliveryStatus !== 'pending' ? true : undefined), 10_000, 'the alpha attempt settled');
    } finally {
      failOnA = undefined;
    }
    await writesAgain();
  });

  it('every channel failing leaves the message failed with each reason', async () => {
    failOnA = 'Nobody hears this.';
    try {
      const r = await send({ customer: { identities: [{ channel: 'alpha', id: 'alice' }] }, channels: ['alpha'], text: 'Nobody hears this.' });
      assert.equal(r.status, 202);
      const s = await statusOf(r.body.id, (x) => x.status === 'failed');
      assert.deepEqual(
        s.attempts.map((x) => [x.channel, x.status]),
        [['alpha', 'failed']],
      );
    } finally {
      failOnA = undefined;
    }
    await writesAgain();
  });

  it('an unknown customer is 404 naming what was looked up; one with no reachable identity is 422', async () => {
    const r = await send({ customer: { externalId: 'cus_404', identities: [{ channel: 'telegram', id: '42' }] }, text: 'hi' });
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'no customer with externalId "cus_404" or telegram identity "42"');
    const u = await send({ customer: { externalId: 'cus_never', identities: [{ channel: 'alpha', id: 'alice' }] }, channels: ['gamma'], text: 'hi' });
    assert.equal(u.status, 422);
    // A request that failed gives the customer no externalId.
    assert.equal((await t.hub.storage.customers.byExternalId('cus_never')), undefined);
    assert.match(u.body.error ?? '', /no reachable identity on the channels tried \(gamma: this hub has no gamma channel\)/);
  });

  it('an externalId given with identities names the customer from then on', async () => {
    const r = await send({ customer: { externalId: 'cus_1001', identities: [{ channel: 'alpha', id: 'alice' }] }, text: 'Welcome aboard.' });
    assert.equal(r.status, 202);
    const r2 = await send({ customer: { externalId: 'cus_1001' }, text: 'By your id only.' });
    assert.equal(r2.status, 202);
    await until(() => a.sent.some((m) => m.text === 'By your id only.' && m.ref.chatId === 'alice'));
    // The same identity under another externalId is a conflict, not a silent rename.
    const clash = await send({ customer: { externalId: 'cus_2002', identities: [{ channel: 'alpha', id: 'alice' }] }, text: 'x' });
    assert.equal(clash.status, 409);
    assert.match(clash.body.error ?? '', /whose externalId is "cus_1001", not "cus_2002"/);
  });

  it('templates render in the requested locale; missing or unknown vars and unknown templates are 400 naming the field', async () => {
    const r = await send({ customer: { externalId: 'cus_1001' }, template: 'renewal', vars: { name: '王芳', date: '2027-01-01' }, locale: 'zh-CN' });
    assert.equal(r.status, 202);
    await until(() => a.sent.some((m) => m.text === '王芳，您的套餐将于 2027-01-01 续费。'));
    const cases: [unknown, string, RegExp][] = [
      [{ template: 'renewal', vars: { name: 'Ann' } }, 'body.vars.date', /needs vars.date \(it takes date, name\)/],
      [{ template: 'renewal', vars: { name: 'Ann', date: 'x', plan: 'gold' } }, 'body.vars.plan', /does not use vars.plan/],
      [{ template: 'renewl' }, 'body.template', /no template "renewl" in .*messages.yaml \(it has renewal, hello\)/],
      [{ text: 'a', template: 'hello' }, 'body.text', /either text or template/],
      [{}, 'body.text', /either text or template/],
      [{ txt: 'typo' }, 'body.txt', /additional properties/],
      [{ text: 'a', channels: ['Tele gram'] }, 'body.channels.0', /pattern/],
    ];
    for (const [extra, field, message] of cases) {
      const res = await send({ customer: { externalId: 'cus_1001' }, ...(extra as object) });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.equal(res.body.field, field, JSON.stringify(extra));
      assert.match(res.body.error ?? '', message);
    }
    const noCustomer = await send({ text: 'x' });
    assert.equal(noCustomer.body.field, 'body.customer');
  });

  it('needs an events token: 401 without one, 403 with an agent token; calls are logged with the token name only', async () => {
    assert.equal((await call('/api/messages', { body: { customer: { externalId: 'cus_1001' }, text: 'x' } })).status, 401);
    // The token is checked before the body: a stranger learns nothing about the schema.
    assert.equal((await call('/api/messages', { body: { nonsense: true } })).status, 401);
    assert.equal((await call('/api/messages', { token: AGENT, body: { nonsense: true } })).status, 403);
    const res = await call('/api/messages', { token: AGENT, body: { customer: { externalId: 'cus_1001' }, text: 'x' } });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: string }).error, 'the token "helpdesk" lacks the role events (it has agent)');
    const ok = lines.find((l) => l.msg === 'api call' && l.tokenName === 'crm' && l.route === '/api/messages' && l.status === 202);
    assert.ok(ok, 'a log line names the token of a served call');
    const refused = lines.find((l) => l.msg === 'api call refused: 403' && l.tokenName === 'helpdesk');
    assert.ok(refused, 'a refused call is logged with the token name');
    const all = JSON.stringify(lines);
    assert.ok(!all.includes(EVENTS) && !all.includes(AGENT), 'no token in the logs');
  });

  it('GET /api/messages/:id of an unknown id is 404', async () => {
    const res = await call('/api/messages/nope', { token: EVENTS });
    assert.equal(res.status, 404);
  });
});
}
