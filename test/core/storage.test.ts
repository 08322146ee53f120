import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Migrator, sql, type Kysely } from 'kysely';
import { openDb } from '../../src/core/storage/db.js';
import { Storage } from '../../src/core/storage/storage.js';
import * as m001 from '../../src/core/storage/migrations/001_core.js';
import { recordInbound } from '../../src/core/conversation/inbound.js';
import { ManualClock } from '../../src/core/clock.js';
import type { InboundMessage } from '../../src/core/types.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';

function inbound(userId: string, id: string, text = 'hi', more: Partial<InboundMessage> = {}): InboundMessage {
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
    ...more,
  };
}

// A module's own table, contributed through the migrations registry.
const moduleMigrations = {
  module: 'testmod',
  migrations: {
    '001_widgets': {
      up: async (db: Kysely<unknown>) => {
        await db.schema.createTable('testmod_widgets').addColumn('id', 'varchar(8)', (c) => c.primaryKey()).execute();
      },
    },
  },
};

// One storage suite, run against every database we support.
for (const dialect of DIALECTS) {
  describe(`storage (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    const record = (m: InboundMessage, reopenWindowMs = 0, threadKey?: string) =>
      recordInbound(storage, m, { reopenWindowMs, ...(threadKey ? { threadKey } : {}) });
    before(async () => {
      tdb = await makeDb(dialect);
      (await Storage.open(tdb.url, { clock, migrations: [moduleMigrations] })).close();
      storage = await Storage.open(tdb.url, { clock, migrations: [moduleMigrations] }); // idempotent
    });
    after(async () => {
      await storage.close();
      await tdb.drop();
    });

    it('same channel + user id -> same customer; the identity keeps the latest ref', async () => {
      const a = await record(inbound('v1', 'm1'));
      const b = await record({ ...inbound('v1', 'm2'), ref: { channel: 'webchat', chatId: 'v1', threadId: 't2' } });
      assert.equal(a.customer.id, b.customer.id);
      assert.equal(a.conversation.id, b.conversation.id);
      const ident = await storage.customers.findIdentity('webchat', 'v1');
      assert.equal(ident?.lastRef.threadId, 't2');
      const other = await record(inbound('v2', 'm1'));
      assert.notEqual(other.customer.id, a.customer.id);
    });

    it('an inbound message is stored once per (channel, platform message id)', async () => {
      const first = await record(inbound('v3', 'dup'));
      const again = await record(inbound('v3', 'dup'));
      assert.equal(first.duplicate, false);
      assert.equal(again.duplicate, true);
      assert.equal(again.message.id, first.message.id);
      assert.equal((await storage.messages.ofConversation(first.conversation.id)).length, 1);
    });

    it('conversation changes are compare-and-set on the version', async () => {
      const c = (await record(inbound('v4', 'x1'))).conversation;
      const ok = await storage.transaction((tx) => tx.conversations.update(c.id, c.version, { status: 'waiting_agent' }));
      const stale = await storage.transaction((tx) => tx.conversations.update(c.id, c.version, { status: 'bot' }));
      assert.equal(ok, true);
      assert.equal(stale, false);
      const now = await storage.conversations.get(c.id);
      assert.equal(now?.status, 'waiting_agent');
      assert.equal(now?.version, c.version + 1);
    });

    it('a resolved conversation: new message starts a new bot conversation, or reopens within the window', async () => {
      const c = (await record(inbound('v5', 'y1'))).conversation;
      await storage.conversations.update(c.id, c.version, { status: 'resolved', resolvedAt: clock.now(), escalationId: 'e1' });
      clock.advance(60_000);
      assert.equal((await record(inbound('v5', 'y2'), 10 * 60_000)).conversation.id, c.id);
      clock.advance(3600_000);
      const later = await record(inbound('v5', 'y3'), 10 * 60_000);
      assert.notEqual(later.conversation.id, c.id);
      assert.equal(later.conversation.status, 'bot');
    });

    it('a thread key keeps two threads of one customer apart; without one, the current conversation', async () => {
      const a = await record(inbound('v9', 't1', 'order question'), 0, 'thread-A');
      const b = await record(inbound('v9', 't2', 'invoice question'), 0, 'thread-B');
      const a2 = await record(inbound('v9', 't3', 'order again'), 0, 'thread-A');
      const plain = await record(inbound('v9', 't4', 'no thread'));
      assert.equal(a.customer.id, b.customer.id);
      assert.notEqual(a.conversation.id, b.conversation.id);
      assert.equal(a2.conversation.id, a.conversation.id);
      assert.equal(a.conversation.threadKey, 'thread-A');
      assert.notEqual(plain.conversation.id, a.conversation.id);
      assert.notEqual(plain.conversation.id, b.conversation.id);
      assert.equal(plain.conversation.threadKey, null);
      assert.equal((await record(inbound('v9', 't5', 'still none'))).conversation.id, plain.conversation.id);
    });

    it('outbound rows: pending -> sent with platform ids', async () => {
      const r = await record(inbound('v6', 'z1'));
      const row = await storage.transaction((tx) =>
        tx.messages.insertOutbound({
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
      assert.ok((await storage.messages.pendingOutbound(60_000)).some((m) => m.id === row.id));
      await storage.messages.markSent(row.id, ['p1', 'p2']);
      const sent = await storage.messages.get(row.id);
      assert.equal(sent?.deliveryStatus, 'sent');
      assert.equal(sent?.platformMessageId, 'p1,p2');
      assert.deepEqual(sent?.buttons, [{ label: 'A', value: 'a' }]);
      assert.equal((await storage.messages.pendingOutbound(60_000)).some((m) => m.id === row.id), false);
    });

    it('events: appended in order with typed payloads, undispatched until marked, one receipt per subscriber', async () => {
      const r = await record(inbound('v10', 'e1'));
      const toDispatch = await storage.transaction((tx) =>
        tx.events.append(
          r.conversation.id,
          r.customer.id,
          [
            { type: 'csat.given', actor: 'customer', payload: { score: 4, messageId: r.message.id } },
            { type: 'message.received', actor: 'customer', payload: { messageId: r.message.id, channel: 'webchat', toAgent: false } },
            { type: 'csat.given', actor: 'customer', payload: { score: 5, messageId: r.message.id } },
          ],
          (type) => type === 'message.received',
        ),
      );
      const ev = await storage.events.ofConversation(r.conversation.id);
      assert.deepEqual(ev.map((e) => e.type), ['csat.given', 'message.received', 'csat.given']);
      assert.deepEqual(ev.map((e) => (e.payload as { score?: number }).score), [4, undefined, 5]);
      assert.deepEqual(toDispatch.map((e) => e.id), [ev[1]!.id], 'only what someone subscribes to is returned for dispatch');
      const a = toDispatch[0];
      clock.advance(10_000);
      const lost = (await storage.events.undispatched(5_000)).map((e) => e.id);
      assert.ok(lost.includes(a!.id));
      assert.ok(!lost.includes(ev[0]!.id) && !lost.includes(ev[2]!.id), 'an event nobody subscribes to is written dispatched');
      await storage.events.markDispatched([a!.id]);
      assert.ok(!(await storage.events.undispatched(5_000)).some((e) => e.id === a!.id));
      assert.equal(await storage.events.addReceipt('desk', a!.id), true);
      assert.equal(await storage.events.addReceipt('desk', a!.id), false);
      assert.equal(await storage.events.hasReceipt('desk', a!.id), true);
      assert.equal(await storage.events.hasReceipt('other', a!.id), false);
    });

    it('unreachable identities are marked by chat id and cleared when the customer writes again', async () => {
      await record(inbound('v7', 'u1'));
      const marked = await storage.customers.markUnreachable('webchat', 'v7', 'blocked');
      assert.equal(marked.length, 1);
      assert.ok((await storage.customers.findIdentity('webchat', 'v7'))?.unreachableAt);
      await record(inbound('v7', 'u2'));
      assert.equal((await storage.customers.findIdentity('webchat', 'v7'))?.unreachableAt, null);
    });

    it('history of a customer across conversations, oldest first', async () => {
      const r = await record(inbound('v8', 'h1', 'first'));
      await record(inbound('v8', 'h2', 'second'));
      assert.deepEqual((await storage.messages.ofCustomer(r.customer.id, 10)).map((m) => m.text), ['first', 'second']);
    });

    it('channel state: key -> JSON with compare-and-set', async () => {
      assert.equal(await storage.channelState.get('email', 'uid'), undefined);
      assert.equal(await storage.channelState.set('email', 'uid', { uidValidity: 7, uid: 10 }, 0), 1);
      assert.equal(await storage.channelState.set('email', 'uid', { uidValidity: 7, uid: 11 }, 0), undefined, 'create twice');
      assert.equal(await storage.channelState.set('email', 'uid', { uidValidity: 7, uid: 12 }, 1), 2);
      assert.equal(await storage.channelState.set('email', 'uid', { uidValidity: 7, uid: 13 }, 1), undefined, 'stale version');
      assert.deepEqual(await storage.channelState.get('email', 'uid'), { value: { uidValidity: 7, uid: 12 }, version: 2 });
      assert.equal(await storage.channelState.get('telegram', 'uid'), undefined, 'per channel');
    });

    it('desk cases: one claim per escalation, stale claims taken over, found by thread', async () => {
      const conv = (await record(inbound('v11', 'd1'))).conversation;
      const claims = await Promise.all([1, 2, 3, 4, 5].map((i) => storage.deskCases.claim('slack', 'esc1', conv.id, `w${i}`, clock.now() - 60_000)));
      assert.equal(claims.filter((c) => c.claimed).length, 1);
      const mine = claims.find((c) => c.claimed)!.case;
      clock.advance(61_000);
      const takeover = await storage.deskCases.claim('slack', 'esc1', conv.id, 'late', clock.now() - 60_000);
      assert.equal(takeover.claimed, true);
      await storage.deskCases.markPosted(mine.id, 'C1', '111.222');
      assert.equal((await storage.deskCases.claim('slack', 'esc1', conv.id, 'x', clock.now())).claimed, false);
      assert.equal((await storage.deskCases.byThread('slack', 'C1', '111.222'))?.conversationId, conv.id);
      const again = await storage.deskCases.insertPosted('slack', 'esc2', conv.id, 'C1', '111.222');
      assert.equal(again.created, true);
      assert.equal((await storage.deskCases.insertPosted('slack', 'esc2', conv.id, 'C1', '111.222')).created, false);
      assert.equal((await storage.deskCases.byThread('slack', 'C1', '111.222'))?.escalationId, 'esc2');
      const posts = await Promise.all([1, 2, 3].map((i) => storage.deskCases.claimPost('slack', 'relay:1', conv.id, `p${i}`, clock.now() - 60_000)));
      assert.deepEqual(posts.map((p) => p.state).sort(), ['busy', 'busy', 'claimed']);
      await storage.deskCases.completePost('slack', 'relay:1', '111.333');
      assert.deepEqual(await storage.deskCases.claimPost('slack', 'relay:1', conv.id, 'p4', clock.now()), { state: 'posted', ts: '111.333' });
      assert.equal(await storage.deskCases.posted('slack', 'relay:1'), '111.333');
      // A claim whose worker died is taken over once it is stale; a released one at once.
      assert.equal((await storage.deskCases.claimPost('slack', 'note:1', conv.id, 'dead', clock.now() - 60_000)).state, 'claimed');
      assert.equal((await storage.deskCases.claimPost('slack', 'note:1', conv.id, 'next', clock.now() - 60_000)).state, 'busy');
      clock.advance(61_000);
      assert.equal((await storage.deskCases.claimPost('slack', 'note:1', conv.id, 'next', clock.now() - 60_000)).state, 'claimed');
      await storage.deskCases.releasePost('slack', 'note:1', 'next');
      assert.equal((await storage.deskCases.claimPost('slack', 'note:1', conv.id, 'third', clock.now() - 60_000)).state, 'claimed');
    });
  });

  describe(`migrations (${dialect})`, () => {
    it('modules contribute their own tables through the registry, applied once', async () => {
      const tdb = await makeDb(dialect);
      try {
        await (await Storage.open(tdb.url, { migrations: [moduleMigrations] })).close();
        await (await Storage.open(tdb.url, { migrations: [moduleMigrations] })).close();
        const db = openDb(tdb.url);
        const names = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.kysely);
        assert.deepEqual(names.rows.map((r) => r.name), [
          '001_core',
          '002_seams',
          '003_proactive_sends',
          'analytics:001_read_models',
          'identity:001_links',
          'identity:002_pii',
          'knowledge:001_pending_answers',
          'testmod:001_widgets',
          'webhooks:001_deliveries',
          'webhooks:002_settled',
          'workflows:001_runs',
          'workflows:002_schedules',
          'workflows:003_due',
        ]);
        await sql`insert into testmod_widgets (id) values ('w1')`.execute(db.kysely);
        await db.close();
      } finally {
        await tdb.drop();
      }
    });

    it('a database from before the seams keeps its Slack cases (escalation_ref moves to desk_cases)', async () => {
      const tdb = await makeDb(dialect);
      const db = openDb(tdb.url);
      const only001 = new Migrator({
        db: db.kysely,
        provider: { getMigrations: async () => ({ '001_core': { up: (k) => m001.up(k, db.dialect) } }) },
      });
      assert.equal((await only001.migrateToLatest()).error, undefined);
      const k = db.kysely;
      await sql`insert into customers (id, consent, tags, created_at, updated_at) values ('cu1', '{}', '[]', 1, 1)`.execute(k);
      await sql`insert into conversations (id, customer_id, channel, status, escalation_ref, strikes, bot_state, version, created_at, updated_at)
        values ('co1', 'cu1', 'webchat', 'agent', ${JSON.stringify({ desk: 'slack', channel: 'C9', escalationId: 'm7', ts: '5.6' })}, 0, '{}', 3, 1, 1)`.execute(k);
      await db.close();
      const storage = await Storage.open(tdb.url);
      try {
        const c = await storage.deskCases.byThread('slack', 'C9', '5.6');
        assert.equal(c?.conversationId, 'co1');
        assert.equal(c?.escalationId, 'm7');
        assert.equal((await storage.conversations.get('co1'))?.escalationId, 'm7');
      } finally {
        await storage.close();
        await tdb.drop();
      }
    });
  });
}
