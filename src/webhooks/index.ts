/**
 * Outgoing webhooks: conversation events POSTed, signed, to the endpoints of hub.yaml's `webhooks:`.
 *
 * The subscriber (on the core's events queue) only records one delivery row per (endpoint, event)
 * and queues a job on this module's own `webhooks` queue, so a slow or dead endpoint never holds
 * up the pipeline or the other subscribers. The job POSTs; the row is the truth (pending,
 * delivered, failed; attempts; last answer), so a redelivered event or job never POSTs a
 * delivered event again. What stays open: the process dying after the endpoint answered 2xx and
 * before the row is written; that event is POSTed again and the receiver dedupes on
 * `Switchboard-Event-Id`. docs/webhooks.md has the payload, signature and retry policy.
 */
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { HubError, errorMessage } from '../core/errors.js';
import type { EventEnvelope, EventSubscriptions, EventType } from '../core/events.js';
import type { Repos, Storage } from '../core/storage/storage.js';
import type { WebhookDelivery, WebhookDeliveryStatus } from '../core/storage/webhook-deliveries.js';
import { EVENT_TYPES, endpointsOf, wants, type WebhookEndpoint, type WebhooksConfig } from './config.js';
import { WEBHOOKS_SUBSCRIBER, deliverStep, type DeliverDeps, type Next } from './deliver.js';
import { webhookBody } from './payload.js';

export { webhooksConfigSchema, type WebhooksConfig } from './config.js';
export type { WebhookDelivery, WebhookDeliveryStatus } from '../core/storage/webhook-deliveries.js';

/** This module's BullMQ queue: one job per delivery, plus the sweep's schedule. */
export const WEBHOOKS_QUEUE = 'webhooks';

interface DeliveryJob {
  deliveryId: string;
}

/**
 * How long a settled delivery (delivered or failed) stays in the delivery log before the sweep
 * deletes it. Far longer than anything that reads old rows: the order check looks 10 minutes back
 * (`ORDER_HORIZON_MS`), and an event is dispatched again only within minutes.
 */
export const SETTLED_RETENTION_MS = 30 * 86_400_000;
/** Rows per delete statement, and how long one sweep may spend deleting. */
const PRUNE_CHUNK = 1000;
const PRUNE_BUDGET_MS = 2000;

/** One BullMQ job id per delivery: queueing it again while it waits or runs adds nothing. */
const jobId = (deliveryId: string): string => `delivery-${deliveryId}`;

export interface WebhooksDeps {
  storage: Storage;
  redis: Redis;
  /** The hub's Redis key prefix (`redis.prefix`). */
  prefix: string;
  log: Logger;
  /** Job lock (`queues.lockMs`): a killed worker's delivery is taken over after about this long. */
  lockMs?: number;
  /** First retry delay (`queues.backoffMs`); doubles on each further one, up to an hour. */
  backoffMs?: number;
  /** A pending delivery whose job is this late is queued again by the sweep (runs every half of it). */
  sweepAfterMs?: number;
  /** POSTs one worker process makes at once. */
  concurrency?: number;
  now?: () => number;
}

/** The delivery log of the admin API (`GET /api/webhooks/deliveries`). */
export class WebhookDeliveries {
  static readonly MAX_LIMIT = 500;

  constructor(private readonly storage: Pick<Repos, 'webhookDeliveries'>) {}

  /**
   * The latest deliveries, newest first: of one endpoint (its name, the URL unless hub.yaml names it)
   * and in one status when given; `limit` 1..500 (default 50).
   */
  async recent(opts: { endpoint?: string | undefined; status?: WebhookDeliveryStatus | undefined; limit?: number | undefined } = {}): Promise<WebhookDelivery[]> {
    const limit = opts.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > WebhookDeliveries.MAX_LIMIT) {
      throw new HubError('INPUT_INVALID', `limit must be a whole number from 1 to ${WebhookDeliveries.MAX_LIMIT}, got ${String(opts.limit)}`);
    }
    if (opts.status !== undefined && !['pending', 'delivered', 'failed'].includes(opts.status)) {
      throw new HubError('INPUT_INVALID', `status must be pending, delivered or failed, got "${String(opts.status)}"`);
    }
    return this.storage.webhookDeliveries.recent({ endpoint: opts.endpoint, status: opts.status, limit });
  }
}

export class Webhooks {
  readonly endpoints: readonly WebhookEndpoint[];
  readonly deliveries: WebhookDeliveries;
  private readonly byName: Map<string, WebhookEndpoint>;
  private queue: Queue | undefined;
  private readonly now: () => number;

  constructor(
    config: WebhooksConfig,
    private readonly deps: WebhooksDeps,
  ) {
    this.endpoints = endpointsOf(config);
    this.byName = new Map(this.endpoints.map((e) => [e.name, e]));
    this.deliveries = new WebhookDeliveries(deps.storage);
    this.now = deps.now ?? (() => Date.now());
  }

  /** The event types some endpoint wants (nothing subscribed without endpoints: the pipeline pays nothing). */
  get types(): EventType[] {
    return EVENT_TYPES.filter((t) => this.endpoints.some((e) => wants(e, t)));
  }

  /** Registers the subscriber (every process, before any event is written). */
  subscribe(subs: EventSubscriptions): void {
    for (const type of this.types) subs.on(WEBHOOKS_SUBSCRIBER, type, (e) => this.record(e));
  }

