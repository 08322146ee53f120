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

  openSteps(eventId: string): Promise<{ runId: string; stepId: string }[]> {
    return this.storage.workflowRuns.openSteps(eventId);
  }

  /** Nothing to close: the hub's storage is closed by the hub. */
  async close(): Promise<void> {}
}
