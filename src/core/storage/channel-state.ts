import type { Q, Stamp } from './rows.js';
import type { ChannelName, JsonValue } from '../types.js';

export interface ChannelStateEntry {
  value: JsonValue;
  version: number;
}

/**
 * Small per-channel state in the database (an IMAP UID and UIDVALIDITY, a polling offset), so it
 * moves with the channel's lease from one gateway to another. Writes are compare-and-set.
 */
export class ChannelStateRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  async get(channel: ChannelName, key: string): Promise<ChannelStateEntry | undefined> {
    const r = await this.q
      .selectFrom('channel_state')
      .select(['value', 'version'])
      .where('channel', '=', channel)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!r) return undefined;
    return { value: JSON.parse(r.value) as JsonValue, version: r.version };
  }

  /**
   * Writes `value` when the stored version is `expectedVersion` (`0`: the key must not exist yet).
   * Returns the new version, or undefined when another writer got there first.
   */
  async set(channel: ChannelName, key: string, value: JsonValue, expectedVersion: number): Promise<number | undefined> {
    const text = JSON.stringify(value);
    const now = this.stamp.now();
    if (expectedVersion === 0) {
      const res = await this.q
        .insertInto('channel_state')
        .values({ channel, key, value: text, version: 1, updated_at: now })
        .onConflict((oc) => oc.columns(['channel', 'key']).doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) === 1 ? 1 : undefined;
    }
    const res = await this.q
      .updateTable('channel_state')
      .set({ value: text, version: expectedVersion + 1, updated_at: now })
      .where('channel', '=', channel)
      .where('key', '=', key)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1 ? expectedVersion + 1 : undefined;
  }

  async delete(channel: ChannelName, key: string): Promise<void> {
    await this.q.deleteFrom('channel_state').where('channel', '=', channel).where('key', '=', key).execute();
  }
}
