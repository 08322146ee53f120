/**
 * The workflow engine: an event (POST /api/events) starts one run per workflow it triggers and
 * cancels the running runs of the event types it `cancels` with the same correlation value. Steps
 * run as jobs of this module's BullMQ queue `workflows` (job id `<runId>/<stepId>`; a job runs the
 * steps after its own that are due in the same job, and the step jobs in flight together run as
 * one batch: src/workflows/engine-batch.ts); waits and sends held back (quiet hours, rate
 * limits) are scheduled rows whose second has one delayed job in Redis (a due slot:
 * src/workflows/engine-slots.ts), never a process timer. The step's row (unique per run and
 * step) is the truth: a step marked done is never run again, and a send carries the key
 * `wf:<runId>:<stepId>`, so a redelivered job sends nothing twice. A job lost between a commit
 * and its enqueue (a crash) is queued again by the sweep (src/workflows/engine-sweep.ts), a job
 * scheduler of its own queue `workflows-sweep` (every max(1 s, sweepAfterMs / 2)). */
import { randomUUID } from 'node:crypto';
import { hashRequest } from '../api/routes.js';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EscalateRequest } from '../core/conversation/escalate.js';
import type { FallbackSends } from '../core/conversation/fallback.js';
import { HubError, errorMessage } from '../core/errors.js';
import type { Storage } from '../core/storage/storage.js';
import { eventCustomer } from './engine-customers.js';
import { nextStep, stepJobId, timeoutJobId } from './engine-flow.js';
import { MAX_BATCH, StepBatches } from './engine-batch.js';
import { WorkflowVersions } from './engine-versions.js';
import { viewEvent, type EventView } from './engine-view.js';
import { WorkflowSchedules } from './schedules.js';
import { sweepSteps, type StepJob } from './engine-sweep.js';
import { runSlot, slotFor, slotJobId, type SlotJob } from './engine-slots.js';
import { SendThrottle } from './throttle.js';
import { checkEvent } from './event.js';
import type { LoadedWorkflows } from './load.js';
import type { NewRun, RunRecord, WorkflowEventRecord, WorkflowRepo } from './storage/repo.js';
import { matchChoice } from './render.js';
import type { Step, Workflow } from './types.js';

export const WORKFLOWS_QUEUE = 'workflows';
/** The sweep's queue, and its job scheduler's id. */
export const WORKFLOWS_SWEEP_QUEUE = 'workflows-sweep';
const SWEEP = 'sweep';

export interface EngineDeps {
  loaded: LoadedWorkflows;
  repo: WorkflowRepo;
  storage: Storage;
  sends: Pick<FallbackSends, 'send' | 'sendMany'>;
  /** The core's escalation from outside a customer turn (`escalateConversation` with the hub's change deps). */
  escalate(conversationId: string, req: EscalateRequest): Promise<unknown>;
  redis: Redis;
  /** The hub's Redis key prefix (`redis.prefix`). */
  prefix: string;
  log: Logger;
  /** Job lock (`queues.lockMs`): a killed worker's step is taken over after about this long. */
  lockMs?: number;
  /** First retry delay of a failing step (`queues.backoffMs`), doubling. */
  backoffMs?: number;
  concurrency?: number;
  now?: () => number;
  /** Where webhook steps find their signing secrets (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Most sends per second per channel (`workflows.sendsPerSecond`). */
  sendsPerSecond?: Readonly<Record<string, number>>;
  /** How long an open step goes untouched (or overdue) without a job before the sweep queues it again (default 60 s). */
  sweepAfterMs?: number;
}

export interface AcceptedEvent {
  event: WorkflowEventRecord;
  runs: RunRecord[];
  /** The idempotency key had been used for this same event: nothing new was started. */
  duplicate: boolean;
}


const invalid = (field: string, message: string): HubError => new HubError('INPUT_INVALID', message, { context: { field } });