  /** Starts the delivery worker and the sweep's schedule (roles start and worker); none without endpoints. */
  async start(): Promise<Worker[]> {
    if (this.endpoints.length === 0) return [];
    const lockMs = this.deps.lockMs ?? 30_000;
    const worker = new Worker<DeliveryJob>(WEBHOOKS_QUEUE, (job, token) => this.process(job, token), {
      connection: this.deps.redis,
      prefix: this.deps.prefix,
      concurrency: this.deps.concurrency ?? 16,
      lockDuration: lockMs,
      stalledInterval: Math.max(250, Math.floor(lockMs / 2)),
      maxStalledCount: 50,
    });
    worker.on('error', (err) => this.deps.log.warn({ queue: WEBHOOKS_QUEUE }, `worker error: ${errorMessage(err)}`));
    const every = Math.max(1000, Math.floor(this.sweepAfterMs / 2));
    await this.producer().upsertJobScheduler('sweep', { every }, { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } });
    return [worker];
  }

  async close(): Promise<void> {
    await this.queue?.close();
    this.queue = undefined;
  }

  private get sweepAfterMs(): number {
    return this.deps.sweepAfterMs ?? 60_000;
  }

  /** The subscriber: one delivery row per endpoint that wants the event, then its job. */
  private async record(e: EventEnvelope<EventType>): Promise<void> {
    const targets = this.endpoints.filter((ep) => wants(ep, e.type));
    if (targets.length === 0) return;
    const body = await webhookBody(this.deps.storage, e);
    const pending: string[] = [];
    for (const ep of targets) {
      const { delivery } = await this.deps.storage.webhookDeliveries.record({
        endpoint: ep.name,
        eventId: e.id,
        eventType: e.type,
        conversationId: e.conversationId,
        body,
      });
      if (delivery.status === 'pending') pending.push(delivery.id);
    }
    await this.enqueue(pending);
  }

  /** Queues each delivery's job; a job still queued under its id is left as it is. */
  private async enqueue(deliveryIds: readonly string[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    await this.producer().addBulk(deliveryIds.map((id) => ({ name: 'deliver', data: { deliveryId: id }, opts: { jobId: jobId(id) } })));
  }

  private producer(): Queue {
    if (!this.queue) {
      this.queue = new Queue(WEBHOOKS_QUEUE, {
        connection: this.deps.redis,
        prefix: this.deps.prefix,
        // A finished job leaves no id behind: the sweep and redelivered events may queue the delivery
        // again, and the row (delivered or failed) makes that job do nothing.
        defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 5, backoff: { type: 'exponential', delay: 1000 } },
      });
      this.queue.on('error', () => undefined); // ioredis reconnects; readiness reports Redis
    }
    return this.queue;
  }

  private deliverDeps(): DeliverDeps {
    return {
      storage: this.deps.storage,
      log: this.deps.log,
      endpoint: (name) => this.byName.get(name),
      backoffMs: this.deps.backoffMs ?? 1000,
      now: this.now,
    };
  }

  private async process(job: Job<DeliveryJob>, token: string | undefined): Promise<void> {
    if (job.name === 'sweep') return this.sweep();
    let next: Next;
    try {
      next = await deliverStep(this.deliverDeps(), job.data.deliveryId);
    } catch (err) {
      // Storage trouble (the POST's own failures are outcomes, not errors): look again shortly.
      this.deps.log.warn({ deliveryId: job.data.deliveryId }, `webhook delivery step failed, retrying: ${errorMessage(err)}`);
      next = { done: false, ms: 5000 };
    }
    if (next.done) {
      if (next.settled) await this.wakeNext(next.settled);
      return;
    }
    if (!token) throw new HubError('INTERNAL', 'webhook job without a lock token');
    // The wait lives in Redis (durable), not in a timer of this process.
    await job.moveToDelayed(Date.now() + next.ms, token);
    throw new DelayedError();
  }

  /**
   * Lets the delivery that `settled` held back go now instead of at its next check. Only one that
   * was never attempted: it waits for order alone, never for a retry's backoff.
   */
  private async wakeNext(settled: WebhookDelivery): Promise<void> {
    try {
      const next = await this.deps.storage.webhookDeliveries.nextPending(settled);
      if (!next || next.attempts > 0) return;
      const job = await this.producer().getJob(jobId(next.id));
      if (job && (await job.isDelayed())) await job.promote();
    } catch {
      // It goes at its next check anyway (a job that just became active cannot be promoted).
    }
  }

  /**
   * Queues again the pending deliveries whose job is overdue (lost with a Redis that forgot it), and
   * deletes the settled ones older than `SETTLED_RETENTION_MS` (the delivery log keeps 30 days).
   */
  private async sweep(): Promise<void> {
    try {
      const late = await this.deps.storage.webhookDeliveries.overdue(this.now() - this.sweepAfterMs);
      await this.enqueue(late.map((d) => d.id));
      if (late.length > 0) this.deps.log.debug({ deliveries: late.length }, 'webhooks sweep: overdue deliveries queued again');
    } catch (err) {
      this.deps.log.warn(`webhooks sweep failed: ${errorMessage(err)}`);
    }
    try {
      const pruned = await this.prune();
      if (pruned > 0) this.deps.log.info({ deliveries: pruned }, 'webhooks sweep: settled deliveries past their retention deleted');
    } catch (err) {
      this.deps.log.warn(`webhooks sweep could not delete old deliveries: ${errorMessage(err)}`);
    }
  }

  /** Chunks of `PRUNE_CHUNK` (each its own statement) until none is left or the sweep's budget is spent. */
  private async prune(): Promise<number> {
    const before = this.now() - SETTLED_RETENTION_MS;
    const until = performance.now() + PRUNE_BUDGET_MS;
    let total = 0;
    for (;;) {
      const n = await this.deps.storage.webhookDeliveries.pruneSettled(before, PRUNE_CHUNK);
      total += n;
      if (n < PRUNE_CHUNK || performance.now() > until) return total;
    }
  }
}
