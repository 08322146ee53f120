/**
 * How a run moves through a workflow's step tree: after a step comes the next one of its list, and
 * after the last step of a branch (`if`'s then / else) the step after the branching one.
 */
import type { Step, Workflow } from './types.js';

const cache = new WeakMap<Workflow, Map<string, string | undefined>>();

function index(steps: readonly Step[], after: string | undefined, map: Map<string, string | undefined>): void {
  steps.forEach((s, i) => {
    const next = steps[i + 1]?.id ?? after;
    map.set(s.id, next);
    if (s.action === 'if') {
      index(s.then, next, map);
      index(s.else, next, map);
    }
    if (s.action === 'ask') for (const branch of Object.values(s.on)) index(branch, next, map);
  });
}

/** The step that follows `step` once it finished (its subtree included); undefined at the end. */
export function successor(workflow: Workflow, stepId: string): string | undefined {
  let map = cache.get(workflow);
  if (!map) {
    map = new Map();
    index(workflow.steps, undefined, map);
    cache.set(workflow, map);
  }
  return map.get(stepId);
}

/** The next step after `step` finished with `result` (an `if` goes into the branch it chose, an `ask` into its answer's). */
export function nextStep(workflow: Workflow, step: Step, result: Readonly<Record<string, unknown>> | null): string | undefined {
  if (step.action === 'if') {
    const branch = result?.branch === 'then' ? step.then : step.else;
    return branch[0]?.id ?? successor(workflow, step.id);
  }
  if (step.action === 'ask') {
    const answer = result?.answer;
    return (typeof answer === 'string' ? step.on[answer]?.[0]?.id : undefined) ?? successor(workflow, step.id);
  }
  return successor(workflow, step.id);
}

/** BullMQ job id of a run's step (BullMQ refuses `:` in custom ids, so `/`). */
export const stepJobId = (runId: string, stepId: string): string => `${runId}/${stepId}`;

/** BullMQ job id of an ask's timeout. */
export const timeoutJobId = (runId: string, stepId: string): string => `${runId}/${stepId}/timeout`;
