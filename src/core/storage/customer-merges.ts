import { newRowId } from './ids.js';
import { sql, type Selectable } from 'kysely';
import { type Q, type Stamp, sealOpt } from './rows.js';
import type { PiiCodec } from './pii.js';
import { parseJson } from './json.js';
import { type CustomerMerge, type CustomerMergeTable, type IQ, type MovedRows, type ProfileFill, chunks, withIdentityTables } from './identity-rows.js';

/** Tables whose rows carry the customer of a conversation (moved by conversation on unlink). */
const BY_CONVERSATION = ['messages', 'conversation_events', 'analytics_cases', 'analytics_proactive'] as const;
/** Tables whose rows belong to the customer outside any conversation (moved by recorded id on unlink). */
const BY_ID = { proactiveSends: 'proactive_sends', workflowEvents: 'workflow_events', workflowRuns: 'workflow_runs' } as const;

function toMerge(r: Selectable<CustomerMergeTable>, pii: PiiCodec | null): CustomerMerge {
  const moved = parseJson<Partial<MovedRows>>(r.moved, {});
  return {
    id: r.id,
    survivorId: r.survivor_id,
    mergedId: r.merged_id,
    moved: {
      identities: moved.identities ?? [],
      conversations: moved.conversations ?? [],
      proactiveSends: moved.proactiveSends ?? [],
      workflowEvents: moved.workflowEvents ?? [],
      workflowRuns: moved.workflowRuns ?? [],
      bumped: moved.bumped ?? [],
    },
    // The profile before holds the survivor's name: sealed like the column it came from.
    filled: parseJson<ProfileFill>(pii === null ? r.survivor_before : pii.open(r.survivor_before, 'customer_merges.survivor_before'), {}),
    createdAt: Number(r.created_at),
    undoneAt: r.undone_at === null ? null : Number(r.undone_at),
  };
}

/**
 * The rows a merge and an unlink move between customers. Call only inside a transaction: a merge
 * is one (`core/customers/merge.ts`).
 */
export class CustomerMergeRepo {
  private readonly q: IQ;
  constructor(
    private readonly raw: Q,
    private readonly stamp: Stamp,
  ) {
    this.q = withIdentityTables(raw);
  }

