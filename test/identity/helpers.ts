import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import type { InboundMessage } from '../../src/core/types.js';
import type { Storage } from '../../src/core/storage/storage.js';
import { recordInbound } from '../../src/core/conversation/inbound.js';
import type { TestDb } from '../helpers/env.js';

let seq = 0;

/** A customer message on `channel` from `userId` (a fresh platform message id each call). */
export function inbound(channel: string, userId: string, text = 'hi', more: Partial<InboundMessage> = {}): InboundMessage {
  seq += 1;
  return {
    channel,
    platformMessageId: `m${seq}-${Math.random().toString(36).slice(2, 8)}`,
    platformUserId: userId,
    userName: `${channel} user ${userId}`,
    ref: { channel, chatId: userId },
    kind: 'text',
    text,
    attachments: [],
    receivedAt: Date.now(),
    ...more,
  };
}

/** Stores a customer message the way the pipeline does (identity, routing, message). */
export function say(storage: Storage, channel: string, userId: string, text = 'hi') {
  return recordInbound(storage, inbound(channel, userId, text), { reopenWindowMs: 0 });
}

/** The texts of a customer's messages, oldest first. */
export async function textsOf(storage: Storage, customerId: string): Promise<string[]> {
  return (await storage.messages.ofCustomer(customerId, 1000)).map((m) => m.text);
}

/** Everything a database holds as text: the SQLite file and its WAL, or every PostgreSQL row as JSON (the encryption tests look for plaintext in it). */
export async function rawText(tdb: TestDb, dialect: string): Promise<string> {
  if (dialect === 'sqlite') {
    const file = tdb.url.slice('sqlite:'.length);
    return [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('\n');
  }
  const c = new pg.Client({ connectionString: tdb.url });
  await c.connect();
  try {
    const tables = (await c.query<{ t: string }>(`select table_name as t from information_schema.tables where table_schema = 'public'`)).rows.map((r) => r.t);
    const out: string[] = [];
    for (const t of tables) out.push(...(await c.query<{ j: string }>(`select row_to_json(x)::text as j from "${t}" x`)).rows.map((r) => r.j));
    return out.join('\n');
  } finally {
    await c.end();
  }
}
