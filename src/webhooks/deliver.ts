import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { Storage } from '../core/storage/storage.js';
import type { WebhookDelivery } from '../core/storage/webhook-deliveries.js';
import type { WebhookEndpoint } from './config.js';
import { postDelivery } from './post.js';

/** The subscriber name: keys the receipts of the events this module has recorded. Keep it stable. */
export const WEBHOOKS_SUBSCRIBER = 'webhooks';
/** How long a delivery is retried after its event was recorded; then it fails for good. */
export const RETRY_WINDOW_MS = 24 * 3600_000;
/** Longest wait between two attempts (exponential backoff is capped here). */
export const MAX_BACKOFF_MS = 3600_000;
/** A Retry-After shorter than this is waited for this long (no tight loops on "Retry-After: 0"). */
const MIN_RETRY_AFTER_MS = 1000;
/** An older event of the conversation whose deliveries are not recorded yet is waited for while younger than this. */
export const ORDER_HORIZON_MS = 10 * 60_000;
/** Wait between two checks while an older delivery is being attempted or recorded. */
const ORDER_POLL_MS = 200;
/** Longest single wait behind an older delivery (its next attempt may come sooner than planned). */
const ORDER_MAX_WAIT_MS = 60_000;

export interface DeliverDeps {
  storage: Storage;
  log: Logger;
  endpoint(name: string): WebhookEndpoint | undefined;
  /** First retry delay; doubles on each further one, up to an hour. */
  backoffMs: number;
  now(): number;
}

/**
 * What the job does next: nothing (the delivery is settled: `settled` when this step settled it,
 * so the next one of its conversation may go at once), or run again after `ms`.
 */
export type Next = { done: true; settled?: WebhookDelivery } | { done: false; ms: number };

const DONE: Next = { done: true };

/** Backoff before attempt `attempt + 1` after `attempt` failed ones. */
export function backoff(baseMs: number, attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

/**
 * One step of a delivery: nothing once it is settled; wait while an older delivery of the same
 * (endpoint, conversation) is not settled; else POST once and record the outcome. Network errors,
 * 5xx and 429 are retried with exponential backoff (429/503: after the endpoint's Retry-After) for
 * 24 h from the event; any other 4xx (or a redirect) fails at once, as does a retry past the 24 h.
 */
export async function deliverStep(deps: DeliverDeps, deliveryId: string): Promise<Next> {
  const repo = deps.storage.webhookDeliveries;
  const d = await repo.get(deliveryId);
  if (!d || d.status !== 'pending') return DONE;
  const log = deps.log.child({ webhook: d.endpoint, eventId: d.eventId, eventType: d.eventType, deliveryId: d.id });
  const endpoint = deps.endpoint(d.endpoint);
  if (!endpoint) {
    await repo.settle(d.id, { status: 'failed', attempted: false, error: `endpoint "${d.endpoint}" is no longer in hub.yaml (webhooks)` });
    log.warn('webhook delivery dropped: its endpoint is no longer configured');
    return DONE;
  }
  const now = deps.now();
  const deadline = d.createdAt + RETRY_WINDOW_MS;

  const wait = await orderWait(deps, d, endpoint, now);
  if (wait !== undefined) {
    if (now >= deadline) {
      await repo.settle(d.id, { status: 'failed', attempted: false, error: 'gave up after 24 h waiting for an older delivery of this conversation' });
      log.warn('webhook delivery failed for good: an older delivery of its conversation was still pending after 24 h');
      return DONE;
    }
    // A long wait shows in the delivery log (and keeps the sweep from re-queueing a job that exists).
    if (wait >= 1000) await repo.postpone(d.id, now + wait);
    return { done: false, ms: wait };
  }

  // Signed with the wall clock: the receiver compares the timestamp with its own.
  const result = await postDelivery(endpoint, d.eventId, d.body, Date.now());
  if (result.kind === 'delivered') {
    // The endpoint has it: a storage error now must not make the job POST again.
    await persistently(deps, () => repo.settle(d.id, { status: 'delivered', attempted: true, statusCode: result.statusCode, error: null }));
    log.debug({ statusCode: result.statusCode, attempt: d.attempts + 1 }, 'webhook delivered');
    return { done: true, settled: d };
  }
  if (result.kind === 'final') {
    await repo.settle(d.id, { status: 'failed', attempted: true, statusCode: result.statusCode, error: result.error });
    log.warn({ statusCode: result.statusCode, attempt: d.attempts + 1 }, `webhook refused, not retried: ${result.error}`);
    return { done: true, settled: d };
  }
  const delay = result.retryAfterMs !== undefined ? Math.max(MIN_RETRY_AFTER_MS, result.retryAfterMs) : backoff(deps.backoffMs, d.attempts + 1);
  const next = deps.now() + delay;
  if (next > deadline) {
    const error = `${result.error} (gave up: the next try would be more than 24 h after the event)`;
    await repo.settle(d.id, { status: 'failed', attempted: true, statusCode: result.statusCode, error });
    log.warn({ statusCode: result.statusCode, attempt: d.attempts + 1 }, `webhook failed for good after 24 h: ${result.error}`);
    return { done: true, settled: d };
  }
  await repo.settle(d.id, { status: 'pending', attempted: true, statusCode: result.statusCode, error: result.error, nextAttemptAt: next });
  log.info({ statusCode: result.statusCode, attempt: d.attempts + 1, retryInMs: delay }, `webhook failed, will retry: ${result.error}`);
  return { done: false, ms: delay };
}

/** How long to wait for an older delivery of the same (endpoint, conversation); undefined: go. */
async function orderWait(deps: DeliverDeps, d: WebhookDelivery, endpoint: WebhookEndpoint, now: number): Promise<number | undefined> {
  const blocker = await deps.storage.webhookDeliveries.blocker(d, { types: endpoint.types, subscriber: WEBHOOKS_SUBSCRIBER, horizonMs: ORDER_HORIZON_MS });
  if (!blocker) return undefined;
  if (blocker.kind === 'unrecorded' || blocker.nextAttemptAt === null) return ORDER_POLL_MS;
  return Math.min(ORDER_MAX_WAIT_MS, Math.max(ORDER_POLL_MS, blocker.nextAttemptAt - now + ORDER_POLL_MS));
}

const PERSIST_FOR_MS = 60_000;

/** Records a delivery that happened, retrying storage errors in place for up to a minute. */
async function persistently<T>(deps: DeliverDeps, write: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() - started > PERSIST_FOR_MS) throw err;
      deps.log.warn(`recording a delivered webhook failed, retrying: ${errorMessage(err)}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
