/**
 * The engine's records, behind the hub's one storage door (`storage.workflowRuns`, tables of
 * migration `workflows:001_runs`): this wraps the writes of several rows in one transaction and
 * reads a concurrent duplicate back.
 */
import type { Storage } from '../../core/storage/storage.js';
import { isUniqueViolation } from '../../core/storage/rows.js';
import type { NewRun, RunRecord, RunStatus, StepRecord, StepStatus, WorkflowEventRecord } from '../../core/storage/workflow-runs.js';

export { FINAL_STEP, RUN_STATUSES, STEP_STATUSES } from '../../core/storage/workflow-runs.js';
export type { NewRun, RunRecord, RunStatus, StepRecord, StepStatus, WorkflowEventRecord } from '../../core/storage/workflow-runs.js';

/** One write of a step batch (src/workflows/engine-batch.ts). */
export type StepWrite =
  /** A step row moved (`fresh`: most likely no row yet: inserted in that state). */
  | { kind: 'step'; runId: string; stepId: string; status: StepStatus; fresh: boolean; patch: { dueAt?: number | null; result?: Record<string, unknown> | null; error?: string | null } }
  /** A step the run reached and a job of its own will run (its pending row is what the sweep finds). */
  | { kind: 'reach'; runId: string; stepId: string }
  | { kind: 'finish'; runId: string; status: Exclude<RunStatus, 'running'>; error: string | null };

/** One round of `applyBatch`: one write per run, grouped into as few statements as their shapes allow; returns the runs whose write applied. */
async function applyRound(q: Storage['workflowRuns'], writes: readonly { i: number; w: StepWrite }[]): Promise<Set<number>> {
  const ok = new Set<number>();
  const fresh: { i: number; w: Extract<StepWrite, { kind: 'step' }> }[] = [];
  const marks = new Map<string, { i: number; w: Extract<StepWrite, { kind: 'step' }> }[]>();
  const reached: { i: number; w: Extract<StepWrite, { kind: 'reach' }> }[] = [];
  const ends = new Map<string, { i: number; w: Extract<StepWrite, { kind: 'finish' }> }[]>();
  const add = <T>(m: Map<string, T[]>, key: string, v: T) => m.set(key, [...(m.get(key) ?? []), v]);
  for (const { i, w } of writes) {
    if (w.kind === 'step' && w.fresh) fresh.push({ i, w });
    else if (w.kind === 'step') add(marks, JSON.stringify([w.stepId, w.status, w.patch]), { i, w });
    else if (w.kind === 'reach') reached.push({ i, w });
    else add(ends, JSON.stringify([w.status, w.error]), { i, w });
  }
  if (fresh.length > 0) {
    const inserted = await q.insertSteps(fresh.map(({ w }) => w));
    for (const { i, w } of fresh) {
      // A row there already (a job run again): moved like any other, unless it is final.
      if (inserted.has(`${w.runId} ${w.stepId}`) || (await q.markStep(w.runId, w.stepId, w.status, w.patch))) ok.add(i);
    }
  }
  for (const group of marks.values()) {
    const { stepId, status, patch } = (group[0] as (typeof group)[number]).w;
    const moved = await q.markSteps(group.map(({ w }) => w.runId), stepId, status, patch);
    for (const { i, w } of group) if (moved.has(w.runId)) ok.add(i);
  }
  if (reached.length > 0) {
    await q.insertSteps(reached.map(({ w }) => ({ runId: w.runId, stepId: w.stepId, status: 'pending' as const, patch: {} })));
    for (const { i } of reached) ok.add(i);
  }
  // A run ended already (cancelled meanwhile) stops nothing after it: this is a run's last write.
  for (const group of ends.values()) {
    const { status, error } = (group[0] as (typeof group)[number]).w;
    await q.finishRuns(group.map(({ w }) => w.runId), status, error);
    for (const { i } of group) ok.add(i);
  }
  return ok;
}

export class WorkflowRepo {
  constructor(private readonly storage: Storage) {}

