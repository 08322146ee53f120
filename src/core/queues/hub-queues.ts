import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ChannelName, InboundMessage } from '../types.js';
import type { DeskJob } from '../desk.js';
import { DESK_QUEUE, inboundJobId, inboundQueueName, outboundQueueName, partitionOf } from './names.js';

export interface QueueSettings {
  prefix: string;
  partitions: number;
  attempts: number;
  backoffMs: number;
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
    await q.add('inbound', msg, { jobId });
    return { jobId };
  }

  async addOutbound(channel: ChannelName, messageId: string, since?: number): Promise<void> {
    const data: OutboundJob = since === undefined ? { messageId } : { messageId, since };
    await this.queue(outboundQueueName(channel)).add('send', data, { jobId: messageId });
  }

  async addDesk(job: DeskJob, jobId: string, delayMs = 0): Promise<void> {
    await this.queue(DESK_QUEUE).add(job.type, job, { jobId, ...(delayMs > 0 ? { delay: delayMs } : {}) });
  }

  /** Ordering guarantee: each inbound partition is processed one job at a time, across all processes. */
  async ensurePartitionConcurrency(): Promise<void> {
    for (let p = 0; p < this.settings.partitions; p++) {
      await this.queue(inboundQueueName(p)).setGlobalConcurrency(1);
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
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
