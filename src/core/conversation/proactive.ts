import type { NewEvent, ProactiveKind, StoredEvent } from '../events.js';
import type { Conversation, Identity, NewOutbound, StoredMessage } from '../model.js';
import type { AttachmentMeta, Button, ChannelName, ConversationRef } from '../types.js';
import { HubError } from '../errors.js';
import { isUniqueViolation } from '../storage/rows.js';
import type { Repos } from '../storage/storage.js';
import { afterCommit, requeuePending, type ChangeDeps } from './change.js';

export interface ProactiveContent {
  text: string;
  buttons?: Button[];
  attachments?: AttachmentMeta[];
}

export interface ProactiveRequest {
  customerId: string;
  content: ProactiveContent;
  /** Channels to try, in order (default: the preferred channel, then the most recently used ones). */
  channels?: readonly ChannelName[];
  kind: ProactiveKind;
  /** Idempotency key: the same key twice sends once. */
  key: string;
  /** Write in this conversation, on the channel the customer last used in it (the desk's notices). */
  conversationId?: string;
}

export interface ProactiveResult {
  messageId: string;
  conversationId: string;
  channel: ChannelName;
  /** true when `key` had been used before (nothing new was stored). */
  duplicate: boolean;
}

export interface ProactiveDeps extends ChangeDeps {
  /** true when this hub has an adapter for `channel`. */
  available(channel: ChannelName): boolean;
}

/**
 * Writes to a customer first (reminders, alerts, desk notices, identity codes, the API's messages):
 * the Bot Framework's `continueConversation`. Every identity keeps its latest `ConversationRef`;
 * this picks one and stores the outbound row with a `message.queued` event in one transaction.
 */
export class Proactive {
  constructor(private readonly d: ProactiveDeps) {}

  async sendToCustomer(req: ProactiveRequest): Promise<ProactiveResult> {
    const { storage } = this.d;
    const dedupeKey = `proactive:${req.key}`;
    const existing = await storage.messages.byKey(dedupeKey);
    if (existing) return this.again(existing);
    const target = req.conversationId ? await this.inConversation(req.conversationId, req.customerId) : await this.pick(req);
    let stored: StoredProactive;
    try {
      stored = await storage.transaction((tx) =>
        storeProactive(this.d, tx, { customerId: req.customerId, ref: target.ref, content: req.content, dedupeKey, kind: req.kind, key: req.key }, target.conversation),
      );
    } catch (err) {
      // A concurrent call with the same key won the unique key.
      const again = isUniqueViolation(err) ? await storage.messages.byKey(dedupeKey) : undefined;
      if (again) return this.again(again);
      throw err;
    }
    await afterCommit(this.d, [stored.row], stored.events);
    return { messageId: stored.row.id, conversationId: stored.conversation.id, channel: stored.row.channel, duplicate: false };
  }

  /** A repeated key: re-queue a row still pending (its job may be lost), store nothing new. */
  private async again(m: StoredMessage): Promise<ProactiveResult> {
    await requeuePending(this.d, m);
    return { messageId: m.id, conversationId: m.conversationId, channel: m.channel, duplicate: true };
  }

  private async inConversation(conversationId: string, customerId: string): Promise<{ conversation: Conversation; ref: ConversationRef }> {
    const { storage } = this.d;
    const conversation = await storage.conversations.get(conversationId);
    if (!conversation || conversation.customerId !== customerId) {
      throw new HubError('NOT_FOUND', `conversation ${conversationId} of customer ${customerId} not found`);
    }
    return { conversation, ref: await replyRef(this.d, conversation) };
  }

  /** The customer's channels in the order to try, skipping unreachable identities and absent adapters. */
  private async pick(req: ProactiveRequest): Promise<{ conversation?: undefined; ref: ConversationRef }> {
    const { storage } = this.d;
    const customer = await storage.customers.get(req.customerId);
    if (!customer) throw new HubError('NOT_FOUND', `customer ${req.customerId} not found`);
    const identities = await storage.customers.identitiesOf(customer.id);
    const usable = (i: Identity) => i.unreachableAt === null && this.d.available(i.channel);
    let order: ChannelName[];
    if (req.channels?.length) order = [...req.channels];
    else {
      const seen = (await storage.customers.lastSeenByChannel(customer.id)).map((s) => s.channel);
      order = [...(customer.preferredChannel ? [customer.preferredChannel] : []), ...seen, ...identities.map((i) => i.channel)];
    }
    for (const channel of order) {
      const candidates = identities.filter((i) => i.channel === channel && usable(i)).sort((a, b) => b.updatedAt - a.updatedAt);
      const first = candidates[0];
      if (first) return { ref: first.lastRef };
    }
    const tried = [...new Set(order)].join(', ') || 'none';
    throw new HubError('RECIPIENT_UNREACHABLE', `customer ${customer.id} has no reachable identity on the channels tried (${tried})`, {
      retry: 'final',
      context: { customerId: customer.id, tried },
    });
  }
}

export interface StoredProactive {
  row: StoredMessage;
  events: StoredEvent[];
  conversation: Conversation;
}

/**
 * Stores one proactive outbound row and its `message.queued` event in `tx`: in `conversation`, else
 * the customer's open conversation on the ref's channel, else a new one. The caller queues it after commit.
 */
export async function storeProactive(
  d: Pick<ChangeDeps, 'dispatcher'>,
  tx: Repos,
  s: { customerId: string; ref: ConversationRef; content: ProactiveContent; dedupeKey: string; kind: ProactiveKind; key: string },
  conversation?: Conversation,
): Promise<StoredProactive> {
  const conv = conversation ?? (await tx.conversations.openOn(s.customerId, s.ref.channel)) ?? (await tx.conversations.create(s.customerId, s.ref.channel, null));
  const row = await tx.messages.insertOutbound(proactiveOutbound(conv.id, s));
  const events = await tx.events.append(conv.id, s.customerId, [queuedEvent(row, s)], (t, p) => d.dispatcher.wanted(t, p));
  return { row, events, conversation: conv };
}

/** The outbound row of a proactive message in conversation `conversationId` (written by the system). */
export function proactiveOutbound(conversationId: string, s: { customerId: string; ref: ConversationRef; content: ProactiveContent; dedupeKey: string }): NewOutbound {
  return {
    conversationId,
    customerId: s.customerId,
    channel: s.ref.channel,
    ref: s.ref,
    author: 'system',
    text: s.content.text,
    ...(s.content.buttons?.length ? { buttons: s.content.buttons } : {}),
    ...(s.content.attachments?.length ? { attachments: s.content.attachments } : {}),
    dedupeKey: s.dedupeKey,
  };
}

/** The `message.queued` event of a proactive message's row. */
export function queuedEvent(row: StoredMessage, s: { kind: ProactiveKind; key: string }): NewEvent {
  return { type: 'message.queued', actor: 'system', payload: { messageId: row.id, kind: s.kind, key: s.key, channel: row.channel } };
}

/**
 * Where replies of a conversation go: the ref of the customer's latest message in it, else the
 * latest ref of the customer's identity on the conversation's channel.
 */
export async function replyRef(d: Pick<ChangeDeps, 'storage'>, c: Conversation): Promise<ConversationRef> {
  const lastIn = await d.storage.messages.lastInbound(c.id);
  if (lastIn) return lastIn.ref;
  const ids = await d.storage.customers.identitiesOf(c.customerId);
  const id = ids.find((i) => i.channel === c.channel) ?? ids[0];
  if (!id) throw new HubError('NOT_FOUND', `customer of conversation ${c.id} has no identity`);
  return id.lastRef;
}
