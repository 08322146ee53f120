/**
 * A customer's data: the export (everything held about them, as stored) and the erase (messages,
 * identities, profile gone; a tombstone keeps counts). Both are audited.
 */
import { HubError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import type { AuditActor, AuditEntry } from '../storage/identity-rows.js';
import type { Tombstone } from '../storage/customer-privacy.js';

export type { Tombstone };

export interface CustomerExport {
  customerId: string;
  exportedAt: number;
  /** Rows by table, as stored (the customer's own row and those merged into it first). */
  tables: Record<string, Record<string, unknown>[]>;
  audit: AuditEntry[];
}

async function live(storage: Storage, customerId: string): Promise<void> {
  const state = await storage.merges.state(customerId);
  if (!state) throw new HubError('NOT_FOUND', `no customer ${customerId}`);
  if (state.erasedAt !== null) throw new HubError('NOT_FOUND', `customer ${customerId} was erased`);
  if (state.mergedInto !== null) throw new HubError('CONFLICT', `customer ${customerId} was merged into ${state.mergedInto}: use that id`);
}

/** Everything held about the customer; the export itself is audited. */
export async function exportCustomer(storage: Storage, customerId: string, actor: AuditActor, now: number): Promise<CustomerExport> {
  await live(storage, customerId);
  const tables = await storage.privacy.collect(customerId);
  const audit = await storage.audit.list({ customerId, limit: 1000 });
  await storage.audit.append({ actor, action: 'export', customerId, details: { rows: Object.fromEntries(Object.entries(tables).map(([t, rows]) => [t, rows.length])) } });
  return { customerId, exportedAt: now, tables, audit };
}

/** Erases the customer in one transaction (audited in it): what is left is a tombstone with counts. */
export async function eraseCustomer(storage: Storage, customerId: string, actor: AuditActor, reason: string | null): Promise<Tombstone> {
  const tomb = await storage.transaction(async (tx) => {
    if (!(await tx.merges.lockLive(customerId))) {
      const state = await tx.merges.state(customerId);
      if (!state || state.erasedAt !== null) throw new HubError('NOT_FOUND', `no customer ${customerId}${state ? ' (erased already)' : ''}`);
      throw new HubError('CONFLICT', `customer ${customerId} was merged into ${state.mergedInto ?? 'another'}: erase that one`);
    }
    const tomb = await tx.privacy.erase(customerId);
    await tx.audit.append({ actor, action: 'erase', customerId, reason, details: { tombstone: { ...tomb } } });
    return tomb;
  });
  await storage.privacy.scrub();
  return tomb;
}
