import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { migrate, openDb, type Db } from '../../src/core/storage/db.js';
import { InsertCache } from '../../src/core/storage/insert-cache.js';
import { DIALECTS, makeDb } from '../helpers/env.js';

/** Inserts compiled once per shape (`InsertCache`): the same rows as Kysely's own insert, on both databases. */
for (const dialect of DIALECTS) {
  describe(`InsertCache (${dialect})`, () => {
    async function open(): Promise<Db> {
      const t = await makeDb(dialect);
      const db = openDb(t.url);
      await migrate(db);
      after(async () => {
        await db.close();
        await t.drop();
      });
      return db;
    }
    const row = (id: string, name: string | null) => ({ id, display_name: name, locale: null, timezone: null, preferred_channel: null, external_id: null, consent: '{}', tags: '[]', created_at: 1, updated_at: 1 });
    const all = (db: Db) => db.kysely.selectFrom('customers').select(['id', 'display_name']).orderBy('id').execute();
    const names = async (db: Db) => (await all(db)).map((r) => [r.id, r.display_name]);

    it('a shape seen again runs with its own values; a conflict that does nothing inserts nothing', async () => {
      const db = await open();
      const cache = new InsertCache();
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
      const db = await open();
      const cache = new InsertCache();
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
