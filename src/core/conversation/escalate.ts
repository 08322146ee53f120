import type { Actor } from '../events.js';
import type { Conversation } from '../model.js';
import type { EscalationReason, Priority } from '../responder.js';
import { changeConversation, type ChangeDeps } from './change.js';

export interface EscalateRequest {
  /** The desk keeps one case per id; the same id again changes nothing. */
  escalationId: string;
  reason: EscalationReason;
  priority: Priority;
  /** An internal note for the agent (a `note.added` event, never sent to the customer). */
  note?: string;
  /** Who wrote the note (`note.added`'s agentId), e.g. `workflow:risk-alert`. */
  noteAuthor?: string;
  actor: Actor;
}

/**
 * Hands a conversation over to a person from outside a customer turn (a workflow step): through
 * the one compare-and-set, status `waiting_agent` with the escalation's id, reason and priority,
 * one `conversation.escalated` event (its messageId: the conversation's latest message) and the
 * note with it, in the same commit. Idempotent on `escalationId`: a redelivered job escalates once.
 */
export async function escalateConversation(deps: ChangeDeps, conversationId: string, req: EscalateRequest): Promise<{ conversation: Conversation; escalated: boolean }> {
  const res = await changeConversation(deps, conversationId, async (c) => {
    if (c.escalationId === req.escalationId) return null;
    const [latest] = await deps.storage.messages.ofConversation(c.id, 1);
    return {
      patch: { status: 'waiting_agent', escalationId: req.escalationId, escalationReason: req.reason, priority: req.priority, assignee: null, strikes: 0, resolvedAt: null },
      events: [
        {
          type: 'conversation.escalated',
          actor: req.actor,
          payload: { escalationId: req.escalationId, reason: req.reason, priority: req.priority, messageId: latest?.id ?? null, sentiment: null },
        },
        ...(req.note
          ? [{ type: 'note.added' as const, actor: req.actor, payload: { agentId: req.noteAuthor ?? req.actor, text: req.note, key: `${req.escalationId}:note` } }]
          : []),
      ],
    };
  });
  return { conversation: res.conversation, escalated: res.changed };
}
