/**
 * Step jobs run in batches. Every step job of the `workflows` queue (not an ask's timeout) is handed
 * to `StepBatches`, which gathers the jobs that are in flight together (up to `maxBatch`) and runs
 * them as one batch:
 * - one read of their runs, every step row of those runs and the runs' events, one of their customers;
 * - each run's steps in memory, from the job's step on, up to `INLINE_STEPS` in a row (a reminder's
 *   wait and send are one job); the runs of a batch run side by side, so their sends (each its own
 *   transaction) share commits (src/core/storage/group-commit.ts);
 * - one transaction with every step row and run end the batch wrote (`WorkflowRepo.applyBatch`);
 * - then what must follow the commit: the next step's job, an ask's timeout job, the due slot of a
 *   wait (one delayed job per second of due time, added once per batch: src/workflows/engine-slots.ts).
 *
 * A due slot hands its steps to the same batches (`runMany`), as if their jobs had come in together.
 *
 * Why: one job per step with four commits of its own cost a reminder about 2.5 ms of the hub's
 * event loop; 100,000 reminders due at once (issue #15) need a fraction of that.
 *
 * What stays as it was, and why it holds:
 * - The step row is the truth. A write of a batch that finds its row final (cancelled meanwhile,
 *   done by another job) is refused and stops that run's later writes (`applyBatch`).
 * - Exactly once: a send carries the key `wf:<runId>:<stepId>` (its own transaction, before the
 *   batch's), so a job run again after a crash (its batch never committed) sends nothing twice and
 *   finds the same send; an escalation and a webhook carry their keys the same way.
 * - Nothing lost: a job completes only after its batch committed and its follow-up job is queued; a
 *   worker killed mid-batch leaves its jobs active, and BullMQ hands them to another worker when
 *   their lock expires. A step reached for a job of its own gets its pending row in the batch's
 *   transaction, where the sweep (src/workflows/engine-sweep.ts) finds it should the enqueue be lost.
 * - A run is in at most one chain of a batch: a second job of the same run waits for the next batch.
 * - A job that throws is retried by BullMQ with backoff (its run's writes before the throw are kept);
 *   its last attempt fails the run.
 */
import type { Job } from 'bullmq';
import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import type { EscalateRequest } from '../core/conversation/escalate.js';
import type { FallbackRequest, FallbackResult, FallbackSends } from '../core/conversation/fallback.js';
import { HubError, errorMessage } from '../core/errors.js';
import type { Customer } from '../core/model.js';
import type { Storage } from '../core/storage/storage.js';
import { nextStep } from './engine-flow.js';
import { holdsRateSlot } from './engine-slots.js';
import type { StepJob } from './engine-sweep.js';
import { runStep, type Outcome } from './engine-steps.js';
import type { WorkflowVersions } from './engine-versions.js';
import type { RunRecord, StepRecord, StepWrite, WorkflowEventRecord, WorkflowRepo } from './storage/repo.js';

/** Steps one job runs in a row before it queues the next as a job of its own. */
export const INLINE_STEPS = 16;
/** Most step jobs in one batch. */
export const MAX_BATCH = 128;

export interface BatchDeps {
  repo: WorkflowRepo;
  storage: Storage;
  versions: WorkflowVersions;
  sends: Pick<FallbackSends, 'send' | 'sendMany'>;
  escalate(conversationId: string, req: EscalateRequest): Promise<unknown>;
  env: Readonly<Record<string, string | undefined>>;
  now(): number;
  /** The time a send on `channel` may go (src/workflows/throttle.ts). */
  throttle(channel: string | undefined, now: number): Promise<number>;
  /** Queues step jobs now (the next step of a run past `INLINE_STEPS`). */
  enqueue(steps: readonly StepJob[]): Promise<void>;
  /** Queues an ask's timeout job, delayed. */
  addTimeout(data: StepJob, delay: number): Promise<void>;
  /** Makes sure the due slots of these due times have their delayed jobs (src/workflows/engine-slots.ts; `held`: a rate-limit slot). */
  addSlots(due: readonly { at: number; held: boolean }[]): Promise<void>;
  log: Logger;
  maxBatch?: number;
}

interface Entry {
  runId: string;
  stepId: string;
  /** true when BullMQ will retry the job if it throws; on its last attempt a throw fails the run. */
  retries: boolean;
  resolve(): void;
  reject(err: unknown): void;
}

/** One run's chain in a batch: its writes in order and what follows the commit. */
interface Chain {
  writes: StepWrite[];
  /** After the commit, if every write applied. */
  after: (() => Promise<void>)[];
  /** A wait's due time: its slot job is added after the commit. */
  due?: { at: number; held: boolean };
  error?: unknown;
}

