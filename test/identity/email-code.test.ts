/**
 * Email one-time codes, adversarially, on a real hub: the Telegram adapter against the fake Bot
 * API, the real email channel against SMTP capture (and Dovecot) on loopback, the turn chain as
 * src/hub/identity.ts composes it, real Redis for the limits. The codes are read from the captured
 * mails, as the address's owner would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { processInbound } from '../../src/core/conversation/inbound.js';
import type { Clock } from '../../src/core/clock.js';
import { readMessage } from '../../src/core/customers/email-code-turn.js';
import { eraseCustomer, exportCustomer } from '../../src/core/customers/privacy.js';
import { sql } from 'kysely';
import { openDb } from '../../src/core/storage/db.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';
import { startSmtpCapture, type SmtpCapture } from '../fakes/smtp-capture.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import type { Dialect } from '../helpers/env.js';
import { inbound, say, textsOf } from './helpers.js';

/** A clock tests move forward (expiry) while time still passes. */
class ShiftedClock implements Clock {
  shift = 0;
  now(): number {
    return Date.now() + this.shift;
  }
}

interface Rig {
  t: TestHub;
  smtp: SmtpCapture;
  clock: ShiftedClock;
  close(): Promise<void>;
}

async function rig(dialect: Dialect, imap: Dovecot, tg: FakeTelegram): Promise<Rig> {
  const smtp = await startSmtpCapture();
  const clock = new ShiftedClock();
  const t = await startTestHub({
    dialect,
    clock,
    config: {
      channels: {
        telegram: { enabled: true, token: tg.token, apiRoot: tg.apiRoot, pollingTimeoutSec: 0 },
        email: {
          enabled: true,
          imap: { host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, pollSeconds: 30 },
          smtp: { host: smtp.host, port: smtp.port, secure: false, pool: false },
          from: { address: 'support@shop.example', name: { en: 'Shop Support', zh: '商店客服' } },
        },
      },
    },
  });
  return {
    t,
    smtp,
    clock,
    close: async () => {
      await t.stop();
      await smtp.close();
    },
  };
}

let uid = 940_000_000;
const nextUser = () => String(++uid);

/** A Telegram user writes; the answer the hub stored for them (the latest outbound text). */
async function tell(r: Rig, user: string, text: string, locale = 'en'): Promise<string> {
  await processInbound(r.t.hub.inboundDeps(), inbound('telegram', user, text, { locale }));
  const id = await r.t.hub.storage.customers.findIdentity('telegram', user);
  assert.ok(id);
  const out = (await r.t.hub.storage.messages.ofCustomer(id.customerId, 200)).filter((m) => m.direction === 'out' && m.channel === 'telegram');
  return out.sort((a, b) => a.createdAt - b.createdAt).at(-1)?.text ?? '';
}

/** The code in the latest mail to `address`. */
async function codeMailedTo(r: Rig, address: string, count = 1): Promise<string> {
  const mails = await until(() => {
    const to = r.smtp.mails.filter((m) => m.envelope.to.includes(address));
    return to.length >= count ? to : undefined;
  }, 10_000, `mail ${count} to ${address}`);
  const text = mails[count - 1]?.parsed.text ?? '';
  const code = /^(\d{6})$/m.exec(text)?.[1];
  assert.ok(code, `a code in ${text}`);
  return code;
}

const customerOf = async (r: Rig, channel: string, id: string) => (await r.t.hub.storage.customers.findIdentity(channel, id))?.customerId;
const fullWidth = (s: string) => [...s].map((ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)).join('');

