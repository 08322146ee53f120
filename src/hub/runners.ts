import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChannelAdapter } from '../core/adapter.js';
import type { AgentDesk } from '../core/desk.js';
import type { HubMetrics } from '../core/metrics.js';
import type { InboundMessage } from '../core/types.js';
import type { DeskReminder, EventJob, HubQueues, OutboundJob } from '../core/queues/hub-queues.js';
import type { EventDispatcher } from '../core/queues/event-dispatcher.js';
import type { Storage } from '../core/storage/storage.js';
import { DESK_QUEUE, EVENTS_QUEUE, MAINTENANCE_QUEUE, inboundQueueName, outboundQueueName } from '../core/queues/names.js';
import { processInbound, type InboundDeps } from '../core/conversation/inbound.js';
import { processOutbound, type OutboundDeps } from '../core/conversation/outbound.js';
import type { DirectSends } from '../core/conversation/direct-sends.js';
import { errorMessage } from '../core/errors.js';
import { startWorker, steer } from './workers.js';

export interface RunnerDeps {
  redis: Redis;
  prefix: string;
  log: Logger;
  metrics: HubMetrics;
  lockMs: number;
  partitions: number;
  outboundConcurrency: number;
  storage: Storage;
  queues: HubQueues;
  dispatcher: EventDispatcher;
  inbound: InboundDeps;
  outbound: OutboundDeps;
  /** Direct sends: a send job takes a slot of its channel shared with them. */
  direct?: DirectSends;
  desk: AgentDesk | undefined;
  /** How old a pending send or an undispatched event must be before the sweep queues it again. */
  sweepAfterMs: number;
}

function common(d: RunnerDeps) {
  return { redis: d.redis, prefix: d.prefix, log: d.log, lockMs: d.lockMs };
}

/**
 * The queue workers of roles `start` and `worker`: inbound partitions (one job at a time each,
 * across processes), sends of channels that need no connection, event subscribers, desk reminders,
 * and the sweep (a BullMQ job scheduler, not a process timer).
 */
export async function startRunners(d: RunnerDeps, adapters: Iterable<ChannelAdapter>): Promise<Worker[]> {
  const workers: Worker[] = [];
  await d.queues.ensurePartitionConcurrency();
  for (let p = 0; p < d.partitions; p++) {
    workers.push(
      startWorker<InboundMessage>(inboundQueueName(p), steer('inbound', (m) => processInbound(d.inbound, m), d.log, d.metrics), {
        ...common(d),
        concurrency: 1,
      }),
    );
  }
  for (const a of adapters) if (!a.sendNeedsConnection) workers.push(...outboundWorkers(d, a.channel));
  workers.push(
    startWorker<EventJob>(EVENTS_QUEUE, steer('event', (j) => d.dispatcher.deliver(j), d.log, d.metrics), { ...common(d), concurrency: 8 }),
  );
  const desk = d.desk;
  if (desk) {
    workers.push(
      startWorker<DeskReminder>(
        DESK_QUEUE,
        steer('desk', async (j) => (j.desk === desk.name ? desk.remind(j) : d.log.warn({ desk: j.desk }, 'reminder for another desk; dropped')), d.log, d.metrics),
        { ...common(d), concurrency: 8 },
      ),
    );
  }
  workers.push(startWorker(MAINTENANCE_QUEUE, steer('sweep', () => sweep(d), d.log, d.metrics), { ...common(d), concurrency: 1 }));
  await d.queues.scheduleSweep(Math.max(1000, Math.floor(d.sweepAfterMs / 2)));
  return workers;
}

/**
 * A channel's send workers: `outboundConcurrency` sends at once, split over one BullMQ worker per
 * `SENDS_PER_WORKER`. A BullMQ worker fetches its jobs one Redis round trip after another, and on a
 * busy event loop a round trip takes milliseconds, so one worker alone let a burst of replies wait
 * for their turn to be fetched (bench/pipeline.ts at 500 msg/s: p99 of the wait 115–195 ms with one,
 * 10–45 ms with four). The send order within a conversation does not rest on the queue (the send
 * checks for an older pending reply), so more fetchers change no guarantee. With direct sends, a job
 * waits for a slot its channel shares with them, so the process never sends more than the total.
 */
export function outboundWorkers(d: RunnerDeps, channel: string): Worker[] {
  const n = Math.ceil(d.outboundConcurrency / SENDS_PER_WORKER);
  const processor = steer(
    'outbound',
    async (job: OutboundJob) => {
      await (d.direct ? d.direct.slot(channel, () => processOutbound(d.outbound, job)) : processOutbound(d.outbound, job));
    },
    d.log,
    d.metrics,
  );
  return Array.from({ length: n }, (_, i) =>
    startWorker<OutboundJob>(outboundQueueName(channel), processor, {
      ...common(d),
      // The configured total, spread evenly (the first ones take the remainder).
      concurrency: Math.floor(d.outboundConcurrency / n) + (i < d.outboundConcurrency % n ? 1 : 0),
    }),
  );
}

/** Concurrent sends per BullMQ worker of a channel (`outboundWorkers`). */
const SENDS_PER_WORKER = 16;

/** Re-queues sends whose job was lost and dispatches events left undispatched (a crash between commit and enqueue). */
async function sweep(d: RunnerDeps): Promise<void> {
  try {
    // Re-assert the ordering setting: a Redis that lost its data (restart without persistence) forgets it.
    await d.queues.ensurePartitionConcurrency();
    let retried = 0;
    for (const m of await d.storage.messages.pendingOutbound(d.sweepAfterMs)) {
      if ((await d.queues.requeueOutbound(m.channel, m.id)) === 'retried') retried++;
    }
    if (retried > 0) d.log.warn({ sends: retried }, 'sweep: sends that had failed all their attempts are tried again');
    const again = await d.queues.retryExhaustedEventJobs(d.sweepAfterMs);
    if (again > 0) d.log.warn({ jobs: again }, 'sweep: subscriber jobs that had failed all their attempts are tried again');
    const n = await d.dispatcher.sweep(d.sweepAfterMs);
    if (n > 0) d.log.info({ events: n }, 'sweep: dispatched events left undispatched');
  } catch (err) {
    d.log.warn(`sweep failed: ${errorMessage(err)}`);
  }
}
