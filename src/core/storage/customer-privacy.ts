import { SqliteAdapter, sql } from 'kysely';
import type { Q, Stamp } from './rows.js';
import { chunks } from './identity-rows.js';
import { openSealedColumns } from './pii-rows.js';
import { truncateWal } from './wal.js';

type Row = Record<string, unknown>;

/** What a tombstone keeps of an erased customer: counts only. */
export interface Tombstone {
  erasedAt: number;
  identities: Record<string, number>;
  conversations: number;
  escalations: number;
  messagesIn: number;
  messagesOut: number;
}

/**
 * Everything held about one customer, read for an export, and the erase that removes it (one
 * transaction, `core/customers/privacy.ts`). Raw rows by table: an export is the data as stored.
 */
export class CustomerPrivacyRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  private async rows(query: ReturnType<typeof sql<Row>>): Promise<Row[]> {
    return (await query.execute(this.q)).rows;
  }

  private async byIds(table: string, column: string, ids: readonly string[]): Promise<Row[]> {
    const out: Row[] = [];
    for (const part of chunks(ids)) out.push(...(await this.rows(sql<Row>`select * from ${sql.table(table)} where ${sql.ref(column)} in (${sql.join(part)})`)));
    return out;
  }

  /** The email codes of a customer: claimed in their conversations, or mailed to one of their email addresses. */
  private async emailCodes(customerId: string, convIds: readonly string[]): Promise<Row[]> {
    const byConv = await this.byIds('email_codes', 'conversation_id', convIds);
    const byAddress: Row[] = [];
    if (this.stamp.pii.enabled) {
      // Encrypted: the keyed hash of the lowercased address is the same in both tables.
      const hashes = (await sql<{ h: string | null }>`select search_hash as h from identities where customer_id = ${customerId} and channel = 'email'`.execute(this.q)).rows.flatMap((r) => (r.h === null ? [] : [r.h]));
      for (const part of chunks(hashes)) byAddress.push(...(await this.rows(sql<Row>`select * from email_codes where address_hash in (${sql.join(part)})`)));
    } else {
      const addresses = (await sql<{ a: string }>`select lower(platform_user_id) as a from identities where customer_id = ${customerId} and channel = 'email'`.execute(this.q)).rows.map((r) => r.a);
      for (const part of chunks(addresses)) byAddress.push(...(await this.rows(sql<Row>`select * from email_codes where lower(address) in (${sql.join(part)})`)));
    }
    const seen = new Set<unknown>();
    return [...byConv, ...byAddress].filter((r) => !seen.has(r.id) && seen.add(r.id));
  }

  /** The customer rows merged into `customerId` (directly or through others): their profiles are theirs too. */
  async mergedInto(customerId: string): Promise<string[]> {
    const out: string[] = [];
    let frontier = [customerId];
    for (let hop = 0; hop < 20 && frontier.length > 0; hop++) {
      const next: string[] = [];
      for (const part of chunks(frontier)) {
        const r = await sql<{ id: string }>`select id from customers where merged_into in (${sql.join(part)})`.execute(this.q);
        next.push(...r.rows.map((x) => x.id));
      }
      out.push(...next);
      frontier = next;
    }
    return out;
  }

  /** Every row about the customer, by table (audit entries are read by the caller), sealed columns decrypted. */
  async collect(customerId: string): Promise<Record<string, Row[]>> {
    const out = await this.collectStored(customerId);
    for (const [table, rows] of Object.entries(out)) {
      for (const r of rows) openSealedColumns(this.stamp.pii, table, r);
    }
    return out;
  }

  private async collectStored(customerId: string): Promise<Record<string, Row[]>> {
    const customers = await this.byIds('customers', 'id', [customerId, ...(await this.mergedInto(customerId))]);
    const conversations = await this.rows(sql<Row>`select * from conversations where customer_id = ${customerId} order by created_at`);
    const convIds = conversations.map((c) => String(c.id));
    const runs = await this.rows(sql<Row>`select * from workflow_runs where customer_id = ${customerId}`);
    return {
      customers,
      identities: await this.rows(sql<Row>`select * from identities where customer_id = ${customerId} order by created_at`),
      conversations,
      messages: await this.rows(sql<Row>`select * from messages where customer_id = ${customerId} order by created_at`),
      conversation_events: await this.rows(sql<Row>`select * from conversation_events where customer_id = ${customerId} order by id`),
      desk_cases: await this.byIds('desk_cases', 'conversation_id', convIds),
      pending_answers: await this.byIds('pending_answers', 'conversation_id', convIds),
      proactive_sends: await this.rows(sql<Row>`select * from proactive_sends where customer_id = ${customerId} order by created_at`),
      workflow_events: await this.rows(sql<Row>`select * from workflow_events where customer_id = ${customerId} order by created_at`),
      workflow_runs: runs,
      workflow_steps: await this.byIds('workflow_steps', 'run_id', runs.map((r) => String(r.id))),
      link_tokens: await this.rows(sql<Row>`select grant_id, channel, created_by, expires_at, used_at, used_by, created_at from link_tokens where customer_id = ${customerId}`),
      // Codes mailed to an address they claimed in their conversations, or to one of their addresses (the code itself is never held).
      email_codes: (await this.emailCodes(customerId, convIds)).map(({ code_hash: _hash, ...rest }) => rest),
    };
  }

  /**
   * Erases the customer: messages, events, cases, sends, runs, identities and conversations are
   * deleted, the texts of the analytics read models blanked (their counts stay), the profile (and
   * those of customers merged into it) cleared; the row stays as a tombstone with counts.
   */
  async erase(customerId: string): Promise<Tombstone> {
    const now = this.stamp.now();
    // SQLite: freed pages are overwritten with zeros (else deleted texts stay readable in the file).
    if (this.sqlite) await sql`pragma secure_delete = on`.execute(this.q);
    const count = async (query: ReturnType<typeof sql<{ n: unknown }>>): Promise<number> => Number((await query.execute(this.q)).rows[0]?.n ?? 0);
    const ids = (await sql<{ channel: string }>`select channel from identities where customer_id = ${customerId}`.execute(this.q)).rows;
    const identities: Record<string, number> = {};
    for (const i of ids) identities[i.channel] = (identities[i.channel] ?? 0) + 1;
    const convIds = (await sql<{ id: string }>`select id from conversations where customer_id = ${customerId}`.execute(this.q)).rows.map((r) => r.id);
    const tomb: Tombstone = {
      erasedAt: now,
      identities,
      conversations: convIds.length,
      escalations: await count(sql<{ n: unknown }>`select count(*) as n from conversation_events where customer_id = ${customerId} and type = 'conversation.escalated'`),
      messagesIn: await count(sql<{ n: unknown }>`select count(*) as n from messages where customer_id = ${customerId} and direction = 'in'`),
      messagesOut: await count(sql<{ n: unknown }>`select count(*) as n from messages where customer_id = ${customerId} and direction = 'out'`),
    };
    for (const code of await this.emailCodes(customerId, convIds)) await sql`delete from email_codes where id = ${String(code.id)}`.execute(this.q);
    for (const part of chunks(convIds)) {
      const inConv = sql.join(part);
      await sql`delete from messages where conversation_id in (${inConv})`.execute(this.q);
      for (const t of ['events', 'desk_cases', 'desk_posts', 'pending_answers', 'webhook_deliveries']) {
        await sql`delete from ${sql.table(t)} where conversation_id in (${inConv})`.execute(this.q);
      }
      await sql`update analytics_questions set text = '', terms = '[]', agent_answer = null where conversation_id in (${inConv})`.execute(this.q);
    }
    await sql`delete from messages where customer_id = ${customerId}`.execute(this.q);
    await sql`delete from conversation_events where customer_id = ${customerId}`.execute(this.q);
    await sql`update analytics_cases set question = '', question_terms = '[]' where customer_id = ${customerId}`.execute(this.q);
    const runs = (await sql<{ id: string }>`select id from workflow_runs where customer_id = ${customerId}`.execute(this.q)).rows.map((r) => r.id);
    for (const part of chunks(runs)) await sql`delete from workflow_steps where run_id in (${sql.join(part)})`.execute(this.q);
    for (const t of ['workflow_runs', 'workflow_events', 'proactive_sends', 'link_tokens', 'identities', 'conversations']) {
      await sql`delete from ${sql.table(t)} where customer_id = ${customerId}`.execute(this.q);
    }
    for (const id of [customerId, ...(await this.mergedInto(customerId))]) {
      await sql`update customers set display_name = null, locale = null, timezone = null, preferred_channel = null, external_id = null,
        consent = '{}', tags = '[]', erased_at = ${now}, updated_at = ${now} where id = ${id}`.execute(this.q);
    }
    await sql`update customers set tombstone = ${JSON.stringify(tomb)} where id = ${customerId}`.execute(this.q);
    if (this.sqlite) await sql`pragma secure_delete = off`.execute(this.q);
    return tomb;
  }

  /**
   * After an erase (outside its transaction): SQLite checkpoints and truncates the WAL, whose old
   * frames still hold the deleted rows. PostgreSQL keeps dead rows until (auto)vacuum; run VACUUM
   * for an immediate physical erase (docs/identity.md).
   */
  async scrub(): Promise<void> {
    if (this.sqlite) await truncateWal(this.q);
  }

  private get sqlite(): boolean {
    return this.q.getExecutor().adapter instanceof SqliteAdapter;
  }
}
