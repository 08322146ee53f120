/**
 * Business-signed link tokens (docs/identity.md): `POST /api/customers/:externalId/link-tokens`
 * issues one token per channel; opening a link on that channel (a Telegram `/start <token>`, the
 * web chat's link parameter) links the identity to that business customer, once.
 *
 * A token is `L` + base64url(nonce 12 bytes | expiry in seconds, 4 bytes | HMAC-SHA256 truncated to
 * 16 bytes) = 44 characters, inside Telegram's 64-character start parameter. The MAC covers the
 * nonce, the expiry, the customer and the channel of the stored row, under a key kept in
 * channel_state (shared by every process): a forged or altered token, or a row pointed at another
 * customer, fails the check. The row makes it single use (`used_at`, compare-and-set).
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { HubError } from '../errors.js';
import { isUniqueViolation } from '../storage/rows.js';
import type { Storage } from '../storage/storage.js';
import type { AuditActor } from '../storage/identity-rows.js';
import type { ChannelName } from '../types.js';
import { mergeIn } from './merge.js';

export const LINK_TOKEN = /^L[A-Za-z0-9_-]{43}$/;
/**
 * The same token as an email reply-address tag (`support+link-<tag>@…`): base32, lower case, of the
 * nonce and the MAC (28 bytes, 45 characters; the expiry is read from the stored row and the MAC
 * covers it). Mail systems may lower-case an address (Postfix's Delivered-To does), so the tag
 * carries no case, and `support+link-` + 45 fits RFC 5321's 64-character local part.
 */
export const EMAIL_LINK_TAG = /^[a-z2-7]{45}$/;
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + B32[(acc << (5 - bits)) & 31] : out;
}

function unbase32(text: string): Buffer {
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of text) {
    acc = ((acc << 5) | B32.indexOf(ch)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The email reply-address tag of a token (`EMAIL_LINK_TAG`): the API puts it in `<local>+link-<tag>@<domain>`. */
export function emailLinkTag(token: string): string {
  if (!LINK_TOKEN.test(token)) throw new HubError('INPUT_INVALID', 'not a link token');
  const raw = Buffer.from(token.slice(1), 'base64url');
  return base32(Buffer.concat([raw.subarray(0, 12), raw.subarray(16, 32)]));
}

/** A token in either form: its nonce, MAC and (the `L` form only) expiry; undefined when it is neither. */
function parseToken(token: string): { nonce: Buffer; mac: Buffer; expSec?: number } | undefined {
  if (LINK_TOKEN.test(token)) {
    const raw = Buffer.from(token.slice(1), 'base64url');
    return { nonce: raw.subarray(0, 12), expSec: raw.readUInt32BE(12), mac: raw.subarray(16, 32) };
  }
  const tag = token.toLowerCase();
  if (!EMAIL_LINK_TAG.test(tag)) return undefined;
  const raw = unbase32(tag);
  // One spelling per token: the tag's spare low bit must be zero.
  if (base32(raw) !== tag) return undefined;
  return { nonce: raw.subarray(0, 12), mac: raw.subarray(12, 28) };
}
const KEY = { channel: 'hub', key: 'identity-link-key' } as const;
const keys = new WeakMap<Storage, Promise<Buffer>>();

/** The signing key: 32 random bytes made by the first process that needs it (compare-and-set), then shared (email codes derive theirs from it). */
export function signingKey(storage: Storage): Promise<Buffer> {
  let k = keys.get(storage);
  if (!k) {
    k = loadKey(storage);
    keys.set(storage, k);
    k.catch(() => keys.delete(storage));
  }
  return k;
}

async function loadKey(storage: Storage): Promise<Buffer> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const got = await storage.channelState.get(KEY.channel, KEY.key);
    if (got && typeof got.value === 'string' && /^[\w-]{43,}$/.test(got.value)) return Buffer.from(got.value, 'base64url');
    const fresh = randomBytes(32).toString('base64url');
    if ((await storage.channelState.set(KEY.channel, KEY.key, fresh, got?.version ?? 0)) !== undefined) return Buffer.from(fresh, 'base64url');
  }
  throw new HubError('STORAGE', 'could not store the link-token key (channel_state hub/identity-link-key keeps changing)', { retry: 'retry' });
}

function mac(key: Buffer, nonce: Buffer, expSec: number, customerId: string, channel: string): Buffer {
  return createHmac('sha256', key).update(`sb-link-v1\n${nonce.toString('hex')}\n${expSec}\n${customerId}\n${channel}`).digest().subarray(0, 16);
}

/** The live customer the business knows by `externalId`, made when none has it yet; undefined when erased. */
export async function businessCustomer(storage: Storage, externalId: string): Promise<string | undefined> {
  let customer = await storage.customers.byExternalId(externalId);
  if (!customer) {
    try {
      customer = await storage.customers.create({ externalId });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      customer = await storage.customers.byExternalId(externalId);
    }
  }
  return customer ? storage.merges.survivorOf(customer.id) : undefined;
}

export interface IssuedTokens {
  customerId: string;
  expiresAt: number;
  tokens: Record<string, string>;
}

/**
 * Tokens for the customer the business knows by `externalId` (made when none has it yet), one per
 * channel, all spent when one is used. Audited (`link_token_issued`, never the token).
 */
