import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ChannelName, InboundMessage } from '../types.js';
import { DESK_QUEUE, EVENTS_QUEUE, MAINTENANCE_QUEUE, eventJobId, inboundJobId, inboundQueueName, outboundQueueName, partitionOf } from './names.js';

export interface QueueSettings {
  prefix: string;
  partitions: number;
  attempts: number;
  backoffMs: number;
}

/** A desk's delayed follow-up, queued for the desk named `desk`. */
export interface DeskReminder {
  desk: string;
  conversationId: string;
  key: string;
}

/** One subscriber's delivery of one conversation event. */
export interface EventJob {
  subscriber: string;
  eventId: string;
}

export interface OutboundJob {
  messageId: string;
  /** When the message that caused this reply was received (reply-latency metric). */
  since?: number;
}

/** Producer side of every queue the hub uses. One instance per process. */
export class HubQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly jobOpts: JobsOptions;
  /**
   * The ordering setting (a global concurrency of 1 per inbound partition) lives in Redis, which
   * forgets it when it restarts without persistence. Set after each (re)connection, before this
   * process queues an inbound message again.
   */
  private concurrency: Promise<void> | undefined;
  private readonly onReady = () => void this.ensurePartitionConcurrency().catch(() => undefined);
  private readonly onClose = () => {
    this.concurrency = undefined;
  };

  constructor(
    private readonly redis: Redis,
    readonly settings: QueueSettings,
  ) {
    this.jobOpts = {
      attempts: settings.attempts,
      backoff: { type: 'exponential', delay: settings.backoffMs },
      removeOnComplete: { age: 3600, count: 5000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
    redis.on('ready', this.onReady);
    redis.on('close', this.onClose);
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.settings.prefix, defaultJobOptions: this.jobOpts });
      q.on('error', () => undefined); // connection errors are retried by ioredis; readiness reports them
      this.queues.set(name, q);
    }
    return q;
  }

  /** Durably queues an inbound message; same (channel, platform id) -> same job id. */
  async addInbound(msg: InboundMessage): Promise<{ jobId: string }> {
    const partition = partitionOf(msg.channel, msg.platformUserId, this.settings.partitions);
    const jobId = inboundJobId(msg.channel, msg.platformMessageId);
    const q = this.queue(inboundQueueName(partition));
    await (this.concurrency ?? this.ensurePartitionConcurrency());
    await q.add('inbound', msg, { jobId });
    return { jobId };
  }

  async addOutbound(channel: ChannelName, messageId: string, since?: number, delayMs = 0): Promise<void> {
    const data: OutboundJob = since === undefined ? { messageId } : { messageId, since };
    await this.queue(outboundQueueName(channel)).add('send', data, { jobId: messageId, ...(delayMs > 0 ? { delay: delayMs } : {}) });
  }

  /** A direct send still running (`DirectSends`): the sweep leaves its row alone for `ttlMs`. */
  async claimSend(messageId: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.claimKey(messageId), '1', 'PX', ttlMs);
  }

  async releaseSendClaim(messageId: string): Promise<void> {
    await this.redis.del(this.claimKey(messageId));
  }

  private claimKey(messageId: string): string {
    return `${this.settings.prefix}:send-claim:${messageId}`;
  }

  /** `addOutbound` of many rows: one round trip per channel. */
  async addOutboundMany(rows: readonly { channel: ChannelName; id: string }[]): Promise<void> {
    const byChannel = new Map<ChannelName, string[]>();
    for (const r of rows) byChannel.set(r.channel, [...(byChannel.get(r.channel) ?? []), r.id]);
    for (const [channel, ids] of byChannel) {
      await this.queue(outboundQueueName(channel)).addBulk(ids.map((messageId) => ({ name: 'send', data: { messageId } satisfies OutboundJob, opts: { jobId: messageId } })));
    }
  }

  /**
   * The sweep's re-queue of a send still pending: adds its job when Redis lost it, and retries it
   * when it failed after all its attempts (a platform down for longer than the backoff lasted).
   * A plain `add` would do nothing then: the failed job keeps its id for a week. A row a live
   * direct send still claims is kept.
   */
  async requeueOutbound(channel: ChannelName, messageId: string): Promise<'added' | 'retried' | 'kept'> {
    if ((await this.redis.exists(this.claimKey(messageId))) > 0) return 'kept';
    const q = this.queue(outboundQueueName(channel));
    const job = await q.getJob(messageId);
    if (!job) {
      await q.add('send', { messageId }, { jobId: messageId });
      return 'added';
    }
    if (await job.isFailed()) {
      await job.retry('failed');
      return 'retried';
    }
    return 'kept';
  }

  /**
   * Subscriber jobs that failed all their attempts (a desk or webhook endpoint down for longer than
   * the backoff lasted) and failed at least `olderThanMs` ago are tried again: subscribers are
   * idempotent on the event id, and an effect must not wait a week for the failed job to expire.
   * Jobs failed for good (a final error) are left alone. Returns how many were retried.
   */
  async retryExhaustedEventJobs(olderThanMs: number, limit = 500): Promise<number> {
    const q = this.queue(EVENTS_QUEUE);
    const cutoff = Date.now() - olderThanMs;
    let n = 0;
    for (const job of await q.getFailed(0, limit - 1)) {
      // A final error fails the job at once, before its attempts are used up.
      const exhausted = job.attemptsMade >= (job.opts.attempts ?? 1);
      if (!exhausted || (job.finishedOn ?? 0) > cutoff) continue;
      await job.retry('failed');
      n++;
    }
    return n;
  }

  async addDeskReminder(job: DeskReminder, jobId: string, delayMs = 0): Promise<void> {
    await this.queue(DESK_QUEUE).add('remind', job, { jobId, ...(delayMs > 0 ? { delay: delayMs } : {}) });
  }

  /** Queues each event for each of its subscribers; a job id per (subscriber, event) dedupes while kept. */
  async addEventJobs(jobs: EventJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue(EVENTS_QUEUE).addBulk(
      jobs.map((j) => ({ name: j.subscriber, data: j, opts: { jobId: eventJobId(j.subscriber, j.eventId) } })),
    );
  }

  /** The repeating sweep, as a BullMQ job scheduler (durable, one schedule across processes). */
  async scheduleSweep(everyMs: number): Promise<void> {
    await this.queue(MAINTENANCE_QUEUE).upsertJobScheduler('sweep', { every: everyMs }, { name: 'sweep', opts: { removeOnComplete: true, removeOnFail: 100 } });
  }

  /** Ordering guarantee: each inbound partition is processed one job at a time, across all processes. */
  async ensurePartitionConcurrency(): Promise<void> {
    const done = Promise.all(Array.from({ length: this.settings.partitions }, (_, p) => this.queue(inboundQueueName(p)).setGlobalConcurrency(1))).then(
      () => undefined,
    );
    this.concurrency = done;
    try {
      await done;
    } catch (err) {
      if (this.concurrency === done) this.concurrency = undefined;
      throw err;
    }
  }

  async depths(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, q] of this.queues) {
      const c = await q.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      out[name] = (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
    }
    return out;
  }

  async close(): Promise<void> {
    this.redis.off('ready', this.onReady);
    this.redis.off('close', this.onClose);
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
