/**
 * Where the PII codec applies, table by table, and what runs over whole tables: the key check at
 * open, the lookup-hash backfill of rows written before encryption, and key rotation
 * (`switchboard pii rotate`). docs/identity.md "Encryption at rest".
 */
import { SqliteAdapter, sql } from 'kysely';
import type { Q, Stamp } from './rows.js';
import { ChannelStateRepo } from './channel-state.js';
import { identityHashes } from './customers.js';
import { HubError } from '../errors.js';
import { truncateWal } from './wal.js';
import type { PiiCodec } from './pii.js';
import { SEALED_EVENT_FIELDS, openEventPayload, sealEventPayload } from './events.js';

/** Sealed columns by table, with the table's key column. */
export const SEALED_COLUMNS: Readonly<Record<string, { key: string; columns: readonly string[] }>> = {
  customers: { key: 'id', columns: ['display_name'] },
  identities: { key: 'id', columns: ['platform_user_id', 'display_name', 'last_ref', 'unreachable_reason'] },
  messages: { key: 'id', columns: ['author_name', 'text', 'attachments', 'ref', 'error'] },
  email_codes: { key: 'id', columns: ['address'] },
  customer_merges: { key: 'id', columns: ['survivor_before'] },
  analytics_cases: { key: 'id', columns: ['question', 'question_terms'] },
  analytics_questions: { key: 'event_id', columns: ['text', 'terms', 'agent_answer'] },
  audit_log: { key: 'id', columns: ['actor', 'details', 'reason'] },
  proactive_sends: { key: 'id', columns: ['content', 'attempts'] },
  desk_cases: { key: 'id', columns: ['snapshot'] },
  pending_answers: { key: 'id', columns: ['question', 'answer'] },
  webhook_deliveries: { key: 'id', columns: ['body', 'last_error'] },
};

/**
 * `conversation_events.payload` is JSON read on the hot path: only the free-text field of the
 * event types that carry one is sealed inside it (`SEALED_EVENT_FIELDS`); rotation and the export
 * handle it apart from the columns above.
 */
const EVENTS = 'conversation_events';
const EVENT_COLUMN = `${EVENTS}.payload`;

type Row = Record<string, unknown>;

