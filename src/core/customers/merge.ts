/**
 * Merge and unlink (docs/identity.md). A merge moves everything of one customer (identities,
 * conversations with their messages and events, proactive sends, workflow events and runs, the
 * analytics rows) into the surviving customer in ONE transaction, records what it moved and writes
 * the audit entry; an unlink moves an identity and what came through it back to a customer of its
 * own (the one it came from, when a merge brought it). Nothing here decides that two customers
 * are one: callers come with proof (an admin or agent through the API, a link token, a code).
 */
import { HubError, isHubError } from '../errors.js';
import type { Repos, Storage } from '../storage/storage.js';
import type { AuditActor, MovedRows, ProfileFill } from '../storage/identity-rows.js';
import type { ChannelName } from '../types.js';

export type { AuditActor };

export interface MergeRequest {
  /** The customer who stays. */
  survivorId: string;
  /** The customer merged into the survivor. */
  mergedId: string;
  actor: AuditActor;
  reason?: string | null;
  /** What proved it (a link token's grant, a code): kept in the audit entry. */
  proof?: Record<string, unknown>;
  /** The audit action: `merge` (API) or `link` (the customer's own proof). */
  action?: 'merge' | 'link';
}

export interface MergeResult {
  mergeId: string;
  survivorId: string;
  mergedId: string;
  moved: { identities: number; conversations: number; proactiveSends: number; workflowRuns: number };
  auditId: string;
}

const FILLED: readonly (keyof ProfileFill)[] = ['display_name', 'locale', 'timezone', 'preferred_channel', 'external_id'];

/** Merges `mergedId` into `survivorId` (one transaction); a refusal is audited and thrown (NOT_FOUND, CONFLICT). */
export async function mergeCustomers(storage: Storage, r: MergeRequest): Promise<MergeResult> {
  try {
    return await storage.transaction((tx) => mergeIn(tx, r));
  } catch (err) {
    if (isHubError(err) && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND')) {
      await storage.audit.append({
        actor: r.actor,
        action: 'merge_refused',
        customerId: r.survivorId,
        otherCustomerId: r.mergedId,
        reason: r.reason ?? null,
        details: { error: err.message, ...(r.proof ? { proof: r.proof } : {}) },
      });
    }
    throw err;
  }
}

/** The merge, inside the caller's transaction (the link-token turn uses its own). */
export async function mergeIn(tx: Repos, r: MergeRequest): Promise<MergeResult> {
  if (r.survivorId === r.mergedId) throw new HubError('CONFLICT', 'a customer cannot be merged into itself', { context: { field: 'body.from' } });
  // Locks in id order, so two merges of the same pair (either way round) wait for each other, never deadlock.
  for (const id of [r.survivorId, r.mergedId].sort()) {
    if (!(await tx.merges.lockLive(id))) {
      const state = await tx.merges.state(id);
      if (!state) throw new HubError('NOT_FOUND', `no customer ${id}`);
      throw new HubError('CONFLICT', state.erasedAt !== null ? `customer ${id} was erased` : `customer ${id} was merged into ${state.mergedInto ?? 'another'} already`);
    }
  }
  const survivor = await tx.merges.profile(r.survivorId);
  const merged = await tx.merges.profile(r.mergedId);
  if (!survivor || !merged) throw new HubError('NOT_FOUND', `no customer ${survivor ? r.mergedId : r.survivorId}`);
  const moved = await tx.merges.moveAll(r.mergedId, r.survivorId);
  // The survivor's profile keeps what it has and takes what it lacks (recorded, so unlink takes it back).
  const filled: ProfileFill = {};
  for (const k of FILLED) if (survivor[k] === undefined && merged[k] !== undefined) filled[k] = merged[k];
  if (filled.external_id !== undefined) await tx.merges.setProfile(r.mergedId, { external_id: null }); // unique: moves, not copied
  await tx.merges.setProfile(r.survivorId, filled);
  await tx.merges.setMergedInto(r.mergedId, r.survivorId);
  const record = await tx.merges.record({ survivorId: r.survivorId, mergedId: r.mergedId, moved, filled });
  const auditId = await tx.audit.append({
    actor: r.actor,
    action: r.action ?? 'merge',
    customerId: r.survivorId,
    otherCustomerId: r.mergedId,
    reason: r.reason ?? null,
    details: { mergeId: record.id, moved: counts(moved), filled: Object.keys(filled), ...(r.proof ? { proof: r.proof } : {}) },
  });
  return { mergeId: record.id, survivorId: r.survivorId, mergedId: r.mergedId, moved: counts(moved), auditId };
}

function counts(m: MovedRows): MergeResult['moved'] {
  return { identities: m.identities.length, conversations: m.conversations.length, proactiveSends: m.proactiveSends.length, workflowRuns: m.workflowRuns.length };
}

