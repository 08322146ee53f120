import { DelayedError, UnrecoverableError, Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { HubError, errorMessage, isHubError } from '../core/errors.js';
import type { HubMetrics } from '../core/metrics.js';

/**
 * Wraps a processor so our error classes steer BullMQ: `final` -> never retried, `delay` -> moved
 * back to delayed for the platform's wait (no attempt spent), anything else -> retried with backoff.
 */
export function steer<T>(stage: string, fn: (data: T, job: Job<T>) => Promise<void>, log: Logger, metrics: HubMetrics): Processor<T> {
  return async (job, token) => {
    const started = Date.now();
    // The wait of a first attempt: retries and jobs moved back to delayed wait on purpose.
    if (job.attemptsMade === 0 && job.timestamp > 0) metrics.jobWait.observe({ stage }, Math.max(0, started - job.timestamp - (job.delay ?? 0)) / 1000);
    try {
      await fn(job.data, job);
    } catch (err) {
      const code = isHubError(err) ? err.code : 'INTERNAL';
      if (code !== 'WAITING') metrics.failures.inc({ stage, code });
      if (isHubError(err) && err.retry === 'delay' && token) {
        await job.moveToDelayed(Date.now() + (err.retryAfterMs ?? 1000), token);
        throw new DelayedError();
      }
      log.warn({ stage, jobId: job.id, attempt: job.attemptsMade + 1, code }, `job failed: ${errorMessage(err)}`);
      if (isHubError(err) && err.retry === 'final') throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err instanceof Error ? err : new HubError('INTERNAL', errorMessage(err));
    } finally {
      metrics.jobRun.observe({ stage }, (Date.now() - started) / 1000);
    }
  };
}

export function startWorker<T>(
  name: string,
  processor: Processor<T>,
  opts: { redis: Redis; prefix: string; concurrency: number; log: Logger; lockMs?: number },
): Worker<T> {
  const w = new Worker<T>(name, processor, {
    connection: opts.redis,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    // A killed worker's job is taken back after the lock expires and retried elsewhere.
    lockDuration: opts.lockMs ?? 30_000,
    stalledInterval: Math.max(250, Math.floor((opts.lockMs ?? 30_000) / 2)),
    // Processing is idempotent, so a job taken back after a missed lock renewal is harmless: keep trying.
    maxStalledCount: 50,
  });
  w.on('error', (err) => opts.log.warn({ queue: name }, `worker error: ${errorMessage(err)}`));
  return w;
}
