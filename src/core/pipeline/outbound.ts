import type { Logger } from 'pino';
import type { ChannelAdapter } from '../adapter.js';
import type { Store } from '../storage/store.js';
import { refOf } from '../storage/store.js';
import type { HubQueues, OutboundJob } from '../queues/hub-queues.js';
import type { HubMetrics } from '../metrics.js';
import type { AttachmentMeta, Button, MessageAuthor } from '../types.js';
import { HubError, errorMessage, isHubError } from '../errors.js';
import { parseJson } from '../storage/json.js';
import { splitText } from './split.js';

export interface OutboundDeps {
  store: Store;
  queues: HubQueues;
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
 */
export async function processOutbound(deps: OutboundDeps, job: OutboundJob): Promise<SendOutcome> {
  const row = await deps.store.getMessage(job.messageId);
  if (!row) throw new HubError('NOT_FOUND', `outbound message ${job.messageId} not found`, { retry: 'final' });
  if (row.delivery_status === 'sent') return { status: 'already-sent' };
  if (row.delivery_status === 'failed') return { status: 'failed', error: new HubError('PLATFORM_REFUSED', row.error ?? 'failed') };

  // Replies of one conversation go out in the order they were decided: wait for the older ones.
  if (await deps.store.hasEarlierPending(row)) {
    throw new HubError('WAITING', 'an earlier reply of this conversation is still being sent', {
      retry: 'delay',
      retryAfterMs: ORDER_WAIT_MS,
    });
  }
  const adapter = deps.adapter(row.channel);
  if (!adapter) throw new HubError('UNKNOWN_CHANNEL', `no adapter for channel ${row.channel} in this process`, { retry: 'retry' });

  const parts = splitText(row.text, adapter.capabilities.maxTextLength);
  const sent = parseJson<string[]>(row.sent_parts, []);
  const buttons = parseJson<Button[]>(row.buttons, []);
  const attachments = parseJson<AttachmentMeta[]>(row.attachments, []);
  try {
    for (let i = sent.length; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const result = await adapter.send({
        id: parts.length > 1 ? `${row.id}#${i}` : row.id,
        conversationId: row.conversation_id,
        ref: refOf(row),
        text: parts[i] ?? '',
        author: row.author as MessageAuthor,
        ...(row.author_name ? { authorName: row.author_name } : {}),
        ...(last && buttons.length && adapter.capabilities.buttons ? { buttons } : {}),
        ...(last && attachments.length ? { attachments } : {}),
      });
      sent.push(result.platformMessageIds.join(',') || `${row.id}#${i}`);
      if (!last) await persistently(deps, () => deps.store.recordSentPart(row.id, sent));
    }
  } catch (err) {
    const e = isHubError(err) ? err : new HubError('NETWORK', errorMessage(err), { cause: err, retry: 'retry' });
    deps.metrics.failures.inc({ stage: 'send', code: e.code });
    if (e.retry !== 'final') throw e;
    await deps.store.markFailed(row.id, `${e.code}: ${e.message}`);
    if (e.code === 'RECIPIENT_UNREACHABLE') {
      const ref = refOf(row);
      await deps.store.markUnreachable(row.channel, ref.chatId, e.message);
    }
    deps.log.warn({ messageId: row.id, channel: row.channel, code: e.code }, `send failed for good: ${e.message}`);
    return { status: 'failed', error: e };
  }
  // The platform has it now: a storage error here must not make the job send again.
  await persistently(deps, () => deps.store.markSent(row.id, sent));
  deps.metrics.messagesOut.inc({ channel: row.channel });
  if (job.since !== undefined) deps.metrics.replyLatency.observe({ channel: row.channel }, (deps.now() - job.since) / 1000);
  return { status: 'sent' };
}

const PERSIST_FOR_MS = 10 * 60_000;

/**
 * Records a send that already happened, retrying storage errors (a locked or briefly unreachable
 * database) in place for up to 10 minutes instead of failing the job, which would send again.
 */
async function persistently(deps: OutboundDeps, write: () => Promise<void>): Promise<void> {
  const started = Date.now();
  for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
    try {
      await write();
      return;
    } catch (err) {
      if (Date.now() - started > PERSIST_FOR_MS) throw err;
      deps.metrics.failures.inc({ stage: 'record-send', code: 'STORAGE' });
      deps.log.warn(`recording a delivered message failed, retrying: ${errorMessage(err)}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
