import { newRowId } from './ids.js';
import { sql, type Expression, type Selectable } from 'kysely';
import type { ConversationTable, CustomerTable, IdentityTable } from './tables.js';
import { type Q, type Stamp, isUniqueViolation, sealOpt, toConversation, toCustomer, toIdentity } from './rows.js';
import { withIdentityTables, type IdentityHashColumns } from './identity-rows.js';
import type { PiiCodec } from './pii.js';
import { parseObject } from './json.js';
import { CustomerMergeRepo } from './customer-merges.js';
import { HubError } from '../errors.js';
import type { Conversation, Customer, Identity } from '../model.js';
import type { ChannelName, ConversationRef, InboundMessage, JsonObject } from '../types.js';

/** The identity columns the mapper reads (not the lookup hashes). */
const IDENTITY_COLUMNS = ['id', 'customer_id', 'channel', 'platform_user_id', 'display_name', 'verified', 'last_ref', 'unreachable_at', 'unreachable_reason', 'created_at', 'updated_at'] as const;

/** The lookup hashes of a platform user id (both null without encryption). */
export function identityHashes(pii: PiiCodec, platformUserId: string): { platform_user_hash: string | null; search_hash: string | null } {
  return { platform_user_hash: pii.lookup('identity', platformUserId) ?? null, search_hash: pii.lookup('search', platformUserId.toLowerCase()) ?? null };
}

export interface NewCustomer {
  externalId?: string | null;
  displayName?: string | null;
  locale?: string | null;
  timezone?: string | null;
  preferredChannel?: ChannelName | null;
}

export interface NewIdentity {
  customerId: string;
  channel: ChannelName;
  platformUserId: string;
  ref: ConversationRef;
  verified: boolean;
  displayName?: string | null;
}

