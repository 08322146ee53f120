import type { Logger } from 'pino';
import type { Store, Conversation, ConversationPatch, MessageRow } from '../storage/store.js';
import { refOf } from '../storage/store.js';
import type { HubQueues } from '../queues/hub-queues.js';
import type { Templates } from '../templates.js';
import type { AttachmentMeta, ConversationRef, JsonObject } from '../types.js';
import { HubError } from '../errors.js';
import { detectLocale } from '../locale.js';
import { CSAT_BUTTONS } from './csat.js';

export interface Agent {
  /** Desk user id (Slack user id). */
  id: string;
  /** Name the customer sees. */
  name: string;
}

export interface AgentActionsDeps {
  store: Store;
  queues: HubQueues;
  templates: Templates;
  log: Logger;
  now(): number;
}

const MAX_RETRIES = 8;

/**
 * What agents do to a conversation. Every change is a compare-and-set on the conversation version
 * with an event; replies are outbound rows keyed by the desk event, so a redelivered event sends once.
 */
export class AgentActions {
  constructor(private readonly deps: AgentActionsDeps) {}

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
    const { store } = this.deps;
    const dedupeKey = `agent:${eventKey}`;
    const existing = await store.messageByKey(dedupeKey);
    if (existing) return { messageId: existing.id, duplicate: true, claimed: false };
    // Read before the transaction: on SQLite (one connection) a query outside `trx` inside it deadlocks.
    const ref = await this.customerRef(await this.get(conversationId));
    const result = await this.change(conversationId, agent, 'agent_reply', (c) => {
      const claim = c.status !== 'agent' || !c.assignee;
      const patch: ConversationPatch = { status: 'agent', resolvedAt: null };
      if (claim) patch.assignee = agent.id;
      return { patch, data: { claimed: claim } };
    }, async (trx, c) => {
      return store.insertOutbound(trx, {
        conversationId: c.id,
        customerId: c.customerId,
        channel: ref.channel,
        ref,
        author: 'agent',
        authorName: agent.name,
        text,
        attachments,
        dedupeKey,
      });
    });
    const row = result.effect;
    if (!row) throw new HubError('INTERNAL', 'agent reply was not stored');
    await this.deps.queues.addOutbound(row.channel, row.id);
    return { messageId: row.id, duplicate: false, claimed: result.data.claimed === true };
  }

  async claim(conversationId: string, agent: Agent): Promise<Conversation> {
    return (
      await this.change(conversationId, agent, 'claimed', (c) => {
        if (c.status === 'resolved') throw new HubError('INPUT_INVALID', 'the case is resolved');
        return { patch: { status: 'agent', assignee: agent.id }, data: {} };
      })
    ).conversation;
  }

  /** Closes the conversation and asks the customer for a 1-5 rating. */
  async resolve(conversationId: string, agent: Agent): Promise<Conversation> {
    const { store } = this.deps;
    // Read before the transaction: on SQLite (one connection) a query outside `trx` inside it deadlocks.
    const conv = await this.get(conversationId);
    const ref = await this.customerRef(conv);
    const last = (await store.conversationMessages(conv.id, 20)).filter((m) => m.author === 'customer').pop();
    const locale = detectLocale(last?.text ?? '', (await store.getCustomer(conv.customerId))?.locale);
    const res = await this.change(
      conversationId,
      agent,
      'resolved',
      (c) => {
        if (c.status === 'resolved') return null;
        return {
          patch: { status: 'resolved', resolvedAt: this.deps.now(), botState: { ...c.botState, csatPending: true } },
          data: {},
        };
      },
      async (trx, c) => {
        return store.insertOutbound(trx, {
          conversationId: c.id,
          customerId: c.customerId,
          channel: ref.channel,
          ref,
          author: 'system',
          text: this.deps.templates.render('csat_question', locale),
          buttons: CSAT_BUTTONS,
        });
      },
    );
    if (res.effect) await this.deps.queues.addOutbound(res.effect.channel, res.effect.id);
    return res.conversation;
  }

  async returnToBot(conversationId: string, agent: Agent): Promise<Conversation> {
    return (
      await this.change(conversationId, agent, 'returned_to_bot', () => ({
        patch: { status: 'bot', assignee: null, strikes: 0, escalationReason: null, priority: null },
        data: {},
      }))
    ).conversation;
  }

  /**
   * A system message to the customer outside a bot turn (the desk's after-hours notice), stored and
   * queued once per `key`: a repeated call re-queues a still-pending row and stores nothing new.
   */
  async notify(conversationId: string, text: string, key: string): Promise<{ messageId: string; duplicate: boolean }> {
    const { store } = this.deps;
    const dedupeKey = `notify:${key}`;
    const existing = await store.messageByKey(dedupeKey);
    if (existing) {
      if (existing.delivery_status === 'pending') await this.deps.queues.addOutbound(existing.channel, existing.id);
      return { messageId: existing.id, duplicate: true };
    }
    const c = await this.get(conversationId);
    const ref = await this.customerRef(c);
    let row: MessageRow;
    try {
      row = await store.transaction((trx) =>
        store.insertOutbound(trx, {
          conversationId: c.id,
          customerId: c.customerId,
          channel: ref.channel,
          ref,
          author: 'system',
          text,
          dedupeKey,
        }),
      );
    } catch (err) {
      // A concurrent call with the same key won the unique key.
      const again = await store.messageByKey(dedupeKey);
      if (again) return { messageId: again.id, duplicate: true };
      throw err;
    }
    await this.deps.queues.addOutbound(row.channel, row.id);
    return { messageId: row.id, duplicate: false };
  }

  private async get(conversationId: string): Promise<Conversation> {
    const c = await this.deps.store.getConversation(conversationId);
    if (!c) throw new HubError('NOT_FOUND', `conversation ${conversationId} not found`);
    return c;
  }

  /** The identity the customer last wrote from in this conversation (where replies go). */
  private async customerRef(c: Conversation): Promise<ConversationRef> {
    const msgs = await this.deps.store.conversationMessages(c.id, 50);
    const lastIn = [...msgs].reverse().find((m: MessageRow) => m.direction === 'in');
    if (lastIn) return refOf(lastIn);
    const ids = await this.deps.store.identitiesOf(c.customerId);
    const id = ids.find((i) => i.channel === c.channel) ?? ids[0];
    if (!id) throw new HubError('NOT_FOUND', `customer of conversation ${c.id} has no identity`);
    return refOf(id);
  }

  private async change<E>(
    conversationId: string,
    agent: Agent,
    eventType: string,
    decide: (c: Conversation) => { patch: ConversationPatch; data: JsonObject } | null,
    effect?: (trx: Parameters<Parameters<Store['transaction']>[0]>[0], c: Conversation) => Promise<E>,
  ): Promise<{ conversation: Conversation; data: JsonObject; effect?: E }> {
    const { store } = this.deps;
    for (let i = 0; i < MAX_RETRIES; i++) {
      const c = await this.get(conversationId);
      const d = decide(c);
      if (!d) return { conversation: c, data: {} };
      const out = await store.transaction(async (trx) => {
        if (!(await store.updateConversation(trx, c.id, c.version, d.patch))) return null;
        await store.appendEvent(trx, { conversationId: c.id, type: eventType, actor: `agent:${agent.id}`, data: d.data });
        return { e: effect ? await effect(trx, c) : undefined };
      });
      if (out) {
        const fresh = await store.getConversation(conversationId);
        return { conversation: fresh ?? c, data: d.data, ...(out.e !== undefined ? { effect: out.e } : {}) };
      }
    }
    throw new HubError('VERSION_CONFLICT', `conversation ${conversationId} kept changing`, { retry: 'retry' });
  }
}
