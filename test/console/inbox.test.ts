/** The inbox's order, filters and search, on real SQLite and PostgreSQL storage. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '../../src/core/storage/storage.js';
import type { DeskContext } from '../../src/core/desk.js';
import type { InboundMessage } from '../../src/core/types.js';
import { listInbox } from '../../src/console/inbox.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';

for (const dialect of DIALECTS) {
  describe(`inbox list (${dialect})`, () => {
    let db: TestDb;
    let s: Storage;
    let ctx: DeskContext;
    const ids: Record<string, string> = {};

    /** A customer with one conversation in `status`, escalated with this priority / sentiment at `at`. */
    async function seed(name: string, o: { channel?: string; status?: 'waiting_agent' | 'agent' | 'resolved'; priority?: 'normal' | 'high'; sentiment?: number; assignee?: string; text: string; reason?: string }) {
      const channel = o.channel ?? 'webchat';
      const cu = await s.customers.create({ displayName: name });
      await s.customers.addIdentity({ customerId: cu.id, channel, platformUserId: `${name.toLowerCase()}-id`, ref: { channel, chatId: name }, verified: false });
      const c = await s.conversations.create(cu.id, channel, null);
      const msg: InboundMessage = { channel, platformMessageId: `${name}-1`, platformUserId: `${name.toLowerCase()}-id`, ref: { channel, chatId: name }, kind: 'text', text: o.text, attachments: [], receivedAt: Date.now() };
      await s.messages.insertInbound(msg, c.id, cu.id);
      await s.events.append(c.id, cu.id, [{ type: 'conversation.escalated', actor: 'bot', payload: { escalationId: `e-${name}`, reason: 'low_confidence', priority: o.priority ?? 'normal', messageId: null, sentiment: o.sentiment ?? null } }], () => false);
      await s.conversations.update(c.id, 0, { status: o.status ?? 'waiting_agent', escalationId: `e-${name}`, priority: o.priority ?? 'normal', escalationReason: o.reason ?? 'low_confidence', assignee: o.assignee ?? null });
      ids[name] = c.id;
    }

    before(async () => {
      db = await makeDb(dialect);
      s = await Storage.open(db.url);
      ctx = { storage: s } as unknown as DeskContext; // listInbox reads storage only
      await seed('Old', { text: 'waiting the longest' });
      await seed('Newer', { text: 'waiting less' });
      await seed('Angry', { text: 'this is terrible', sentiment: -0.8 });
      await seed('Vip', { text: 'urgent please', priority: 'high' });
      await seed('Taken', { text: 'being helped', status: 'agent', assignee: 'console:Lin', sentiment: -0.9 });
      await seed('Tele', { channel: 'telegram', text: 'hello from telegram' });
      await seed('Done', { text: 'all good', status: 'resolved' });
    });
    after(async () => {
      await s.close();
      await db.drop();
    });

    const names = async (f: Parameters<typeof listInbox>[1], me = 'console:Lin') => (await listInbox(ctx, f, me)).map((i) => i.customerName);

    it('most urgent first: priority, then unclaimed, then the angrier customer, then the longest wait', async () => {
      assert.deepEqual(await names({ status: 'open' }), ['Vip', 'Angry', 'Old', 'Newer', 'Tele', 'Taken']);
    });

    it('filters by status, channel and assignee', async () => {
      assert.deepEqual(await names({ status: 'agent' }), ['Taken']);
      assert.deepEqual(await names({ status: 'resolved' }), ['Done']);
      assert.deepEqual(await names({ status: 'open', channel: 'telegram' }), ['Tele']);
      assert.deepEqual(await names({ status: 'open', assignee: 'me' }), ['Taken']);
      assert.deepEqual(await names({ status: 'open', assignee: 'none' }), ['Vip', 'Angry', 'Old', 'Newer', 'Tele']);
    });

    it('searches names, identities and text, case-insensitively', async () => {
      assert.deepEqual(await names({ status: 'open', q: 'TERRIBLE' }), ['Angry']);
      assert.deepEqual(await names({ status: 'open', q: 'tele-id' }), ['Tele']);
      assert.deepEqual(await names({ status: 'open', q: 'vip' }), ['Vip']);
      assert.deepEqual(await names({ status: 'open', q: 'nothing like this' }), []);
    });
  });
}