/** Customers and their identities (one customer, many (channel, platform user id) pairs). */
export class CustomerRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  /**
   * The customer and identity of an inbound message's sender: same (channel, platform user id) ->
   * same customer; the identity keeps the latest ref. `created` when both are new.
   */
  async resolve(msg: InboundMessage): Promise<{ customer: Customer; identity: Identity; created: boolean }> {
    const now = this.stamp.now();
    const pii = this.stamp.pii;
    const existing = await this.identityRow(msg.channel, msg.platformUserId);
    if (existing) {
      const { identity, patch } = this.sender(existing, msg);
      if (patch) {
        patch.updated_at = now;
        identity.updatedAt = now;
        // Kysely leaves out a column set to undefined: so do the key and the values.
        const set = Object.entries(patch).filter(([, v]) => v !== undefined);
        const params = [...set.map(([, v]) => v), existing.id];
        await this.stamp.queries.run(this.q, `identities.patch:${set.map(([c]) => c).join(',')}`, params, () => this.q.updateTable('identities').set(patch).where('id', '=', existing.id));
      }
      // Two indexed lookups measured cheaper than one join here (bench/pipeline.ts).
      const customerId = existing.customer_id;
      const { rows } = await this.stamp.queries.run(this.q, 'customers.byId', [customerId], () => this.q.selectFrom('customers').selectAll().where('id', '=', customerId));
      const [customer] = rows;
      if (!customer) throw new Error(`customer ${customerId} of identity ${existing.id} not found`);
      return { customer: toCustomer(customer, pii), identity, created: false };
    }
    const { customerRow, customer, identityRow, identity } = this.newSender(msg);
    await this.stamp.queries.insert(this.q, 'customers', [customerRow]);
    await this.stamp.queries.insert(this.q, 'identities', [identityRow]);
    return { customer, identity, created: true };
  }

  /** The rows `resolve` writes for a sender nobody knows (a new customer with this identity, unverified), and what they read as. */
  newSender(msg: InboundMessage): {
    customerRow: Selectable<CustomerTable>;
    customer: Customer;
    identityRow: Selectable<IdentityTable> & IdentityHashColumns;
    identity: Identity;
  } {
    const { row: customerRow, customer } = this.newCustomer({ displayName: msg.userName ?? null, locale: msg.locale ?? null, preferredChannel: msg.channel });
    const { row: identityRow, identity } = this.newIdentity({
      customerId: customer.id,
      channel: msg.channel,
      platformUserId: msg.platformUserId,
      ref: msg.ref,
      verified: false,
      displayName: msg.userName ?? null,
    });
    return { customerRow, customer, identityRow, identity };
  }

  /**
   * PostgreSQL only (`to_json`): what `resolve` gives when it would write nothing, a known sender
   * whose identity needs no update (same reply address and name, reachable), with the customer's
   * latest conversation (`latestOf`: `ConversationRepo.latestQuery` for the customer id column
   * given), all in one query; `absent` when nobody has this identity; undefined when `resolve`
   * would update it. Reads only.
   */
  async known(
    msg: InboundMessage,
    latestOf: (customerId: Expression<string>) => Expression<unknown>,
  ): Promise<{ customer: Customer; identity: Identity; latest: Conversation | undefined } | 'absent' | undefined> {
    const hash = this.stamp.pii.lookup('identity', msg.platformUserId);
    const q = withIdentityTables(this.q)
      .selectFrom('identities')
      .innerJoin('customers', 'customers.id', 'identities.customer_id')
      .select(IDENTITY_COLUMNS.map((c) => `identities.${c}` as const))
      .select([
        sql<Selectable<CustomerTable>>`to_json(customers)`.as('customer_row'),
        sql<Selectable<ConversationTable> | null>`(select to_json(latest) from (${latestOf(sql.ref<string>('identities.customer_id'))}) as latest)`.as('latest_row'),
      ])
      .where('identities.channel', '=', msg.channel);
    const row = await (hash === undefined ? q.where('identities.platform_user_id', '=', msg.platformUserId) : q.where('identities.platform_user_hash', '=', hash)).executeTakeFirst();
    if (!row) return 'absent';
    const { customer_row, latest_row, ...existing } = row;
    const { identity, patch } = this.sender(existing, msg);
    if (patch) return undefined;
    return { customer: toCustomer(customer_row, this.stamp.pii), identity, latest: latest_row ? toConversation(latest_row) : undefined };
  }

  /** The stored identity as a message of its sender leaves it, and the update that takes (none: undefined). */
  private sender(existing: Selectable<IdentityTable>, msg: InboundMessage): { identity: Identity; patch: Partial<IdentityTable> | undefined } {
    const pii = this.stamp.pii;
    const identity = toIdentity(existing, pii);
    const patch: Partial<IdentityTable> = {};
    const refText = JSON.stringify(msg.ref);
    if (JSON.stringify(identity.lastRef) !== refText) {
      patch.last_ref = pii.seal(refText);
      identity.lastRef = msg.ref;
    }
    if (msg.userName && identity.displayName !== msg.userName) {
      patch.display_name = pii.seal(msg.userName);
      identity.displayName = msg.userName;
    }
    if (existing.unreachable_at !== null) {
      // A customer who writes again is reachable again.
      patch.unreachable_at = null;
      patch.unreachable_reason = null;
      identity.unreachableAt = null;
      identity.unreachableReason = null;
    }
    return { identity, patch: Object.keys(patch).length > 0 ? patch : undefined };
  }

  /**
   * The identity row of (channel, platform user id): by its keyed hash when the storage encrypts
   * (the column itself is sealed under a random IV), else by the column.
   */
  private async identityRow(channel: ChannelName, platformUserId: string): Promise<Selectable<IdentityTable> | undefined> {
    const hash = this.stamp.pii.lookup('identity', platformUserId);
    const build = () => {
      const q = withIdentityTables(this.q).selectFrom('identities').select(IDENTITY_COLUMNS).where('channel', '=', channel);
      return hash === undefined ? q.where('platform_user_id', '=', platformUserId) : q.where('platform_user_hash', '=', hash);
    };
    const key = hash === undefined ? 'identities.byUser' : 'identities.byHash';
    return (await this.stamp.queries.run(this.q, key, [channel, hash ?? platformUserId], build)).rows[0];
  }

  /**
   * A new customer without identities (`addIdentity` gives them): a first message's (`resolve`),
   * or one the business told us about before they ever wrote (the events API). Throws a unique violation when `externalId` is taken.
   */
  async create(c: NewCustomer): Promise<Customer> {
    const { row, customer } = this.newCustomer(c);
    await this.q.insertInto('customers').values(row).execute();
    return customer;
  }

  /** The row `create` writes (sealed) and the customer it returns. */
  newCustomer(c: NewCustomer): { row: Selectable<CustomerTable>; customer: Customer } {
    const now = this.stamp.now();
    const row: Selectable<CustomerTable> = {
      id: newRowId(),
      display_name: sealOpt(this.stamp.pii, c.displayName ?? null),
      locale: c.locale ?? null,
      timezone: c.timezone ?? null,
      preferred_channel: c.preferredChannel ?? null,
      external_id: c.externalId ?? null,
      consent: '{}',
      tags: '[]',
      created_at: now,
      updated_at: now,
    };
    return { row, customer: toCustomer({ ...row, display_name: c.displayName ?? null }, null) };
  }

  /**
   * Gives a customer one more identity (a channel they were proven to own: the identity linking's
   * job). Throws a unique violation when (channel, platform user id) is someone's already.
   */
  async addIdentity(i: NewIdentity): Promise<Identity> {
    const { row, identity } = this.newIdentity(i);
    await withIdentityTables(this.q).insertInto('identities').values(row).execute();
    return identity;
  }

  /** The row `addIdentity` writes (sealed, with its lookup hashes) and the identity it returns. */
  newIdentity(i: NewIdentity): { row: Selectable<IdentityTable> & IdentityHashColumns; identity: Identity } {
    const now = this.stamp.now();
    const pii = this.stamp.pii;
    const row: Selectable<IdentityTable> = {
      id: newRowId(),
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
    const sealed = {
      ...row,
      platform_user_id: pii.seal(row.platform_user_id),
      display_name: sealOpt(pii, row.display_name),
      last_ref: pii.seal(row.last_ref),
      ...identityHashes(pii, i.platformUserId),
    };
    return { row: sealed, identity: toIdentity(row, null) };
  }

  async get(id: string): Promise<Customer | undefined> {
    const r = await this.q.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toCustomer(r, this.stamp.pii) : undefined;
  }

  /** Customers by id, in no order (the workflow engine's step batches). */
  async getMany(ids: readonly string[]): Promise<Customer[]> {
    if (ids.length === 0) return [];
    const rows = await this.q.selectFrom('customers').selectAll().where('id', 'in', [...ids]).execute();
    return rows.map((r) => toCustomer(r, this.stamp.pii));
  }

  async identitiesOf(customerId: string): Promise<Identity[]> {
    const rows = await this.q.selectFrom('identities').select(IDENTITY_COLUMNS).where('customer_id', '=', customerId).orderBy('created_at').execute();
    return rows.map((r) => toIdentity(r, this.stamp.pii));
  }

  /** The identities of these customers, by customer (each list oldest first, like `identitiesOf`). */
  async identitiesOfMany(customerIds: readonly string[]): Promise<Map<string, Identity[]>> {
    const out = new Map<string, Identity[]>();
    if (customerIds.length === 0) return out;
    const rows = await this.q.selectFrom('identities').select(IDENTITY_COLUMNS).where('customer_id', 'in', [...customerIds]).orderBy('created_at').execute();
    for (const r of rows) {
      const list = out.get(r.customer_id) ?? [];
      list.push(toIdentity(r, this.stamp.pii));
      out.set(r.customer_id, list);
    }
    return out;
  }

  async findIdentity(channel: ChannelName, platformUserId: string): Promise<Identity | undefined> {
    const r = await this.identityRow(channel, platformUserId);
    return r ? toIdentity(r, this.stamp.pii) : undefined;
  }

  /**
   * The customer the business knows by `externalId`; when that customer was merged into another
   * (docs/identity.md), the one it was merged into.
   */
  async byExternalId(externalId: string): Promise<Customer | undefined> {
    const r = await this.q.selectFrom('customers').selectAll().where('external_id', '=', externalId).executeTakeFirst();
    if (!r) return undefined;
    const into = await new CustomerMergeRepo(this.q, this.stamp).survivorOf(r.id);
    if (into === r.id) return toCustomer(r, this.stamp.pii);
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
    // A scan of the channel's identities (rare: a platform said a chat is gone); each ref is decrypted.
    const rows = await this.q.selectFrom('identities').select(IDENTITY_COLUMNS).where('channel', '=', channel).execute();
    const hit = rows.map((r) => toIdentity(r, this.stamp.pii)).filter((i) => i.lastRef.chatId === chatId && i.unreachableAt === null);
    if (hit.length === 0) return [];
    await this.q
      .updateTable('identities')
      .set({ unreachable_at: now, unreachable_reason: sealOpt(this.stamp.pii, reason), updated_at: now })
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

  /** `lastSeenByChannel` of many customers in one query. */
  async lastSeenByChannelMany(customerIds: readonly string[]): Promise<Map<string, { channel: ChannelName; at: number }[]>> {
    const out = new Map<string, { channel: ChannelName; at: number }[]>();
    if (customerIds.length === 0) return out;
    const rows = await this.q
      .selectFrom('messages')
      .select(['customer_id', 'channel', (eb) => eb.fn.max('created_at').as('at')])
      .where('customer_id', 'in', [...customerIds])
      .where('direction', '=', 'in')
      .groupBy(['customer_id', 'channel'])
      .execute();
    for (const r of rows) {
      const list = out.get(r.customer_id) ?? [];
      list.push({ channel: r.channel, at: Number(r.at) });
      out.set(r.customer_id, list);
    }
    for (const list of out.values()) list.sort((a, b) => b.at - a.at);
    return out;
  }
}