/** Decrypts a raw row's sealed columns in place (an export shows the data, not ciphertext). */
export function openSealedColumns(pii: PiiCodec, table: string, row: Row): void {
  if (table === EVENTS && typeof row.type === 'string' && typeof row.payload === 'string' && SEALED_EVENT_FIELDS[row.type] !== undefined) {
    row.payload = JSON.stringify(openEventPayload(pii, row.type, parseOr(row.payload)));
    return;
  }
  for (const c of SEALED_COLUMNS[table]?.columns ?? []) {
    const v = row[c];
    if (typeof v === 'string') row[c] = pii.open(v, `${table}.${c}`);
  }
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `(type = 'note.added' and payload not like '%"text":"pii1:k2:%' and ...) or ...`: events whose text is not under the current key. */
function staleEvents(prefix: string) {
  const esc = (t: string) => t.replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql.join(
    Object.entries(SEALED_EVENT_FIELDS).map(
      ([type, field]) =>
        sql`(${sql.ref('type')} = ${type} and ${sql.ref('payload')} like ${`%"${esc(field)}":"%`} escape '\\' and ${sql.ref('payload')} not like ${`%"${esc(field)}":"${esc(prefix)}%`} escape '\\' and ${sql.ref('payload')} not like ${`%"${esc(field)}":""%`} escape '\\')`,
    ),
    sql` or `,
  );
}

/** What the database was last opened with: fingerprints only, never a key. */
interface KeyRecord {
  hashKeyId: string;
  current: string;
  keys: Record<string, string>;
}

const STATE = { channel: 'hub', key: 'pii-keys' } as const;

export interface RotateReport {
  /** Values re-sealed under the current key, by `table.column`. */
  resealed: Record<string, number>;
  /** Lookup hashes filled (rows written before encryption). */
  hashed: number;
}

export class PiiRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  private get pii(): PiiCodec {
    return this.stamp.pii;
  }

  /**
   * Refuses keys that cannot read or find what is stored: another lookup key than the one the
   * rows were hashed with (every identity would be a stranger), a key id reused for another key,
   * or a configuration without the key the latest process wrote with. Then records this one.
   */
  async checkKeys(): Promise<void> {
    const pii = this.pii;
    if (!pii.enabled || pii.hashKeyId === undefined || pii.currentKeyId === undefined) return;
    const state = new ChannelStateRepo(this.q, this.stamp);
    for (let attempt = 0; attempt < 5; attempt++) {
      const got = await state.get(STATE.channel, STATE.key);
      const rec = got?.value as KeyRecord | undefined;
      if (rec) {
        if (rec.hashKeyId !== pii.hashKeyId) {
          throw new HubError('CONFIG_INVALID', `SWITCHBOARD_PII_HASH_KEY is not the one this database's lookup hashes were made with (fingerprint ${rec.hashKeyId}, given ${pii.hashKeyId}): set the same hash key on every process (it does not rotate)`);
        }
        for (const [id, fp] of Object.entries(pii.keyFingerprints)) {
          if (rec.keys[id] !== undefined && rec.keys[id] !== fp) {
            throw new HubError('CONFIG_INVALID', `SWITCHBOARD_PII_KEYS: key id "${id}" names another key than the one this database was written with (fingerprint ${rec.keys[id]}, given ${fp}); a new key needs a new id`);
          }
        }
        if (pii.keyFingerprints[rec.current] === undefined) {
          throw new HubError('CONFIG_INVALID', `SWITCHBOARD_PII_KEYS lacks key "${rec.current}", which this database is written with (configured: ${Object.keys(pii.keyFingerprints).join(', ')}): give every process the same keys`);
        }
      }
      const next: KeyRecord = { hashKeyId: pii.hashKeyId, current: pii.currentKeyId, keys: { ...(rec?.keys ?? {}), ...pii.keyFingerprints } };
      if (rec && rec.current === next.current && Object.keys(next.keys).length === Object.keys(rec.keys).length) return;
      const v = await state.set(STATE.channel, STATE.key, next as unknown as Parameters<ChannelStateRepo['set']>[2], got?.version ?? 0);
      if (v !== undefined) return;
    }
    throw new HubError('CONFLICT', 'the PII key record changed concurrently 5 times in a row', { retry: 'retry' });
  }

  /** Fills the lookup hashes of rows written before encryption was on (in batches); returns how many. */
  async backfillHashes(batch = 500): Promise<number> {
    const pii = this.pii;
    if (!pii.enabled) return 0;
    let n = 0;
    for (;;) {
      const rows = (await sql<{ id: string; platform_user_id: string }>`select id, platform_user_id from identities where platform_user_hash is null limit ${batch}`.execute(this.q)).rows;
      for (const r of rows) {
        const h = identityHashes(pii, pii.open(r.platform_user_id, 'identities.platform_user_id'));
        await sql`update identities set platform_user_hash = ${h.platform_user_hash}, search_hash = ${h.search_hash} where id = ${r.id}`.execute(this.q);
      }
      n += rows.length;
      if (rows.length < batch) break;
    }
    for (;;) {
      const rows = (await sql<{ id: string; address: string }>`select id, address from email_codes where address_hash is null limit ${batch}`.execute(this.q)).rows;
      for (const r of rows) {
        const h = pii.lookup('search', pii.open(r.address, 'email_codes.address').toLowerCase()) ?? null;
        await sql`update email_codes set address_hash = ${h} where id = ${r.id}`.execute(this.q);
      }
      n += rows.length;
      if (rows.length < batch) break;
    }
    return n;
  }

  /**
   * Re-seals every sealed-column value not under the current key (plaintext rows included), in
   * batches of `batch` rows; each value is replaced by compare-and-set on the value read, so a
   * concurrent write is never overwritten. Idempotent: a second run finds nothing.
   */
  async rotate(opts: { batch?: number; onBatch?: (table: string, rows: number) => void } = {}): Promise<RotateReport> {
    const pii = this.pii;
    if (!pii.enabled || pii.currentKeyId === undefined) throw new HubError('CONFIG_MISSING_ENV', 'pii rotate: no PII keys configured (SWITCHBOARD_PII_KEYS)');
    const batch = opts.batch ?? 500;
    const prefix = `pii1:${pii.currentKeyId}:`;
    const report: RotateReport = { resealed: {}, hashed: await this.backfillHashes(batch) };
    // SQLite: freed cells are zeroed (else the old values stay readable in the file); the WAL's old frames are truncated at the end.
    const sqlite = this.q.getExecutor().adapter instanceof SqliteAdapter;
    if (sqlite) await sql`pragma secure_delete = on`.execute(this.q);
    try {
      await this.resealAll(prefix, batch, report, opts.onBatch);
    } finally {
      if (sqlite) await sql`pragma secure_delete = off`.execute(this.q);
    }
    if (sqlite) await truncateWal(this.q);
    return report;
  }

  private async resealAll(prefix: string, batch: number, report: RotateReport, onBatch?: (table: string, rows: number) => void): Promise<void> {
    const pii = this.pii;
    for (const [table, { key, columns }] of Object.entries(SEALED_COLUMNS)) {
      const stale = (c: string) => sql`(${sql.ref(c)} is not null and ${sql.ref(c)} <> '' and ${sql.ref(c)} <> '[]' and substr(${sql.ref(c)}, 1, ${prefix.length}) <> ${prefix})`;
      const where = sql.join(columns.map(stale), sql` or `);
      // Rows a compare-and-set lost are skipped in this pass (keyed past them), never looped on.
      let after: unknown = null;
      for (;;) {
        const page = after === null ? sql`` : sql` and ${sql.ref(key)} > ${after}`;
        const rows = (await sql<Row>`select ${sql.ref(key)}, ${sql.join(columns.map((c) => sql.ref(c)))} from ${sql.table(table)}
          where (${where})${page} order by ${sql.ref(key)} limit ${batch}`.execute(this.q)).rows;
        for (const r of rows) {
          for (const c of columns) {
            const v = r[c];
            if (typeof v !== 'string' || v === '' || v === '[]' || v.startsWith(prefix)) continue;
            const sealed = pii.seal(pii.open(v, `${table}.${c}`));
            const res = await sql`update ${sql.table(table)} set ${sql.ref(c)} = ${sealed} where ${sql.ref(key)} = ${r[key]} and ${sql.ref(c)} = ${v}`.execute(this.q);
            if (Number(res.numAffectedRows ?? 0) === 1) report.resealed[`${table}.${c}`] = (report.resealed[`${table}.${c}`] ?? 0) + 1;
          }
        }
        onBatch?.(table, rows.length);
        if (rows.length < batch) break;
        after = rows[rows.length - 1]?.[key];
      }
    }
    await this.resealEvents(prefix, batch, report, onBatch);
  }

  /** The events' sealed text fields, the same way (compare-and-set on the whole payload read). */
  private async resealEvents(prefix: string, batch: number, report: RotateReport, onBatch?: (table: string, rows: number) => void): Promise<void> {
    const pii = this.pii;
    let after = 0;
    for (;;) {
      const rows = (await sql<{ id: unknown; type: string; payload: string }>`select id, type, payload from ${sql.table(EVENTS)}
        where (${staleEvents(prefix)}) and id > ${after} order by id limit ${batch}`.execute(this.q)).rows;
      for (const r of rows) {
        const parsed = parseOr(r.payload);
        if (typeof parsed === 'string') continue; // not JSON: nothing sealed was written there
        const sealed = sealEventPayload(pii, r.type, openEventPayload(pii, r.type, parsed));
        const res = await sql`update ${sql.table(EVENTS)} set payload = ${sealed} where id = ${r.id} and payload = ${r.payload}`.execute(this.q);
        if (Number(res.numAffectedRows ?? 0) === 1) report.resealed[EVENT_COLUMN] = (report.resealed[EVENT_COLUMN] ?? 0) + 1;
      }
      onBatch?.(EVENTS, rows.length);
      if (rows.length < batch) break;
      after = Number(rows[rows.length - 1]?.id);
    }
  }

  /** Values not under the current key, by `table.column` (what `rotate` would re-seal). */
  async stale(): Promise<Record<string, number>> {
    const pii = this.pii;
    const out: Record<string, number> = {};
    if (!pii.enabled || pii.currentKeyId === undefined) return out;
    const prefix = `pii1:${pii.currentKeyId}:`;
    for (const [table, { columns }] of Object.entries(SEALED_COLUMNS)) {
      for (const c of columns) {
        const r = await sql<{ n: unknown }>`select count(*) as n from ${sql.table(table)} where ${sql.ref(c)} is not null and ${sql.ref(c)} <> ''
          and ${sql.ref(c)} <> '[]' and substr(${sql.ref(c)}, 1, ${prefix.length}) <> ${prefix}`.execute(this.q);
        const n = Number(r.rows[0]?.n ?? 0);
        if (n > 0) out[`${table}.${c}`] = n;
      }
    }
    const r = await sql<{ n: unknown }>`select count(*) as n from ${sql.table(EVENTS)} where ${staleEvents(prefix)}`.execute(this.q);
    const n = Number(r.rows[0]?.n ?? 0);
    if (n > 0) out[EVENT_COLUMN] = n;
    return out;
  }
}
