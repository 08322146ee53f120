import type { Selectable } from 'kysely';
import { type Q, type Stamp, openOpt } from './rows.js';
import { parseObject } from './json.js';
import type { PiiCodec } from './pii.js';
import { type AuditAction, type AuditActor, type AuditEntry, type AuditTable, type IQ, withIdentityTables } from './identity-rows.js';

/**
 * The actor (a customer's proof names their platform id or address), the reason (free text an agent
 * or admin typed) and the details (addresses, identities) are sealed by the PII codec.
 */
function toEntry(r: Selectable<AuditTable>, pii: PiiCodec): AuditEntry {
  return {
    id: String(r.id),
    at: Number(r.at),
    actor: { kind: r.actor_kind as AuditActor['kind'], name: pii.open(r.actor, 'audit_log.actor') },
    action: r.action as AuditAction,
    customerId: r.customer_id,
    otherCustomerId: r.other_customer_id,
    reason: openOpt(pii, r.reason, 'audit_log.reason'),
    details: parseObject(pii.open(r.details, 'audit_log.details')),
  };
}

/** The audit log: every link, merge, unlink, export and erase (append only). */
export class AuditRepo {
  private readonly q: IQ;
  constructor(
    q: Q,
    private readonly stamp: Stamp,
  ) {
    this.q = withIdentityTables(q);
  }

  async append(e: { actor: AuditActor; action: AuditAction; customerId?: string | null; otherCustomerId?: string | null; reason?: string | null; details?: Record<string, unknown> }): Promise<string> {
    const r = await this.q
      .insertInto('audit_log')
      .values({
        at: this.stamp.now(),
        actor_kind: e.actor.kind,
        actor: this.stamp.pii.seal(e.actor.name.slice(0, 300)),
        action: e.action,
        customer_id: e.customerId ?? null,
        other_customer_id: e.otherCustomerId ?? null,
        reason: e.reason ? this.stamp.pii.seal(e.reason) : (e.reason ?? null),
        details: this.stamp.pii.seal(JSON.stringify(e.details ?? {})),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return String(r.id);
  }

  /** Newest first; `customerId` matches either customer of an entry; `before`: entries with a smaller id. */
  async list(f: { customerId?: string; action?: AuditAction; before?: string; limit: number }): Promise<AuditEntry[]> {
    let query = this.q.selectFrom('audit_log').selectAll();
    if (f.customerId !== undefined) {
      const id = f.customerId;
      query = query.where((eb) => eb.or([eb('customer_id', '=', id), eb('other_customer_id', '=', id)]));
    }
    if (f.action !== undefined) query = query.where('action', '=', f.action);
    if (f.before !== undefined && /^\d+$/.test(f.before)) query = query.where('id', '<', Number(f.before));
    const rows = await query.orderBy('id', 'desc').limit(f.limit).execute();
    return rows.map((r) => toEntry(r, this.stamp.pii));
  }
}
