import type { Generated, Kysely, Selectable } from 'kysely';
import { type Q, type Stamp, openCol, sealText } from './rows.js';
import type { PiiCodec } from './pii.js';
import type { Database } from './tables.js';

export type PendingAnswerStatus = 'pending' | 'approved' | 'rejected';

/** An answer an agent proposes for the knowledge base (a desk's "Save answer"). */
export interface ProposedAnswer {
  /** Idempotency key: a second proposal with the same key stores nothing (a redelivered action, the same reply saved twice). */
  key: string;
  question: string;
  answer: string;
  /** Locale of the question (`en`, `zh`): the knowledge entry's questions and answer are filed under it. */
  locale: string;
  conversationId: string;
  /** The agent, as `<desk>:<agent id>` (e.g. `slack:U0123`). */
  proposedBy: string;
  /** The agent's display name when the desk knows it. */
  proposedByName?: string | undefined;
}

export interface PendingAnswer extends Required<Omit<ProposedAnswer, 'proposedByName'>> {
  id: number;
  proposedByName: string | null;
  status: PendingAnswerStatus;
  createdAt: number;
  /** When and by whom it was approved or rejected (null while pending). */
  reviewedAt: number | null;
  reviewedBy: string | null;
  /** The knowledge entry id it was approved as. */
  entryId: string | null;
}

/** The row as stored (the table comes from the `knowledge:001_pending_answers` migration). */
export interface PendingAnswerTable {
  id: Generated<number>;
  dedupe_key: string;
  question: string;
  answer: string;
  locale: string;
  conversation_id: string;
  proposed_by: string;
  proposed_by_name: string | null;
  status: string;
  created_at: number;
  reviewed_at: number | null;
  reviewed_by: string | null;
  entry_id: string | null;
}

type Tables = Database & { pending_answers: PendingAnswerTable };

/** The question (the customer's words) and the answer (it may name them) are sealed by the PII codec. */
function toPendingAnswer(r: Selectable<PendingAnswerTable>, pii: PiiCodec): PendingAnswer {
  return {
    id: Number(r.id),
    key: r.dedupe_key,
    question: openCol(pii, r.question, 'pending_answers.question'),
    answer: openCol(pii, r.answer, 'pending_answers.answer'),
    locale: r.locale,
    conversationId: r.conversation_id,
    proposedBy: r.proposed_by,
    proposedByName: r.proposed_by_name,
    status: r.status === 'approved' || r.status === 'rejected' ? r.status : 'pending',
    createdAt: r.created_at,
    reviewedAt: r.reviewed_at,
    reviewedBy: r.reviewed_by,
    entryId: r.entry_id,
  };
}

/**
 * Answers waiting for an admin's approval into the knowledge files. Any worker may propose (the
 * row's unique key makes a repeated proposal a no-op); `review` moves a pending row to approved or
 * rejected exactly once (compare-and-set on the status).
 */
export class PendingAnswerRepo {
  private typed: Kysely<Tables> | undefined;

  constructor(
    private readonly handle: Q,
    private readonly stamp: Stamp,
  ) {}

  /** The handle typed with this table (made on first use: repositories are built per transaction). */
  private get q(): Kysely<Tables> {
    // A Transaction is a Kysely; withTables keeps it one (same connection).
    this.typed ??= (this.handle as Kysely<Database>).withTables<{ pending_answers: PendingAnswerTable }>();
    return this.typed;
  }

  /** Stores `a` unless its key is already there; returns the stored row and whether it is new. */
  async propose(a: ProposedAnswer): Promise<{ answer: PendingAnswer; created: boolean }> {
    const res = await this.q
      .insertInto('pending_answers')
      .values({
        dedupe_key: a.key,
        question: sealText(this.stamp.pii, a.question),
        answer: sealText(this.stamp.pii, a.answer),
        locale: a.locale,
        conversation_id: a.conversationId,
        proposed_by: a.proposedBy,
        proposed_by_name: a.proposedByName ?? null,
        status: 'pending',
        created_at: this.stamp.now(),
        reviewed_at: null,
        reviewed_by: null,
        entry_id: null,
      })
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .executeTakeFirst();
    const created = Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
    const row = await this.q.selectFrom('pending_answers').selectAll().where('dedupe_key', '=', a.key).executeTakeFirst();
    if (!row) throw new Error(`pending answer ${a.key} vanished after insert`);
    return { answer: toPendingAnswer(row, this.stamp.pii), created };
  }

  async get(id: number): Promise<PendingAnswer | undefined> {
    const r = await this.q.selectFrom('pending_answers').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toPendingAnswer(r, this.stamp.pii) : undefined;
  }

  async byKey(key: string): Promise<PendingAnswer | undefined> {
    const r = await this.q.selectFrom('pending_answers').selectAll().where('dedupe_key', '=', key).executeTakeFirst();
    return r ? toPendingAnswer(r, this.stamp.pii) : undefined;
  }

  /** Rows in this status (all when omitted), oldest first. */
  async list(status?: PendingAnswerStatus, limit = 500): Promise<PendingAnswer[]> {
    let query = this.q.selectFrom('pending_answers').selectAll();
    if (status) query = query.where('status', '=', status);
    const rows = await query.orderBy('id').limit(limit).execute();
    return rows.map((r) => toPendingAnswer(r, this.stamp.pii));
  }

  /**
   * Approves (as knowledge entry `entryId`) or rejects a pending row. False when it is not pending
   * (any more): another review got there first, or it does not exist.
   */
  async review(id: number, decision: { status: 'approved'; entryId: string; by: string } | { status: 'rejected'; by: string }): Promise<boolean> {
    const res = await this.q
      .updateTable('pending_answers')
      .set({
        status: decision.status,
        reviewed_at: this.stamp.now(),
        reviewed_by: decision.by,
        entry_id: decision.status === 'approved' ? decision.entryId : null,
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}
