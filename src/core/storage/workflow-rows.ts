/**
 * The workflow engine's rows (tables of `workflows:001_runs` and `002_schedules`), their records
 * and the mappers between them; the repository is src/core/storage/workflow-runs.ts.
 */
import type { Selectable } from 'kysely';
import type { Database } from './tables.js';

export const RUN_STATUSES = ['running', 'done', 'cancelled', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const STEP_STATUSES = ['pending', 'scheduled', 'done', 'skipped', 'cancelled', 'failed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];
/** A step in one of these states is never run again. */
export const FINAL_STEP: readonly StepStatus[] = ['done', 'skipped', 'cancelled', 'failed'];

export interface WorkflowEventTable {
  id: string;
  type: string;
  idempotency_key: string;
  request_hash: string;
  /** null: a scheduled run's event (no customer). */
  customer_id: string | null;
  correlation_value: string | null;
  data: string;
  locale: string | null;
  timezone: string | null;
  created_at: number;
}
export interface WorkflowRunTable {
  id: string;
  workflow: string;
  version: string;
  event_id: string;
  customer_id: string | null;
  correlation_value: string | null;
  status: string;
  error: string | null;
  created_at: number;
  updated_at: number;
}
export interface WorkflowStepTable {
  run_id: string;
  step_id: string;
  status: string;
  due_at: number | null;
  result: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}
/** The source of a workflow version a run started on (`workflows:002_schedules`). */
export interface WorkflowVersionTable {
  version: string;
  workflow: string;
  file: string;
  source: string;
  defaults: string | null;
  templates: string | null;
  created_at: number;
}
/** A stored version's source, as the engine reads it. */
export type WorkflowVersionRecord = Omit<WorkflowVersionTable, 'created_at'>;
export type Tables = Database & {
  workflow_versions: WorkflowVersionTable;
  workflow_events: WorkflowEventTable;
  workflow_runs: WorkflowRunTable;
  workflow_steps: WorkflowStepTable;
};

export interface WorkflowEventRecord {
  id: string;
  type: string;
  idempotencyKey: string;
  requestHash: string;
  /** null: a scheduled run's event. */
  customerId: string | null;
  correlationValue: string | null;
  data: Record<string, unknown>;
  locale: string | null;
  timezone: string | null;
  createdAt: number;
}

export interface RunRecord {
  id: string;
  workflow: string;
  version: string;
  eventId: string;
  customerId: string | null;
  correlationValue: string | null;
  status: RunStatus;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface StepRecord {
  runId: string;
  stepId: string;
  status: StepStatus;
  dueAt: number | null;
  result: Record<string, unknown> | null;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A run to start with its event: the workflow, its version and its first step. */
export interface NewRun {
  workflow: string;
  version: string;
  correlationValue: string | null;
  firstStep: string;
}

export const toEvent = (r: Selectable<WorkflowEventTable>): WorkflowEventRecord => ({
  id: r.id,
  type: r.type,
  idempotencyKey: r.idempotency_key,
  requestHash: r.request_hash,
  customerId: r.customer_id,
  correlationValue: r.correlation_value,
  data: JSON.parse(r.data) as Record<string, unknown>,
  locale: r.locale,
  timezone: r.timezone,
  createdAt: Number(r.created_at),
});
export const toRun = (r: Selectable<WorkflowRunTable>): RunRecord => ({
  id: r.id,
  workflow: r.workflow,
  version: r.version,
  eventId: r.event_id,
  customerId: r.customer_id,
  correlationValue: r.correlation_value,
  status: r.status as RunStatus,
  error: r.error,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});
export const toStep = (r: Selectable<WorkflowStepTable>): StepRecord => ({
  runId: r.run_id,
  stepId: r.step_id,
  status: r.status as StepStatus,
  dueAt: r.due_at === null ? null : Number(r.due_at),
  result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
  error: r.error,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});
