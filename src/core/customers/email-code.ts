/**
 * Email one-time codes (docs/identity.md): a customer on a chat app claims an address; the hub
 * mails a 6-digit code to it; the code typed back in the same conversation within 10 minutes links
 * the chat identity with that address's email identity (one merge, audited with the proof
 * `email-code`). The address alone never links anything.
 *
 * - The code is derived from the claim's message id under the hub's identity key (so a redelivered
 *   claim mails the same code once, never a second one) and stored only as a keyed hash, compared
 *   in constant time.
 * - At most `MAX_TRIES` tries per code (counted by compare-and-set before the comparison); codes
 *   per identity and per address are limited across processes (code-limits.ts).
 * - The mail goes through the core's proactive send on the email channel to the address's own
 *   customer (made with its email identity when the address is new): the code is in that
 *   customer's history, never in the claimant's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { HubError } from '../errors.js';
import { isUniqueViolation } from '../storage/rows.js';
import type { Storage } from '../storage/storage.js';
import type { AuditActor } from '../storage/identity-rows.js';
import type { EmailCodeRecord } from '../storage/email-codes.js';
import type { ChannelName } from '../types.js';
import { afterCommit, requeuePending, type ChangeDeps } from '../conversation/change.js';
import { storeProactive } from '../conversation/proactive.js';
import { signingKey } from './link-tokens.js';
import { mergeIn } from './merge.js';
import type { CodeLimiter } from './code-limits.js';

export const CODE_TTL_MS = 10 * 60_000;
export const MAX_TRIES = 5;
/** The email channel's name in the adapter registry. */
export const EMAIL_CHANNEL: ChannelName = 'email';

export interface EmailCodeDeps {
  storage: Storage;
  change: ChangeDeps;
  limiter: CodeLimiter;
  now(): number;
}

export interface Claimant {
  channel: ChannelName;
  platformUserId: string;
  customerId: string;
  conversationId: string;
  /** The inbound message (claim or code): idempotency of everything it causes. */
  messageId: string;
}

export type ClaimOutcome = 'sent' | 'already_linked' | 'rate_limited' | 'failed';
export type VerifyOutcome = 'linked' | 'already_linked' | 'wrong' | 'last_wrong' | 'locked' | 'expired' | 'used' | 'none' | 'linked_elsewhere';

const who = (c: Claimant) => `${c.channel}:${c.platformUserId}`;
const actorOf = (c: Claimant): AuditActor => ({ kind: 'customer', name: `${who(c)} (email code)` });

async function codeKey(storage: Storage): Promise<Buffer> {
  return createHmac('sha256', await signingKey(storage)).update('sb-email-code-v1').digest();
}

/** The code of a claim: 6 digits from an HMAC of its id (uniform enough: 2^32 mod 10^6 bias < 0.03%). */
function deriveCode(key: Buffer, codeId: string): string {
  const n = createHmac('sha256', key).update(`code\n${codeId}`).digest().readUInt32BE(0) % 1_000_000;
  return String(n).padStart(6, '0');
}

function hashCode(key: Buffer, codeId: string, code: string): Buffer {
  return createHmac('sha256', key).update(`hash\n${codeId}\n${code}`).digest();
}

/** The email identity of `address` (its case ignored: the email channel keeps a sender's address as written). */
async function findAddress(storage: Storage, address: string) {
  const stored = await storage.emailCodes.emailIdentityAddress(EMAIL_CHANNEL, address);
  return storage.customers.findIdentity(EMAIL_CHANNEL, stored ?? address);
}