export class WorkflowEngine {
  /** What new runs start on (`reload` changes it) and what running runs finish on (their own version). */
  readonly versions: WorkflowVersions;
  private queue: Queue | undefined;
  private sweepQueue: Queue | undefined;
  private readonly schedules: WorkflowSchedules;
  private readonly throttle: SendThrottle;
  private readonly batches: StepBatches;
  private started = false;
  private readonly now: () => number;

  constructor(private readonly d: EngineDeps) {
    this.versions = new WorkflowVersions(d.loaded, d.storage, d.log);
    this.now = d.now ?? (() => Date.now());
    this.throttle = new SendThrottle(d.redis, d.prefix, d.sendsPerSecond ?? {});
    this.batches = new StepBatches({
      repo: d.repo,
      storage: d.storage,
      versions: this.versions,
      sends: d.sends,
      escalate: (id, req) => d.escalate(id, req),
      env: d.env ?? process.env,
      now: this.now,
      throttle: (channel, now) => this.throttle.reserve(channel, now),
      enqueue: (steps) => this.enqueue(steps),
      addTimeout: async (data, delay) => void (await this.producer().add('timeout', data, { jobId: timeoutJobId(data.runId, data.stepId), delay })),
      addSlots: (dueTimes) => this.addSlots(dueTimes),
      log: d.log,
    });
    this.schedules = new WorkflowSchedules({ redis: d.redis, prefix: d.prefix, log: d.log, tick: (name, key) => this.tick(name, key) });
  }

  /** What the folder gives now (a hot reload): new runs start on it, running runs finish on their version, cron schedules follow. */
  async reload(loaded: LoadedWorkflows): Promise<void> {
    this.versions.use(loaded);
    if (this.started) await this.schedules.sync(loaded.workflows);
  }

  /** Step batches run and the step jobs they carried. */
  get batchStats(): { batches: number; jobs: number } {
    return this.batches.stats;
  }

  get repo(): WorkflowRepo {
    return this.d.repo;
  }

  /** The event types the files declare. */
  get eventTypes(): string[] {
    return [...this.versions.loaded.events.keys()].sort();
  }

  /**
   * Checks and stores an event, cancels what it cancels and starts its runs. `INPUT_INVALID` names
   * the field (`body.type`, `body.data.dueAt`); a key reused for another request is a `CONFLICT`.
   */
  async accept(body: unknown, idempotencyKey: string | undefined): Promise<AcceptedEvent> {
    const type = body && typeof body === 'object' ? (body as { type?: unknown }).type : undefined;
    if (typeof type !== 'string') throw invalid('body.type', `type is required: one of ${this.eventTypes.join(', ') || '(no event types: add workflow files)'}`);
    const loaded = this.versions.loaded;
    const decl = loaded.events.get(type);
    if (!decl) throw invalid('body.type', `unknown event type "${type}": the workflow files declare ${this.eventTypes.join(', ') || 'none'}`);
    const checked = checkEvent(body, type, decl.data);
    if ('problems' in checked) {
      const [first] = checked.problems;
      throw invalid(`body.${first?.field ?? ''}`, checked.problems.map((p) => `body.${p.field}: ${p.message}`).join('; '));
    }
    const event = checked.event;
    const requestHash = hashRequest(body);
    const key = idempotencyKey ?? randomUUID();
    const earlier = await this.d.repo.eventByKey(key);
    if (earlier) return this.repeated(earlier, requestHash, key);
    const customer = await eventCustomer(this.d.storage, event.customer);
    const valueOf = (field: string | undefined): string | null => {
      const v = field === undefined ? event.correlationKey : event.data[field];
      return v === undefined || v === null ? null : String(v);
    };
    const correlationValue = valueOf(decl.correlationKey);
    if (correlationValue !== null && decl.cancels.length > 0) {
      const names = loaded.workflows.filter((w) => w.trigger.kind === 'event' && decl.cancels.includes(w.trigger.event)).map((w) => w.name);
      await this.removeJobs(await this.d.repo.cancelRuns(names, correlationValue));
    }
    const runs: NewRun[] = [];
    for (const w of loaded.workflows) {
      const first = w.steps[0];
      if (w.trigger.kind !== 'event' || w.trigger.event !== type || !first) continue;
      const def = await this.versions.startable(w.name);
      runs.push({ workflow: w.name, version: def?.version ?? '', correlationValue: valueOf(w.correlationKey), firstStep: first.id });
    }
    const stored = await this.d.repo.insertEvent(
      { type, idempotencyKey: key, requestHash, customerId: customer.id, correlationValue, data: event.data, locale: event.customer.locale ?? null, timezone: event.customer.timezone ?? null },
      runs,
    );
    if (stored.duplicate) return this.repeated(stored.event, requestHash, key);
    await this.enqueue(stored.runs.flatMap((r) => runs.filter((n) => n.workflow === r.workflow).map((n) => ({ runId: r.id, stepId: n.firstStep }))));
    return stored;
  }

