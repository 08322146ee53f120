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

async function applyWrite(q: Storage['workflowRuns'], w: StepWrite): Promise<boolean> {
  switch (w.kind) {
    case 'step':
      return (w.fresh && (await q.insertStep(w.runId, w.stepId, w.status, w.patch))) || q.markStep(w.runId, w.stepId, w.status, w.patch);
    case 'reach':
      await q.reach(w.runId, w.stepId, true);
      return true;
    case 'finish':
      // A run ended already (cancelled meanwhile) stops nothing after it: this is a run's last write.
      await q.finishRun(w.runId, w.status, w.error);
      return true;
  }
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
   * run's later writes. Returns per run how many of its writes were applied.
   */
  applyBatch(runs: readonly (readonly StepWrite[])[]): Promise<number[]> {
    return this.storage.transaction(async (tx) => {
      const applied: number[] = [];
      for (const writes of runs) {
        let n = 0;
        for (const w of writes) {
          if (!(await applyWrite(tx.workflowRuns, w))) break;
          n++;
        }
        applied.push(n);
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
