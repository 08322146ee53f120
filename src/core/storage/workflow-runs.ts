/**
 * The workflow engine's records on SQLite or PostgreSQL (tables of `workflows:001_runs` and
 * `002_schedules`; rows and records in workflow-rows.ts): events, runs, step states, versions. Times are epoch ms; `data` and `result` are JSON text in both dialects.
 */
import { newRowId } from './ids.js';
import type { Kysely } from 'kysely';
import { isUniqueViolation, type Q, type Stamp } from './rows.js';
import { FINAL_STEP, toEvent, toRun, toStep, type NewRun, type RunRecord, type RunStatus, type StepRecord, type StepStatus, type Tables, type WorkflowEventRecord, type WorkflowVersionRecord } from './workflow-rows.js';

export { FINAL_STEP, RUN_STATUSES, STEP_STATUSES } from './workflow-rows.js';
export type { NewRun, RunRecord, RunStatus, StepRecord, StepStatus, WorkflowEventRecord, WorkflowEventTable, WorkflowRunTable, WorkflowStepTable, WorkflowVersionRecord, WorkflowVersionTable } from './workflow-rows.js';

/**
 * The workflow engine's records: events, runs and step states. A step row is the step's
 * idempotency record ((run id, step id) is unique; a step marked done is never run again).
 * `insertEvent` and `cancelRuns` write several rows: call them inside `storage.transaction`.
 */
/** What a step write changes besides its status. */
export interface StepPatch {
  dueAt?: number | null;
  result?: Record<string, unknown> | null;
  error?: string | null;
}

/** Where a due slot's page ends (the next page starts after it). */
export interface DueCursor {
  dueAt: number;
  runId: string;
  stepId: string;
}

/** A scheduled step a due slot found: `result` as stored (JSON text or null; an ask's has its `sendId`). */
export interface DueStep extends DueCursor {
  result: string | null;
  workflow: string;
  version: string;
}

export class WorkflowRunRepo {

  constructor(
    private readonly handle: Q,
    private readonly stamp: Stamp,
  ) {}

  /** The handle typed with the engine's tables (a type-level view: no runtime cost). */
  private get db(): Kysely<Tables> {
    return this.handle as Kysely<Tables>;
  }

  private now(): number {
    return this.stamp.now();
  }

  /**
   * Stores an event with the runs it starts (each with its first step pending): call it inside a
   * transaction. A key stored already (the caller looks first) or concurrently fails with a unique
   * violation: the caller reads the first event back (`WorkflowRepo.insertEvent`).
   */
  async insertEvent(
    e: Omit<WorkflowEventRecord, 'id' | 'createdAt'>,
    runs: readonly NewRun[],
  ): Promise<{ event: WorkflowEventRecord; runs: RunRecord[]; duplicate: boolean }> {
    const now = this.now();
    const event: WorkflowEventRecord = { ...e, id: newRowId(), createdAt: now };
    const stored: RunRecord[] = runs.map((r) => ({
      id: newRowId(),
      workflow: r.workflow,
      version: r.version,
      eventId: event.id,
      customerId: e.customerId,
      correlationValue: r.correlationValue,
      status: 'running',
      error: null,
      createdAt: now,
      updatedAt: now,
    }));
    const tx = this.db;
    await tx
      .insertInto('workflow_events')
      .values({
        id: event.id,
        type: e.type,
        idempotency_key: e.idempotencyKey,
        request_hash: e.requestHash,
        customer_id: e.customerId,
        correlation_value: e.correlationValue,
        data: JSON.stringify(e.data),
        locale: e.locale,
        timezone: e.timezone,
        created_at: now,
      })
      .execute();
    for (const [i, r] of stored.entries()) {
      await tx
        .insertInto('workflow_runs')
        .values({ id: r.id, workflow: r.workflow, version: r.version, event_id: event.id, customer_id: r.customerId, correlation_value: r.correlationValue, status: 'running', error: null, created_at: now, updated_at: now })
        .execute();
      const first = runs[i]?.firstStep;
      if (first !== undefined) {
        await tx.insertInto('workflow_steps').values({ run_id: r.id, step_id: first, status: 'pending', due_at: null, result: null, error: null, created_at: now, updated_at: now }).execute();
      }
    }
    return { event, runs: stored, duplicate: false };
  }

