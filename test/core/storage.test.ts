import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDb, migrate } from '../../src/core/storage/db.js';
import { Store } from '../../src/core/storage/store.js';
import { ManualClock } from '../../src/core/clock.js';
import type { InboundMessage } from '../../src/core/types.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';

function inbound(userId: string, id: string, text = 'hi'): InboundMessage {
  return {
    channel: 'webchat',
    platformMessageId: id,
    platformUserId: userId,
    userName: 'Ann',
    ref: { channel: 'webchat', chatId: userId },
    kind: 'text',
    text,
    attachments: [],
    receivedAt: Date.now(),
  };
}

// One storage suite, run against every database we support.
for (const dialect of DIALECTS) {
  describe(`storage (${dialect})`, () => {
    let tdb: TestDb;
    let store: Store;
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    before(async () => {
      tdb = await makeDb(dialect);
      const db = openDb(tdb.url);
      await migrate(db);
      await migrate(db); // idempotent
      store = new Store(db, clock);
    });
    after(async () => {
      await store.close();
      await tdb.drop();
    });

    it('same channel + user id -> same customer; the identity keeps the latest ref', async () => {
      const a = await store.recordInbound(inbound('v1', 'm1'), 0);
      const b = await store.recordInbound({ ...inbound('v1', 'm2'), ref: { channel: 'webchat', chatId: 'v1', threadId: 't2' } }, 0);
      assert.equal(a.customer.id, b.customer.id);
      assert.equal(a.conversation.id, b.conversation.id);
      const ident = await store.findIdentity('webchat', 'v1');
      assert.equal(JSON.parse(ident!.last_ref).threadId, 't2');
      const other = await store.recordInbound(inbound('v2', 'm1'), 0);
      assert.notEqual(other.customer.id, a.customer.id);
    });

    it('an inbound message is stored once per (channel, platform message id)', async () => {
      const first = await store.recordInbound(inbound('v3', 'dup'), 0);
      const again = await store.recordInbound(inbound('v3', 'dup'), 0);
      assert.equal(first.duplicate, false);
      assert.equal(again.duplicate, true);
      assert.equal(again.message.id, first.message.id);
      const msgs = await store.conversationMessages(first.conversation.id);
      assert.equal(msgs.length, 1);
    });

    it('conversation changes are compare-and-set on the version', async () => {
      const r = await store.recordInbound(inbound('v4', 'x1'), 0);
      const c = r.conversation;
      const ok = await store.transaction((trx) => store.updateConversation(trx, c.id, c.version, { status: 'waiting_agent' }));
      const stale = await store.transaction((trx) => store.updateConversation(trx, c.id, c.version, { status: 'bot' }));
      assert.equal(ok, true);
      assert.equal(stale, false);
      const now = await store.getConversation(c.id);
      assert.equal(now?.status, 'waiting_agent');
      assert.equal(now?.version, c.version + 1);
    });

    it('a resolved conversation: new message starts a new bot conversation, or reopens within the window', async () => {
      const r = await store.recordInbound(inbound('v5', 'y1'), 0);
      const c = r.conversation;
      await store.transaction((trx) =>
        store.updateConversation(trx, c.id, c.version, { status: 'resolved', resolvedAt: clock.now(), escalationRef: { ts: '1' } }),
      );
      clock.advance(60_000);
      const within = await store.recordInbound(inbound('v5', 'y2'), 10 * 60_000);
      assert.equal(within.conversation.id, c.id);
      clock.advance(3600_000);
      const later = await store.recordInbound(inbound('v5', 'y3'), 10 * 60_000);
      assert.notEqual(later.conversation.id, c.id);
      assert.equal(later.conversation.status, 'bot');
    });

    it('outbound rows: pending -> sent with platform ids; events are appended in order', async () => {
      const r = await store.recordInbound(inbound('v6', 'z1'), 0);
      const row = await store.transaction((trx) =>
        store.insertOutbound(trx, {
          conversationId: r.conversation.id,
          customerId: r.customer.id,
          channel: 'webchat',
          ref: { channel: 'webchat', chatId: 'v6' },
          author: 'bot',
          text: 'hello 你好',
          buttons: [{ label: 'A', value: 'a' }],
          causedBy: r.message.id,
        }),
      );
      clock.advance(120_000);
      assert.deepEqual((await store.pendingOutbound(60_000)).map((m) => m.id).includes(row.id), true);
      await store.markSent(row.id, ['p1', 'p2']);
      const sent = await store.getMessage(row.id);
      assert.equal(sent?.delivery_status, 'sent');
      assert.equal(sent?.platform_message_id, 'p1,p2');
      assert.equal((await store.pendingOutbound(60_000)).some((m) => m.id === row.id), false);
      await store.transaction(async (trx) => {
        await store.appendEvent(trx, { conversationId: r.conversation.id, type: 'a', actor: 'core' });
        await store.appendEvent(trx, { conversationId: r.conversation.id, type: 'b', actor: 'core', data: { k: 1 } });
      });
      const ev = await store.events(r.conversation.id);
      assert.deepEqual(ev.map((e) => e.type), ['a', 'b']);
      assert.deepEqual(ev[1]?.data, { k: 1 });
    });

    it('unreachable identities are marked by chat id and cleared when the customer writes again', async () => {
      await store.recordInbound(inbound('v7', 'u1'), 0);
      assert.equal(await store.markUnreachable('webchat', 'v7', 'blocked'), 1);
      assert.ok((await store.findIdentity('webchat', 'v7'))?.unreachable_at);
      await store.recordInbound(inbound('v7', 'u2'), 0);
      assert.equal((await store.findIdentity('webchat', 'v7'))?.unreachable_at, null);
    });

    it('history of a customer across conversations, oldest first', async () => {
      await store.recordInbound(inbound('v8', 'h1', 'first'), 0);
      await store.recordInbound(inbound('v8', 'h2', 'second'), 0);
      const h = await store.customerHistory('webchat', 'v8', 10);
      assert.deepEqual(h.map((m) => m.text), ['first', 'second']);
      assert.deepEqual(await store.customerHistory('webchat', 'nobody', 10), []);
    });
  });
}