describe('email one-time code', () => {
  let imap: Dovecot;
  let tg: FakeTelegram;
  let r: Rig;
  before(async () => {
    imap = await startDovecot();
    tg = await startFakeTelegram();
    r = await rig('sqlite', imap, tg);
  });
  after(async () => {
    await r?.close();
    await tg?.close();
    await imap?.close();
  });

  it('reads claims and codes, and nothing else', () => {
    assert.deepEqual(readMessage('my email is Ann@Example.com'), { kind: 'claim', address: 'ann@example.com' });
    assert.deepEqual(readMessage('我的邮箱是 ann@example.com。'), { kind: 'claim', address: 'ann@example.com' });
    assert.deepEqual(readMessage('邮箱：ann@example.com'), { kind: 'claim', address: 'ann@example.com' });
    assert.deepEqual(readMessage('  ann@example.com '), { kind: 'claim', address: 'ann@example.com' });
    assert.deepEqual(readMessage('my email is ann@'), { kind: 'bad_address' });
    assert.equal(readMessage('please write to ann@example.com, thanks'), undefined);
    assert.equal(readMessage('email me please'), undefined);
    assert.deepEqual(readMessage('１２３ ４５６'), { kind: 'code', code: '123456' });
    assert.deepEqual(readMessage('123-456'), { kind: 'code', code: '123456' });
    assert.equal(readMessage('1234567'), undefined);
  });

  it('the right code links: both histories join, the link is audited with the proof, a replay is refused', async () => {
    const { storage } = r.t.hub;
    await say(storage, 'email', 'mei@example.com', 'where is my order 10001001?');
    const user = nextUser();
    await tell(r, user, 'hello from telegram');
    assert.match(await tell(r, user, '我的邮箱是 Mei@Example.com', 'zh'), /6 位验证码/);
    const code = await codeMailedTo(r, 'mei@example.com');
    const mail = r.smtp.mails.find((m) => m.envelope.to.includes('mei@example.com'));
    assert.match(mail?.parsed.subject ?? '', /验证码/);
    // Nothing is linked before the code.
    assert.notEqual(await customerOf(r, 'telegram', user), await customerOf(r, 'email', 'mei@example.com'));
    // Full-width digits with a space are the same code.
    assert.match(await tell(r, user, `${fullWidth(code.slice(0, 3))} ${fullWidth(code.slice(3))}`, 'zh'), /验证成功/);
    const customer = await customerOf(r, 'telegram', user);
    assert.ok(customer);
    assert.equal(await customerOf(r, 'email', 'mei@example.com'), customer);
    const texts = await textsOf(storage, customer);
    assert.ok(texts.includes('where is my order 10001001?') && texts.includes('hello from telegram'), 'one history');
    const audit = await storage.audit.list({ customerId: customer, action: 'link', limit: 10 });
    assert.equal(audit.length, 1);
    assert.equal((audit[0]?.details.proof as { method?: string }).method, 'email-code');
    assert.equal(audit[0]?.actor.kind, 'customer');
    // The same code again: spent.
    assert.match(await tell(r, user, code), /already been used/);
    // The export holds the code's row (never the code's hash); the erase removes it with the rest.
    const held = (await exportCustomer(storage, customer, { kind: 'token', name: 'test' }, Date.now())).tables.email_codes as Record<string, unknown>[];
    assert.equal(held.length, 1);
    assert.equal(held[0]?.address, 'mei@example.com');
    assert.ok(!('code_hash' in (held[0] ?? {})));
    await eraseCustomer(storage, customer, { kind: 'token', name: 'test' }, 'test');
    const db = openDb(r.t.db.url);
    try {
      const left = await sql<{ n: number }>`select count(*) as n from email_codes where lower(address) = 'mei@example.com'`.execute(db.kysely);
      assert.equal(Number(left.rows[0]?.n), 0);
    } finally {
      await db.close();
    }
  });

  it('an address the email channel stored with capitals is the same address', async () => {
    await say(r.t.hub.storage, 'email', 'Zoe@Example.COM', 'hello by mail');
    const user = nextUser();
    await tell(r, user, 'my email is zoe@example.com');
    assert.match(await tell(r, user, await codeMailedTo(r, 'zoe@example.com')), /Verified/);
    assert.equal(await customerOf(r, 'email', 'Zoe@Example.COM'), await customerOf(r, 'telegram', user));
    assert.equal(await customerOf(r, 'email', 'zoe@example.com'), undefined, 'no second email identity');
  });

  it('five wrong codes lock it: the right one after is refused, nothing linked', async () => {
    const user = nextUser();
    await tell(r, user, 'my email is lock@example.com');
    const code = await codeMailedTo(r, 'lock@example.com');
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 4; i++) assert.match(await tell(r, user, wrong), /isn't right/);
    assert.match(await tell(r, user, wrong), /Too many wrong tries/);
    assert.match(await tell(r, user, code), /Too many wrong tries/);
    assert.notEqual(await customerOf(r, 'telegram', user), await customerOf(r, 'email', 'lock@example.com'));
    const refused = (await r.t.hub.storage.audit.list({ action: 'link_refused', limit: 100 })).filter((a) => a.details.address === 'lock@example.com');
    assert.equal(refused.length, 6);
  });

  it('an expired code is refused', async () => {
    const user = nextUser();
    await tell(r, user, 'email: late@example.com');
    const code = await codeMailedTo(r, 'late@example.com');
    r.clock.shift += 10 * 60_000 + 1000;
    try {
      assert.match(await tell(r, user, code), /expired/);
    } finally {
      r.clock.shift -= 10 * 60_000 + 1000;
    }
    assert.notEqual(await customerOf(r, 'telegram', user), await customerOf(r, 'email', 'late@example.com'));
  });

  it('a code typed by another customer links nobody; its owner can still use it', async () => {
    const owner = nextUser();
    const other = nextUser();
    const rival = nextUser();
    await tell(r, owner, 'my email is own@example.com');
    const code = await codeMailedTo(r, 'own@example.com');
    // Someone who never asked for a code: the message is not about a code (the bot answers), nothing linked.
    assert.doesNotMatch(await tell(r, other, code), /Verified|code/i);
    // Someone with a code of their own: it is a wrong code for them.
    await tell(r, rival, 'my email is rival@example.com');
    await codeMailedTo(r, 'rival@example.com');
    assert.match(await tell(r, rival, code), /isn't right/);
    const emailCustomer = await customerOf(r, 'email', 'own@example.com');
    assert.notEqual(await customerOf(r, 'telegram', other), emailCustomer);
    assert.notEqual(await customerOf(r, 'telegram', rival), emailCustomer);
    assert.match(await tell(r, owner, code), /Verified/);
    assert.equal(await customerOf(r, 'telegram', owner), await customerOf(r, 'email', 'own@example.com'));
  });

  it('rate limits: 3 codes per identity and 3 per address per hour', async () => {
    const user = nextUser();
    for (const a of ['r1', 'r2', 'r3']) assert.match(await tell(r, user, `${a}@example.com`), /6-digit code/);
    assert.match(await tell(r, user, 'r4@example.com'), /Too many codes/);
    for (let i = 0; i < 3; i++) assert.match(await tell(r, nextUser(), 'victim@example.com'), /6-digit code/);
    assert.match(await tell(r, nextUser(), 'victim@example.com'), /Too many codes/);
    await codeMailedTo(r, 'victim@example.com', 3);
    await codeMailedTo(r, 'r3@example.com');
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(r.smtp.mails.filter((m) => m.envelope.to.includes('victim@example.com')).length, 3);
    assert.equal(r.smtp.mails.filter((m) => m.envelope.to.includes('r4@example.com')).length, 0);
  });

  it('an address alone links nothing; inside other text it is not even a claim; a malformed one gets a clear answer', async () => {
    const user = nextUser();
    assert.doesNotMatch(await tell(r, user, 'please write to quiet@example.com, thanks'), /code/);
    assert.match(await tell(r, user, 'my email is quiet@'), /doesn't look right/);
    assert.match(await tell(r, user, 'alone@example.com'), /6-digit code/);
    await codeMailedTo(r, 'alone@example.com');
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(r.smtp.mails.filter((m) => m.envelope.to.some((a) => a.startsWith('quiet@'))).length, 0, 'no mail');
    assert.notEqual(await customerOf(r, 'telegram', user), await customerOf(r, 'email', 'alone@example.com'));
    // A 6-digit number that is not the code links nothing either.
    await tell(r, user, '123456');
    assert.notEqual(await customerOf(r, 'telegram', user), await customerOf(r, 'email', 'alone@example.com'));
  });
});

describe('email one-time code on PostgreSQL', () => {
  let imap: Dovecot;
  let tg: FakeTelegram;
  let r: Rig;
  before(async () => {
    imap = await startDovecot();
    tg = await startFakeTelegram();
    r = await rig('postgres', imap, tg);
  });
  after(async () => {
    await r?.close();
    await tg?.close();
    await imap?.close();
  });

  it('links with the right code after a wrong one, once', async () => {
    const user = nextUser();
    await say(r.t.hub.storage, 'email', 'pg@example.com', 'an email first');
    await tell(r, user, 'my email is pg@example.com');
    const code = await codeMailedTo(r, 'pg@example.com');
    assert.match(await tell(r, user, code === '999999' ? '888888' : '999999'), /isn't right/);
    assert.match(await tell(r, user, code), /Verified/);
    const customer = await customerOf(r, 'telegram', user);
    assert.equal(await customerOf(r, 'email', 'pg@example.com'), customer);
    assert.ok((await textsOf(r.t.hub.storage, customer ?? '')).includes('an email first'));
    assert.match(await tell(r, user, code), /already been used/);
  });
});
