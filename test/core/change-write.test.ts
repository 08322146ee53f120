import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '../../src/core/storage/storage.js';
import type { ChangeWrite } from '../../src/core/storage/change-write.js';
import type { NewEvent } from '../../src/core/events.js';
import type { InboundMessage } from '../../src/core/types.js';
import { DIALECTS, makeDb } from '../helpers/env.js';

/**
 * `Storage.writeChange`: a conversation change's writes, all or none (PostgreSQL: one statement,
 * SQLite: a transaction). A moved version writes nothing; the events it returns are the wanted
 * ones, in order, with their stored ids.
 */
for (const dialect of DIALECTS) {
  describe(`Storage.writeChange (${dialect})`, () => {
    async function setUp() {
      const db = await makeDb(dialect);
      const storage = await Storage.open(db.url);
      after(async () => {
        await storage.close();
        await db.drop();
      });
      const msg: InboundMessage = {
        channel: 'loopback',
        platformMessageId: 'p1',
        platformUserId: 'u1',
        ref: { channel: 'loopback', chatId: 'u1' },
        kind: 'text',
        text: 'hello',
        attachments: [],
        receivedAt: Date.now(),
      };
      const { customer } = await storage.customers.resolve(msg);
      const { conversation } = await storage.conversations.route({ customerId: customer.id, channel: 'loopback', reopenWindowMs: 60_000 });
      const inbound = await storage.messages.insertInbound(msg, conversation.id, customer.id);
      assert.ok(inbound);
      return { storage, conversation, inbound };
    }

    function write(s: Awaited<ReturnType<typeof setUp>>, version: number): ChangeWrite {
      const received: NewEvent = { type: 'message.received', actor: 'customer', payload: { messageId: s.inbound.id, channel: 'loopback', toAgent: false } };
      return {
        conversation: { ...s.conversation, version },
        patch: { strikes: 1 },
        replies: [
          { conversationId: s.conversation.id, customerId: s.conversation.customerId, channel: 'loopback', ref: s.inbound.ref, author: 'bot', text: 'first', causedBy: s.inbound.id },
          { conversationId: s.conversation.id, customerId: s.conversation.customerId, channel: 'loopback', ref: s.inbound.ref, author: 'bot', text: 'second', causedBy: s.inbound.id },
        ],
        // A function of the stored replies: each sent-to-be event names its reply.
        events: (replies) => [
          received,
          ...replies.map((r): NewEvent => ({ type: 'message.queued', actor: 'system', payload: { messageId: r.id, kind: 'reminder', key: r.id, channel: 'loopback' } })),
        ],
        // Only the queued events are wanted: the received one is written dispatched.
        wanted: (type) => type === 'message.queued',
        processed: s.inbound.id,
      };
    }

    it('writes the update, replies, events and processed mark together', async () => {
      const s = await setUp();
      const done = await s.storage.writeChange(write(s, s.conversation.version));
      assert.ok(done);
      assert.deepEqual(done.replies.map((r) => r.text), ['first', 'second']);
      const conv = await s.storage.conversations.get(s.conversation.id);
      assert.equal(conv?.version, s.conversation.version + 1);
      assert.equal(conv?.strikes, 1);
      const stored = await s.storage.events.ofConversation(s.conversation.id);
      assert.deepEqual(stored.map((e) => e.type), ['message.received', 'message.queued', 'message.queued']);
      assert.notEqual(stored[0]?.dispatchedAt, null);
      // The wanted events come back with their stored ids, in order, naming their replies.
      assert.deepEqual(done.events.map((e) => e.id), stored.slice(1).map((e) => e.id));
      assert.deepEqual(done.events.map((e) => (e.payload as { messageId: string }).messageId), done.replies.map((r) => r.id));
      assert.ok(done.events.every((e) => e.dispatchedAt === null));
      const replies = await s.storage.messages.causedBy(s.inbound.id);
      assert.deepEqual(replies.map((r) => [r.text, r.deliveryStatus]), [['first', 'pending'], ['second', 'pending']]);
      assert.notEqual((await s.storage.messages.get(s.inbound.id))?.processedAt, null);
    });

    it('writes nothing when the version moved', async () => {
      const s = await setUp();
      assert.equal(await s.storage.writeChange(write(s, s.conversation.version + 5)), null);
      const conv = await s.storage.conversations.get(s.conversation.id);
      assert.equal(conv?.version, s.conversation.version);
      assert.equal(conv?.strikes, s.conversation.strikes);
      assert.deepEqual(await s.storage.events.ofConversation(s.conversation.id), []);
      assert.deepEqual(await s.storage.messages.causedBy(s.inbound.id), []);
      assert.equal((await s.storage.messages.get(s.inbound.id))?.processedAt, null);
      // The same change at the right version then goes through.
      assert.ok(await s.storage.writeChange(write(s, s.conversation.version)));
    });

    it('a failing part (a duplicate reply key) writes nothing and throws', async () => {
      const s = await setUp();
      const w = write(s, s.conversation.version);
      const dup = { ...w, replies: w.replies.map((r) => ({ ...r, dedupeKey: 'same' })) };
      await assert.rejects(s.storage.writeChange(dup));
      assert.equal((await s.storage.conversations.get(s.conversation.id))?.version, s.conversation.version);
      assert.deepEqual(await s.storage.events.ofConversation(s.conversation.id), []);
      assert.equal((await s.storage.messages.get(s.inbound.id))?.processedAt, null);
    });
  });
}