  /** Keeps a version's source (the first one stored under a version wins: the same version is the same source). */
  async saveVersion(v: WorkflowVersionRecord): Promise<void> {
    await this.db
      .insertInto('workflow_versions')
      .values({ ...v, created_at: this.now() })
      .onConflict((oc) => oc.column('version').doNothing())
      .execute();
  }

  async version(version: string): Promise<WorkflowVersionRecord | undefined> {
    return this.db.selectFrom('workflow_versions').select(['version', 'workflow', 'file', 'source', 'defaults', 'templates']).where('version', '=', version).executeTakeFirst();
  }

  /** The workflow versions running runs started on. */
  async runningVersions(): Promise<{ workflow: string; version: string }[]> {
    return this.db.selectFrom('workflow_runs').select(['workflow', 'version']).distinct().where('status', '=', 'running').execute();
  }

  async event(id: string): Promise<WorkflowEventRecord | undefined> {
    const r = await this.db.selectFrom('workflow_events').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toEvent(r) : undefined;
  }

  async eventByKey(key: string): Promise<WorkflowEventRecord | undefined> {
    const r = await this.db.selectFrom('workflow_events').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
    return r ? toEvent(r) : undefined;
  }

  async run(id: string): Promise<RunRecord | undefined> {
    const r = await this.db.selectFrom('workflow_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toRun(r) : undefined;
  }

  async runsOfEvent(eventId: string): Promise<RunRecord[]> {
    const rows = await this.db.selectFrom('workflow_runs').selectAll().where('event_id', '=', eventId).orderBy('workflow').execute();
    return rows.map(toRun);
  }

  /** Runs by id (the step batches' one read of their runs). */
  async runsByIds(ids: readonly string[]): Promise<RunRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('workflow_runs').selectAll().where('id', 'in', [...ids]).execute();
    return rows.map(toRun);
  }

  /** Every step row of these runs (oldest first). */
  async stepsOfRuns(runIds: readonly string[]): Promise<StepRecord[]> {
    if (runIds.length === 0) return [];
    const rows = await this.db.selectFrom('workflow_steps').selectAll().where('run_id', 'in', [...runIds]).orderBy('created_at').orderBy('updated_at').execute();
    return rows.map(toStep);
  }

