import { newRowId } from './ids.js';
import type { Selectable } from 'kysely';
import type { DeskCaseTable } from './tables.js';
import { type Q, type Stamp, isUniqueViolation, openOpt, toDeskCase } from './rows.js';
import type { DeskCase } from '../model.js';
import type { JsonObject } from '../types.js';

/** A case as read: its snapshot (the customer's name, their last messages) is sealed by the PII codec. */
function toCase(r: Selectable<DeskCaseTable>, stamp: Stamp): DeskCase {
  return toDeskCase(r.snapshot === null ? r : { ...r, snapshot: openOpt(stamp.pii, r.snapshot, 'desk_cases.snapshot') });
}

/**
 * A desk's cases, one row per (desk, escalation id): the unique key is what keeps two workers from
 * posting two case messages for one escalation. A worker claims the row (`posting`) before it posts,
 * the others wait; a claim older than `staleBefore` is taken over (its worker died mid-post).
 */
export class DeskCaseRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  async get(desk: string, escalationId: string): Promise<DeskCase | undefined> {
    const r = await this.q.selectFrom('desk_cases').selectAll().where('desk', '=', desk).where('escalation_id', '=', escalationId).executeTakeFirst();
    return r ? toCase(r, this.stamp) : undefined;
  }

  /** The conversation's latest posted case on this desk (a new escalation continues its thread). */
  async latestPosted(desk: string, conversationId: string): Promise<DeskCase | undefined> {
    const r = await this.q
      .selectFrom('desk_cases')
      .selectAll()
      .where('desk', '=', desk)
      .where('conversation_id', '=', conversationId)
      .where('state', '=', 'posted')
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? toCase(r, this.stamp) : undefined;
  }

  /** The latest case whose thread is (channel, ts). */
  async byThread(desk: string, channel: string, ts: string): Promise<DeskCase | undefined> {
    const r = await this.q
      .selectFrom('desk_cases')
      .selectAll()
      .where('desk', '=', desk)
      .where('thread_channel', '=', channel)
      .where('thread_ts', '=', ts)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return r ? toCase(r, this.stamp) : undefined;
  }

  /**
   * Claims the right to post the case of `escalationId`: `claimed` is true for exactly one caller
   * until it posts or releases (or its claim goes stale).
   */
  async claim(desk: string, escalationId: string, conversationId: string, owner: string, staleBefore: number): Promise<{ case: DeskCase; claimed: boolean }> {
    const now = this.stamp.now();
    try {
      const row = {
        id: newRowId(),
        desk,
        escalation_id: escalationId,
        conversation_id: conversationId,
        state: 'posting',
        owner,
        pending_since: now,
        thread_channel: null,
        thread_ts: null,
        snapshot: null,
        version: 0,
        created_at: this.stamp.next(),
        updated_at: now,
      };
      await this.q.insertInto('desk_cases').values(row).execute();
      return { case: toDeskCase(row), claimed: true };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    const existing = await this.get(desk, escalationId);
    if (!existing) throw new Error(`desk case ${desk}/${escalationId} vanished`);
    if (existing.state === 'posted' || (existing.pendingSince ?? 0) >= staleBefore) return { case: existing, claimed: false };
    const res = await this.q
      .updateTable('desk_cases')
      .set({ owner, pending_since: now, version: existing.version + 1, updated_at: now })
      .where('id', '=', existing.id)
      .where('version', '=', existing.version)
      .executeTakeFirst();
    const taken = Number(res.numUpdatedRows) === 1;
    return { case: taken ? { ...existing, owner, pendingSince: now, version: existing.version + 1 } : existing, claimed: taken };
  }

  /**
   * Creates a case that is posted already (a new escalation continuing an existing thread);
   * `created` is true for the one caller whose row it is.
   */
  async insertPosted(desk: string, escalationId: string, conversationId: string, channel: string, ts: string): Promise<{ case: DeskCase; created: boolean }> {
    const now = this.stamp.now();
    let created = true;
    try {
      await this.q
        .insertInto('desk_cases')
        .values({
          id: newRowId(),
          desk,
          escalation_id: escalationId,
          conversation_id: conversationId,
          state: 'posted',
          owner: null,
          pending_since: null,
          thread_channel: channel,
          thread_ts: ts,
          snapshot: null,
          version: 0,
          created_at: this.stamp.next(),
          updated_at: now,
        })
        .execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      created = false;
    }
    const c = await this.get(desk, escalationId);
    if (!c) throw new Error(`desk case ${desk}/${escalationId} vanished`);
    return { case: c, created };
  }

  /** The claimed case is in the desk now: its thread is (channel, ts). */
  async markPosted(id: string, channel: string, ts: string): Promise<void> {
    await this.q
      .updateTable('desk_cases')
      .set((eb) => ({
        state: 'posted',
        owner: null,
        pending_since: null,
        thread_channel: channel,
        thread_ts: ts,
        version: eb('version', '+', 1),
        updated_at: this.stamp.now(),
      }))
      .where('id', '=', id)
      .execute();
  }

  /** Gives up a claim after a failed post, so a retry (or another worker) posts at once. */
  async release(id: string, owner: string): Promise<void> {
    await this.q.deleteFrom('desk_cases').where('id', '=', id).where('owner', '=', owner).where('state', '=', 'posting').execute();
  }

  async saveSnapshot(id: string, snapshot: JsonObject): Promise<void> {
    await this.q
      .updateTable('desk_cases')
      .set({ snapshot: this.stamp.pii.seal(JSON.stringify(snapshot)), updated_at: this.stamp.now() })
      .where('id', '=', id)
      .execute();
  }

  /** ts of what the desk posted under `key`, if it did. */
  async posted(desk: string, key: string): Promise<string | undefined> {
    const r = await this.q.selectFrom('desk_posts').select('ts').where('desk', '=', desk).where('key', '=', key).executeTakeFirst();
    return r?.ts ?? undefined;
  }

  /**
   * Claims the post under `key` for `owner`: `posted` when it was made already, `claimed` for exactly
   * one caller at a time, else `busy` (another worker is posting it; a claim older than `staleBefore`
   * is taken over, its worker died mid-post).
   */
  async claimPost(desk: string, key: string, conversationId: string, owner: string, staleBefore: number): Promise<{ state: 'posted'; ts: string } | { state: 'claimed' | 'busy' }> {
    const now = this.stamp.now();
    const res = await this.q
      .insertInto('desk_posts')
      .values({ desk, key, conversation_id: conversationId, ts: null, owner, created_at: now })
      .onConflict((oc) => oc.columns(['desk', 'key']).doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) === 1) return { state: 'claimed' };
    const r = await this.q.selectFrom('desk_posts').selectAll().where('desk', '=', desk).where('key', '=', key).executeTakeFirst();
    if (r?.ts) return { state: 'posted', ts: r.ts };
    if (!r || r.created_at >= staleBefore) return { state: 'busy' };
    const taken = await this.q
      .updateTable('desk_posts')
      .set({ owner, created_at: now })
      .where('desk', '=', desk)
      .where('key', '=', key)
      .where('ts', 'is', null)
      .where('created_at', '=', r.created_at)
      .executeTakeFirst();
    return { state: Number(taken.numUpdatedRows) === 1 ? 'claimed' : 'busy' };
  }

  /** The claimed post is made: its ts. */
  async completePost(desk: string, key: string, ts: string): Promise<void> {
    await this.q.updateTable('desk_posts').set({ ts, owner: null }).where('desk', '=', desk).where('key', '=', key).execute();
  }

  /** Gives up a claimed post after a failure, so a retry posts at once. */
  async releasePost(desk: string, key: string, owner: string): Promise<void> {
    await this.q.deleteFrom('desk_posts').where('desk', '=', desk).where('key', '=', key).where('owner', '=', owner).where('ts', 'is', null).execute();
  }

  /** true when a case of this desk is being posted since `since` (its thread id is not recorded yet). */
  async posting(desk: string, since: number): Promise<boolean> {
    const r = await this.q
      .selectFrom('desk_cases')
      .select('id')
      .where('desk', '=', desk)
      .where('state', '=', 'posting')
      .where('pending_since', '>=', since)
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }
}
