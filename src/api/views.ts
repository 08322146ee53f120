/**
 * What the API shows of the hub's records, and how it finds the customer a request names. Times
 * are ISO 8601 strings; identities are `{ channel, id }` with `id` the platform user id as the
 * channel reports it (as in webhooks).
 */
import type { Conversation, Customer, Identity, ProactiveSend, StoredMessage } from '../core/model.js';
import type { Storage } from '../core/storage/storage.js';
import type { ChannelName } from '../core/types.js';
import { HubError } from '../core/errors.js';

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function identityView(i: Identity) {
  return {
    channel: i.channel,
    id: i.platformUserId,
    displayName: i.displayName,
    verified: i.verified,
    reachable: i.unreachableAt === null,
    ...(i.unreachableAt !== null ? { unreachableSince: iso(i.unreachableAt), unreachableReason: i.unreachableReason } : {}),
  };
}

export function conversationSummary(c: Conversation) {
  return { id: c.id, channel: c.channel, status: c.status, assignee: c.assignee, createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt), resolvedAt: iso(c.resolvedAt) };
}

export function customerView(c: Customer, identities: readonly Identity[], conversations: readonly Conversation[]) {
  return {
    id: c.id,
    externalId: c.externalId,
    displayName: c.displayName,
    locale: c.locale,
    timezone: c.timezone,
    preferredChannel: c.preferredChannel,
    tags: c.tags,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    identities: identities.map(identityView),
    conversations: conversations.map(conversationSummary),
  };
}

export function messageView(m: StoredMessage) {
  return {
    id: m.id,
    direction: m.direction,
    author: m.author,
    authorName: m.authorName,
    channel: m.channel,
    kind: m.kind,
    text: m.text,
    ...(m.buttons.length ? { buttons: m.buttons } : {}),
    ...(m.attachments.length ? { attachments: m.attachments.map((a) => ({ name: a.name, mimeType: a.mimeType, size: a.size })) } : {}),
    createdAt: iso(m.createdAt),
    ...(m.direction === 'out' ? { delivery: m.deliveryStatus, sentAt: iso(m.sentAt), ...(m.error ? { error: m.error } : {}) } : {}),
  };
}

export function conversationView(c: Conversation, messages: readonly StoredMessage[]) {
  return {
    ...conversationSummary(c),
    customerId: c.customerId,
    priority: c.priority,
    escalationReason: c.escalationReason,
    messages: messages.map(messageView),
  };
}

export function sendView(s: ProactiveSend) {
  return {
    id: s.id,
    status: s.status,
    customerId: s.customerId,
    channels: s.channels,
    attempts: s.attempts.map((a) => ({ channel: a.channel, status: a.status, at: iso(a.at), ...(a.error ? { error: a.error } : {}) })),
    createdAt: iso(s.createdAt),
  };
}

export interface CustomerLookup {
  externalId?: string | undefined;
  identities?: readonly { channel: ChannelName; id: string }[] | undefined;
}

function described(l: CustomerLookup): string {
  const parts = [
    ...(l.externalId !== undefined ? [`externalId "${l.externalId}"`] : []),
    ...(l.identities ?? []).map((i) => `${i.channel} identity "${i.id}"`),
  ];
  return parts.join(' or ');
}

/**
 * The customer a request names: by `externalId`, else by any of `identities`. 404 naming what was
 * looked up when nobody matches; 409 when they name different customers. An `externalId` not
 * known yet is returned as `bindExternalId` for the customer the identities found: the caller gives
 * it to them once the request succeeded (the business names its customer once).
 */
export async function findCustomer(storage: Storage, l: CustomerLookup): Promise<{ customer: Customer; bindExternalId?: string }> {
  if (l.externalId === undefined && !l.identities?.length) {
    throw new HubError('INPUT_INVALID', 'customer needs an externalId or at least one identity', { context: { field: 'body.customer' } });
  }
  const byExternal = l.externalId !== undefined ? await storage.customers.byExternalId(l.externalId) : undefined;
  const found = new Map<string, string>();
  for (const i of l.identities ?? []) {
    const identity = await storage.customers.findIdentity(i.channel, i.id);
    if (identity && !found.has(identity.customerId)) found.set(identity.customerId, `${i.channel} identity "${i.id}"`);
  }
  if (found.size > 1) {
    throw new HubError('CONFLICT', `the identities name different customers (${[...found.values()].join(', ')})`, { context: { field: 'body.customer.identities' } });
  }
  const [byIdentityId] = [...found.keys()];
  if (byExternal && byIdentityId && byExternal.id !== byIdentityId) {
    throw new HubError('CONFLICT', `externalId "${l.externalId}" is customer ${byExternal.id}, but ${found.get(byIdentityId)} is customer ${byIdentityId}`, {
      context: { field: 'body.customer' },
    });
  }
  if (byExternal) return { customer: byExternal };
  const customer = byIdentityId ? await storage.customers.get(byIdentityId) : undefined;
  if (!customer) throw new HubError('NOT_FOUND', `no customer with ${described(l)}`, { context: { field: 'body.customer' } });
  if (l.externalId === undefined) return { customer };
  if (customer.externalId !== null) {
    throw new HubError('CONFLICT', `${found.get(customer.id)} is customer ${customer.id}, whose externalId is "${customer.externalId}", not "${l.externalId}"`, {
      context: { field: 'body.customer.externalId' },
    });
  }
  return { customer, bindExternalId: l.externalId };
}

/** Gives the customer the business's id (after the request succeeded); a race lost to another customer is logged, not fatal. */
export async function bindExternal(storage: Storage, customer: Customer, externalId: string, log: { warn(o: object, m: string): void }): Promise<void> {
  if (!(await storage.customers.setExternalId(customer.id, externalId))) {
    log.warn({ customerId: customer.id, externalId }, 'externalId was just given to another customer; this customer keeps none');
  }
}
