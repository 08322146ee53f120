import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Storage } from '../../src/core/storage/storage.js';
import { inboundKey } from '../../src/core/storage/messages.js';
import type { InboundMessage } from '../../src/core/types.js';
import { DIALECTS, makeDb } from '../helpers/env.js';

/**
 * `Storage.writeFirstMessage`: on PostgreSQL a sender nobody knows gets their customer, identity,
 * conversation and message row in one statement; when someone was first (the identity or the
 * message exists) nothing at all is written and the caller's transaction takes over.
 */
const message = (user: string, id: string): InboundMessage => ({
  channel: 'loopback',
  platformMessageId: id,
  platformUserId: user,
  userName: `Name of ${user}`,
  ref: { channel: 'loopback', chatId: user },
  kind: 'text',
  text: `hello from ${user}`,
  attachments: [],
  receivedAt: Date.now(),
});

for (const dialect of DIALECTS) {
  describe(`Storage.writeFirstMessage (${dialect})`, () => {
    async function open(): Promise<{ storage: Storage; customers: () => Promise<number> }> {
      const db = await makeDb(dialect);
      const storage = await Storage.open(db.url);
      after(async () => {
        await storage.close();
        await db.drop();
      });
      // How many customers the database holds (PostgreSQL only: the writes under test are).
      const customers = async () => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          return Number((await c.query<{ n: string }>('select count(*) as n from customers')).rows[0]?.n);
        } finally {
          await c.end();
        }
      };
      return { storage, customers };
    }

    if (dialect === 'sqlite') {
      it('SQLite: writes nothing (the transaction of recordInbound does)', async () => {
        const { storage } = await open();
        assert.equal(await storage.writeFirstMessage(message('u1', 'p1'), null), undefined);
        assert.equal(await storage.customers.findIdentity('loopback', 'u1'), undefined);
      });
      return;
    }

    it('writes the customer, identity, conversation and message, readable as written', async () => {
      const { storage } = await open();
      const first = await storage.writeFirstMessage(message('u1', 'p1'), 'thread-1');
      assert.ok(first);
      const identity = await storage.customers.findIdentity('loopback', 'u1');
      assert.equal(identity?.id, first.identity.id);
      assert.equal(identity?.customerId, first.customer.id);
      assert.equal(identity?.displayName, 'Name of u1');
      assert.equal((await storage.customers.get(first.customer.id))?.preferredChannel, 'loopback');
      const [conversation] = await storage.conversations.ofCustomer(first.customer.id);
      assert.deepEqual(conversation, first.conversation);
      assert.equal(conversation?.threadKey, 'thread-1');
      const stored = await storage.messages.byKey(inboundKey(message('u1', 'p1')));
      assert.equal(stored?.id, first.message.id);
      assert.equal(stored?.text, 'hello from u1');
      assert.equal(stored?.conversationId, first.conversation.id);
    });

    it('writes nothing when the identity exists already (the same sender was first)', async () => {
      const { storage, customers } = await open();
      assert.ok(await storage.writeFirstMessage(message('u1', 'p1'), null));
      assert.equal(await storage.writeFirstMessage(message('u1', 'p2'), null), undefined);
      assert.equal(await customers(), 1);
      assert.equal(await storage.messages.byKey(inboundKey(message('u1', 'p2'))), undefined);
    });

    it('writes nothing when the message is stored already (no customer, identity or conversation left behind)', async () => {
      const { storage, customers } = await open();
      assert.ok(await storage.writeFirstMessage(message('u1', 'p1'), null));
      // Another sender's message with the same platform id on the same channel: the dedupe key is taken.
      assert.equal(await storage.writeFirstMessage(message('u2', 'p1'), null), undefined);
      assert.equal(await customers(), 1);
      assert.equal(await storage.customers.findIdentity('loopback', 'u2'), undefined);
    });
  });
}
