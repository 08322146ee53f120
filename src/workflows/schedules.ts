/**
 * Cron triggers: each workflow with `trigger: { cron, timezone }` is a BullMQ job scheduler
 * `cron:<workflow>` (pattern + tz) on the queue `workflows-schedule`, never a process timer. Every
 * process with a step worker upserts the same schedulers (upsert is idempotent), and removes the
 * `cron:` schedulers of workflows no longer loaded (a file deleted or its trigger changed), at
 * start and after a hot reload. A tick starts one run, keyed `cron:<workflow>:<tick job id>`: a
 * redelivered tick starts nothing twice. A scheduled run has no customer.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { Workflow } from './types.js';

export const WORKFLOWS_SCHEDULE_QUEUE = 'workflows-schedule';
const PREFIX = 'cron:';

export interface ScheduleTick {
  workflow: string;
}

export interface SchedulesDeps {
  redis: Redis;
  prefix: string;
  log: Logger;
  /** Starts the run of a tick (idempotent on `key`). */
  tick(workflow: string, key: string, at: number): Promise<void>;
}

export class WorkflowSchedules {
  private queue: Queue | undefined;

  constructor(private readonly d: SchedulesDeps) {}

  /** The tick worker, the schedulers set to these workflows. */
  async start(workflows: readonly Workflow[]): Promise<Worker> {
    const worker = new Worker<ScheduleTick>(WORKFLOWS_SCHEDULE_QUEUE, (job) => this.run(job), { connection: this.d.redis, prefix: this.d.prefix, concurrency: 4 });
    worker.on('error', (err) => this.d.log.warn({ queue: WORKFLOWS_SCHEDULE_QUEUE }, `worker error: ${errorMessage(err)}`));
    await this.sync(workflows);
    return worker;
  }

  /** One scheduler per cron workflow, none for any other. */
  async sync(workflows: readonly Workflow[]): Promise<void> {
    const q = this.producer();
    const wanted = new Set<string>();
    for (const w of workflows) {
      if (w.trigger.kind !== 'schedule') continue;
      const id = `${PREFIX}${w.name}`;
      wanted.add(id);
      await q.upsertJobScheduler(id, { pattern: w.trigger.cron, tz: w.trigger.timezone }, { name: w.name, data: { workflow: w.name } });
    }
    for (const s of await q.getJobSchedulers(0, -1)) {
      const id = s.key;
      if (id.startsWith(PREFIX) && !wanted.has(id)) {
        await q.removeJobScheduler(id);
        this.d.log.info({ scheduler: id }, 'workflow schedule removed (its workflow is gone or no longer on a cron)');
      }
    }
  }

  async close(): Promise<void> {
    await this.queue?.close();
    this.queue = undefined;
  }

  private async run(job: Job<ScheduleTick>): Promise<void> {
    await this.d.tick(job.data.workflow, `cron:${job.data.workflow}:${job.id ?? job.timestamp}`, job.timestamp);
  }

  private producer(): Queue {
    if (!this.queue) {
      this.queue = new Queue(WORKFLOWS_SCHEDULE_QUEUE, { connection: this.d.redis, prefix: this.d.prefix, defaultJobOptions: { removeOnComplete: 100, removeOnFail: 100, attempts: 5, backoff: { type: 'exponential', delay: 1000 } } });
      this.queue.on('error', () => undefined);
    }
    return this.queue;
  }
}