export interface UnlinkRequest {
  channel: ChannelName;
  platformUserId: string;
  actor: AuditActor;
  reason?: string | null;
}

export interface UnlinkResult {
  /** The customer the identity now belongs to (restored or new). */
  customerId: string;
  /** The customer it was taken from. */
  fromCustomerId: string;
  /** true when the customer it came from (by a merge) was restored under its own id. */
  restored: boolean;
  identities: number;
  conversations: number;
  auditId: string;
}

/** Takes an identity (and what came through it) out of its customer, in one transaction. */
export function unlinkIdentity(storage: Storage, r: UnlinkRequest): Promise<UnlinkResult> {
  return storage.transaction(async (tx) => {
    const identity = await tx.customers.findIdentity(r.channel, r.platformUserId);
    if (!identity) throw new HubError('NOT_FOUND', `no identity ${r.channel}:${r.platformUserId}`, { context: { field: 'body.id' } });
    const fromId = identity.customerId;
    if (!(await tx.merges.lockLive(fromId))) throw new HubError('CONFLICT', `customer ${fromId} changed meanwhile; try again`);
    const merge = await tx.merges.thatMoved(fromId, identity.id);
    const all = await tx.customers.identitiesOf(fromId);
    if (all.length < 2) throw new HubError('CONFLICT', `${r.channel}:${r.platformUserId} is the customer's only identity: nothing to unlink`);
    const convs = await tx.conversations.ofCustomer(fromId);
    let targetId: string;
    let back: Omit<MovedRows, 'bumped'>;
    if (merge) {
      targetId = merge.mergedId;
      const current = new Set(all.map((i) => i.id));
      const identities = merge.moved.identities.filter((id) => current.has(id));
      const channels = new Set(all.filter((i) => identities.includes(i.id)).map((i) => i.channel));
      const kept = new Set(all.filter((i) => !identities.includes(i.id)).map((i) => i.channel));
      const movedConvs = new Set(merge.moved.conversations);
      const later = convs.filter((c) => !movedConvs.has(c.id) && c.createdAt >= merge.createdAt).map((c) => c.id);
      const via = await tx.merges.inboundChannels(later);
      const cameThrough = later.filter((id) => {
        const chs = [...(via.get(id) ?? [])];
        return chs.length > 0 && chs.every((ch) => channels.has(ch) && !kept.has(ch));
      });
      back = { ...merge.moved, identities, conversations: [...convs.filter((c) => movedConvs.has(c.id)).map((c) => c.id), ...cameThrough] };
      await tx.merges.setMergedInto(targetId, null);
      // What the merge filled in the survivor's profile goes back where it came from (unless changed since).
      const survivor = await tx.merges.profile(fromId);
      const unfill: Partial<Record<keyof ProfileFill, string | null>> = {};
      for (const k of FILLED) if (merge.filled[k] !== undefined && survivor?.[k] === merge.filled[k]) unfill[k] = null;
      await tx.merges.setProfile(fromId, unfill);
      if (merge.filled.external_id !== undefined && unfill.external_id === null) await tx.merges.setProfile(targetId, { external_id: merge.filled.external_id });
      // Merges recorded before routing preferred a held conversation moved an escalation's creation time: put it back.
      for (const b of merge.moved.bumped) await tx.merges.setConversationCreatedAt(b.id, b.createdAt);
      await tx.merges.markUndone(merge.id);
    } else {
      const c = await tx.customers.create({ displayName: identity.displayName, preferredChannel: identity.channel });
      targetId = c.id;
      const sameChannel = all.filter((i) => i.channel === identity.channel).length > 1;
      const via = await tx.merges.inboundChannels(convs.map((x) => x.id));
      const cameThrough = sameChannel ? [] : convs.map((x) => x.id).filter((id) => [...(via.get(id) ?? [])].every((ch) => ch === identity.channel) && (via.get(id)?.size ?? 0) > 0);
      back = { identities: [identity.id], conversations: cameThrough, proactiveSends: [], workflowEvents: [], workflowRuns: [] };
    }
    await tx.merges.moveBack(targetId, back);
    const auditId = await tx.audit.append({
      actor: r.actor,
      action: 'unlink',
      customerId: fromId,
      otherCustomerId: targetId,
      reason: r.reason ?? null,
      details: { identity: `${r.channel}:${r.platformUserId}`, restored: merge !== undefined, ...(merge ? { mergeId: merge.id } : {}), identities: back.identities.length, conversations: back.conversations.length },
    });
    return { customerId: targetId, fromCustomerId: fromId, restored: merge !== undefined, identities: back.identities.length, conversations: back.conversations.length, auditId };
  });
}