  /**
   * Locks a live customer's row for this transaction (PostgreSQL: a row lock; take locks in id
   * order) and tells whether it is live: it exists, was not merged into another, was not erased.
   * A concurrent merge that got there first is seen here (the update re-reads the committed row).
   */
  async lockLive(customerId: string): Promise<boolean> {
    const r = await this.q
      .updateTable('customers')
      .set({ updated_at: this.stamp.now() })
      .where('id', '=', customerId)
      .where('merged_into', 'is', null)
      .where('erased_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Where a customer went: its id while live, else the customer it was merged into (followed). */
  async survivorOf(customerId: string): Promise<string | undefined> {
    let id = customerId;
    for (let hop = 0; hop < 20; hop++) {
      const r = await this.q.selectFrom('customers').select(['merged_into', 'erased_at']).where('id', '=', id).executeTakeFirst();
      if (!r || r.erased_at !== null) return undefined;
      if (r.merged_into === null) return id;
      id = r.merged_into;
    }
    return undefined;
  }

  /** The merge / erase state of a customer row (undefined: no such row). */
  async state(customerId: string): Promise<{ mergedInto: string | null; erasedAt: number | null } | undefined> {
    const r = await this.q.selectFrom('customers').select(['merged_into', 'erased_at']).where('id', '=', customerId).executeTakeFirst();
    return r ? { mergedInto: r.merged_into, erasedAt: r.erased_at === null ? null : Number(r.erased_at) } : undefined;
  }

  /** Moves everything of `fromId` to `toId`; returns the ids moved (`bumped` empty: the caller's). */
  async moveAll(fromId: string, toId: string): Promise<MovedRows> {
    const ids = async (table: string): Promise<string[]> => {
      const r = await sql<{ id: string }>`select id from ${sql.table(table)} where customer_id = ${fromId}`.execute(this.raw);
      return r.rows.map((x) => String(x.id));
    };
    const moved: MovedRows = {
      identities: await ids('identities'),
      conversations: await ids('conversations'),
      proactiveSends: await ids(BY_ID.proactiveSends),
      workflowEvents: await ids(BY_ID.workflowEvents),
      workflowRuns: await ids(BY_ID.workflowRuns),
      bumped: [],
    };
    const now = this.stamp.now();
    await sql`update identities set customer_id = ${toId}, updated_at = ${now} where customer_id = ${fromId}`.execute(this.raw);
    // A moved conversation is a changed conversation: its version moves, so a turn decided on the old one retries.
    await sql`update conversations set customer_id = ${toId}, version = version + 1, updated_at = ${now} where customer_id = ${fromId}`.execute(this.raw);
    for (const t of [...BY_CONVERSATION, ...Object.values(BY_ID)]) {
      await sql`update ${sql.table(t)} set customer_id = ${toId} where customer_id = ${fromId}`.execute(this.raw);
    }
    return moved;
  }

  /** Moves these identities, conversations (with their messages, events, read models) and rows to `toId`. */
  async moveBack(toId: string, rows: Omit<MovedRows, 'bumped'>): Promise<void> {
    const now = this.stamp.now();
    for (const part of chunks(rows.identities)) {
      await sql`update identities set customer_id = ${toId}, updated_at = ${now} where id in (${sql.join(part)})`.execute(this.raw);
    }
    for (const part of chunks(rows.conversations)) {
      await sql`update conversations set customer_id = ${toId}, version = version + 1, updated_at = ${now} where id in (${sql.join(part)})`.execute(this.raw);
      for (const t of BY_CONVERSATION) {
        await sql`update ${sql.table(t)} set customer_id = ${toId} where conversation_id in (${sql.join(part)})`.execute(this.raw);
      }
    }
    for (const [key, table] of Object.entries(BY_ID) as [keyof typeof BY_ID, string][]) {
      for (const part of chunks(rows[key])) {
        await sql`update ${sql.table(table)} set customer_id = ${toId} where id in (${sql.join(part)})`.execute(this.raw);
      }
    }
  }

  /** Channels each of these conversations received customer messages on. */
  async inboundChannels(conversationIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    for (const part of chunks(conversationIds)) {
      const rows = await this.q
        .selectFrom('messages')
        .select(['conversation_id', 'channel'])
        .distinct()
        .where('conversation_id', 'in', part)
        .where('direction', '=', 'in')
        .execute();
      for (const r of rows) {
        const set = out.get(r.conversation_id) ?? new Set<string>();
        set.add(r.channel);
        out.set(r.conversation_id, set);
      }
    }
    return out;
  }

  /**
   * Moves a conversation's creation time (the customer's latest conversation without a thread is
   * where their messages go): a merge makes an open escalation the latest; unlink moves it back.
   */
  async setConversationCreatedAt(conversationId: string, createdAt: number): Promise<void> {
    await sql`update conversations set created_at = ${createdAt}, version = version + 1 where id = ${conversationId}`.execute(this.raw);
  }

  /** The identity was proven (a link token, a code). */
  async markVerified(identityId: string): Promise<void> {
    await sql`update identities set verified = 1, updated_at = ${this.stamp.now()} where id = ${identityId}`.execute(this.raw);
  }

  async setMergedInto(customerId: string, into: string | null): Promise<void> {
    await this.q.updateTable('customers').set({ merged_into: into, updated_at: this.stamp.now() }).where('id', '=', customerId).execute();
  }

  async record(m: { survivorId: string; mergedId: string; moved: MovedRows; filled: ProfileFill }): Promise<CustomerMerge> {
    const row: Selectable<CustomerMergeTable> = {
      id: newRowId(),
      survivor_id: m.survivorId,
      merged_id: m.mergedId,
      moved: JSON.stringify(m.moved),
      survivor_before: JSON.stringify(m.filled),
      created_at: this.stamp.now(),
      undone_at: null,
    };
    await this.q.insertInto('customer_merges').values({ ...row, survivor_before: this.stamp.pii.seal(row.survivor_before) }).execute();
    return toMerge(row, null);
  }

  /** The latest merge into `survivorId`, not undone, that moved `identityId`. */
  async thatMoved(survivorId: string, identityId: string): Promise<CustomerMerge | undefined> {
    const rows = await this.q
      .selectFrom('customer_merges')
      .selectAll()
      .where('survivor_id', '=', survivorId)
      .where('undone_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map((r) => toMerge(r, this.stamp.pii)).find((m) => m.moved.identities.includes(identityId));
  }

  async markUndone(mergeId: string): Promise<void> {
    await this.q.updateTable('customer_merges').set({ undone_at: this.stamp.now() }).where('id', '=', mergeId).execute();
  }

  /** Raw profile columns a merge fills (and an unlink takes back). */
  async profile(customerId: string): Promise<ProfileFill & { id: string } | undefined> {
    const r = await this.q
      .selectFrom('customers')
      .select(['id', 'display_name', 'locale', 'timezone', 'preferred_channel', 'external_id'])
      .where('id', '=', customerId)
      .executeTakeFirst();
    if (!r) return undefined;
    const out: ProfileFill & { id: string } = { id: r.id };
    for (const k of ['display_name', 'locale', 'timezone', 'preferred_channel', 'external_id'] as const) {
      const v = k === 'display_name' && r[k] !== null ? this.stamp.pii.open(r[k], 'customers.display_name') : r[k];
      if (v !== null) out[k] = v;
    }
    return out;
  }

  /** Sets profile columns (null clears). */
  async setProfile(customerId: string, patch: Partial<Record<keyof ProfileFill, string | null>>): Promise<void> {
    if (Object.keys(patch).length === 0) return;
    await this.q
      .updateTable('customers')
      .set({ ...patch, ...('display_name' in patch ? { display_name: sealOpt(this.stamp.pii, patch.display_name ?? null) } : {}), updated_at: this.stamp.now() })
      .where('id', '=', customerId)
      .execute();
  }
}
