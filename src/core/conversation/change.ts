import type { Conversation, ConversationPatch, NewOutbound, StoredMessage } from '../model.js';
import type { NewEvent, StoredEvent } from '../events.js';
import type { Repos, Storage } from '../storage/storage.js';
import type { EventDispatcher } from '../queues/event-dispatcher.js';
import type { HubQueues } from '../queues/hub-queues.js';
import { HubError } from '../errors.js';
import { writeChange, type ChangeWrite, type ChangeWritten } from '../storage/change-write.js';

/** An outbound message decided with a change: the conversation and customer are filled in. */
export type Reply = Omit<NewOutbound, 'conversationId' | 'customerId'>;

/** What a change does to a conversation, decided as data. */
export interface Change<E = undefined> {
  patch: ConversationPatch;
  /** The events; a function of the stored replies when an event names one. */
  events: NewEvent[] | ((replies: readonly StoredMessage[]) => NewEvent[]);
  replies?: Reply[];
  /** The inbound message this change answers: marked processed in the same commit. */
  processed?: string;
  /** More writes in the same transaction. A change without them commits in one statement on PostgreSQL. */
  effect?: (tx: Repos, c: Conversation) => Promise<E>;
}

export interface Changed<E> {
  /** The conversation after the change (as decided on, with the patch applied). */
  conversation: Conversation;
  /** false when `decide` returned null (nothing to do). */
  changed: boolean;
  replies: StoredMessage[];
  /** The events that were queued for subscribers (events nobody subscribes to are only stored). */
  events: StoredEvent[];
  effect?: E;
}

export interface ChangeDeps {
  storage: Storage;
  queues: HubQueues;
  dispatcher: EventDispatcher;
  /** Test hook: runs between commit and dispatch (a crash test kills the process here). */
  afterCommitHook?: () => void;
  /** Sends a commit's replies from this process when it can (`DirectSends`); else they are queued. */
  direct?: { take(rows: readonly StoredMessage[], since?: number): boolean; mayHold(row: StoredMessage): boolean };
}

const MAX_TRIES = 8;

/**
 * The one compare-and-set for conversations (pipeline, agent actions, desks): `decide` sees the
 * fresh conversation and returns the change, or null for none. The patch, events, replies and
 * `effect` commit in one transaction only if nobody moved the conversation meanwhile (else `decide`
 * runs again on the fresh one); after commit the replies are queued and the events dispatched.
 */
export async function changeConversation<E = undefined>(
  deps: ChangeDeps,
  start: string | Conversation,
  decide: (c: Conversation) => Promise<Change<E> | null> | Change<E> | null,
  opts: { since?: number } = {},
): Promise<Changed<E>> {
  const { storage } = deps;
  let c = typeof start === 'string' ? await getConversation(storage, start) : start;
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const change = await decide(c);
    if (!change) return { conversation: c, changed: false, replies: [], events: [] };
    const conv = c;
    const write: ChangeWrite = {
      conversation: conv,
      patch: change.patch,
      replies: (change.replies ?? []).map((r) => ({ ...r, conversationId: conv.id, customerId: conv.customerId })),
      events: change.events,
      wanted: (t, p) => deps.dispatcher.wanted(t, p),
      processed: change.processed,
    };
    const effect = change.effect;
    const done: (ChangeWritten & { effect?: E }) | null = effect
      ? await storage.transaction(async (tx) => {
          const written = await writeChange(tx, write);
          return written && { ...written, effect: await effect(tx, conv) };
        })
      : await storage.writeChange(write);
    if (done) {
      deps.afterCommitHook?.();
      await afterCommit(deps, done.replies, done.events, opts.since);
      const conversation: Conversation = { ...conv, ...change.patch, version: conv.version + 1 };
      return { conversation, changed: true, replies: done.replies, events: done.events, ...(done.effect !== undefined ? { effect: done.effect } : {}) };
    }
    c = await getConversation(storage, conv.id);
  }
  throw new HubError('VERSION_CONFLICT', `conversation ${c.id} kept changing; will retry`, { retry: 'retry' });
}

/** Sends or queues what a commit decided, then queues the events' subscriber jobs. */
export async function afterCommit(deps: ChangeDeps, replies: readonly StoredMessage[], events: readonly StoredEvent[], since?: number): Promise<void> {
  if (replies.length > 0 && !deps.direct?.take(replies, since)) for (const row of replies) await deps.queues.addOutbound(row.channel, row.id, since);
  await deps.dispatcher.dispatch(events);
}

/**
 * Queues a reply found still pending again (a redelivered message, a request repeated with its key),
 * unless a direct send may still hold it: the sweep queues that one if it stays pending.
 */
export async function requeuePending(deps: ChangeDeps, row: StoredMessage): Promise<void> {
  if (row.deliveryStatus !== 'pending' || deps.direct?.mayHold(row)) return;
  await deps.queues.addOutbound(row.channel, row.id);
}

async function getConversation(storage: Storage, id: string): Promise<Conversation> {
  const c = await storage.conversations.get(id);
  if (!c) throw new HubError('NOT_FOUND', `conversation ${id} not found`, { retry: 'final' });
  return c;
}
