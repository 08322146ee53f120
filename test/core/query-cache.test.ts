import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { migrate, openDb, type Db } from '../../src/core/storage/db.js';
import { QueryCache } from '../../src/core/storage/query-cache.js';
import { Stamp } from '../../src/core/storage/rows.js';
import { storageMigrations, type MigrationSet } from '../../src/core/storage/migrations/index.js';
import { CustomerRepo } from '../../src/core/storage/customers.js';
import { ConversationRepo } from '../../src/core/storage/conversations.js';
import { MessageRepo } from '../../src/core/storage/messages.js';
import { ManualClock } from '../../src/core/clock.js';
import type { InboundMessage } from '../../src/core/types.js';
import { DIALECTS, makeDb, type Dialect } from '../helpers/env.js';

const row = (id: string, name: string | null) => ({ id, display_name: name, locale: null, timezone: null, preferred_channel: null, external_id: null, consent: '{}', tags: '[]', created_at: 1, updated_at: 1 });
const all = (db: Db) => db.kysely.selectFrom('customers').select(['id', 'display_name']).orderBy('id').execute();
const names = async (db: Db) => (await all(db)).map((r) => [r.id, r.display_name]);

/** A fresh database with the core's tables (and `modules`' too), dropped after the suite. */
async function open(dialect: Dialect, modules: readonly MigrationSet[] = []): Promise<Db> {
  const t = await makeDb(dialect);
  const db = openDb(t.url);
  await migrate(db, modules);
  after(async () => {
    await db.close();
    await t.drop();
  });
  return db;
}

