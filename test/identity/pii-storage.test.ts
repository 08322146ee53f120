/**
 * PII encrypted at rest (issue #16, docs/identity.md "Encryption at rest"), on both databases:
 * round trip through the repositories, no plaintext in the raw database, lookups by keyed hash,
 * clear errors for altered values and unknown keys, rotation, and rows from before encryption.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Storage } from '../../src/core/storage/storage.js';
import { openDb } from '../../src/core/storage/db.js';
import { createPiiCodec, type PiiCodec } from '../../src/core/storage/pii.js';
import { recordInbound } from '../../src/core/conversation/inbound.js';
import { isHubError } from '../../src/core/errors.js';
import type { AnalyticsCase } from '../../src/core/storage/analytics.js';
import { mergeCustomers, unlinkIdentity } from '../../src/core/customers/merge.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';
import { inbound, rawText } from './helpers.js';

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const HASH = randomBytes(32);
const codec = (keys: [string, Buffer][], hash = HASH): PiiCodec => createPiiCodec({ keys: keys.map(([id, key]) => ({ id, key })), hashSecret: hash });

const NAME = 'Zoe Zhangsan-Li';
const EMAIL = 'Zoe.Secret@Example.COM';
const PHONE = '+86 138 0013 8000';
const TEXT = 'my parcel 7781 is lost, call me on +86 138 0013 8000';
const UNREACHABLE = `403: the user ${PHONE} blocked the bot`;
const SECRETS = [NAME, EMAIL, EMAIL.toLowerCase(), PHONE, TEXT, 'parcel 7781', 'report.pdf', 'lost parcel'];

async function writeCustomer(storage: Storage) {
  const mail = await recordInbound(storage, inbound('email', EMAIL, TEXT, { userName: NAME, ref: { channel: 'email', chatId: EMAIL }, attachments: [{ name: 'report.pdf', mimeType: 'application/pdf' }] }), { reopenWindowMs: 0 });
  const phone = await recordInbound(storage, inbound('whatsapp', PHONE, 'hello', { userName: NAME }), { reopenWindowMs: 0 });
  // A platform's refusal names the chat (here the phone number): the reason is sealed too.
  await storage.customers.markUnreachable('whatsapp', PHONE, UNREACHABLE);
  await storage.messages.insertOutbound({ conversationId: mail.conversation.id, customerId: mail.customer.id, author: 'agent', authorName: NAME, channel: 'email', text: `Dear ${NAME}, about parcel 7781`, ref: { channel: 'email', chatId: EMAIL } });
  await storage.audit.append({ actor: { kind: 'customer', name: `telegram:${PHONE} (email code)` }, action: 'link_code_sent', customerId: mail.customer.id, details: { address: EMAIL.toLowerCase() } });
  await storage.emailCodes.insert({ id: `code-${randomBytes(4).toString('hex')}`, identity: `telegram:${PHONE}`, conversationId: phone.conversation.id, address: EMAIL.toLowerCase(), codeHash: 'x'.repeat(64), expiresAt: Date.now() + 600_000 });
  return { mail, phone };
}

for (const dialect of DIALECTS) {
  describe(`identity: PII encrypted at rest (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    let ids: Awaited<ReturnType<typeof writeCustomer>>;
    before(async () => {
      tdb = await makeDb(dialect);
      storage = await Storage.open(tdb.url, { pii: codec([['k1', K1]]) });
      ids = await writeCustomer(storage);
    });
    after(async () => {
      await storage.close();
      await tdb.drop();
    });

    it('round trip through the repositories: names, addresses, texts, refs and attachments read back', async () => {
      const c = await storage.customers.get(ids.mail.customer.id);
      assert.equal(c?.displayName, NAME);
      const mail = await storage.customers.findIdentity('email', EMAIL);
      assert.equal(mail?.platformUserId, EMAIL);
      assert.equal(mail?.displayName, NAME);
      assert.deepEqual(mail?.lastRef, { channel: 'email', chatId: EMAIL });
      const phone = await storage.customers.findIdentity('whatsapp', PHONE);
      assert.deepEqual([phone?.customerId, phone?.unreachableReason], [ids.phone.customer.id, UNREACHABLE]);
      const msgs = await storage.messages.ofCustomer(ids.mail.customer.id, 10);
      assert.deepEqual(msgs.map((m) => m.text), [TEXT, `Dear ${NAME}, about parcel 7781`]);
      assert.equal(msgs[0]?.authorName, NAME);
      assert.deepEqual(msgs[0]?.attachments, [{ name: 'report.pdf', mimeType: 'application/pdf' }]);
      assert.deepEqual(msgs[0]?.ref, { channel: 'email', chatId: EMAIL });
      assert.deepEqual((await storage.messages.recentTurns(ids.mail.conversation.id, 5)).map((t) => t.text), [TEXT, `Dear ${NAME}, about parcel 7781`]);
      // The same sender again is the same customer (found by the keyed hash), and the export shows plaintext.
      const again = await recordInbound(storage, inbound('email', EMAIL, 'still me', { ref: { channel: 'email', chatId: EMAIL } }), { reopenWindowMs: 0 });
      assert.equal(again.customer.id, ids.mail.customer.id);
      const exported = await storage.privacy.collect(ids.mail.customer.id);
      assert.ok(JSON.stringify(exported).includes(TEXT));
      assert.equal(exported.identities?.find((i) => i.channel === 'email')?.platform_user_id, EMAIL);
    });

    it('an address is found ignoring case through the keyed hash, and its codes belong to its customer', async () => {
      assert.equal(await storage.emailCodes.emailIdentityAddress('email', EMAIL.toUpperCase()), EMAIL);
      assert.equal(await storage.emailCodes.emailIdentityAddress('email', 'nobody@example.com'), undefined);
      const code = await storage.emailCodes.latestOf(`telegram:${PHONE}`);
      assert.equal(code?.address, EMAIL.toLowerCase());
      const exported = await storage.privacy.collect(ids.mail.customer.id);
      assert.equal(exported.email_codes?.[0]?.address, EMAIL.toLowerCase(), 'the code mailed to their address is theirs');
      const audit = await storage.audit.list({ customerId: ids.mail.customer.id, limit: 5 });
      assert.deepEqual(audit.map((a) => [a.actor.name, a.details]), [[`telegram:${PHONE} (email code)`, { address: EMAIL.toLowerCase() }]]);
    });

    it('merge and unlink move sealed rows and give the name back', async () => {
      const { userName: _none, ...anonymous } = inbound('webchat', 'v-merge', 'from the web');
      const web = await recordInbound(storage, anonymous, { reopenWindowMs: 0 });
      const tg = await recordInbound(storage, inbound('telegram', 't-merge', 'from telegram', { userName: 'Ann Merge-Target' }), { reopenWindowMs: 0 });
      const actor = { kind: 'token' as const, name: 'ops' };
      await mergeCustomers(storage, { survivorId: web.customer.id, mergedId: tg.customer.id, actor, reason: 'same person' });
      assert.equal((await storage.customers.get(web.customer.id))?.displayName, 'Ann Merge-Target', 'the merge fills the name');
      assert.deepEqual((await storage.messages.ofCustomer(web.customer.id, 10)).map((m) => m.text).sort(), ['from telegram', 'from the web']);
      await unlinkIdentity(storage, { channel: 'telegram', platformUserId: 't-merge', actor, reason: 'not the same' });
      assert.equal((await storage.customers.get(web.customer.id))?.displayName, null, 'unlink takes the filled name back');
      assert.equal((await storage.customers.get(tg.customer.id))?.displayName, 'Ann Merge-Target');
      assert.ok(!(await rawText(tdb, dialect)).includes('Ann Merge-Target'));
    });

    it('the analytics read models seal their copies of the customer\'s words and read them back', async () => {
      const at = Date.now();
      const c: AnalyticsCase = {
        id: `case-${ids.mail.conversation.id}`, conversationId: ids.mail.conversation.id, customerId: ids.mail.customer.id, channel: 'email', firstEventId: 1, openedAt: at, lastCustomerAt: at,
        messagesIn: 1, messagesOut: 1, botAnswers: 0, botFirstResponseMs: null, minConfidence: null, escalatedAt: at, escalationReason: 'asked', agentFirstResponseMs: null, resolvedAt: null,
        reopens: 0, csatAsked: false, csatScore: null, csatCount: 0, cameBack: false, entryIds: [], question: TEXT, questionTerms: 'lost parcel 7781',
      };
      await storage.analytics.insertCases([c]);
      await storage.analytics.insertQuestions([{ eventId: 1, caseId: c.id, conversationId: c.conversationId, channel: 'email', at, kind: 'escalated', reason: 'asked', confidence: null, text: TEXT, terms: 'lost parcel 7781', agentAnswer: `Dear ${NAME}, found it` }]);
      const range = { from: at - 1, to: at + 1, bucket: 'day' as const, offsetMinutes: 0, now: at };
      assert.equal((await storage.analyticsKpis.recentCases(range, 5))[0]?.question, TEXT);
      const [q] = await storage.analyticsKpis.questions(range, 5);
      assert.deepEqual([q?.text, q?.terms, q?.agent_answer], [TEXT, 'lost parcel 7781', `Dear ${NAME}, found it`]);
      assert.equal((await storage.analytics.customerCases(ids.mail.customer.id, at - 1))[0]?.questionTerms, 'lost parcel 7781');
    });

    it('the raw database holds no name, address, phone number or message text', async () => {
      const raw = await rawText(tdb, dialect);
      assert.ok(raw.includes('pii1:k1:'), 'the check reads the stored values');
      for (const s of SECRETS) assert.ok(!raw.includes(s), `the raw database holds "${s}"`);
      // The same data without a codec is visible to the same check (the check can fail).
      const plainDb = await makeDb(dialect);
      const plain = await Storage.open(plainDb.url);
      try {
        await writeCustomer(plain);
        const rawPlain = await rawText(plainDb, dialect);
        for (const s of [NAME, EMAIL, PHONE, TEXT]) assert.ok(rawPlain.includes(s), `plaintext storage shows "${s}"`);
      } finally {
        await plain.close();
        await plainDb.drop();
      }
    });

    it('an altered value and an unknown key id give a clear error naming the key, never garbage', async () => {
      const m = await storage.messages.insertOutbound({ conversationId: ids.mail.conversation.id, customerId: ids.mail.customer.id, author: 'bot', channel: 'email', text: 'to be altered', ref: { channel: 'email', chatId: EMAIL } });
      const db = openDb(tdb.url);
      try {
        // (SQLite: the altered copies are zeroed when replaced, so the rotation test below reads only live values.)
        if (dialect === 'sqlite') await sql`pragma secure_delete = on`.execute(db.kysely);
        const stored = (await sql<{ text: string }>`select text from messages where id = ${m.id}`.execute(db.kysely)).rows[0]?.text ?? '';
        assert.match(stored, /^pii1:k1:[A-Za-z0-9_-]+$/);
        const last = stored.at(-2) === 'A' ? 'B' : 'A';
        await sql`update messages set text = ${stored.slice(0, -2) + last + stored.slice(-1)} where id = ${m.id}`.execute(db.kysely);
        await assert.rejects(storage.messages.get(m.id), (e: unknown) => isHubError(e, 'STORAGE') && /messages\.text.*PII key "k1"/.test(e.message));
        await sql`update messages set text = ${stored.replace('pii1:k1:', 'pii1:k7:')} where id = ${m.id}`.execute(db.kysely);
        await assert.rejects(storage.messages.get(m.id), (e: unknown) => isHubError(e, 'CONFIG_INVALID') && /PII key "k7".*not in SWITCHBOARD_PII_KEYS/.test(e.message));
        await sql`update messages set text = ${stored} where id = ${m.id}`.execute(db.kysely);
        assert.equal((await storage.messages.get(m.id))?.text, 'to be altered');
      } finally {
        await db.close();
      }
      // Without a codec, a sealed value is refused by name too.
      const bare = await Storage.open(tdb.url);
      try {
        await assert.rejects(bare.customers.get(ids.mail.customer.id), (e: unknown) => isHubError(e, 'CONFIG_MISSING_ENV') && /customers\.display_name.*"k1"/.test(e.message));
      } finally {
        await bare.close();
      }
    });

    it('opening with another hash key, a key id reused for another key, or without the current key is refused', async () => {
      await assert.rejects(Storage.open(tdb.url, { pii: codec([['k1', K1]], randomBytes(32)) }), /SWITCHBOARD_PII_HASH_KEY is not the one/);
      await assert.rejects(Storage.open(tdb.url, { pii: codec([['k1', K2]]) }), /key id "k1" names another key/);
      await assert.rejects(Storage.open(tdb.url, { pii: codec([['k2', K2]]) }), /lacks key "k1"/);
    });

    it('rotation: the old key still reads before it; rotate re-seals everything under the new key, once', async () => {
      await storage.close();
      storage = await Storage.open(tdb.url, { pii: codec([['k2', K2], ['k1', K1]]) });
      assert.equal((await storage.customers.get(ids.mail.customer.id))?.displayName, NAME, 'k1 values read under k2,k1');
      const fresh = await recordInbound(storage, inbound('email', EMAIL, 'written under k2', { ref: { channel: 'email', chatId: EMAIL } }), { reopenWindowMs: 0 });
      assert.equal(fresh.customer.id, ids.mail.customer.id, 'lookups do not move with the encryption key');
      const stale = await storage.pii.stale();
      assert.ok((stale['messages.text'] ?? 0) > 0 && (stale['identities.platform_user_id'] ?? 0) > 0, JSON.stringify(stale));
      const r = await storage.pii.rotate({ batch: 2 });
      assert.deepEqual(r.resealed, Object.fromEntries(Object.entries(stale)), 'each stale value re-sealed once');
      assert.deepEqual(await storage.pii.stale(), {});
      assert.deepEqual((await storage.pii.rotate()).resealed, {}, 'idempotent');
      const db = openDb(tdb.url);
      try {
        const live = await sql<{ n: unknown }>`select (select count(*) from messages where text like 'pii1:k1:%' or ref like 'pii1:k1:%')
          + (select count(*) from identities where platform_user_id like 'pii1:k1:%' or last_ref like 'pii1:k1:%') as n`.execute(db.kysely);
        assert.equal(Number(live.rows[0]?.n), 0, 'no stored value is under k1');
      } finally {
        await db.close();
      }
      await storage.close();
      storage = await Storage.open(tdb.url, { pii: codec([['k2', K2]]) });
      assert.deepEqual((await storage.messages.ofCustomer(ids.mail.customer.id, 10)).map((m) => m.text).slice(0, 2), [TEXT, `Dear ${NAME}, about parcel 7781`]);
      assert.equal((await storage.customers.findIdentity('email', EMAIL))?.customerId, ids.mail.customer.id);
    });
  });

  describe(`identity: PII rows from before encryption (${dialect})`, () => {
    it('read as plaintext, found through the hashes filled at open, and sealed by rotate', async () => {
      const tdb = await makeDb(dialect);
      try {
        const plain = await Storage.open(tdb.url);
        const before = await recordInbound(plain, inbound('email', EMAIL, TEXT, { userName: NAME, ref: { channel: 'email', chatId: EMAIL } }), { reopenWindowMs: 0 });
        // A plaintext value that looks sealed is stored escaped, and reads back as written.
        await recordInbound(plain, inbound('email', EMAIL, 'pii1:k1:AAAA', { ref: { channel: 'email', chatId: EMAIL } }), { reopenWindowMs: 0 });
        await plain.close();
        const enc = await Storage.open(tdb.url, { pii: codec([['k1', K1]]) });
        try {
          assert.equal((await enc.customers.findIdentity('email', EMAIL))?.customerId, before.customer.id, 'found by the backfilled hash');
          assert.equal(await enc.emailCodes.emailIdentityAddress('email', EMAIL.toLowerCase()), EMAIL);
          const next = await recordInbound(enc, inbound('email', EMAIL, 'now encrypted', { ref: { channel: 'email', chatId: EMAIL } }), { reopenWindowMs: 0 });
          assert.equal(next.customer.id, before.customer.id, 'no second customer for the same address');
          assert.deepEqual((await enc.messages.ofCustomer(before.customer.id, 10)).map((m) => m.text), [TEXT, 'pii1:k1:AAAA', 'now encrypted']);
          assert.ok((await rawText(tdb, dialect)).includes(TEXT), 'old rows stay plaintext until rotate');
          await enc.pii.rotate();
          const raw = await rawText(tdb, dialect);
          for (const s of [NAME, EMAIL, TEXT]) assert.ok(!raw.includes(s), `after rotate the raw database still holds "${s}"`);
          assert.deepEqual((await enc.messages.ofCustomer(before.customer.id, 10)).map((m) => m.text), [TEXT, 'pii1:k1:AAAA', 'now encrypted']);
        } finally {
          await enc.close();
        }
      } finally {
        await tdb.drop();
      }
    });
  });
}
