import { newRowId } from './ids.js';
import type { Selectable } from 'kysely';
import type { ProactiveSendTable } from './tables.js';
import { parseJson } from './json.js';
import { type Q, type Stamp, openCol, sealText } from './rows.js';
import type { PiiCodec } from './pii.js';
import type { ProactiveSend, SendAttempt } from '../model.js';
import type { ChannelName } from '../types.js';

/**
 * The content (the message's text, buttons, attachments) and the attempts (a platform's error may
 * quote an address) are sealed by the PII codec; `pii` null: the row holds the values as given.
 */
function toSend(r: Selectable<ProactiveSendTable>, pii: PiiCodec | null): ProactiveSend {
  return {
    id: r.id,
    key: r.dedupe_key,
    customerId: r.customer_id,
    kind: r.kind,
    content: parseJson<ProactiveSend['content']>(openCol(pii, r.content, 'proactive_sends.content'), { text: '' }),
    channels: parseJson<ChannelName[]>(r.channels, []),
    attempts: parseJson<SendAttempt[]>(openCol(pii, r.attempts, 'proactive_sends.attempts'), []),
    status: r.status as ProactiveSend['status'],
    messageId: r.message_id,
    requestHash: r.request_hash,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export type NewProactiveSend = Pick<ProactiveSend, 'key' | 'customerId' | 'kind' | 'content' | 'channels' | 'attempts' | 'status' | 'messageId'> & { requestHash?: string | undefined };

/** Proactive sends that fall back across channels (see `Proactive.sendWithFallback`). */
export class ProactiveSendRepo {
  constructor(
    private readonly q: Q,
    private readonly stamp: Stamp,
  ) {}

  /** Stores a new send; throws a unique violation when its key is taken (the caller reads that one). */
  async insert(s: NewProactiveSend): Promise<ProactiveSend> {
    const row = this.row(s);
    await this.q.insertInto('proactive_sends').values(this.sealed(row)).execute();
    return toSend(row, null);
  }

  /** `insert` of many sends in one statement (a key taken fails them all). */
  async insertMany(list: readonly NewProactiveSend[]): Promise<ProactiveSend[]> {
    if (list.length === 0) return [];
    const rows = list.map((s) => this.row(s));
    await this.q.insertInto('proactive_sends').values(rows.map((r) => this.sealed(r))).execute();
    return rows.map((r) => toSend(r, null));
  }

  private sealed(row: Selectable<ProactiveSendTable>): Selectable<ProactiveSendTable> {
    const pii = this.stamp.pii;
    return { ...row, content: sealText(pii, row.content), attempts: sealText(pii, row.attempts) };
  }

  private row(s: NewProactiveSend): Selectable<ProactiveSendTable> {
    const now = this.stamp.next();
    return {
      id: newRowId(),
      dedupe_key: s.key,
      customer_id: s.customerId,
      kind: s.kind,
      content: JSON.stringify(s.content),
      channels: JSON.stringify(s.channels),
      attempts: JSON.stringify(s.attempts),
      status: s.status,
      message_id: s.messageId,
      request_hash: s.requestHash ?? null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
  }

  async get(id: string): Promise<ProactiveSend | undefined> {
    const r = await this.q.selectFrom('proactive_sends').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toSend(r, this.stamp.pii) : undefined;
  }

  /** The sends stored under any of these keys. */
  async byKeys(keys: readonly string[]): Promise<ProactiveSend[]> {
    if (keys.length === 0) return [];
    const rows = await this.q.selectFrom('proactive_sends').selectAll().where('dedupe_key', 'in', [...keys]).execute();
    return rows.map((r) => toSend(r, this.stamp.pii));
  }

  async byKey(key: string): Promise<ProactiveSend | undefined> {
    const r = await this.q.selectFrom('proactive_sends').selectAll().where('dedupe_key', '=', key).executeTakeFirst();
    return r ? toSend(r, this.stamp.pii) : undefined;
  }

  /** The send whose attempt in flight is this outbound message. */
  async byMessage(messageId: string): Promise<ProactiveSend | undefined> {
    const r = await this.q.selectFrom('proactive_sends').selectAll().where('message_id', '=', messageId).executeTakeFirst();
    return r ? toSend(r, this.stamp.pii) : undefined;
  }

  /** Compare-and-set on the version: false when someone else changed it first. */
  async update(s: ProactiveSend, patch: Pick<ProactiveSend, 'attempts' | 'status' | 'messageId'>): Promise<boolean> {
    const r = await this.q
      .updateTable('proactive_sends')
      .set({
        attempts: sealText(this.stamp.pii, JSON.stringify(patch.attempts)),
        status: patch.status,
        message_id: patch.messageId,
        version: s.version + 1,
        updated_at: this.stamp.next(),
      })
      .where('id', '=', s.id)
      .where('version', '=', s.version)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