/** Inserts compiled once per shape (`QueryCache`): the same rows as Kysely's own insert, on both databases. */
for (const dialect of DIALECTS) {
  describe(`QueryCache (${dialect})`, () => {
    it('a shape seen again runs with its own values; a conflict that does nothing inserts nothing', async () => {
      const db = await open(dialect);
      const cache = new QueryCache();
      assert.equal(await cache.insert(db.kysely, 'customers', [row('a', '1')]), 1n);
      assert.equal(await cache.insert(db.kysely, 'customers', [row('b', '2')]), 1n);
      assert.equal(await cache.insert(db.kysely, 'customers', [row('c', '3'), row('d', '4')]), 2n);
      assert.equal(await cache.insert(db.kysely, 'customers', [row('e', '5'), row('f', '6')]), 2n);
      assert.equal(await cache.insert(db.kysely, 'customers', [row('a', 'again')], 'id'), 0n);
      assert.equal(await cache.insert(db.kysely, 'customers', [row('g', '7')], 'id'), 1n);
      assert.equal(await cache.insert(db.kysely, 'customers', [row('g', 'again')], 'id'), 0n);
      assert.deepEqual(await names(db), [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4'], ['e', '5'], ['f', '6'], ['g', '7']]);
      // Without the conflict clause a duplicate key is an error, as with Kysely's own insert.
      await assert.rejects(cache.insert(db.kysely, 'customers', [row('b', 'dup')]));
    });

    it("rows whose columns differ are written as Kysely writes them, never with another shape's statement", async () => {
      const db = await open(dialect);
      const cache = new QueryCache();
      await cache.insert(db.kysely, 'customers', [row('a', '1'), row('b', '2')]);
      // The same first row and count; the second row lacks `tags` (NOT NULL DEFAULT '[]').
      const tagless = (id: string) => {
        const { tags: _t, ...r } = row(id, id);
        return r as ReturnType<typeof row>; // the table's type wants `tags`; its DEFAULT is what this checks
      };
      const kysely = await db.kysely.insertInto('customers').values([row('k1', 'k'), tagless('k2')]).execute().then(() => 'written', () => 'refused');
      const cached = await cache.insert(db.kysely, 'customers', [row('c1', 'c'), tagless('c2')]).then(() => 'written', () => 'refused');
      assert.equal(cached, kysely);
      const tags = async (id: string) => (await db.kysely.selectFrom('customers').select('tags').where('id', '=', id).executeTakeFirst())?.tags;
      assert.equal(await tags('c2'), await tags('k2'));
      // A second row with the columns in another order.
      const { id, ...rest } = row('f', '6');
      await cache.insert(db.kysely, 'customers', [row('e', '5'), { ...rest, id }]);
      assert.deepEqual((await names(db)).filter(([i]) => i === 'e' || i === 'f'), [['e', '5'], ['f', '6']]);
    });
  });
}

/** Hot queries compiled once (`QueryCache.run`): Kysely's results, its SQL kept only when the values were listed right. */
for (const dialect of DIALECTS) {
  describe(`QueryCache.run and the hot paths that use it (${dialect})`, () => {
    it("runs Kysely's query first, then its SQL with each call's values; values listed wrongly are never kept", async () => {
      const db = await open(dialect);
      const cache = new QueryCache();
      await db.kysely.insertInto('customers').values([row('a', 'Ann'), row('b', 'Bo')]).execute();
      const byId = (id: string) => () => db.kysely.selectFrom('customers').select(['id', 'display_name']).where('id', '=', id);
      assert.deepEqual((await cache.run(db.kysely, 'byId', ['a'], byId('a'))).rows, [{ id: 'a', display_name: 'Ann' }]);
      assert.deepEqual(cache.kept(), ['byId']);
      // Kept: the builder is not called again, and the values are this call's.
      assert.deepEqual((await cache.run(db.kysely, 'byId', ['b'], () => assert.fail('built again'))).rows, [{ id: 'b', display_name: 'Bo' }]);
      // Values in another order than the SQL takes them: Kysely's query runs, every time, and is right.
      const rename = (id: string, name: string) => () => db.kysely.updateTable('customers').set({ display_name: name }).where('id', '=', id);
      let built = 0;
      for (const [id, name] of [['a', 'Ann 2'], ['b', 'Bo 2']] as const) {
        const res = await cache.run(db.kysely, 'rename', [id, name], () => (built++, rename(id, name)()));
        assert.equal(res.numAffectedRows, 1n);
      }
      assert.equal(built, 2);
      assert.deepEqual(cache.kept(), ['byId']);
      assert.deepEqual(await names(db), [['a', 'Ann 2'], ['b', 'Bo 2']]);
    });

    it('the hot paths of an inbound message keep their SQL and read and write what Kysely would', async () => {
      const db = await open(dialect, storageMigrations);
      const stamp = new Stamp(new ManualClock(1_000));
      const customers = new CustomerRepo(db.kysely, stamp);
      const conversations = new ConversationRepo(db.kysely, stamp);
      const messages = new MessageRepo(db.kysely, stamp);
      const msg = (id: string, user: string, name: string): InboundMessage => ({ channel: 'webchat', platformMessageId: id, platformUserId: user, userName: name, ref: { channel: 'webchat', chatId: user }, kind: 'text', text: 'hi', attachments: [], receivedAt: 1 });
      const routing = (customerId: string) => ({ customerId, channel: 'webchat' as const, reopenWindowMs: 0 });
      // Two senders, each writing twice: the second message of each takes the known-sender path.
      const seen: string[] = [];
      for (const [user, name] of [['u1', 'Ann'], ['u2', 'Bo']] as const) {
        const first = await customers.resolve(msg(`${user}-1`, user, name));
        const again = await customers.resolve(msg(`${user}-2`, user, `${name} B.`));
        assert.equal(first.created, true);
        assert.equal(again.created, false);
        assert.equal(again.customer.id, first.customer.id);
        assert.equal(again.identity.displayName, `${name} B.`);
        const created = await conversations.route(routing(first.customer.id));
        const routed = await conversations.route(routing(first.customer.id));
        assert.equal(routed.created, false);
        assert.equal(routed.conversation.id, created.conversation.id);
        // A thread of its own (an email thread): its own conversation, found again by its key.
        const threaded = await conversations.route({ ...routing(first.customer.id), threadKey: `${user}-thread` });
        assert.equal(threaded.created, true);
        assert.equal((await conversations.route({ ...routing(first.customer.id), threadKey: `${user}-thread` })).conversation.id, threaded.conversation.id);
        assert.equal(await conversations.update(created.conversation.id, 0, { strikes: 1 }), true);
        assert.equal(await conversations.update(created.conversation.id, 0, { strikes: 2 }), false, 'a stale version changes nothing');
        assert.equal((await conversations.get(created.conversation.id))?.strikes, 1);
        const inbound = await messages.insertInbound(msg(`${user}-1`, user, name), created.conversation.id, first.customer.id);
        assert.ok(inbound);
        await messages.markProcessed(inbound.id);
        const out = await messages.insertOutbound({ conversationId: created.conversation.id, customerId: first.customer.id, channel: 'webchat', ref: { channel: 'webchat', chatId: user }, author: 'bot', text: 'hello' });
        const [sendable] = await messages.forSend([out.id]);
        assert.equal(sendable?.row.id, out.id);
        assert.equal(sendable?.earlier, false);
        await messages.markSentMany([{ id: out.id, platformIds: [`${user}-p1`, `${user}-p2`] }]);
        const sent = await messages.get(out.id);
        assert.deepEqual([sent?.deliveryStatus, sent?.platformMessageId], ['sent', `${user}-p1,${user}-p2`]);
        seen.push(first.customer.id);
      }
      assert.notEqual(seen[0], seen[1]);
      const processed = await db.kysely.selectFrom('messages').select('processed_at').where('direction', '=', 'in').execute();
      assert.deepEqual(processed.map((r) => r.processed_at), [1_000, 1_000]);
      assert.deepEqual(stamp.queries.kept().sort(), [
        'conversations.latest',
        'conversations.latestInThread',
        'conversations.update:version,updated_at,strikes',
        'customers.byId',
        'identities.byUser',
        'identities.patch:display_name,updated_at',
        'messages.forSend:1',
        'messages.markProcessed',
        'messages.markSentMany:1',
      ]);
    });
  });
}
