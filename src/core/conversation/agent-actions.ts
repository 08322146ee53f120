import type { Conversation, ConversationPatch } from '../model.js';
import type { AttachmentMeta } from '../types.js';
import { HubError } from '../errors.js';
import { changeConversation, type ChangeDeps } from './change.js';
import { replyRef } from './proactive.js';

export interface Agent {
  /** Desk user id (Slack user id, console user). */
  id: string;
  /** Name the customer sees. */
  name: string;
}

/**
 * What agents do to a conversation. Every change goes through the one compare-and-set with its
 * event; replies are outbound rows keyed by the desk's event, so a redelivered event sends once.
 */
export class AgentActions {
  constructor(private readonly deps: ChangeDeps & { now(): number }) {}

  /**
   * An agent's reply to the customer, on the customer's own channel. On an unclaimed case the reply
   * claims it for its author. `eventKey` is the desk's unique id of the reply (Slack event ts).
   */
  async reply(
    conversationId: string,
    agent: Agent,
    text: string,
    eventKey: string,
    attachments: AttachmentMeta[] = [],
  ): Promise<{ messageId: string; duplicate: boolean; claimed: boolean }> {
    const { storage } = this.deps;
    const dedupeKey = `agent:${eventKey}`;
    const existing = await storage.messages.byKey(dedupeKey);
    if (existing) return { messageId: existing.id, duplicate: true, claimed: false };
    const ref = await replyRef(this.deps, await this.get(conversationId));
    let claimed = false;
    const res = await changeConversation(this.deps, conversationId, (c) => {
      claimed = c.status !== 'agent' || !c.assignee;
      const patch: ConversationPatch = { status: 'agent', resolvedAt: null, ...(claimed ? { assignee: agent.id } : {}) };
      return {
        patch,
        replies: [{ channel: ref.channel, ref, author: 'agent', authorName: agent.name, text, ...(attachments.length ? { attachments } : {}), dedupeKey }],
        events: (rows) =>
          rows.map((r) => ({
            type: 'agent.replied',
            actor: `agent:${agent.id}`,
            payload: { messageId: r.id, agentId: agent.id, agentName: agent.name, claimed },
          })),
      };
    });
    const row = res.replies[0];
    if (!row) throw new HubError('INTERNAL', 'agent reply was not stored');
    return { messageId: row.id, duplicate: false, claimed };
  }

  async claim(conversationId: string, agent: Agent): Promise<Conversation> {
    const res = await changeConversation(this.deps, conversationId, (c) => {
      if (c.status === 'resolved') throw new HubError('INPUT_INVALID', 'the case is resolved');
      return { patch: { status: 'agent', assignee: agent.id }, events: [{ type: 'conversation.claimed', actor: `agent:${agent.id}`, payload: { agentId: agent.id } }] };
    });
    return res.conversation;
  }

  /** Closes the conversation; the CSAT subscriber then asks the customer for a 1-5 rating. */
  async resolve(conversationId: string, agent: Agent): Promise<Conversation> {
    const res = await changeConversation(this.deps, conversationId, (c) => {
      if (c.status === 'resolved') return null;
      return {
        patch: { status: 'resolved', resolvedAt: this.deps.now(), botState: { ...c.botState, csatPending: true } },
        events: [{ type: 'conversation.resolved', actor: `agent:${agent.id}`, payload: { agentId: agent.id } }],
      };
    });
    return res.conversation;
  }

  async returnToBot(conversationId: string, agent: Agent): Promise<Conversation> {
    const res = await changeConversation(this.deps, conversationId, () => ({
      patch: { status: 'bot', assignee: null, strikes: 0, escalationReason: null, priority: null },
      events: [{ type: 'conversation.returned_to_bot', actor: `agent:${agent.id}`, payload: { agentId: agent.id } }],
    }));
    return res.conversation;
  }

  /** An internal note on the case (never sent to the customer); `key` is the desk's id of it (once per key). */
  async note(conversationId: string, agent: Agent, text: string, key: string): Promise<void> {
    const events = await this.deps.storage.events.ofConversation(conversationId);
    if (events.some((e) => e.type === 'note.added' && e.payload !== null && typeof e.payload === 'object' && 'key' in e.payload && e.payload.key === key)) return;
    await changeConversation(this.deps, conversationId, () => ({
      patch: {},
      events: [{ type: 'note.added', actor: `agent:${agent.id}`, payload: { agentId: agent.id, text, key } }],
    }));
  }

  private async get(conversationId: string): Promise<Conversation> {
    const c = await this.deps.storage.conversations.get(conversationId);
    if (!c) throw new HubError('NOT_FOUND', `conversation ${conversationId} not found`);
    return c;
  }
}
