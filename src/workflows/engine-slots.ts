/**
 * Due slots: a step that waits (a `wait`, a send held back by quiet hours or its channel's rate
 * limit, an ask not sent yet) keeps no job of its own in Redis. Its row is `scheduled` with its due
 * time, and one delayed job per second of due time (`slot-<ms>`, the second's end) runs every step
 * due in that second when it comes. 100,000 reminders due at the same moment are one delayed job,
 * not 100,000 (issue #15): one job fewer per reminder for Redis and this process.
 *
 * A send that holds a slot of its channel's rate limit gets a slot job of its own millisecond, so
 * that rate-limited sends keep their even pace.
 *
 * A slot job reads its window's scheduled steps a page at a time (`SLOT_PAGE`, in (due_at, run_id,
 * step_id) order: index `workflow_steps_due`), reading the next page while one runs, and hands each
 * page to the step batches (src/workflows/engine-batch.ts) as if their jobs had come in together.
 * It completes once every page's batch committed.
 *
 * What holds:
 * - A step runs only from its row: a slot that finds a row done, cancelled or failed skips it, so a
 *   slot run twice (a retry, a worker killed mid-slot whose job BullMQ hands to another) runs no
 *   step twice, and a send carries its key (`wf:<runId>:<stepId>`) as before.
 * - A step whose batch throws is queued as a step job of its own (`<runId>/<stepId>`), with BullMQ's
 *   retries and backoff; the slot goes on with the rest.
 * - A slot is at most `SLOT_MS` late (it fires at its second's end, never early: a slot job that
 *   comes before its time on this process's clock waits in Redis again).
 * - A row written into a second whose slot job is already running may be passed by its pages (the
 *   add finds the job there): the sweep (src/workflows/engine-sweep.ts) queues such a step when its
 *   slot job is gone and it is `sweepAfterMs` overdue. Not lost; late.
 * - An ask that was sent and waits for its answer is not the slot's: its timeout job ends it.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { DueCursor, DueStep } from '../core/storage/workflow-runs.js';
import type { Storage } from '../core/storage/storage.js';
import type { WorkflowVersions } from './engine-versions.js';

/** A slot's width: due times within one second share a job. */
export const SLOT_MS = 1000;
/** Scheduled steps read (and handed to the batches) at a time. */
export const SLOT_PAGE = 512;

/** The data of a slot job: the end of its window (epoch ms, the hub's clock) and the window's width. */
export interface SlotJob {
  slot: number;
  width: number;
}

/** The slot a due time falls in: the end of its second. */
export function slotOf(dueAt: number): number {
  return Math.ceil(dueAt / SLOT_MS) * SLOT_MS;
}

/**
 * The slot job for a due time: its second's, or, for a send that holds a slot of its channel's rate
 * limit (`held`), one of its own millisecond (such sends leave at an even pace, not a second's worth at once).
 */
export function slotFor(dueAt: number, held = false): SlotJob {
  return held ? { slot: dueAt, width: 1 } : { slot: slotOf(dueAt), width: SLOT_MS };
}

/** The slot job's id for a due time (one per second; one per millisecond for a held send). */
export function slotJobId(dueAt: number, held = false): string {
  const s = slotFor(dueAt, held);
  return s.width === SLOT_MS ? `slot-${s.slot}` : `slot-${s.slot}-${s.width}`;
}

/** true when a scheduled step's row holds a slot of its channel's rate limit (engine-steps.ts `send`). */
export function holdsRateSlot(result: Readonly<Record<string, unknown>> | null | undefined, dueAt: number | null): boolean {
  return typeof result?.slotAt === 'number' && result.slotAt === dueAt;
}

/** A run's step (a step job's data: src/workflows/engine-sweep.ts). */
type StepJob = { runId: string; stepId: string };

export interface SlotDeps {
  storage: Storage;
  versions: WorkflowVersions;
  /** Runs the steps as one or more step batches; one settled result per step. */
  run(steps: readonly StepJob[]): Promise<PromiseSettledResult<void>[]>;
  /** Queues step jobs (a step whose batch threw). */
  enqueue(steps: readonly StepJob[]): Promise<void>;
  log: Logger;
}

/** Runs every scheduled step due in the slot's window; returns how many it handed on. */
export async function runSlot(d: SlotDeps, { slot, width }: SlotJob, page = SLOT_PAGE): Promise<number> {
  const read = (after: DueCursor | undefined): Promise<DueStep[]> => {
    const p = d.storage.workflowRuns.dueSteps(slot - width, slot, after, page);
    p.catch(() => undefined); // awaited below; read ahead, it must not count as unhandled meanwhile
    return p;
  };
  let handed = 0;
  let next = read(undefined);
  for (;;) {
    const rows = await next;
    if (rows.length === 0) return handed;
    const more = rows.length === page;
    if (more) next = read(rows[rows.length - 1]);
    const steps: StepJob[] = [];
    for (const s of rows) if (!(await waitsForAnswer(d.versions, s))) steps.push({ runId: s.runId, stepId: s.stepId });
    const settled = await d.run(steps);
    const failed = steps.filter((_, i) => settled[i]?.status !== 'fulfilled');
    if (failed.length > 0) {
      const first = settled.find((s) => s.status === 'rejected');
      d.log.warn({ slot, steps: failed.length }, `workflow slot: steps queued as jobs of their own after an error: ${first?.status === 'rejected' ? errorMessage(first.reason) : 'unknown'}`);
      await d.enqueue(failed);
    }
    handed += steps.length;
    if (!more) return handed;
  }
}

/** An ask that was sent: its timeout job (or the answer) ends it, not the slot. */
async function waitsForAnswer(versions: WorkflowVersions, s: DueStep): Promise<boolean> {
  if (s.result === null || !s.result.includes('"sendId"')) return false;
  let result: unknown;
  try {
    result = JSON.parse(s.result);
  } catch {
    return false;
  }
  if (typeof (result as { sendId?: unknown } | null)?.sendId !== 'string') return false;
  return (await versions.step(s.workflow, s.version, s.stepId))?.action === 'ask';
}
