import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A histogram of job seconds by queue stage, from 1 ms to 30 s. */
function stageHistogram(registry: Registry, name: string, help: string): Histogram<'stage'> {
  return new Histogram({ name, help, labelNames: ['stage'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] });
}

/** Prometheus metrics of one hub instance (its own registry, so tests can run several hubs). */
export class HubMetrics {
  readonly registry = new Registry();
  readonly messagesIn = new Counter({
    name: 'switchboard_messages_in_total',
    help: 'Inbound messages accepted, by channel',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly messagesOut = new Counter({
    name: 'switchboard_messages_out_total',
    help: 'Outbound messages delivered to the platform, by channel',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'switchboard_failures_total',
    help: 'Failures by stage and error code',
    labelNames: ['stage', 'code'] as const,
    registers: [this.registry],
  });
  readonly replyLatency = new Histogram({
    name: 'switchboard_reply_latency_seconds',
    help: 'From inbound accepted to the reply sent',
    labelNames: ['channel'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'switchboard_queue_depth',
    help: 'Jobs waiting or delayed, by queue',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  /** Where a message's time goes between the queues: a job's wait for a worker, and its run. */
  readonly jobWait = stageHistogram(this.registry, 'switchboard_job_wait_seconds', 'From a job added (or due) to its first attempt started, by stage (inbound, outbound, event, desk, sweep)');
  readonly jobRun = stageHistogram(this.registry, 'switchboard_job_run_seconds', 'A job attempt from start to end, by stage');

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }
}
