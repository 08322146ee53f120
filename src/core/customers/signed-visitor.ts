/**
 * Signed web chat visitors (docs/identity.md): the web chat adapter checked the site's HMAC of its
 * user id and hands over the command `identify` with the verified id in `extra.signedUserId` (set
 * by that adapter only, after the check; trusted on the web chat channel only). The visitor's
 * customer is merged into the business customer with that id, so their history follows them to
 * every device they sign in on. A visitor already linked to ANOTHER business customer (a shared
 * browser) is not merged: refused, audited.
 */
import { HubError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import type { AuditActor } from '../storage/identity-rows.js';
import type { ChannelName, InboundMessage } from '../types.js';
import type { TurnHandler } from '../conversation/turn.js';
import { mergeIn } from './merge.js';
import { businessCustomer, type LinkOutcome } from './link-tokens.js';

export const SIGNED_CHANNEL = 'webchat';

/** The verified user id of a signed visitor's sign-in, when this message is one. */
export function signedUserIdOf(msg: InboundMessage): string | undefined {
  if (msg.channel !== SIGNED_CHANNEL || msg.kind !== 'command' || msg.command?.name !== 'identify') return undefined;
  const id = msg.extra?.signedUserId;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/** Links (channel, platform user id) to the business customer `externalId`; refusals are audited. */
export async function linkSignedUser(storage: Storage, r: { channel: ChannelName; platformUserId: string; externalId: string }): Promise<LinkOutcome> {
  const presenter = `${r.channel}:${r.platformUserId}`;
  const actor: AuditActor = { kind: 'customer', name: `${presenter} (signed user id)` };
  const proof = { signedUserId: r.externalId, identity: presenter };
  const refuse = async (outcome: LinkOutcome, customerId: string | null): Promise<LinkOutcome> => {
    await storage.audit.append({ actor, action: 'link_refused', customerId, reason: outcome, details: proof });
    return outcome;
  };
  const target = await businessCustomer(storage, r.externalId);
  if (!target) return refuse('unknown_customer', null);
  const identity = await storage.customers.findIdentity(r.channel, r.platformUserId);
  if (!identity) return refuse('invalid', target);
  if (identity.customerId === target) return 'already_linked';
  const mine = await storage.customers.get(identity.customerId);
  if (mine?.externalId && mine.externalId !== r.externalId) return refuse('linked_elsewhere', target);
  try {
    await storage.transaction(async (tx) => {
      await mergeIn(tx, { survivorId: target, mergedId: identity.customerId, actor, action: 'link', reason: 'signed visitor', proof });
      await tx.merges.markVerified(identity.id);
    });
    return 'linked';
  } catch (err) {
    if (err instanceof HubError && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND')) return refuse('linked_elsewhere', target);
    throw err;
  }
}

/** Takes a signed visitor's sign-in: links, answers nothing (the visitor only sees their history follow). */
export function signedVisitorTurn(d: { storage: Storage }): TurnHandler {
  return {
    name: 'signed-visitor',
    async handle(turn, next) {
      const externalId = signedUserIdOf(turn.msg);
      if (externalId === undefined) return next();
      await linkSignedUser(d.storage, { channel: turn.msg.channel, platformUserId: turn.msg.platformUserId, externalId });
      return { patch: {}, replies: [], events: [] };
    },
  };
}
