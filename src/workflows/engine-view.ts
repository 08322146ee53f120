/** What `GET /api/events/{id}` shows: an event, its runs, and each run's steps with their action (from the run's own version). */
import type { WorkflowVersions } from './engine-versions.js';
import type { RunRecord, StepRecord, WorkflowEventRecord, WorkflowRepo } from './storage/repo.js';

export interface EventView {
  event: WorkflowEventRecord;
  runs: { run: RunRecord; steps: (StepRecord & { action: string })[] }[];
}

export async function viewEvent(repo: WorkflowRepo, versions: WorkflowVersions, eventId: string): Promise<EventView | undefined> {
  const event = await repo.event(eventId);
  if (!event) return undefined;
  const runs = await Promise.all(
    (await repo.runsOfEvent(eventId)).map(async (run) => {
      const def = await versions.of(run.workflow, run.version);
      return { run, steps: (await repo.stepsOf(run.id)).map((s) => ({ ...s, action: def?.workflow.stepsById.get(s.stepId)?.action ?? 'unknown' })) };
    }),
  );
  return { event, runs };
}
