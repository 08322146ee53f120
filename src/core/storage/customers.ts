import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { CustomerTable, IdentityTable } from './tables.js';
import { type Q, type Stamp, isUniqueViolation, toCustomer, toIdentity } from './rows.js';
import { parseObject } from './json.js';
import { CustomerMergeRepo } from './customer-merges.js';
import { HubError } from '../errors.js';
import type { Customer, Identity } from '../model.js';
import type { ChannelName, ConversationRef, InboundMessage, JsonObject } from '../types.js';

/** Customers and their identities (one customer, many (channel, platform user id) pairs). */
export class CustomerRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  /** Same (channel, platform user id) -> same customer; the identity keeps the latest ref. */
  async resolve(msg: InboundMessage): Promise<{ customer: Customer; identity: Identity }> {
    const now = this.stamp.now();
    const refText = JSON.stringify(msg.ref);
    const existing = await this.q
      .selectFrom('identities')
      .selectAll()
      .where('channel', '=', msg.channel)
      .where('platform_user_id', '=', msg.platformUserId)
      .executeTakeFirst();
    if (existing) {
      const patch: Partial<IdentityTable> = {};
      if (existing.last_ref !== refText) patch.last_ref = refText;
      if (msg.userName && existing.display_name !== msg.userName) patch.display_name = msg.userName;
      if (existing.unreachable_at !== null) {
        // A customer who writes again is reachable again.
        patch.unreachable_at = null;
        patch.unreachable_reason = null;
      }
      if (Object.keys(patch).length > 0) {
        patch.updated_at = now;
        await this.q.updateTable('identities').set(patch).where('id', '=', existing.id).execute();
      }
      // Two indexed lookups measured cheaper than one join here (bench/pipeline.ts).
      const customer = await this.q.selectFrom('customers').selectAll().where('id', '=', existing.customer_id).executeTakeFirstOrThrow();
      return { customer: toCustomer(customer), identity: toIdentity({ ...existing, ...patch }) };
    }
    const customer = await this.create({ displayName: msg.userName ?? null, locale: msg.locale ?? null, preferredChannel: msg.channel });
    const identity = await this.addIdentity({ customerId: customer.id, channel: msg.channel, platformUserId: msg.platformUserId, ref: msg.ref, verified: false, displayName: msg.userName ?? null });
    return { customer, identity };
  }

  /**
   * A new customer without identities (`addIdentity` gives them): a first message's (`resolve`),
   * or one the business told us about before they ever wrote (the events API). Throws a unique violation when `externalId` is taken.
   */
  async create(c: { externalId?: string | null; displayName?: string | null; locale?: string | null; timezone?: string | null; preferredChannel?: ChannelName | null }): Promise<Customer> {
    const now = this.stamp.now();
    const row: Selectable<CustomerTable> = {
      id: randomUUID(),
      display_name: c.displayName ?? null,
      locale: c.locale ?? null,
      timezone: c.timezone ?? null,
      preferred_channel: c.preferredChannel ?? null,
      external_id: c.externalId ?? null,
      consent: '{}',
      tags: '[]',
      created_at: now,
      updated_at: now,
    };
    await this.q.insertInto('customers').values(row).execute();
    return toCustomer(row);
  }

  /**
   * Gives a customer one more identity (a channel they were proven to own: the identity linking's
   * job). Throws a unique violation when (channel, platform user id) is someone's already.
   */
  async addIdentity(i: { customerId: string; channel: ChannelName; platformUserId: string; ref: ConversationRef; verified: boolean; displayName?: string | null }): Promise<Identity> {
    const now = this.stamp.now();
    const row: Selectable<IdentityTable> = {
      id: randomUUID(),
      customer_id: i.customerId,
      channel: i.channel,
      platform_user_id: i.platformUserId,
      display_name: i.displayName ?? null,
      verified: i.verified ? 1 : 0,
      last_ref: JSON.stringify(i.ref),
      unreachable_at: null,
      unreachable_reason: null,
      created_at: now,
      updated_at: now,
    };
    await this.q.insertInto('identities').values(row).execute();
    return toIdentity(row);
  }

  async get(id: string): Promise<Customer | undefined> {
    const r = await this.q.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toCustomer(r) : undefined;
  }

  async identitiesOf(customerId: string): Promise<Identity[]> {
    const rows = await this.q.selectFrom('identities').selectAll().where('customer_id', '=', customerId).orderBy('created_at').execute();
    return rows.map(toIdentity);
  }

  async findIdentity(channel: ChannelName, platformUserId: string): Promise<Identity | undefined> {
    const r = await this.q
      .selectFrom('identities')
      .selectAll()
      .where('channel', '=', channel)
      .where('platform_user_id', '=', platformUserId)
      .executeTakeFirst();
    return r ? toIdentity(r) : undefined;
  }

  /**
   * The customer the business knows by `externalId`; when that customer was merged into another
   * (docs/identity.md), the one it was merged into.
   */
  async byExternalId(externalId: string): Promise<Customer | undefined> {
    const r = await this.q.selectFrom('customers').selectAll().where('external_id', '=', externalId).executeTakeFirst();
    if (!r) return undefined;
    const into = await new CustomerMergeRepo(this.q, this.stamp).survivorOf(r.id);
    if (into === r.id) return toCustomer(r);
    return into === undefined ? undefined : this.get(into);
  }

  /** Gives a customer the business's id; false when another customer already has it. */
  async setExternalId(customerId: string, externalId: string): Promise<boolean> {
    const taken = await this.byExternalId(externalId);
    if (taken) return taken.id === customerId;
    try {
      const r = await this.q
        .updateTable('customers')
        .set({ external_id: externalId, updated_at: this.stamp.now() })
        .where('id', '=', customerId)
        .where('external_id', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    } catch (err) {
      if (isUniqueViolation(err)) return false; // another customer took it meanwhile
      throw err;
    }
  }

  async setPreferredChannel(customerId: string, channel: ChannelName | null): Promise<void> {
    await this.q
      .updateTable('customers')
      .set({ preferred_channel: channel, updated_at: this.stamp.now() })
      .where('id', '=', customerId)
      .execute();
  }

  /**
   * Rewrites a customer's consent flags with `change` of the stored ones, compare-and-set on the
   * stored text (a concurrent change is read again, a few times). The flags as stored; undefined
   * for no such customer.
   */
  async updateConsent(customerId: string, change: (consent: JsonObject) => JsonObject): Promise<JsonObject | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await this.q.selectFrom('customers').select('consent').where('id', '=', customerId).executeTakeFirst();
      if (!row) return undefined;
      const next = change(parseObject(row.consent));
      const text = JSON.stringify(next);
      if (text === row.consent) return next;
      const r = await this.q
        .updateTable('customers')
        .set({ consent: text, updated_at: this.stamp.now() })
        .where('id', '=', customerId)
        .where('consent', '=', row.consent)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return next;
    }
    throw new HubError('CONFLICT', `consent of customer ${customerId} changed concurrently 5 times in a row`, { retry: 'retry' });
  }

  /** Marks the identities reached at (channel, chat id) unreachable; returns them. */
  async markUnreachable(channel: ChannelName, chatId: string, reason: string): Promise<Identity[]> {
    const now = this.stamp.now();
    const rows = await this.q.selectFrom('identities').selectAll().where('channel', '=', channel).execute();
    const hit = rows.map(toIdentity).filter((i) => i.lastRef.chatId === chatId && i.unreachableAt === null);
    if (hit.length === 0) return [];
    await this.q
      .updateTable('identities')
      .set({ unreachable_at: now, unreachable_reason: reason, updated_at: now })
      .where(
        'id',
        'in',
        hit.map((i) => i.id),
      )
      .execute();
    return hit.map((i) => ({ ...i, unreachableAt: now, unreachableReason: reason, updatedAt: now }));
  }

  /** When the customer last wrote on each channel (epoch ms), newest first. */
  async lastSeenByChannel(customerId: string): Promise<{ channel: ChannelName; at: number }[]> {
    const rows = await this.q
      .selectFrom('messages')
      .select(['channel', (eb) => eb.fn.max('created_at').as('at')])
      .where('customer_id', '=', customerId)
      .where('direction', '=', 'in')
      .groupBy('channel')
      .execute();
    return rows.map((r) => ({ channel: r.channel, at: Number(r.at) })).sort((a, b) => b.at - a.at);
  }
}
