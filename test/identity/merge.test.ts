import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '../../src/core/storage/storage.js';
import { mergeCustomers, unlinkIdentity, type AuditActor } from '../../src/core/customers/merge.js';
import { isHubError } from '../../src/core/errors.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';
import { say, textsOf } from './helpers.js';

const ADMIN: AuditActor = { kind: 'token', name: 'ops-admin' };

for (const dialect of DIALECTS) {
  describe(`identity: merge and unlink (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    before(async () => {
      tdb = await makeDb(dialect);
      storage = await Storage.open(tdb.url);
    });
    after(async () => {
      await storage.close();
      await tdb.drop();
    });

    it('one merge moves identities, conversations, messages and events; unlink restores both customers', async () => {
      const web = await say(storage, 'webchat', 'v-1', 'my order 1001 is late');
      const tg = await say(storage, 'telegram', 't-1', 'hello from telegram');
      await storage.customers.setExternalId(tg.customer.id, 'shop-42');
      const webTexts = await textsOf(storage, web.customer.id);
      const tgTexts = await textsOf(storage, tg.customer.id);

      const r = await mergeCustomers(storage, { survivorId: web.customer.id, mergedId: tg.customer.id, actor: ADMIN, reason: 'same person (ticket 7)' });
      assert.deepEqual(r.moved, { identities: 1, conversations: 1, proactiveSends: 0, workflowRuns: 0 });
      assert.deepEqual((await storage.customers.identitiesOf(web.customer.id)).map((i) => i.channel).sort(), ['telegram', 'webchat']);
      assert.deepEqual((await textsOf(storage, web.customer.id)).sort(), [...webTexts, ...tgTexts].sort());
      assert.deepEqual(await textsOf(storage, tg.customer.id), []);
      assert.equal((await storage.conversations.ofCustomer(web.customer.id)).length, 2);
      assert.equal((await storage.customers.get(web.customer.id))?.externalId, 'shop-42', 'the business id moves to the survivor');
      // The next Telegram message resolves to the survivor.
      const again = await say(storage, 'telegram', 't-1', 'still me');
      assert.equal(again.customer.id, web.customer.id);
      const [entry] = await storage.audit.list({ customerId: web.customer.id, action: 'merge', limit: 5 });
      assert.equal(entry?.actor.name, 'ops-admin');
      assert.equal(entry?.reason, 'same person (ticket 7)');
      assert.equal(entry?.otherCustomerId, tg.customer.id);

      const u = await unlinkIdentity(storage, { channel: 'telegram', platformUserId: 't-1', actor: ADMIN, reason: 'wrong person' });
      assert.equal(u.customerId, tg.customer.id, 'the customer it came from is restored under its own id');
      assert.equal(u.restored, true);
      assert.deepEqual((await storage.customers.identitiesOf(web.customer.id)).map((i) => i.channel), ['webchat']);
      assert.deepEqual((await storage.customers.identitiesOf(tg.customer.id)).map((i) => i.channel), ['telegram']);
      assert.deepEqual(await textsOf(storage, web.customer.id), webTexts);
      assert.deepEqual(await textsOf(storage, tg.customer.id), [...tgTexts, 'still me']);
      assert.equal((await storage.customers.get(tg.customer.id))?.externalId, 'shop-42');
      assert.equal((await storage.customers.get(web.customer.id))?.externalId, null);
      const events = await storage.events.ofConversation(tg.conversation.id);
      assert.ok(events.every((e) => e.customerId === tg.customer.id), 'conversation events follow their conversation back');
      assert.equal((await say(storage, 'telegram', 't-1', 'after')).customer.id, tg.customer.id);
      assert.equal((await storage.audit.list({ customerId: tg.customer.id, action: 'unlink', limit: 5 })).length, 1);
    });

    it('a merge keeps an open escalation open: the other channel continues the case', async () => {
      const tg = await say(storage, 'telegram', 't-esc', 'I want a person');
      const c = tg.conversation;
      assert.ok(await storage.conversations.update(c.id, c.version, { status: 'waiting_agent', escalationId: tg.message.id, escalationReason: 'asked_for_human' }));
      const mail = await say(storage, 'email', 'ann@example.com', 'writing by mail now'); // a newer bot conversation
      await mergeCustomers(storage, { survivorId: mail.customer.id, mergedId: tg.customer.id, actor: ADMIN, reason: 'verified' });
      const next = await say(storage, 'email', 'ann@example.com', 'any news?');
      assert.equal(next.conversation.id, c.id, 'the escalated conversation is the current one');
      assert.equal(next.conversation.status, 'waiting_agent');
      assert.equal((await storage.conversations.get(mail.conversation.id))?.status, 'bot', 'the other conversation is left as it was');

      await unlinkIdentity(storage, { channel: 'telegram', platformUserId: 't-esc', actor: ADMIN });
      assert.equal((await say(storage, 'email', 'ann@example.com', 'back to mail')).conversation.id, mail.conversation.id, 'unlink gives each their own current conversation back');
      assert.equal((await storage.conversations.get(c.id))?.createdAt, c.createdAt);
      assert.equal((await storage.conversations.get(c.id))?.customerId, tg.customer.id);
      assert.equal((await storage.conversations.get(c.id))?.status, 'waiting_agent');
    });

    it('concurrent merges of the same pair: exactly one wins, nothing half-moved', async () => {
      const a = await say(storage, 'webchat', 'v-cc', 'a');
      const b = await say(storage, 'telegram', 't-cc', 'b');
      const results = await Promise.allSettled([
        mergeCustomers(storage, { survivorId: a.customer.id, mergedId: b.customer.id, actor: ADMIN }),
        mergeCustomers(storage, { survivorId: b.customer.id, mergedId: a.customer.id, actor: ADMIN }),
        mergeCustomers(storage, { survivorId: a.customer.id, mergedId: b.customer.id, actor: ADMIN }),
      ]);
      const ok = results.filter((x) => x.status === 'fulfilled');
      assert.equal(ok.length, 1, JSON.stringify(results.map((x) => (x.status === 'rejected' ? String(x.reason) : 'ok'))));
      for (const x of results) if (x.status === 'rejected') assert.ok(isHubError(x.reason) && x.reason.code === 'CONFLICT', String(x.reason));
      const winner = (ok[0] as PromiseFulfilledResult<{ survivorId: string }>).value.survivorId;
      const loser = winner === a.customer.id ? b.customer.id : a.customer.id;
      assert.equal((await storage.customers.identitiesOf(winner)).length, 2);
      assert.equal((await storage.customers.identitiesOf(loser)).length, 0);
      assert.deepEqual((await textsOf(storage, winner)).sort(), ['a', 'b']);
      assert.equal((await storage.audit.list({ customerId: a.customer.id, action: 'merge_refused', limit: 5 })).length, 2);
    });

    it('two channels linking into the same customer at once: both land, nothing lost', async () => {
      const biz = await say(storage, 'webchat', 'v-biz', 'biz');
      const tg = await say(storage, 'telegram', 't-biz', 'from telegram');
      const mail = await say(storage, 'email', 'biz@example.com', 'from mail');
      const results = await Promise.all([
        mergeCustomers(storage, { survivorId: biz.customer.id, mergedId: tg.customer.id, actor: ADMIN }),
        mergeCustomers(storage, { survivorId: biz.customer.id, mergedId: mail.customer.id, actor: ADMIN }),
      ]);
      assert.equal(results.length, 2);
      assert.deepEqual((await storage.customers.identitiesOf(biz.customer.id)).map((i) => i.channel).sort(), ['email', 'telegram', 'webchat']);
      assert.deepEqual((await textsOf(storage, biz.customer.id)).sort(), ['biz', 'from mail', 'from telegram']);
    });

    it('refuses a merge into itself, of an unknown customer, and an unlink of the only identity', async () => {
      const a = await say(storage, 'webchat', 'v-x', 'x');
      await assert.rejects(mergeCustomers(storage, { survivorId: a.customer.id, mergedId: a.customer.id, actor: ADMIN }), /itself/);
      await assert.rejects(mergeCustomers(storage, { survivorId: a.customer.id, mergedId: 'nobody', actor: ADMIN }), /no customer nobody/);
      await assert.rejects(unlinkIdentity(storage, { channel: 'webchat', platformUserId: 'v-x', actor: ADMIN }), /only identity/);
      assert.equal((await storage.customers.identitiesOf(a.customer.id)).length, 1);
    });

    it('the business id of a merged customer finds the survivor; after unlink, its own customer again', async () => {
      const a = await say(storage, 'webchat', 'v-ext', 'a');
      const b = await say(storage, 'telegram', 't-ext', 'b');
      await storage.customers.setExternalId(a.customer.id, 'ext-a');
      await storage.customers.setExternalId(b.customer.id, 'ext-b');
      await mergeCustomers(storage, { survivorId: a.customer.id, mergedId: b.customer.id, actor: ADMIN });
      assert.equal((await storage.customers.byExternalId('ext-b'))?.id, a.customer.id);
      assert.equal((await storage.customers.byExternalId('ext-a'))?.id, a.customer.id);
      await unlinkIdentity(storage, { channel: 'telegram', platformUserId: 't-ext', actor: ADMIN });
      assert.equal((await storage.customers.byExternalId('ext-b'))?.id, b.customer.id);
    });

    it('unlink of an identity no merge brought: a new customer with the conversations that came through it', async () => {
      const a = await say(storage, 'webchat', 'v-n', 'web words');
      const b = await say(storage, 'telegram', 't-n', 'tg words');
      await mergeCustomers(storage, { survivorId: b.customer.id, mergedId: a.customer.id, actor: ADMIN });
      // The survivor's own identity is taken out: a customer of its own with the Telegram history.
      const u = await unlinkIdentity(storage, { channel: 'telegram', platformUserId: 't-n', actor: ADMIN });
      assert.equal(u.restored, false);
      assert.notEqual(u.customerId, b.customer.id);
      assert.deepEqual(await textsOf(storage, u.customerId), ['tg words']);
      assert.deepEqual(await textsOf(storage, b.customer.id), ['web words']);
    });
  });
}
