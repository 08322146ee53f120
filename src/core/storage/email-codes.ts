/**
 * One-time codes mailed to an address a chat customer claims (core/customers/email-code.ts makes
 * and checks them). Only a keyed hash of the code is kept; tries are counted and the code spent by
 * compare-and-set, so two processes never both accept one code or go past the try limit.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database } from './tables.js';
import type { Q, Stamp } from './rows.js';
import type { PiiCodec } from './pii.js';
import { withIdentityTables } from './identity-rows.js';

export interface EmailCodeTable {
  id: string;
  /** The claimant: `<channel>:<platform user id>`, or its keyed hash `h:<hash>` when the storage encrypts. */
  identity: string;
  conversation_id: string;
  /** The address claimed (lowercased; sealed by the PII codec). */
  address: string;
  /** Keyed hash of the address (`identity:002_pii`; null without encryption): finds a customer's codes. */
  address_hash: string | null;
  /** hex HMAC-SHA256 of the code under the hub's identity key. */
  code_hash: string;
  tries: number;
  expires_at: number;
  used_at: number | null;
  /** The inbound message that used it (a redelivered message sees its own success). */
  used_by: string | null;
  created_at: number;
}

export interface EmailCodeRecord {
  id: string;
  identity: string;
  conversationId: string;
  address: string;
  codeHash: string;
  tries: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
  createdAt: number;
}

type EQ = Kysely<Database & { email_codes: EmailCodeTable }> | Transaction<Database & { email_codes: EmailCodeTable }>;

function toRecord(r: Selectable<EmailCodeTable>, pii: PiiCodec): EmailCodeRecord {
  return {
    id: r.id,
    identity: r.identity,
    conversationId: r.conversation_id,
    address: pii.open(r.address, 'email_codes.address'),
    codeHash: r.code_hash,
    tries: Number(r.tries),
    expiresAt: Number(r.expires_at),
    usedAt: r.used_at === null ? null : Number(r.used_at),
    usedBy: r.used_by,
    createdAt: Number(r.created_at),
  };
}

export class EmailCodeRepo {
  private readonly q: EQ;
  constructor(
    q: Q,
    private readonly stamp: Stamp,
  ) {
    this.q = q as unknown as EQ;
  }

  async insert(r: { id: string; identity: string; conversationId: string; address: string; codeHash: string; expiresAt: number }): Promise<void> {
    await this.q
      .insertInto('email_codes')
      .values({
        id: r.id,
        identity: this.identityKey(r.identity),
        conversation_id: r.conversationId,
        address: this.stamp.pii.seal(r.address),
        address_hash: this.stamp.pii.lookup('search', r.address.toLowerCase()) ?? null,
        code_hash: r.codeHash,
        tries: 0,
        expires_at: r.expiresAt,
        used_at: null,
        used_by: null,
        created_at: this.stamp.now(),
      })
      .execute();
  }

  async get(id: string): Promise<EmailCodeRecord | undefined> {
    const r = await this.q.selectFrom('email_codes').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toRecord(r, this.stamp.pii) : undefined;
  }

  /** How the claimant is stored: as given (400 characters at most), or its keyed hash when the storage encrypts. */
  private identityKey(identity: string): string {
    const h = this.stamp.pii.lookup('email-code-identity', identity);
    return h === undefined ? identity.slice(0, 400) : `h:${h}`;
  }

  /** The claimant's latest code (the one a typed code is checked against). */
  async latestOf(identity: string): Promise<EmailCodeRecord | undefined> {
    const r = await this.q.selectFrom('email_codes').selectAll().where('identity', '=', this.identityKey(identity)).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return r ? toRecord(r, this.stamp.pii) : undefined;
  }

  /** Counts one try: true only while the code is unused and under `max` tries (compare-and-set). */
  async countTry(id: string, max: number): Promise<boolean> {
    const r = await this.q
      .updateTable('email_codes')
      .set((eb) => ({ tries: eb('tries', '+', 1) }))
      .where('id', '=', id)
      .where('tries', '<', max)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * The platform user id of the email identity whose address is `address` ignoring case (the email
   * channel stores a sender's address as written), the most recently active first.
   */
  async emailIdentityAddress(channel: string, address: string): Promise<string | undefined> {
    const hash = this.stamp.pii.lookup('search', address.toLowerCase());
    if (hash !== undefined) {
      // Encrypted: by the keyed hash of the lowercased address (an index, no scan).
      const row = await withIdentityTables(this.q as unknown as Q)
        .selectFrom('identities')
        .select('platform_user_id')
        .where('channel', '=', channel)
        .where('search_hash', '=', hash)
        .orderBy('updated_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? this.stamp.pii.open(row.platform_user_id, 'identities.platform_user_id') : undefined;
    }
    const r = await sql<{ platform_user_id: string }>`select platform_user_id from identities where channel = ${channel}
      and lower(platform_user_id) = ${address.toLowerCase()} order by updated_at desc limit 1`.execute(this.q);
    return r.rows[0]?.platform_user_id;
  }

  /** Spends the code once: true only for the one caller that marked it used. */
  async use(id: string, by: string, now: number): Promise<boolean> {
    const r = await this.q.updateTable('email_codes').set({ used_at: now, used_by: by }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
