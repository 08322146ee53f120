import { sql } from 'kysely';
import { HubError } from '../errors.js';
import type { Q } from './rows.js';

/**
 * SQLite: copies the whole write-ahead log into the database file and truncates it to zero bytes,
 * so no old frame keeps a deleted or resealed value (after an erase, a key rotation).
 *
 * `wal_checkpoint(TRUNCATE)` waits for readers and writers through the busy handler, but answers
 * busy at once, without waiting, when another connection is checkpointing: the checkpointer thread
 * (`db.ts`) runs a PASSIVE checkpoint every 200 ms. It is tried again then, after a pause of 1, 2,
 * 4 … 50 ms, for up to `waitMs`; past that a STORAGE error says the log still holds old frames.
 */
export async function truncateWal(q: Q, waitMs = 10_000): Promise<void> {
  const until = Date.now() + waitMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    const [row] = (await sql<{ busy: unknown }>`pragma wal_checkpoint(TRUNCATE)`.execute(q)).rows;
    if (Number(row?.busy ?? 0) === 0) return;
    if (Date.now() >= until) {
      const [db] = (await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(q)).rows;
      const file = db?.file ?? 'the database';
      throw new HubError('STORAGE', `${file}-wal: the write-ahead log could not be checkpointed and truncated within ${waitMs} ms (another connection kept reading or checkpointing); it may still hold deleted values until the next checkpoint`);
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
