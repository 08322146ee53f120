/**
 * The customer's preferred channel: where proactive messages go first (the core's proactive send,
 * `POST /api/messages`, workflows' `preferred`, all of which read `customer.preferredChannel`).
 * Decided (docs/identity.md "Preferred channel"):
 *
 * - a customer starts with the channel they first wrote on;
 * - once they are on several channels (after a link), it follows them: it is the channel they most
 *   recently wrote from (`preferredChannelTurn`, and the link itself, written on the new channel);
 * - unless the business set it explicitly (`PATCH /api/customers/:id` `preferredChannel`): that
 *   choice stays until the business clears it (`null`: follow the customer again).
 *
 * The business's choice is kept beside the customer's other contact preferences (the opt-outs) in
 * `consent.preferredChannel = { channel, by, at }`; the `preferred_channel` column is what every
 * reader uses. A mail that must not be answered (an auto-reply, a bounce) moves nothing.
 */
import { HubError } from '../errors.js';
import type { Customer } from '../model.js';
import type { Storage } from '../storage/storage.js';
import type { ChannelName, JsonObject } from '../types.js';
import type { TurnHandler } from '../conversation/turn.js';

/** The key of the business's choice in the customer's consent flags. */
export const EXPLICIT_CHANNEL = 'preferredChannel';

/** The channel the business set explicitly, if any. */
export function explicitChannel(customer: Pick<Customer, 'consent'>): ChannelName | undefined {
  const v = customer.consent[EXPLICIT_CHANNEL];
  return v && typeof v === 'object' && !Array.isArray(v) && typeof v.channel === 'string' ? v.channel : undefined;
}

/**
 * Makes `channel` the preferred channel of the (live) customer `customerId` unless the business
 * set one. A business choice written meanwhile wins: it is read again after the write and put back.
 */
export async function followChannel(storage: Storage, customerId: string, channel: ChannelName): Promise<void> {
  const id = await storage.merges.survivorOf(customerId);
  if (!id) return;
  const customer = await storage.customers.get(id);
  if (!customer || customer.preferredChannel === channel || explicitChannel(customer) !== undefined) return;
  await storage.customers.setPreferredChannel(id, channel);
  const after = await storage.customers.get(id);
  const chosen = after ? explicitChannel(after) : undefined;
  if (chosen !== undefined && chosen !== channel) await storage.customers.setPreferredChannel(id, chosen);
}

/**
 * The business sets (a channel) or clears (`null`) the customer's preferred channel. Setting needs
 * an identity of the customer on that channel. Clearing leaves the current channel until the
 * customer next writes. Returns the customer as it is after.
 */
export async function setExplicitChannel(storage: Storage, r: { customerId: string; channel: ChannelName | null; by: string; now: number }): Promise<Customer> {
  const id = await storage.merges.survivorOf(r.customerId);
  const customer = id ? await storage.customers.get(id) : undefined;
  if (!id || !customer) throw new HubError('NOT_FOUND', `customer ${r.customerId} not found`, { context: { field: 'params.id' } });
  if (r.channel !== null) {
    const identities = await storage.customers.identitiesOf(id);
    if (!identities.some((i) => i.channel === r.channel)) {
      const has = [...new Set(identities.map((i) => i.channel))].join(', ') || 'none';
      throw new HubError('INPUT_INVALID', `customer ${id} has no identity on channel "${r.channel}" (they have: ${has}); a preferred channel must be one they can be reached on`, {
        context: { field: 'body.preferredChannel' },
      });
    }
  }
  const choice: JsonObject | undefined = r.channel === null ? undefined : { channel: r.channel, by: r.by.slice(0, 200), at: new Date(r.now).toISOString() };
  // The choice first, then the column: a customer's message racing this reads the choice and leaves the column alone.
  await storage.customers.updateConsent(id, (consent) => {
    const { [EXPLICIT_CHANNEL]: _old, ...rest } = consent;
    return choice ? { ...rest, [EXPLICIT_CHANNEL]: choice } : rest;
  });
  if (r.channel !== null) await storage.customers.setPreferredChannel(id, r.channel);
  const after = await storage.customers.get(id);
  if (!after) throw new HubError('NOT_FOUND', `customer ${id} not found`);
  return after;
}

/**
 * The turn handler that keeps the preferred channel on the channel the customer last wrote from
 * (after the rest of the chain: a link in this turn is done by then). No query when the message
 * came on the preferred channel already (every customer on one channel).
 */
export function preferredChannelTurn(d: { storage: Storage }): TurnHandler {
  return {
    name: 'preferred-channel',
    async handle(turn, next) {
      const plan = await next();
      const { msg, customer } = turn;
      if (msg.noReply === undefined && customer.preferredChannel !== msg.channel && explicitChannel(customer) === undefined) {
        await followChannel(d.storage, customer.id, msg.channel);
      }
      return plan;
    },
  };
}
