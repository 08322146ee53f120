import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import type { ChannelAdapter } from '../adapter.js';
import type { HubMetrics } from '../metrics.js';
import type { NewEvent, StoredEvent } from '../events.js';
import type { Repos, Storage } from '../storage/storage.js';
import type { StoredMessage } from '../model.js';
import type { OutboundJob } from '../queues/hub-queues.js';
import type { AttachmentMeta } from '../types.js';
import { HubError, errorMessage, isHubError } from '../errors.js';
import { splitText } from '../pipeline/split.js';
import type { ChangeDeps } from './change.js';

export interface OutboundDeps extends ChangeDeps {
  adapter(channel: string): ChannelAdapter | undefined;
  metrics: HubMetrics;
  log: Logger;
  now(): number;
}

/** How long a reply waits for an older one of its conversation before it checks again. */
const ORDER_WAIT_MS = 50;

export type SendOutcome = { status: 'sent' | 'already-sent' } | { status: 'failed'; error: HubError };

/**
 * Sends one stored outbound row. Sends only a row not yet marked sent, records every part's platform
 * id as soon as the platform accepts it, so a retried job resumes after the last part sent.
 * The window that cannot be closed without platform idempotency keys: the process dying after the
 * platform accepted a part and before `recordSentPart` ran (one part may then be sent twice).
 * Delivery (sent, failed, identity unreachable) is recorded with its event in one transaction.
 */
export async function processOutbound(deps: OutboundDeps, job: OutboundJob): Promise<SendOutcome> {
  const { storage } = deps;
  const { row, earlier } = await sendBatchesOf(storage).read.load(job.messageId);
  if (!row) throw new HubError('NOT_FOUND', `outbound message ${job.messageId} not found`, { retry: 'final' });
  if (row.deliveryStatus === 'sent') return { status: 'already-sent' };
  if (row.deliveryStatus === 'failed') return { status: 'failed', error: new HubError('PLATFORM_REFUSED', row.error ?? 'failed') };

  // Replies of one conversation go out in the order they were decided: wait for the older ones.
  if (earlier) {
    throw new HubError('WAITING', 'an earlier reply of this conversation is still being sent', { retry: 'delay', retryAfterMs: ORDER_WAIT_MS });
  }
  const adapter = deps.adapter(row.channel);
  if (!adapter) throw new HubError('UNKNOWN_CHANNEL', `no adapter for channel ${row.channel} in this process`, { retry: 'retry' });

  const caps = adapter.capabilities;
  // A channel without attachments gets them as links in the text.
  const inline = !caps.attachments && row.attachments.length > 0 ? attachmentLines(row.attachments) : '';
  // Customers see who answers: a channel that cannot name the sender gets the name as a first line.
  const byline = row.author === 'agent' && row.authorName && !caps.authorNames ? `${row.authorName}:\n` : '';
  const parts = splitText(`${byline}${row.text}${inline}`, caps.maxTextLength);
  const sent = [...row.sentParts];
  // A threaded channel answers in the thread of the message answered when it joined a case held elsewhere
  // (`ref.threadKey`), else in the conversation's thread (one lookup, only for those channels).
  const threadKey = caps.threads ? (row.ref.threadKey ?? (await storage.conversations.get(row.conversationId))?.threadKey ?? undefined) : undefined;
  try {
    for (let i = sent.length; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const result = await adapter.send({
        id: parts.length > 1 ? `${row.id}#${i}` : row.id,
        conversationId: row.conversationId,
        ref: row.ref,
        text: parts[i] ?? '',
        author: row.author,
        ...(row.authorName ? { authorName: row.authorName } : {}),
        ...(last && row.buttons.length && caps.buttons ? { buttons: row.buttons } : {}),
        ...(last && row.attachments.length && caps.attachments ? { attachments: row.attachments } : {}),
        ...(threadKey ? { threadKey } : {}),
      });
      sent.push(result.platformMessageIds.join(',') || `${row.id}#${i}`);
      if (!last) await persistently(deps, () => storage.messages.recordSentPart(row.id, sent));
    }
  } catch (err) {
    const e = isHubError(err) ? err : new HubError('NETWORK', errorMessage(err), { cause: err, retry: 'retry' });
    deps.metrics.failures.inc({ stage: 'send', code: e.code });
    if (e.retry !== 'final') throw e;
    await recordFailure(deps, row, e);
    deps.log.warn({ messageId: row.id, channel: row.channel, code: e.code }, `send failed for good: ${e.message}`);
    return { status: 'failed', error: e };
  }
  // The platform has it now: a storage error here must not make the job send again.
  // The row records the delivery; a `message.sent` event is written with it only when someone
  // subscribes (one statement instead of a transaction per send: measured in bench/pipeline.ts).
  if (deps.dispatcher.wanted('message.sent')) {
    const events = await persistently(deps, () =>
      record(deps, row, async (tx) => {
        await tx.messages.markSent(row.id, sent);
        return [{ type: 'message.sent', actor: 'system', payload: { messageId: row.id, channel: row.channel, author: row.author } }];
      }),
    );
    await dispatchQuietly(deps, events);
  } else {
    await persistently(deps, () => sendBatchesOf(storage).sent.load({ id: row.id, platformIds: sent }));
  }
  deps.metrics.messagesOut.inc({ channel: row.channel });
  if (job.since !== undefined) deps.metrics.replyLatency.observe({ channel: row.channel }, (deps.now() - job.since) / 1000);
  return { status: 'sent' };
}

