import type { Selectable } from 'kysely';
import type { Q, Stamp } from './rows.js';
import { type IQ, type LinkTokenRecord, type LinkTokenTable, withIdentityTables } from './identity-rows.js';

function toToken(r: Selectable<LinkTokenTable>): LinkTokenRecord {
  return {
    id: r.id,
    grantId: r.grant_id,
    customerId: r.customer_id,
    channel: r.channel,
    createdBy: r.created_by,
    expiresAt: Number(r.expires_at),
    usedAt: r.used_at === null ? null : Number(r.used_at),
    usedBy: r.used_by,
    createdAt: Number(r.created_at),
  };
}

/** Business-signed link tokens (core/customers/link-tokens.ts signs and checks them). */
export class LinkTokenRepo {
  private readonly q: IQ;
  constructor(
    q: Q,
    private readonly stamp: Stamp,
  ) {
    this.q = withIdentityTables(q);
  }

  async insert(rows: readonly Omit<LinkTokenRecord, 'usedAt' | 'usedBy' | 'createdAt'>[]): Promise<void> {
    const now = this.stamp.now();
    if (rows.length === 0) return;
    await this.q
      .insertInto('link_tokens')
      .values(
        rows.map((r) => ({
          id: r.id,
          grant_id: r.grantId,
          customer_id: r.customerId,
          channel: r.channel,
          created_by: r.createdBy.slice(0, 300),
          expires_at: r.expiresAt,
          used_at: null,
          used_by: null,
          created_at: now,
        })),
      )
      .execute();
  }

  async get(id: string): Promise<LinkTokenRecord | undefined> {
    const r = await this.q.selectFrom('link_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toToken(r) : undefined;
  }

  /**
   * Uses the token once: true only for the one caller that marked it (and every token of its grant)
   * used; a token used before, or expired at `now`, is not taken.
   */
  async use(id: string, grantId: string, usedBy: string, now: number): Promise<boolean> {
    const r = await this.q
      .updateTable('link_tokens')
      .set({ used_at: now, used_by: usedBy.slice(0, 400) })
      .where('grant_id', '=', grantId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return false;
    // Siblings of the grant (the other channels' tokens) are spent with it.
    const mine = await this.q.selectFrom('link_tokens').select('used_by').where('id', '=', id).executeTakeFirst();
    return mine?.used_by === usedBy.slice(0, 400);
  }

  async ofCustomer(customerId: string): Promise<LinkTokenRecord[]> {
    const rows = await this.q.selectFrom('link_tokens').selectAll().where('customer_id', '=', customerId).orderBy('created_at').execute();
    return rows.map(toToken);
  }
}
