/**
 * The engine's sweep: queues again the open steps whose job was lost (a crash between a commit and
 * its enqueue): pending, or scheduled and overdue, for `olderThanMs`, with no job in Redis (or one
 * failed for good: retried). An ask that was sent and waits for its answer gets its timeout job
 * back; any other scheduled step (a wait, a send held back by quiet hours or its channel's rate
 * limit, an ask not sent yet) whose due slot's job is gone (src/workflows/engine-slots.ts) gets a
 * step job of its own. The step row decides whether a step runs, so a
 * job queued twice does nothing twice.
 */
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Storage } from '../core/storage/storage.js';
import { stepJobId, timeoutJobId } from './engine-flow.js';
import { holdsRateSlot, slotJobId } from './engine-slots.js';
import type { WorkflowVersions } from './engine-versions.js';

/** A job of the `workflows` queue: a run's step, or an ask's timeout (`<runId>/<stepId>/timeout`). */
export interface StepJob {
  runId: string;
  stepId: string;
  timeout?: true;
}

export interface SweepDeps {
  storage: Storage;
  versions: WorkflowVersions;
  queue: Queue;
  log: Logger;
  now: number;
}

/** Returns how many steps were queued again. */
export async function sweepSteps(d: SweepDeps, olderThanMs: number): Promise<number> {
  let queued = 0;
  for (const s of await d.storage.workflowRuns.staleSteps(olderThanMs)) {
    const asked = s.status === 'scheduled' && typeof s.result?.sendId === 'string' && (await d.versions.step(s.workflow, s.version, s.stepId))?.action === 'ask';
    // A scheduled step whose due slot is still there (a long backlog): the slot will run it.
    if (s.status === 'scheduled' && !asked && s.dueAt !== null) {
      const slot = await d.queue.getJob(slotJobId(s.dueAt, holdsRateSlot(s.result, s.dueAt)));
      if (slot && (await slot.getState()) !== 'failed') continue;
    }
    const id = asked ? timeoutJobId(s.runId, s.stepId) : stepJobId(s.runId, s.stepId);
    const job = await d.queue.getJob(id);
    if (job && (await job.getState()) === 'failed') await job.retry('failed');
    else if (!job) {
      const data: StepJob = asked ? { runId: s.runId, stepId: s.stepId, timeout: true } : { runId: s.runId, stepId: s.stepId };
      await d.queue.add(asked ? 'timeout' : 'step', data, { jobId: id, delay: Math.max(0, (s.dueAt ?? 0) - d.now) });
    } else continue;
    queued++;
  }
  if (queued > 0) d.log.warn({ steps: queued }, 'workflow sweep: steps whose job was lost are queued again');
  return queued;
}
