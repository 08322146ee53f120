import type { Conversation, Customer, Identity, StoredMessage } from '../model.js';
import type { Repos, Storage } from '../storage/storage.js';
import type { Capabilities, InboundMessage } from '../types.js';
import { detectLocale } from '../locale.js';
import { HubError } from '../errors.js';
import { inboundKey } from '../storage/messages.js';
import { awaitingCsat, csatScore } from './csat.js';
import { changeConversation, requeuePending, type ChangeDeps } from './change.js';
import type { Plan, Turn } from './turn.js';

export interface InboundDeps extends ChangeDeps {
  /** The composed turn chain (`composeTurn`). */
  turn(turn: Turn): Promise<Plan>;
  /** The channel's declared capabilities (undefined: unknown channel). */
  capabilities(channel: string): Capabilities | undefined;
  reopenWindowMs: number;
  now(): number;
}

export interface RecordedInbound {
  message: StoredMessage;
  /** true when this (channel, platform message id) had been stored before. */
  duplicate: boolean;
  customer: Customer;
  identity: Identity;
  conversation: Conversation;
}

/**
 * Handles one inbound message exactly once in effect: stored once (unique key), decided once (the
 * conversation's compare-and-set), replies and events written in the same transaction that marks it
 * processed. A redelivery of a processed message only re-queues what that processing left unsent.
 */
export async function processInbound(deps: InboundDeps, msg: InboundMessage): Promise<void> {
  const threads = deps.capabilities(msg.channel)?.threads === true;
  const score = csatScore(msg);
  const rec = await recordInbound(deps.storage, msg, {
    ...(threads && msg.threadKey !== undefined ? { threadKey: msg.threadKey } : {}),
    reopenWindowMs: deps.reopenWindowMs,
    keepResolved: (c) => score !== undefined && awaitingCsat(c, deps.now()),
  });
  if (rec.duplicate && rec.message.processedAt !== null) {
    await requeueEffects(deps, rec.message);
    return;
  }
  const locale = detectLocale(msg.text, rec.customer.locale ?? msg.locale);
  await changeConversation(
    deps,
    rec.conversation,
    async (conversation) => {
      const plan = await deps.turn({ msg, message: rec.message, customer: rec.customer, identity: rec.identity, conversation, locale });
      return {
        patch: plan.patch,
        events: [
          {
            type: 'message.received',
            actor: 'customer',
            payload: { messageId: rec.message.id, channel: msg.channel, toAgent: plan.toAgent === true, ...(msg.noReply !== undefined ? { noReply: true } : {}) },
          },
          ...plan.events,
        ],
        replies: plan.replies.map((r) => ({ ...r, channel: msg.channel, ref: rec.message.ref, causedBy: rec.message.id })),
        processed: rec.message.id,
      };
    },
    { since: msg.receivedAt },
  );
}

/**
 * Stores an inbound message once per (channel, platform message id), with its identity and
 * conversation (routed by thread key when given), all or nothing.
 */
export async function recordInbound(
  storage: Storage,
  msg: InboundMessage,
  routing: { threadKey?: string; reopenWindowMs: number; keepResolved?: (c: Conversation) => boolean },
): Promise<RecordedInbound> {
  // A thread's message that joined a case held elsewhere keeps its thread for the answers (`ref.threadKey`).
  const t = routing.threadKey;
  const insert = (tx: Repos, customer: Customer, conversation: Conversation) => {
    const joined = t !== undefined && (conversation.channel !== msg.channel || conversation.threadKey !== t);
    return tx.messages.insertInbound(joined ? { ...msg, ref: { ...msg.ref, threadKey: t } } : msg, conversation.id, customer.id);
  };
  // PostgreSQL: a known sender in a conversation that exists needs the message row only, and a
  // sender nobody knows needs four rows that one statement writes (`writeFirstMessage`); either way
  // no BEGIN and COMMIT. The reads before see what a transaction at READ COMMITTED would (each
  // statement its own snapshot; no lock taken either way). SQLite keeps the transaction: there it
  // holds the write lock from the first read, and it shares a commit anyway. A known sender read
  // here is not read again in the transaction below.
  let known: { customer: Customer; identity: Identity } | undefined;
  if (storage.dialect === 'postgres') {
    const thread = t === undefined ? undefined : { channel: msg.channel, threadKey: t };
    const found = await storage.customers.known(msg, (customerId) => storage.conversations.latestQuery(customerId, thread));
    if (found === 'absent') {
      // A sender nobody knows: everything in one statement. Someone was first (the same sender's
      // other message, or this one redelivered): the transaction below reads what they wrote.
      const first = await storage.writeFirstMessage(msg, t ?? null);
      if (first) return { ...first, duplicate: false };
    }
    if (typeof found === 'object') {
      const { customer, identity } = found;
      const conversation = storage.conversations.pick(found.latest, { customerId: customer.id, channel: msg.channel, ...routing });
      if (conversation) {
        const message = await insert(storage, customer, conversation);
        if (message) return { message, duplicate: false, customer, identity, conversation };
        return readBack(storage, msg);
      }
      known = { customer, identity };
    }
  }
  // The common case, a new message, costs no lookup of the key: the insert finds a duplicate.
  const fresh = await storage.transaction(async (tx) => {
    const { customer, identity, created } = known ? { ...known, created: false } : await tx.customers.resolve(msg);
    const route = { customerId: customer.id, channel: msg.channel, ...routing, nothingToJoin: created || known !== undefined };
    const { conversation } = await tx.conversations.route(route);
    const message = await insert(tx, customer, conversation);
    // A redelivery: undo what routing may have created, then read the stored message below.
    if (!message) throw DUPLICATE;
    return { message, duplicate: false, customer, identity, conversation };
  }).catch((err: unknown) => {
    if (err === DUPLICATE) return undefined;
    throw err;
  });
  return fresh ?? readBack(storage, msg);
}

/** A redelivered message: the stored row, its sender and its conversation. */
function readBack(storage: Storage, msg: InboundMessage): Promise<RecordedInbound> {
  return storage.transaction(async (tx) => {
    const { customer, identity } = await tx.customers.resolve(msg);
    const message = await tx.messages.byKey(inboundKey(msg));
    const conversation = message ? await tx.conversations.get(message.conversationId) : undefined;
    if (!message || !conversation) throw new HubError('STORAGE', `inbound message ${inboundKey(msg)} is stored but cannot be read back`, { retry: 'retry' });
    return { message, duplicate: true, customer, identity, conversation };
  });
}

const DUPLICATE = new Error('duplicate inbound message');

/** After a crash between commit and enqueue: queue again what the processing decided. */
async function requeueEffects(deps: InboundDeps, inbound: StoredMessage): Promise<void> {
  for (const row of await deps.storage.messages.causedBy(inbound.id)) {
    await requeuePending(deps, row);
  }
  const events = await deps.storage.events.ofConversation(inbound.conversationId);
  await deps.dispatcher.dispatch(events.filter((e) => e.dispatchedAt === null));
}