export async function issueLinkTokens(storage: Storage, r: { externalId: string; channels: readonly ChannelName[]; ttlMs: number; actor: AuditActor; now: number }): Promise<IssuedTokens> {
  const customerId = await businessCustomer(storage, r.externalId);
  if (!customerId) throw new HubError('CONFLICT', `the customer with externalId "${r.externalId}" was erased`, { context: { field: 'params.externalId' } });
  const key = await signingKey(storage);
  const expSec = Math.floor((r.now + r.ttlMs) / 1000);
  const grantId = randomUUID();
  const tokens: Record<string, string> = {};
  const rows = r.channels.map((channel) => {
    const nonce = randomBytes(12);
    const exp = Buffer.alloc(4);
    exp.writeUInt32BE(expSec);
    tokens[channel] = `L${Buffer.concat([nonce, exp, mac(key, nonce, expSec, customerId, channel)]).toString('base64url')}`;
    return { id: nonce.toString('hex'), grantId, customerId, channel, createdBy: `${r.actor.kind}:${r.actor.name}`, expiresAt: expSec * 1000 };
  });
  await storage.linkTokens.insert(rows);
  await storage.audit.append({ actor: r.actor, action: 'link_token_issued', customerId, details: { grantId, channels: [...r.channels], expiresAt: expSec * 1000 } });
  return { customerId, expiresAt: expSec * 1000, tokens };
}

export type LinkOutcome = 'linked' | 'already_linked' | 'invalid' | 'expired' | 'used' | 'other_channel' | 'linked_elsewhere' | 'unknown_customer';

export interface LinkResult {
  outcome: LinkOutcome;
  /** The business customer (linked, already linked). */
  customerId?: string;
}

/**
 * Links the identity (channel, platform user id) that presents `token` to the token's customer:
 * the token is spent and the presenter's customer merged into it in ONE transaction (a failure
 * spends nothing). Any refusal changes nothing and is audited with its reason.
 */
export async function linkByToken(storage: Storage, r: { token: string; channel: ChannelName; platformUserId: string; now: number }): Promise<LinkResult> {
  const presenter = `${r.channel}:${r.platformUserId}`;
  const actor: AuditActor = { kind: 'customer', name: `${presenter} (link token)` };
  const refuse = async (outcome: LinkOutcome, details: Record<string, unknown> = {}, customerId: string | null = null): Promise<LinkResult> => {
    await storage.audit.append({ actor, action: 'link_refused', customerId, reason: outcome, details: { identity: presenter, ...details } });
    return { outcome };
  };
  const parsed = parseToken(r.token);
  if (!parsed) return refuse('invalid', { why: 'malformed' });
  const { nonce } = parsed;
  const row = await storage.linkTokens.get(nonce.toString('hex'));
  if (!row) return refuse('invalid', { why: 'unknown token' });
  const expSec = parsed.expSec ?? Math.floor(row.expiresAt / 1000);
  const expected = mac(await signingKey(storage), nonce, expSec, row.customerId, row.channel);
  if (!timingSafeEqual(expected, parsed.mac) || expSec * 1000 !== row.expiresAt) return refuse('invalid', { why: 'bad signature', grantId: row.grantId });
  const proof = { linkToken: row.grantId, channel: r.channel };
  if (row.channel !== r.channel) return refuse('other_channel', { ...proof, tokenChannel: row.channel }, row.customerId);
  if (row.usedAt !== null) return row.usedBy === presenter ? { outcome: 'already_linked', customerId: row.customerId } : refuse('used', proof, row.customerId);
  if (r.now >= row.expiresAt) return refuse('expired', proof, row.customerId);
  const target = await storage.merges.survivorOf(row.customerId);
  if (!target) return refuse('unknown_customer', proof, row.customerId);
  const identity = await storage.customers.findIdentity(r.channel, r.platformUserId);
  if (!identity) return refuse('invalid', { why: 'no such identity' });
  const mine = await storage.customers.get(identity.customerId);
  const theirs = await storage.customers.get(target);
  if (mine?.externalId && mine.externalId !== theirs?.externalId) return refuse('linked_elsewhere', proof, target);
  const done = await storage.transaction(async (tx) => {
    if (!(await tx.linkTokens.use(row.id, row.grantId, presenter, r.now))) return 'used' as const;
    if (identity.customerId === target) {
      await tx.audit.append({ actor, action: 'link', customerId: target, details: { identity: presenter, proof, already: true } });
      return 'already_linked' as const;
    }
    await mergeIn(tx, { survivorId: target, mergedId: identity.customerId, actor, action: 'link', reason: 'link token', proof: { ...proof, identity: presenter } });
    await tx.merges.markVerified(identity.id);
    return 'linked' as const;
  }).catch((err: unknown) => {
    // Someone merged either customer meanwhile (a concurrent link from another channel): nothing was spent.
    if (err instanceof HubError && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND')) return 'conflict' as const;
    throw err;
  });
  if (done === 'conflict') return refuse('linked_elsewhere', { ...proof, why: 'a customer changed meanwhile' }, target);
  if (done === 'used') return refuse('used', proof, target);
  return { outcome: done, customerId: target };
}
