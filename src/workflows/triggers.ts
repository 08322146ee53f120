/**
 * Conversation-event triggers (issue #15): a workflow with `trigger: { conversation: resolved }`
 * (or `escalated`, `csat.given`) starts a run for the conversation's customer when the core emits
 * that event. The subscriber `workflows` (one per core event type some workflow starts on) starts
 * each such workflow through the engine's `startRun`, with an internal event keyed
 * `conv:<core event id>:<workflow>`: a redelivered core event starts no second run. The run's data
 * are the core payload's fields the trigger declares (src/workflows/fields.ts CONVERSATION_DATA).
 */
import type { EventEnvelope, EventSubscriptions, EventType } from '../core/events.js';
import type { WorkflowEngine } from './engine.js';
import type { ConversationEvent, Workflow } from './types.js';

export const WORKFLOWS_SUBSCRIBER = 'workflows';

/** The core event type of each conversation trigger. */
export const CORE_EVENT: Readonly<Record<ConversationEvent, EventType>> = {
  escalated: 'conversation.escalated',
  resolved: 'conversation.resolved',
  'csat.given': 'csat.given',
};

/** The payload fields a trigger declares, of the types it declares (others are left out). */
export function triggerData(w: Workflow, payload: Readonly<Record<string, unknown>>): Record<string, string | number | boolean> {
  const data: Record<string, string | number | boolean> = {};
  for (const field of Object.keys(w.trigger.data)) {
    const v = payload[field];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') data[field] = v;
  }
  return data;
}

/**
 * Registers the `workflows` subscriber for the three core event types (every process, at boot):
 * each event starts the workflows loaded *then* that start on it, so a hot reload that adds or
 * removes such a workflow needs no new subscription; an event no loaded workflow starts on queues
 * no job.
 */
export function subscribeConversationTriggers(subs: EventSubscriptions, engine: WorkflowEngine): void {
  for (const [trigger, type] of Object.entries(CORE_EVENT) as [ConversationEvent, EventType][]) {
    const starting = () => engine.versions.workflows().filter((w) => w.trigger.kind === 'conversation' && w.trigger.event === trigger);
    subs.on(
      WORKFLOWS_SUBSCRIBER,
      type,
      async (e: EventEnvelope<EventType>) => {
        for (const w of starting()) {
          await engine.startRun(w.name, { type: e.type, key: `conv:${e.id}:${w.name}`, customerId: e.customerId, data: triggerData(w, e.payload as Record<string, unknown>) });
        }
      },
      // No job for the event while no loaded workflow starts on it (decided when it is written).
      { when: () => starting().length > 0 },
    );
  }
}
