import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '../../src/core/storage/storage.js';
import { DIALECTS, makeDb } from '../helpers/env.js';

/**
 * `Storage.single`: a lone write statement, through the group commit on SQLite and without
 * BEGIN/COMMIT on PostgreSQL (so it is no transaction there: a second statement would not be undone).
 */
for (const dialect of DIALECTS) {
  describe(`Storage.single (${dialect})`, () => {
    async function open(): Promise<Storage> {
      const db = await makeDb(dialect);
      const storage = await Storage.open(db.url);
      after(async () => {
        await storage.close();
        await db.drop();
      });
      return storage;
    }

    it('writes its statement', async () => {
      const storage = await open();
      assert.equal(await storage.single((tx) => tx.channelState.set('single', 'k', { v: 1 }, 0)), 1);
      assert.deepEqual((await storage.channelState.get('single', 'k'))?.value, { v: 1 });
    });

    it(dialect === 'sqlite' ? 'SQLite: runs in a transaction (a throw undoes the write)' : 'PostgreSQL: runs without a transaction (a throw undoes nothing)', async () => {
      const storage = await open();
      await assert.rejects(
        storage.single(async (tx) => {
          await tx.channelState.set('single', 'k', { v: 1 }, 0);
          throw new Error('after the write');
        }),
        /after the write/,
      );
      const kept = await storage.channelState.get('single', 'k');
      if (dialect === 'sqlite') assert.equal(kept, undefined);
      else assert.deepEqual(kept?.value, { v: 1 });
    });
  });
}