interface Read {
  row: StoredMessage | undefined;
  /** An older outbound message of its conversation is still pending. */
  earlier: boolean;
}

/**
 * What sends do side by side, batched per turn of the event loop (DataLoader): a burst of replies
 * or reminders queued together reads its rows in one query instead of one each (`read`: the row,
 * and whether an older reply of its conversation is still pending) and records its deliveries in
 * one statement of one transaction instead of one transaction each (`sent`).
 */
class SendBatches {
  /** Batches read and sends in them (benches report the ratio). */
  readonly stats = { reads: 0, messages: 0 };
  readonly read: DataLoader<string, Read>;
  readonly sent: DataLoader<{ id: string; platformIds: readonly string[] }, void>;

  constructor(storage: Storage) {
    const opts = { cache: false, maxBatchSize: 500, batchScheduleFn: (run: () => void) => setImmediate(run) } as const;
    this.read = new DataLoader(async (ids) => {
      const found = new Map((await storage.messages.forSend(ids)).map((r) => [r.row.id, r]));
      this.stats.reads++;
      this.stats.messages += ids.length;
      return ids.map((id) => found.get(id) ?? { row: undefined, earlier: false });
    }, opts);
    // One statement: on SQLite it shares a commit with other writes (storage's group commit).
    this.sent = new DataLoader(async (list) => {
      await storage.single((tx) => tx.messages.markSentMany(list));
      return list.map(() => undefined);
    }, opts);
  }
}

const batches = new WeakMap<Storage, SendBatches>();

/** The storage's send batches (one per storage). */
export function sendBatchesOf(storage: Storage): SendBatches {
  let b = batches.get(storage);
  if (!b) batches.set(storage, (b = new SendBatches(storage)));
  return b;
}

async function recordFailure(deps: OutboundDeps, row: StoredMessage, e: HubError): Promise<void> {
  const events = await record(deps, row, async (tx) => {
    await tx.messages.markFailed(row.id, `${e.code}: ${e.message}`);
    const events: NewEvent[] = [
      { type: 'message.failed', actor: 'system', payload: { messageId: row.id, channel: row.channel, author: row.author, code: e.code, error: e.message } },
    ];
    if (e.code === 'RECIPIENT_UNREACHABLE') {
      for (const identity of await tx.customers.markUnreachable(row.channel, row.ref.chatId, e.message)) {
        events.push({ type: 'identity.unreachable', actor: 'system', payload: { identityId: identity.id, channel: identity.channel, reason: e.message } });
      }
    }
    return events;
  });
  await dispatchQuietly(deps, events);
}

/** Writes a delivery outcome and its events in one transaction. */
function record(deps: OutboundDeps, row: StoredMessage, write: (tx: Repos) => Promise<NewEvent[]>): Promise<StoredEvent[]> {
  return deps.storage.transaction(async (tx) => tx.events.append(row.conversationId, row.customerId, await write(tx), (t) => deps.dispatcher.wanted(t)));
}

/** The send is recorded: a failed dispatch must not fail the job (the sweep dispatches it later). */
async function dispatchQuietly(deps: OutboundDeps, events: StoredEvent[]): Promise<void> {
  try {
    await deps.dispatcher.dispatch(events);
  } catch (err) {
    deps.log.warn(`dispatching delivery events failed; the sweep will retry: ${errorMessage(err)}`);
  }
}

function attachmentLines(files: readonly AttachmentMeta[]): string {
  return files.map((a) => `\n${a.name}${a.url ? `: ${a.url}` : ''}`).join('');
}

const PERSIST_FOR_MS = 10 * 60_000;

/**
 * Records a send that already happened, retrying storage errors (a locked or briefly unreachable
 * database) in place for up to 10 minutes instead of failing the job, which would send again.
 */
async function persistently<T>(deps: OutboundDeps, write: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() - started > PERSIST_FOR_MS) throw err;
      deps.metrics.failures.inc({ stage: 'record-send', code: 'STORAGE' });
      deps.log.warn(`recording a delivered message failed, retrying: ${errorMessage(err)}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