/** The email identity of `address` and its live customer, made (customer + identity) when the address is new. */
async function addressCustomer(storage: Storage, address: string): Promise<string | undefined> {
  let identity = await findAddress(storage, address);
  if (!identity) {
    try {
      identity = await storage.transaction(async (tx) => {
        const c = await tx.customers.create({ preferredChannel: EMAIL_CHANNEL });
        return tx.customers.addIdentity({ customerId: c.id, channel: EMAIL_CHANNEL, platformUserId: address, ref: { channel: EMAIL_CHANNEL, chatId: address }, verified: false });
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      identity = await storage.customers.findIdentity(EMAIL_CHANNEL, address);
    }
  }
  return identity ? storage.merges.survivorOf(identity.customerId) : undefined;
}

/**
 * A claim of `address`: mails a code to it (the mail row, its event and the code row in one
 * transaction) unless the address is the claimant's already or a limit is reached. `mail` is the
 * text with the code in it, in the claimant's language.
 */
export async function claimAddress(d: EmailCodeDeps, c: Claimant, address: string, mail: (code: string) => string): Promise<ClaimOutcome> {
  const { storage } = d;
  const existing = await findAddress(storage, address);
  if (existing && (await storage.merges.survivorOf(existing.customerId)) === c.customerId) return 'already_linked';
  const key = await codeKey(storage);
  const codeId = createHmac('sha256', key).update(`id\n${c.messageId}`).digest('hex').slice(0, 32);
  const now = d.now();
  const admitted = await d.limiter.admit({ identity: who(c), address, request: codeId, now });
  if (admitted !== 'ok') {
    await storage.audit.append({ actor: actorOf(c), action: 'link_refused', customerId: c.customerId, reason: 'rate_limited', details: { identity: who(c), address, proof: 'email-code', limit: admitted } });
    return 'rate_limited';
  }
  const target = await addressCustomer(storage, address);
  if (!target) return 'failed';
  const code = deriveCode(key, codeId);
  const dedupeKey = `proactive:email-code:${codeId}`;
  const stored = await storage
    .transaction(async (tx) => {
      if (await tx.emailCodes.get(codeId)) return undefined; // a redelivered claim: stored with its mail already
      await tx.emailCodes.insert({ id: codeId, identity: who(c), conversationId: c.conversationId, address, codeHash: hashCode(key, codeId, code).toString('hex'), expiresAt: now + CODE_TTL_MS });
      const s = await storeProactive(d.change, tx, {
        customerId: target,
        ref: { channel: EMAIL_CHANNEL, chatId: address },
        content: { text: mail(code) },
        dedupeKey,
        kind: 'identity_code',
        key: `email-code:${codeId}`,
      });
      await tx.audit.append({ actor: actorOf(c), action: 'link_code_sent', customerId: c.customerId, otherCustomerId: target, details: { identity: who(c), address, codeId, expiresAt: now + CODE_TTL_MS } });
      return s;
    })
    .catch(async (err: unknown) => {
      if (isUniqueViolation(err)) return undefined; // the same claim in another process
      throw err;
    });
  if (stored) await afterCommit(d.change, [stored.row], stored.events);
  else {
    // Its mail may still be pending with its job lost: queue it again (the send is keyed by the row).
    const row = await storage.messages.byKey(dedupeKey);
    if (row) await requeuePending(d.change, row);
  }
  return 'sent';
}

/**
 * A code typed by the claimant: checked against their latest code (same conversation, unused,
 * unexpired, under the try limit); the right one links in ONE transaction (code spent + merge).
 * `undefined`: the identity has no code at all (the message is not about a code).
 */
export async function verifyCode(d: EmailCodeDeps, c: Claimant, typed: string): Promise<VerifyOutcome | undefined> {
  const { storage } = d;
  const row = await storage.emailCodes.latestOf(who(c));
  if (!row) return undefined;
  const now = d.now();
  const refuse = async (outcome: VerifyOutcome, why: Record<string, unknown> = {}): Promise<VerifyOutcome> => {
    await storage.audit.append({ actor: actorOf(c), action: 'link_refused', customerId: c.customerId, reason: outcome, details: { identity: who(c), proof: 'email-code', codeId: row.id, address: row.address, ...why } });
    return outcome;
  };
  if (row.usedAt !== null) return row.usedBy === c.messageId ? 'linked' : refuse('used');
  if (row.conversationId !== c.conversationId) return refuse('none', { why: 'another conversation' });
  if (now >= row.expiresAt) return refuse('expired');
  if (!(await storage.emailCodes.countTry(row.id, MAX_TRIES))) {
    // Out of tries, or spent meanwhile (the same code typed twice at once).
    const fresh = await storage.emailCodes.get(row.id);
    if (fresh && fresh.usedAt !== null) return fresh.usedBy === c.messageId ? 'linked' : refuse('used');
    return refuse('locked');
  }
  const key = await codeKey(storage);
  if (!timingSafeEqual(hashCode(key, row.id, typed), Buffer.from(row.codeHash, 'hex'))) {
    return refuse(row.tries + 1 >= MAX_TRIES ? 'last_wrong' : 'wrong', { tries: row.tries + 1 });
  }
  return link(d, c, row, now);
}

async function link(d: EmailCodeDeps, c: Claimant, row: EmailCodeRecord, now: number): Promise<VerifyOutcome> {
  const { storage } = d;
  const proof = { method: 'email-code', codeId: row.id, address: row.address, identity: who(c) };
  const refuse = async (outcome: VerifyOutcome, why: string): Promise<VerifyOutcome> => {
    await storage.audit.append({ actor: actorOf(c), action: 'link_refused', customerId: c.customerId, reason: outcome, details: { ...proof, proof: 'email-code', why } });
    return outcome;
  };
  const emailIdentity = await findAddress(storage, row.address);
  const theirs = emailIdentity ? await storage.merges.survivorOf(emailIdentity.customerId) : undefined;
  if (!emailIdentity || !theirs) return refuse('linked_elsewhere', 'the address has no customer any more');
  const mine = await storage.customers.get(c.customerId);
  const other = await storage.customers.get(theirs);
  // Two customers the business knows by different ids are two people: a code does not join them.
  if (mine?.externalId && other?.externalId && mine.externalId !== other.externalId) return refuse('linked_elsewhere', 'both customers have a business id');
  // The business's customer stays; else the claimant (whose conversation is in progress).
  const [survivorId, mergedId] = other?.externalId && !mine?.externalId ? [theirs, c.customerId] : [c.customerId, theirs];
  const done = await storage
    .transaction(async (tx) => {
      if (!(await tx.emailCodes.use(row.id, c.messageId, now))) return 'used' as const;
      await tx.merges.markVerified(emailIdentity.id);
      if (survivorId === mergedId) {
        await tx.audit.append({ actor: actorOf(c), action: 'link', customerId: survivorId, details: { identity: who(c), proof, already: true } });
        return 'already_linked' as const;
      }
      await mergeIn(tx, { survivorId, mergedId, actor: actorOf(c), action: 'link', reason: 'email code', proof });
      return 'linked' as const;
    })
    .catch((err: unknown) => {
      // Someone merged either customer meanwhile: nothing was spent (the transaction rolled back).
      if (err instanceof HubError && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND')) return 'conflict' as const;
      throw err;
    });
  if (done === 'conflict') return refuse('linked_elsewhere', 'a customer changed meanwhile');
  if (done === 'used') return refuse('used', 'spent meanwhile');
  return done;
}
