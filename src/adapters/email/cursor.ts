/**
 * Where the IMAP receiver stands in a mailbox, and what it fetches next.
 *
 * The cursor: `{ uidValidity, lastUid }` in the channel state
 * under `imap:<mailbox>`, written with compare-and-set after each mail is handed over and marked.
 *
 * `catchUpTo` covers the first start (and a changed UIDVALIDITY): mail up to that UID already sat in
 * the mailbox then, and only the part of it not yet marked processed is handed over; mail above it
 * is new and handed over whatever its flags. It stays in the cursor until `lastUid` passes it, so a
 * restart during that catch-up does not hand over old, already processed mail.
 */
import type { SearchObject } from 'imapflow';
import type { ChannelState } from '../../core/adapter.js';
import type { JsonObject, JsonValue } from '../../core/types.js';

export interface ImapCursor {
  /** UIDVALIDITY of the mailbox, as a decimal string. */
  uidValidity: string;
  /** The highest UID handed over and marked (0: none yet). */
  lastUid: number;
  /** Mail up to this UID counts only when not yet marked processed (see above). */
  catchUpTo?: number;
}

export function cursorKey(mailbox: string): string {
  return `imap:${mailbox}`;
}

/** The cursor row of one mailbox, with the version compare-and-set needs. */
export class CursorStore {
  private version = 0;
  private value: ImapCursor | undefined;

  constructor(
    private readonly state: ChannelState,
    readonly key: string,
  ) {}

  /** The cursor as last loaded or saved. */
  get current(): ImapCursor | undefined {
    return this.value;
  }

  /** Reads the stored cursor; undefined when there is none (or it is not a cursor: it is then replaced). */
  async load(): Promise<ImapCursor | undefined> {
    const row = await this.state.get(this.key);
    this.version = row?.version ?? 0;
    this.value = row ? parseCursor(row.value) : undefined;
    return this.value;
  }

  /** Writes `next` when nobody wrote since the last load/save; false when someone did. */
  async save(next: ImapCursor): Promise<boolean> {
    const version = await this.state.set(this.key, toJson(next), this.version);
    if (version === undefined) return false;
    this.version = version;
    this.value = next;
    return true;
  }
}

/** The cursor after `uid` was handed over and marked. */
export function advanced(cur: ImapCursor, uid: number): ImapCursor {
  const next: ImapCursor = { uidValidity: cur.uidValidity, lastUid: Math.max(cur.lastUid, uid) };
  if (cur.catchUpTo !== undefined && cur.catchUpTo > next.lastUid) next.catchUpTo = cur.catchUpTo;
  return next;
}

/** The search for mail not yet marked processed (with a folder: all of it, processed mail left). */
export function unprocessedQuery(processed: { folder?: string | undefined; flag: string }): SearchObject {
  if (processed.folder) return {};
  const system: Record<string, keyof SearchObject> = { '\\seen': 'seen', '\\answered': 'answered', '\\flagged': 'flagged', '\\deleted': 'deleted', '\\draft': 'draft' };
  const key = system[processed.flag.toLowerCase()];
  return key ? { [key]: false } : { unKeyword: processed.flag };
}

/** `1:3,7,9:10` for [1,2,3,7,9,10] (ascending). */
export function uidSet(uids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < uids.length; ) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === (uids[j] as number) + 1) j++;
    parts.push(i === j ? String(uids[i]) : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * Splits a batch (in order) so that one fetch loads at most `maxFetchBytes` of sources, at least
 * one mail each; mail over `maxMailBytes` is not loaded and weighs nothing.
 */
export function fetchGroups(uids: readonly number[], sizes: ReadonlyMap<number, number>, maxMailBytes: number, maxFetchBytes: number): number[][] {
  const groups: number[][] = [];
  let group: number[] = [];
  let bytes = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    const loaded = size > maxMailBytes ? 0 : size;
    if (group.length > 0 && bytes + loaded > maxFetchBytes) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(uid);
    bytes += loaded;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

function parseCursor(v: JsonValue): ImapCursor | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const { uidValidity, lastUid, catchUpTo } = v;
  if (typeof uidValidity !== 'string' || typeof lastUid !== 'number' || !Number.isInteger(lastUid) || lastUid < 0) return undefined;
  const cur: ImapCursor = { uidValidity, lastUid };
  if (typeof catchUpTo === 'number' && Number.isInteger(catchUpTo) && catchUpTo > lastUid) cur.catchUpTo = catchUpTo;
  return cur;
}

function toJson(c: ImapCursor): JsonObject {
  const o: JsonObject = { uidValidity: c.uidValidity, lastUid: c.lastUid };
  if (c.catchUpTo !== undefined) o.catchUpTo = c.catchUpTo;
  return o;
}