  /**
   * Stores an event with the runs it starts (each with its first step pending), in one transaction.
   * The same idempotency key twice stores nothing: the first event comes back with `duplicate`.
   */
  async insertEvent(e: Omit<WorkflowEventRecord, 'id' | 'createdAt'>, runs: readonly NewRun[]): Promise<{ event: WorkflowEventRecord; runs: RunRecord[]; duplicate: boolean }> {
    try {
      return await this.storage.transaction((tx) => tx.workflowRuns.insertEvent(e, runs));
    } catch (err) {
      const again = isUniqueViolation(err) ? await this.storage.workflowRuns.eventByKey(e.idempotencyKey) : undefined;
      if (again) return { event: again, runs: await this.storage.workflowRuns.runsOfEvent(again.id), duplicate: true };
      throw err;
    }
  }

  /** Cancels the running runs of these workflows with this correlation value and their open steps, in one transaction. */
  cancelRuns(workflows: readonly string[], correlationValue: string): Promise<{ runId: string; stepId: string }[]> {
    if (workflows.length === 0) return Promise.resolve([]);
    return this.storage.transaction((tx) => tx.workflowRuns.cancelRuns(workflows, correlationValue));
  }

  event(id: string): Promise<WorkflowEventRecord | undefined> {
    return this.storage.workflowRuns.event(id);
  }

  eventByKey(key: string): Promise<WorkflowEventRecord | undefined> {
    return this.storage.workflowRuns.eventByKey(key);
  }

  run(id: string): Promise<RunRecord | undefined> {
    return this.storage.workflowRuns.run(id);
  }

  runsOfEvent(eventId: string): Promise<RunRecord[]> {
    return this.storage.workflowRuns.runsOfEvent(eventId);
  }

  stepsOf(runId: string): Promise<StepRecord[]> {
    return this.storage.workflowRuns.stepsOf(runId);
  }

  step(runId: string, stepId: string): Promise<StepRecord | undefined> {
    return this.storage.workflowRuns.step(runId, stepId);
  }

  reach(runId: string, stepId: string, fresh = false): Promise<StepRecord> {
    return this.storage.workflowRuns.reach(runId, stepId, fresh);
  }

  markStep(runId: string, stepId: string, status: StepStatus, patch: { dueAt?: number | null; result?: Record<string, unknown> | null; error?: string | null } = {}): Promise<boolean> {
    return this.storage.workflowRuns.markStep(runId, stepId, status, patch);
  }

  finishRun(runId: string, status: Exclude<RunStatus, 'running'>, error: string | null = null): Promise<boolean> {
    return this.storage.workflowRuns.finishRun(runId, status, error);
  }

  /** What a batch of step jobs reads once: their runs with every step row, the runs' events. */
  async loadBatch(runIds: readonly string[]): Promise<{ runs: RunRecord[]; steps: StepRecord[]; events: WorkflowEventRecord[] }> {
    const q = this.storage.workflowRuns;
    const [runs, steps] = await Promise.all([q.runsByIds(runIds), q.stepsOfRuns(runIds)]);
    const events = await q.eventsByIds([...new Set(runs.filter((r) => r.status === 'running').map((r) => r.eventId))]);
    return { runs, steps, events };
  }

  /**
   * Writes what a batch of step jobs did, in one transaction: each run's writes in their order; a
   * step write refused (its row was final already: cancelled, or done by another job) stops that
   * run's later writes. Returns per run how many of its writes were applied. The writes go in
   * rounds (every run's first write, then every run's second, ...), each round's writes of one shape
   * in one statement: a batch of reminders (wait done, send done, run done) is three statements.
   */
  applyBatch(runs: readonly (readonly StepWrite[])[]): Promise<number[]> {
    return this.storage.transaction(async (tx) => {
      const q = tx.workflowRuns;
      const applied = runs.map(() => 0);
      let active = runs.flatMap((w, i) => (w.length > 0 ? [i] : []));
      for (let round = 0; active.length > 0; round++) {
        const writes = active.map((i) => ({ i, w: runs[i]?.[round] as StepWrite }));
        const ok = await applyRound(q, writes);
        for (const { i } of writes) if (ok.has(i)) applied[i] = round + 1;
        active = writes.filter((x) => ok.has(x.i) && (runs[x.i]?.length ?? 0) > round + 1).map((x) => x.i);
      }
      return applied;
    });
  }

  openSteps(eventId: string): Promise<{ runId: string; stepId: string }[]> {
    return this.storage.workflowRuns.openSteps(eventId);
  }

  /** Nothing to close: the hub's storage is closed by the hub. */
  async close(): Promise<void> {}
}