  /**
   * Starts one run of `workflow` from inside the hub (a conversation event, src/workflows/triggers.ts):
   * an internal event of `type` for the customer, keyed `key`, so the same trigger again starts nothing.
   */
  async startRun(name: string, e: { type: string; key: string; customerId: string | null; data: Record<string, string | number | boolean> }): Promise<AcceptedEvent | undefined> {
    const earlier = await this.d.repo.eventByKey(e.key);
    if (earlier) return this.repeated(earlier, earlier.requestHash, e.key);
    const def = await this.versions.startable(name);
    const workflow = def?.workflow;
    const first = workflow?.steps[0];
    if (!def || !workflow || !first) return undefined;
    const v = workflow.correlationKey === undefined ? undefined : e.data[workflow.correlationKey];
    const correlationValue = v === undefined ? null : String(v);
    const run: NewRun = { workflow: workflow.name, version: def.version, correlationValue, firstStep: first.id };
    const requestHash = hashRequest({ type: e.type, customerId: e.customerId, data: e.data });
    const stored = await this.d.repo.insertEvent({ type: e.type, idempotencyKey: e.key, requestHash, customerId: e.customerId, correlationValue, data: e.data, locale: null, timezone: null }, [run]);
    if (stored.duplicate) return this.repeated(stored.event, stored.event.requestHash, e.key);
    await this.enqueue(stored.runs.map((r) => ({ runId: r.id, stepId: first.id })));
    return stored;
  }

  /** A cron tick of `name` (src/workflows/schedules.ts): one run without a customer, once per tick. */
  private async tick(name: string, key: string): Promise<void> {
    const w = this.versions.currentOf(name)?.workflow;
    if (w?.trigger.kind !== 'schedule') return void this.d.log.info({ workflow: name }, 'a cron tick of a workflow no longer on a schedule: nothing started');
    await this.startRun(name, { type: 'schedule', key, customerId: null, data: {} });
  }

  /** A repeated key: the same request gets its event (its open steps queued again, should a job have been lost); another is a conflict. */
  private async repeated(event: WorkflowEventRecord, requestHash: string, key: string): Promise<AcceptedEvent> {
    if (event.requestHash !== requestHash) {
      throw new HubError('CONFLICT', `Idempotency-Key "${key}" was used for a different event; use a new key for a new event`, { context: { field: 'headers.idempotency-key' } });
    }
    await this.enqueue(await this.d.repo.openSteps(event.id));
    return { event, runs: await this.d.repo.runsOfEvent(event.id), duplicate: true };
  }

  /** An event with its runs and each run's steps (as far as they got). */
  view(eventId: string): Promise<EventView | undefined> {
    return viewEvent(this.d.repo, this.versions, eventId);
  }

