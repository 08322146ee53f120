import type { Logger } from 'pino';
import type { EventSubscriptions, StoredEvent } from '../events.js';
import type { Storage } from '../storage/storage.js';
import type { EventJob, HubQueues } from './hub-queues.js';

/**
 * Moves committed events from the outbox to their subscribers: one BullMQ job per (subscriber,
 * event), then the event is marked dispatched. A crash between commit and dispatch leaves the event
 * undispatched; the sweep queues it again. A job runs its subscriber once per event id: the receipt
 * is checked before and written after, and subscribers key their own effects by the event (so the
 * crash window between an effect and its receipt repeats nothing either).
 */
export class EventDispatcher {
  constructor(
    private readonly subs: EventSubscriptions,
    private readonly storage: Storage,
    private readonly queues: HubQueues,
    private readonly log: Logger,
  ) {}

  /** true when someone subscribes to `type` and wants this `payload` (else the event is written as already dispatched). */
  wanted(type: string, payload?: unknown): boolean {
    return this.subs.has(type, payload);
  }

  /** After commit: queue the events' subscriber jobs, then mark them dispatched. */
  async dispatch(events: readonly StoredEvent[]): Promise<void> {
    const pending = events.filter((e) => e.dispatchedAt === null);
    if (pending.length === 0) return;
    const jobs: EventJob[] = [];
    for (const e of pending) for (const subscriber of this.subs.subscribersOf(e.type, e.payload)) jobs.push({ subscriber, eventId: e.id });
    await this.queues.addEventJobs(jobs);
    await this.storage.events.markDispatched(pending.map((e) => e.id));
  }

  /** Events left undispatched by a crash (or a Redis outage) `olderThanMs` ago. */
  async sweep(olderThanMs: number): Promise<number> {
    const lost = await this.storage.events.undispatched(olderThanMs);
    await this.dispatch(lost);
    return lost.length;
  }

  /** Runs one subscriber on one event, at most once in effect. */
  async deliver(job: EventJob): Promise<void> {
    if (await this.storage.events.hasReceipt(job.subscriber, job.eventId)) return;
    const event = await this.storage.events.get(job.eventId);
    if (!event) {
      this.log.warn({ eventId: job.eventId, subscriber: job.subscriber }, 'event not found; skipped');
      return;
    }
    if (!(await this.subs.deliver(job.subscriber, event))) {
      this.log.warn({ eventId: event.id, type: event.type, subscriber: job.subscriber }, 'subscriber no longer handles this event type; skipped');
    }
    await this.storage.events.addReceipt(job.subscriber, job.eventId);
  }
}