  async eventsByIds(ids: readonly string[]): Promise<WorkflowEventRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('workflow_events').selectAll().where('id', 'in', [...ids]).execute();
    return rows.map(toEvent);
  }

  /** A run's steps in the order they were reached. */
  async stepsOf(runId: string): Promise<StepRecord[]> {
    const rows = await this.db.selectFrom('workflow_steps').selectAll().where('run_id', '=', runId).orderBy('created_at').orderBy('updated_at').execute();
    return rows.map(toStep);
  }

  /**
   * A customer's steps an answer may be for, newest first: the waiting (`scheduled`) steps of their
   * running runs, and their steps done since `since` (an answer taken already, for a retried turn).
   */
  async customerSteps(customerId: string, since: number): Promise<(StepRecord & { workflow: string; version: string })[]> {
    const rows = await this.db
      .selectFrom('workflow_steps as s')
      .innerJoin('workflow_runs as r', 'r.id', 's.run_id')
      .selectAll('s')
      .select(['r.workflow as workflow', 'r.version as version'])
      .where('r.customer_id', '=', customerId)
      .where((eb) => eb.or([eb.and([eb('s.status', '=', 'scheduled'), eb('r.status', '=', 'running')]), eb.and([eb('s.status', '=', 'done'), eb('s.updated_at', '>=', since)])]))
      .orderBy('s.updated_at', 'desc')
      .execute();
    return rows.map((r) => ({ ...toStep(r), workflow: r.workflow, version: r.version }));
  }

  async step(runId: string, stepId: string): Promise<StepRecord | undefined> {
    const r = await this.db.selectFrom('workflow_steps').selectAll().where('run_id', '=', runId).where('step_id', '=', stepId).executeTakeFirst();
    return r ? toStep(r) : undefined;
  }

  /**
   * The step's row, made pending when the run reaches it for the first time. `fresh`: the run is
   * just moving on to it, so the row is most likely new (insert first: one statement); else it most
   * likely exists (read first: one statement).
   */
  async reach(runId: string, stepId: string, fresh = false): Promise<StepRecord> {
    if (!fresh) {
      const row = await this.step(runId, stepId);
      if (row) return row;
    }
    const now = this.stamp.next();
    const r = await this.db
      .insertInto('workflow_steps')
      .values({ run_id: runId, step_id: stepId, status: 'pending', due_at: null, result: null, error: null, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['run_id', 'step_id']).doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) === 1) return { runId, stepId, status: 'pending', dueAt: null, result: null, error: null, createdAt: now, updatedAt: now };
    const row = await this.step(runId, stepId);
    if (!row) throw new Error(`workflow step ${runId}/${stepId} vanished`);
    return row;
  }

  /** The columns a step's move sets. */
  private moved(status: StepStatus, patch: StepPatch) {
    return {
      status,
      updated_at: this.now(),
      ...(patch.dueAt !== undefined ? { due_at: patch.dueAt } : {}),
      ...(patch.result !== undefined ? { result: patch.result === null ? null : JSON.stringify(patch.result) } : {}),
      ...(patch.error !== undefined ? { error: patch.error } : {}),
    };
  }

  /** Moves a step that is not final yet; false when it already was (done, cancelled, …). */
  async markStep(runId: string, stepId: string, status: StepStatus, patch: StepPatch = {}): Promise<boolean> {
    const r = await this.db
      .updateTable('workflow_steps')
      .set(this.moved(status, patch))
      .where('run_id', '=', runId)
      .where('step_id', '=', stepId)
      .where('status', 'not in', [...FINAL_STEP])
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Step rows reached and moved in one go (a step batch's), in one statement; returns the keys
   * (`<runId> <stepId>`) of the rows inserted (the others existed already: the caller moves them
   * with `markStep`, which keeps a final row as it is).
   */
  async insertSteps(list: readonly { runId: string; stepId: string; status: StepStatus; patch: StepPatch }[]): Promise<Set<string>> {
    if (list.length === 0) return new Set();
    const rows = list.map((w) => {
      const now = this.stamp.next();
      return { run_id: w.runId, step_id: w.stepId, status: w.status, due_at: w.patch.dueAt ?? null, result: w.patch.result ? JSON.stringify(w.patch.result) : null, error: w.patch.error ?? null, created_at: now, updated_at: now };
    });
    const done = await this.db
      .insertInto('workflow_steps')
      .values(rows)
      .onConflict((oc) => oc.columns(['run_id', 'step_id']).doNothing())
      .returning(['run_id', 'step_id'])
      .execute();
    return new Set(done.map((r) => `${r.run_id} ${r.step_id}`));
  }

  /** `markStep` of step `stepId` of many runs, all to the same state; returns the runs whose step moved. */
  async markSteps(runIds: readonly string[], stepId: string, status: StepStatus, patch: StepPatch): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const moved = await this.db
      .updateTable('workflow_steps')
      .set(this.moved(status, patch))
      .where('run_id', 'in', [...runIds])
      .where('step_id', '=', stepId)
      .where('status', 'not in', [...FINAL_STEP])
      .returning('run_id')
      .execute();
    return new Set(moved.map((r) => r.run_id));
  }

  /** `finishRun` of many runs with the same end. */
  async finishRuns(runIds: readonly string[], status: Exclude<RunStatus, 'running'>, error: string | null = null): Promise<void> {
    if (runIds.length === 0) return;
    await this.db.updateTable('workflow_runs').set({ status, error, updated_at: this.now() }).where('id', 'in', [...runIds]).where('status', '=', 'running').execute();
  }

  /** Ends a running run; false when it had ended already. */
  async finishRun(runId: string, status: Exclude<RunStatus, 'running'>, error: string | null = null): Promise<boolean> {
    const r = await this.db
      .updateTable('workflow_runs')
      .set({ status, error, updated_at: this.now() })
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Cancels the running runs of these workflows with this correlation value: the run and its open
   * steps (pending, scheduled), inside a transaction. Returns the steps cancelled (their delayed jobs may be removed).
   */
  async cancelRuns(workflows: readonly string[], correlationValue: string): Promise<{ runId: string; stepId: string }[]> {
    if (workflows.length === 0) return [];
    const now = this.now();
    const tx = this.db;
    {
      const runs = await tx
        .selectFrom('workflow_runs')
        .select('id')
        .where('workflow', 'in', [...workflows])
        .where('correlation_value', '=', correlationValue)
        .where('status', '=', 'running')
        .execute();
      const ids = runs.map((r) => r.id);
      if (ids.length === 0) return [];
      await tx.updateTable('workflow_runs').set({ status: 'cancelled', updated_at: now }).where('id', 'in', ids).where('status', '=', 'running').execute();
      const open = await tx.selectFrom('workflow_steps').select(['run_id', 'step_id']).where('run_id', 'in', ids).where('status', 'in', ['pending', 'scheduled']).execute();
      await tx.updateTable('workflow_steps').set({ status: 'cancelled', updated_at: now }).where('run_id', 'in', ids).where('status', 'in', ['pending', 'scheduled']).execute();
      return open.map((s) => ({ runId: s.run_id, stepId: s.step_id }));
    }
  }

  /**
   * The sweep's candidates: open steps of running runs not touched for `olderThanMs`, pending or
   * scheduled with a due time more than `olderThanMs` past, oldest first (at most `limit`).
   */
  async staleSteps(olderThanMs: number, limit = 500): Promise<(StepRecord & { workflow: string; version: string })[]> {
    const before = this.now() - olderThanMs;
    const rows = await this.db
      .selectFrom('workflow_steps as s')
      .innerJoin('workflow_runs as r', 'r.id', 's.run_id')
      .selectAll('s')
      .select(['r.workflow as workflow', 'r.version as version'])
      .where('r.status', '=', 'running')
      .where('s.updated_at', '<', before)
      .where((eb) => eb.or([eb('s.status', '=', 'pending'), eb.and([eb('s.status', '=', 'scheduled'), eb('s.due_at', '<', before)])]))
      .orderBy('s.updated_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...toStep(r), workflow: r.workflow, version: r.version }));
  }

  /**
   * A due slot's page (src/workflows/engine-slots.ts): the scheduled steps of running runs due in
   * (`from`, `to`], after `after` in (due_at, run_id, step_id) order (index `workflow_steps_due`).
   */
  async dueSteps(from: number, to: number, after: DueCursor | undefined, limit: number): Promise<DueStep[]> {
    let q = this.db
      .selectFrom('workflow_steps as s')
      .innerJoin('workflow_runs as r', 'r.id', 's.run_id')
      .select(['s.run_id', 's.step_id', 's.due_at', 's.result', 'r.workflow', 'r.version'])
      .where('s.status', '=', 'scheduled')
      .where('s.due_at', '>', from)
      .where('s.due_at', '<=', to)
      .where('r.status', '=', 'running');
    if (after) q = q.where((eb) => eb(eb.refTuple('s.due_at', 's.run_id', 's.step_id'), '>', eb.tuple(after.dueAt, after.runId, after.stepId)));
    const rows = await q.orderBy('s.due_at').orderBy('s.run_id').orderBy('s.step_id').limit(limit).execute();
    return rows.map((r) => ({ runId: r.run_id, stepId: r.step_id, dueAt: r.due_at ?? to, result: r.result, workflow: r.workflow, version: r.version }));
  }

  /** The open (pending, scheduled) steps of running runs of an event: what to queue again after a lost enqueue. */
  async openSteps(eventId: string): Promise<{ runId: string; stepId: string }[]> {
    const rows = await this.db
      .selectFrom('workflow_steps')
      .innerJoin('workflow_runs', 'workflow_runs.id', 'workflow_steps.run_id')
      .select(['workflow_steps.run_id', 'workflow_steps.step_id'])
      .where('workflow_runs.event_id', '=', eventId)
      .where('workflow_runs.status', '=', 'running')
      .where('workflow_steps.status', 'in', ['pending', 'scheduled'])
      .execute();
    return rows.map((r) => ({ runId: r.run_id, stepId: r.step_id }));
  }
}
