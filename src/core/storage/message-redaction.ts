/**
 * Redaction of message texts a customer asked us not to keep (core/customers/consent.ts): the row
 * stays (order, counts, delivery state, the inbound dedupe key) but its text and attachment
 * metadata are emptied.
 */
import type { Q, Stamp } from './rows.js';

export class MessageRedactionRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  /** Empties the text and attachments of message `id` (true when a row changed). */
  async redact(id: string): Promise<boolean> {
    const r = await this.q.updateTable('messages').set({ text: '', attachments: '[]' }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** When a redaction is stamped (the hub's clock), for the consent record. */
  now(): number {
    return this.stamp.now();
  }
}