  /** Starts the step worker (roles start and worker). */
  async start(): Promise<Worker[]> {
    const lockMs = this.d.lockMs ?? 30_000;
    const worker = new Worker<StepJob | SlotJob>(WORKFLOWS_QUEUE, (job, token) => this.process(job, token), {
      connection: this.d.redis,
      prefix: this.d.prefix,
      // Step jobs run in batches of up to MAX_BATCH: two batches' worth in flight keeps one filling while one runs.
      concurrency: this.d.concurrency ?? 2 * MAX_BATCH,
      lockDuration: lockMs,
      stalledInterval: Math.max(250, Math.floor(lockMs / 2)),
      maxStalledCount: 50,
    });
    worker.on('error', (err) => this.d.log.warn({ queue: WORKFLOWS_QUEUE }, `worker error: ${errorMessage(err)}`));
    const olderThanMs = this.d.sweepAfterMs ?? 60_000;
    const sweeper = new Worker(WORKFLOWS_SWEEP_QUEUE, () => this.sweep(olderThanMs).catch((err: unknown) => this.d.log.warn(`workflow sweep failed: ${errorMessage(err)}`)), {
      connection: this.d.redis,
      prefix: this.d.prefix,
      concurrency: 1,
    });
    sweeper.on('error', (err) => this.d.log.warn({ queue: WORKFLOWS_SWEEP_QUEUE }, `worker error: ${errorMessage(err)}`));
    this.sweepQueue ??= new Queue(WORKFLOWS_SWEEP_QUEUE, { connection: this.d.redis, prefix: this.d.prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
    this.sweepQueue.on('error', () => undefined);
    await this.sweepQueue.upsertJobScheduler(SWEEP, { every: Math.max(1000, Math.floor(olderThanMs / 2)) }, { name: SWEEP });
    await this.versions.preload();
    const ticker = await this.schedules.start(this.versions.loaded.workflows);
    this.started = true;
    return [worker, sweeper, ticker];
  }

  /** Queues again the open steps whose job was lost (src/workflows/engine-sweep.ts). */
  sweep(olderThanMs: number): Promise<number> {
    return sweepSteps({ storage: this.d.storage, versions: this.versions, queue: this.producer(), log: this.d.log, now: this.now() }, olderThanMs);
  }

  async close(): Promise<void> {
    await Promise.all([this.queue?.close(), this.sweepQueue?.close(), this.schedules.close()]);
    this.queue = undefined;
    this.sweepQueue = undefined;
    await this.d.repo.close();
  }

  private producer(): Queue {
    if (!this.queue) {
      this.queue = new Queue(WORKFLOWS_QUEUE, {
        connection: this.d.redis,
        prefix: this.d.prefix,
        // A finished step's job leaves no id behind; queued again, it finds its row done and moves on.
        defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 5, backoff: { type: 'exponential', delay: this.d.backoffMs ?? 1000 } },
      });
      this.queue.on('error', () => undefined); // ioredis reconnects; readiness reports Redis
    }
    return this.queue;
  }

  private async enqueue(steps: readonly StepJob[]): Promise<void> {
    if (steps.length === 0) return;
    await this.producer().addBulk(steps.map((s) => ({ name: 'step', data: s, opts: { jobId: stepJobId(s.runId, s.stepId) } })));
  }

  /** Removes the delayed jobs of cancelled steps (a job left behind finds its run cancelled and does nothing). */
  private async removeJobs(steps: readonly StepJob[]): Promise<void> {
    for (const s of steps) for (const id of [stepJobId(s.runId, s.stepId), timeoutJobId(s.runId, s.stepId)]) await this.producer().remove(id).catch(() => 0);
  }

  /**
   * A customer's message as the answer to a waiting ask of theirs (the newest whose choices it
   * matches): the step is done with the answer and the answer's branch queued. The step row is the
   * arbiter: an ask whose timeout came first takes no answer. true when the message was an answer
   * (also when this message had been taken already: a retried turn).
   */
  async answer(customerId: string, text: string, messageId: string): Promise<boolean> {
    // On every customer message: most match no choice at all, and need no lookup.
    if (!this.versions.allAsks.some((a) => matchChoice(a, text) !== undefined)) return false;
    const steps = await this.d.storage.workflowRuns.customerSteps(customerId, this.now() - 3_600_000);
    if (steps.some((s) => s.status === 'done' && s.result?.messageId === messageId)) return true;
    for (const s of steps) {
      const workflow = (await this.versions.of(s.workflow, s.version))?.workflow;
      const step = workflow?.stepsById.get(s.stepId);
      if (!workflow || step?.action !== 'ask' || s.status !== 'scheduled' || typeof s.result?.sendId !== 'string') continue;
      const answer = matchChoice(step, text);
      if (answer === undefined) continue;
      const result = { ...s.result, answer, messageId };
      if (!(await this.d.repo.markStep(s.runId, s.stepId, 'done', { result }))) continue;
      await this.producer().remove(timeoutJobId(s.runId, s.stepId)).catch(() => 0);
      await this.continueAfter(s.runId, workflow, step, result);
      return true;
    }
    return false;
  }

  /** An ask's timeout: the step is done with answer `timeout` and its timeout branch runs, unless an answer came first. */
  private async timeout(runId: string, stepId: string): Promise<void> {
    const run = await this.d.repo.run(runId);
    const workflow = run?.status === 'running' ? (await this.versions.of(run.workflow, run.version))?.workflow : undefined;
    const step = workflow?.stepsById.get(stepId);
    const row = await this.d.repo.step(runId, stepId);
    if (!workflow || step?.action !== 'ask' || row?.status !== 'scheduled' || typeof row.result?.sendId !== 'string') return;
    const result = { ...row.result, answer: 'timeout' };
    if (await this.d.repo.markStep(runId, stepId, 'done', { result })) await this.continueAfter(runId, workflow, step, result);
  }

  /** Queues the step after `step` (finished with `result`); none: the run is done. */
  private async continueAfter(runId: string, workflow: Workflow, step: Step, result: Readonly<Record<string, unknown>> | null): Promise<void> {
    const next = nextStep(workflow, step, result);
    if (next === undefined) {
      await this.d.repo.finishRun(runId, 'done');
      return;
    }
    await this.d.repo.reach(runId, next, true);
    await this.enqueue([{ runId, stepId: next }]);
  }

  /** Adds the delayed job of each due time's slot (a slot job there already stays as it is). */
  private async addSlots(due: readonly { at: number; held: boolean }[]): Promise<void> {
    const slots = new Map(due.map((d) => [slotJobId(d.at, d.held), slotFor(d.at, d.held)]));
    const now = this.now();
    await this.producer().addBulk([...slots].map(([jobId, data]) => ({ name: 'slot', data, opts: { jobId, delay: Math.max(0, data.slot - now) } })));
  }

  /**
   * A step job runs in the next batch (src/workflows/engine-batch.ts); a due slot hands its steps
   * to the same batches (src/workflows/engine-slots.ts); an ask's timeout runs on its own.
   */
  private async process(job: Job<StepJob | SlotJob>, token: string | undefined): Promise<void> {
    if (job.name === 'slot') return this.slot(job as Job<SlotJob>, token);
    const data = job.data as StepJob;
    if (data.timeout) return this.timeout(data.runId, data.stepId);
    return this.batches.process(job as Job<StepJob>);
  }

  private async slot(job: Job<SlotJob>, token: string | undefined): Promise<void> {
    const early = job.data.slot - this.now();
    if (early > 0 && token) {
      // Before its time on this process's clock (another host's clock ran ahead): back to Redis.
      await job.moveToDelayed(Date.now() + early, token);
      throw new DelayedError();
    }
    await runSlot({ storage: this.d.storage, versions: this.versions, run: (steps) => this.batches.runMany(steps), enqueue: (steps) => this.enqueue(steps), log: this.d.log }, job.data);
  }
}
