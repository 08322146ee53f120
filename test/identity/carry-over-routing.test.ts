/**
 * Routing around a case a person holds (docs/identity.md "An open escalation stays open"), on the
 * storage alone: which of a linked customer's conversations a message goes to. The merge no longer
 * moves the escalation's creation time; these hold without it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '../../src/core/storage/storage.js';
import { recordInbound } from '../../src/core/conversation/inbound.js';
import { mergeCustomers, type AuditActor } from '../../src/core/customers/merge.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';
import { inbound, say } from './helpers.js';

const ADMIN: AuditActor = { kind: 'token', name: 'ops-admin' };

for (const dialect of DIALECTS) {
  describe(`carry-over routing (${dialect})`, () => {
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

    it('a case resolved after a merge brought a newer conversation reopens within the window', async () => {
      const tg = await say(storage, 'telegram', 't-r', 'I want a person');
      const c = tg.conversation;
      assert.ok(await storage.conversations.update(c.id, c.version, { status: 'agent', assignee: 'U1', escalationId: tg.message.id }));
      const web = await say(storage, 'webchat', 'v-r', 'hello'); // newer, with the bot
      await mergeCustomers(storage, { survivorId: web.customer.id, mergedId: tg.customer.id, actor: ADMIN });
      assert.equal((await storage.conversations.get(c.id))?.createdAt, c.createdAt, 'the merge moved no creation time');
      assert.equal((await say(storage, 'webchat', 'v-r', 'from the web')).conversation.id, c.id, 'the held case takes the web chat');

      const now = await storage.conversations.get(c.id);
      assert.ok(now && (await storage.conversations.update(c.id, now.version, { status: 'resolved', resolvedAt: Date.now() })));
      const back = await recordInbound(storage, inbound('telegram', 't-r', 'one more thing'), { reopenWindowMs: 60_000 });
      assert.equal(back.conversation.id, c.id, 'within the reopen window the case reopens, not the web chat conversation');
      const later = await recordInbound(storage, inbound('telegram', 't-r', 'much later'), { reopenWindowMs: -1 });
      assert.notEqual(later.conversation.id, c.id, 'after the window: a new conversation');
      assert.equal(later.conversation.status, 'bot');
    });
  });
}