export class StepBatches {
  private readonly waiting: Entry[] = [];
  private running = false;
  /** Batches run and step jobs carried (tests and the bench read them). */
  readonly stats = { batches: 0, jobs: 0 };

  constructor(private readonly d: BatchDeps) {}

  /** Runs a step job in the next batch; resolves once the batch committed and its follow-ups are queued. */
  process(job: Job<StepJob>): Promise<void> {
    return this.push(job.data.runId, job.data.stepId, job.attemptsMade + 1 < (job.opts.attempts ?? 1));
  }

  /**
   * Runs steps found by a due slot, as if their jobs had come in together; one settled result per
   * step. A step that throws rejects (it is not failed here: the caller queues it as a job of its own).
   */
  runMany(steps: readonly StepJob[]): Promise<PromiseSettledResult<void>[]> {
    return Promise.allSettled(steps.map((s) => this.push(s.runId, s.stepId, true)));
  }

  private push(runId: string, stepId: string, retries: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ runId, stepId, retries, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Jobs fetched in the same turn of the event loop join the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const batch: Entry[] = [];
        const later: Entry[] = [];
        const runs = new Set<string>();
        for (const e of this.waiting.splice(0)) {
          if (batch.length < (this.d.maxBatch ?? MAX_BATCH) && !runs.has(e.runId)) {
            runs.add(e.runId);
            batch.push(e);
          } else later.push(e);
        }
        this.waiting.unshift(...later);
        await this.run(batch).catch((err: unknown) => {
          for (const e of batch) e.reject(err);
        });
      }
    } finally {
      this.running = false;
    }
  }

  private async run(batch: readonly Entry[]): Promise<void> {
    const { repo, storage } = this.d;
    this.stats.batches++;
    this.stats.jobs += batch.length;
    const loaded = await repo.loadBatch(batch.map((e) => e.runId));
    const runs = new Map(loaded.runs.map((r) => [r.id, r]));
    const events = new Map(loaded.events.map((e) => [e.id, e]));
    const rows = new Map<string, Map<string, StepRecord>>();
    for (const s of loaded.steps) {
      let m = rows.get(s.runId);
      if (!m) rows.set(s.runId, (m = new Map()));
      m.set(s.stepId, s);
    }
    const customerIds = new Set<string>();
    for (const r of runs.values()) if (r.status === 'running' && r.customerId !== null) customerIds.add(r.customerId);
    const customers = new Map((await storage.customers.getMany([...customerIds])).map((c) => [c.id, c]));
    const sends = coalescedSends(this.d.sends, customers);
    const chains = await Promise.all(
      batch.map(async (e) => {
        const chain: Chain = { writes: [], after: [] };
        const run = runs.get(e.runId);
        if (!run || run.status !== 'running') return chain;
        const runRows = rows.get(run.id) ?? new Map<string, StepRecord>();
        try {
          await this.chain(e, run, runRows, events.get(run.eventId), run.customerId === null ? undefined : customers.get(run.customerId), chain, sends);
        } catch (err) {
          chain.error = err;
        }
        return chain;
      }),
    );
    const applied = await repo.applyBatch(chains.map((c) => c.writes));
    // A write refused: the run moved on elsewhere (or ended); its follow-ups are not this batch's.
    const kept = chains.map((c, i) => applied[i] === c.writes.length);
    const due = chains.flatMap((c, i) => (kept[i] && c.due ? [c.due] : []));
    let slots: Promise<void> | undefined;
    if (due.length > 0) {
      slots = this.d.addSlots(due);
      slots.catch(() => undefined); // awaited by each of its chains below
    }
    await Promise.all(
      chains.map(async (c, i) => {
        const e = batch[i] as Entry;
        try {
          if (kept[i]) {
            for (const f of c.after) await f();
            if (c.due) await slots;
          }
          if (c.error !== undefined) e.reject(c.error);
          else e.resolve();
        } catch (err) {
          e.reject(err);
        }
      }),
    );
  }

  /** Runs a run's steps from the job's step on, in memory, recording writes and follow-ups in `chain`. */
  private async chain(e: Entry, run: RunRecord, rows: Map<string, StepRecord>, event: WorkflowEventRecord | undefined, customer: Customer | undefined, chain: Chain, sends: Pick<FallbackSends, 'send'>): Promise<void> {
    const { versions } = this.d;
    const fail = (stepId: string, error: string): void => {
      const fresh = !rows.has(stepId);
      chain.writes.push({ kind: 'step', runId: run.id, stepId, status: 'failed', fresh, patch: { error } }, { kind: 'finish', runId: run.id, status: 'failed', error });
      chain.after.push(async () => void this.d.log.warn({ runId: run.id, stepId }, `workflow run failed: ${error}`));
    };
    let stepId: string = e.stepId;
    for (let hop = 0; ; hop++) {
      const known = rows.get(stepId);
      if (hop === INLINE_STEPS) {
        const next = stepId;
        if (!known) chain.writes.push({ kind: 'reach', runId: run.id, stepId: next });
        chain.after.push(() => this.d.enqueue([{ runId: run.id, stepId: next }]));
        return;
      }
      const def = await versions.of(run.workflow, run.version);
      const workflow = def?.workflow;
      const step = workflow?.stepsById.get(stepId);
      if (!def || !workflow || !step) return fail(stepId, `step ${stepId} of workflow ${run.workflow} is not loaded (the file changed or is gone)`);
      const now = this.d.now();
      let row: StepRecord = known ?? { runId: run.id, stepId, status: 'pending', dueAt: null, result: null, error: null, createdAt: now, updatedAt: now };
      if (row.status === 'cancelled' || row.status === 'failed') return;
      // Skipped (stale) goes on like done; an opted-out skip ended the run (the run's status was read above).
      if (row.status !== 'done' && row.status !== 'skipped') {
        const needsCustomer = run.customerId !== null && step.action !== 'wait' && step.action !== 'if';
        if (!event || (needsCustomer && !customer)) return fail(stepId, `the run's ${event ? 'customer' : 'event'} is gone`);
        let outcome: Outcome;
        try {
          outcome = await runStep(step, {
            loaded: def.loaded,
            workflow,
            run,
            event,
            customer,
            row,
            sends,
            storage: this.d.storage,
            // The rows as this chain has them (its writes are not committed yet).
            steps: async () => [...rows.values()].sort((a, b) => a.createdAt - b.createdAt || a.updatedAt - b.updatedAt),
            escalate: (id, req) => this.d.escalate(id, req),
            now,
            env: this.d.env,
            throttle: (channel) => this.d.throttle(channel, now),
          });
        } catch (err) {
          // Before the last attempt BullMQ retries with backoff; the last one fails the run.
          if (e.retries) throw err;
          outcome = { kind: 'failed', error: `${step.action} ${step.id}: ${errorMessage(err)}` };
        }
        const fresh = !known;
        const write = (status: StepRecord['status'], patch: Extract<StepWrite, { kind: 'step' }>['patch']): void => {
          chain.writes.push({ kind: 'step', runId: run.id, stepId, status, fresh, patch });
          row = { ...row, status, ...(patch.dueAt !== undefined ? { dueAt: patch.dueAt } : {}), ...(patch.result !== undefined ? { result: patch.result } : {}), updatedAt: now };
          rows.set(stepId, row);
        };
        if (outcome.kind === 'failed') return fail(stepId, outcome.error);
        if (outcome.kind === 'asked') {
          // Waiting for the answer (the turn handler) or the timeout (a delayed job in Redis), whichever comes first.
          write('scheduled', { dueAt: outcome.timeoutAt, result: outcome.result });
          const data: StepJob = { runId: run.id, stepId, timeout: true };
          const delay = Math.max(0, outcome.timeoutAt - now);
          chain.after.push(() => this.d.addTimeout(data, delay));
          return;
        }
        if (outcome.kind === 'later') {
          write('scheduled', { dueAt: outcome.at, ...(outcome.result ? { result: outcome.result } : {}) });
          // The wait lives in Redis (durable), not in a timer of this process: its second's due slot.
          chain.due = { at: outcome.at, held: holdsRateSlot(outcome.result, outcome.at) };
          return;
        }
        if (outcome.kind === 'skipped' && outcome.endRun) {
          write('skipped', { result: outcome.result, dueAt: null });
          chain.writes.push({ kind: 'finish', runId: run.id, status: 'done', error: null });
          return;
        }
        write(outcome.kind === 'skipped' ? 'skipped' : 'done', { result: outcome.result });
      }
      const next = nextStep(workflow, step, row.result);
      if (next === undefined) {
        chain.writes.push({ kind: 'finish', runId: run.id, status: 'done', error: null });
        return;
      }
      stepId = next;
    }
  }
}

/**
 * The sends of a batch's runs as one `sendMany` (DataLoader): the runs reach their sends side by
 * side, within the same turn of the event loop (a send held by its channel's rate limit comes a
 * turn later and makes a second call), so they share their reads and one transaction of multi-row writes.
 */
function coalescedSends(sends: Pick<FallbackSends, 'sendMany'>, customers: ReadonlyMap<string, Customer>): Pick<FallbackSends, 'send'> {
  const loader = new DataLoader<FallbackRequest, FallbackResult>(
    async (reqs) => (await sends.sendMany(reqs, customers)).map((s) => (s.status === 'fulfilled' ? s.value : s.reason instanceof Error ? s.reason : new Error(String(s.reason)))),
    { cache: false, batchScheduleFn: (run) => setImmediate(run) },
  );
  return { send: (req) => loader.load(req) };
}
