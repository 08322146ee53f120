/**
 * Rows of `identity:001_links` (customer merges, the audit log, link tokens, the customers'
 * merge/erase columns) and the records the repositories return. Repositories: audit.ts,
 * customer-merges.ts, link-tokens.ts, customer-privacy.ts.
 */
import type { Generated, Kysely, Transaction } from 'kysely';
import type { CustomerTable, Database, IdentityTable } from './tables.js';
import type { Q } from './rows.js';

export interface CustomerLinkColumns {
  /** Set when this customer was merged into another (its identities and history live there). */
  merged_into: string | null;
  erased_at: number | null;
  /** JSON counts kept after an erase. */
  tombstone: string | null;
}

export interface CustomerMergeTable {
  id: string;
  survivor_id: string;
  merged_id: string;
  moved: string; // JSON MovedRows
  survivor_before: string; // JSON ProfileFill
  created_at: number;
  undone_at: number | null;
}

export interface AuditTable {
  id: Generated<number>;
  at: number;
  actor_kind: string;
  actor: string;
  action: string;
  customer_id: string | null;
  other_customer_id: string | null;
  reason: string | null;
  details: string; // JSON
}

export interface LinkTokenTable {
  id: string;
  grant_id: string;
  customer_id: string;
  channel: string;
  created_by: string;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
  created_at: number;
}

/**
 * Lookup hashes of `identity:002_pii` (docs/identity.md "Encryption at rest"): keyed hashes of the
 * platform user id, null on a storage without encryption (and on rows not yet backfilled).
 */
export interface IdentityHashColumns {
  /** HMAC of the exact platform user id: unique per channel, what `resolve` looks up. */
  platform_user_hash: string | null;
  /** HMAC of the lowercased platform user id: an email address found ignoring case. */
  search_hash: string | null;
}

export type IdentityTables = Omit<Database, 'customers' | 'identities'> & {
  customers: CustomerTable & CustomerLinkColumns;
  identities: IdentityTable & IdentityHashColumns;
  customer_merges: CustomerMergeTable;
  audit_log: AuditTable;
  link_tokens: LinkTokenTable;
};

export type IQ = Kysely<IdentityTables> | Transaction<IdentityTables>;

/** The same handle, typed with these tables (they are migrated with the storage's own). */
export function withIdentityTables(q: Q): IQ {
  return q as unknown as IQ;
}

/** What one merge moved from the merged customer to the survivor (row ids per table). */
export interface MovedRows {
  identities: string[];
  conversations: string[];
  proactiveSends: string[];
  workflowEvents: string[];
  workflowRuns: string[];
  /** An open escalation the merge made the customer's latest conversation, with its creation time before. */
  bumped: { id: string; createdAt: number }[];
}

/** Profile fields the merge filled on the survivor (field -> value given), to take back on unlink. */
export type ProfileFill = Partial<Record<'display_name' | 'locale' | 'timezone' | 'preferred_channel' | 'external_id', string>>;

export interface CustomerMerge {
  id: string;
  survivorId: string;
  mergedId: string;
  moved: MovedRows;
  filled: ProfileFill;
  createdAt: number;
  undoneAt: number | null;
}

export type AuditActorKind = 'token' | 'agent' | 'customer' | 'system';
export const AUDIT_ACTIONS = ['merge', 'merge_refused', 'unlink', 'link', 'link_refused', 'link_token_issued', 'link_code_sent', 'export', 'erase'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who did it: an API token's name, an agent, the customer's own proof (`telegram:123 by link token …`), the hub. */
export interface AuditActor {
  kind: AuditActorKind;
  name: string;
}

export interface AuditEntry {
  id: string;
  at: number;
  actor: AuditActor;
  action: AuditAction;
  customerId: string | null;
  otherCustomerId: string | null;
  reason: string | null;
  details: Record<string, unknown>;
}

export interface LinkTokenRecord {
  id: string;
  grantId: string;
  customerId: string;
  channel: string;
  createdBy: string;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
  createdAt: number;
}

/** `in` lists in chunks (SQLite's bound-variable limit). */
export function chunks<T>(xs: readonly T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
