import type { Logger } from 'pino';
import type { Store, Conversation, RecordedInbound, NewOutbound, ConversationPatch, MessageRow } from '../storage/store.js';
import type { HubQueues } from '../queues/hub-queues.js';
import type { BotDecision, EscalationReason, Priority, Responder } from '../responder.js';
import type { Templates } from '../templates.js';
import type { DeskJob } from '../desk.js';
import type { InboundMessage, JsonObject, MessageAuthor } from '../types.js';
import { HubError, errorMessage } from '../errors.js';
import { detectLocale } from '../locale.js';
import { awaitingCsat, csatScore } from '../conversation/csat.js';

export interface InboundDeps {
  store: Store;
  queues: HubQueues;
  /** Read on every turn so a hot-reloaded bot takes effect at once. */
  responder(): Responder;
  templates: Templates;
  log: Logger;
  maxStrikes: number;
  reopenWindowMs: number;
  now(): number;
}

interface Plan {
  patch: ConversationPatch;
  replies: Omit<NewOutbound, 'conversationId' | 'customerId' | 'channel' | 'ref' | 'causedBy'>[];
  events: { type: string; data: JsonObject }[];
  desk: DeskJob[];
}

const HISTORY_TURNS = 10;
const MAX_CAS_RETRIES = 8;

/**
 * Handles one inbound message exactly once in effect: stored once (unique key), decided once (the
 * conversation version check), replies written in the same transaction that marks it processed.
 * A redelivery of a processed message only re-queues what that processing left unsent.
 */
export async function processInbound(deps: InboundDeps, msg: InboundMessage): Promise<void> {
  const { store } = deps;
  const score = csatScore(msg);
  const rec = await store.recordInbound(
    msg,
    deps.reopenWindowMs,
    (c) => score !== undefined && awaitingCsat(c, deps.now()),
  );
  if (rec.duplicate && rec.message.processed_at !== null) {
    await requeueEffects(deps, rec.message);
    return;
  }
  let conversation = rec.conversation;
  for (let attempt = 0; attempt < MAX_CAS_RETRIES; attempt++) {
    const plan = await planTurn(deps, rec, conversation, msg, score);
    const rows = await store.transaction(async (trx) => {
      if (!(await store.updateConversation(trx, conversation.id, conversation.version, plan.patch))) return null;
      const inserted: MessageRow[] = [];
      for (const r of plan.replies) {
        inserted.push(
          await store.insertOutbound(trx, {
            ...r,
            conversationId: conversation.id,
            customerId: rec.customer.id,
            channel: msg.channel,
            ref: msg.ref,
            causedBy: rec.message.id,
          }),
        );
      }
      for (const e of plan.events) {
        await store.appendEvent(trx, { conversationId: conversation.id, type: e.type, actor: 'core', data: e.data });
      }
      for (const job of plan.desk) {
        await store.appendEvent(trx, {
          conversationId: conversation.id,
          type: 'desk_job',
          actor: 'core',
          data: { causedBy: rec.message.id, job: job as unknown as JsonObject },
        });
      }
      await store.markProcessed(trx, rec.message.id);
      return inserted;
    });
    if (rows) {
      for (const row of rows) await deps.queues.addOutbound(row.channel, row.id, msg.receivedAt);
      for (const job of plan.desk) await deps.queues.addDesk(job, deskJobId(job, rec.message.id));
      return;
    }
    const fresh = await store.getConversation(conversation.id);
    if (!fresh) throw new HubError('STORAGE', `conversation ${conversation.id} vanished`);
    conversation = fresh;
  }
  throw new HubError('VERSION_CONFLICT', `conversation ${conversation.id} kept changing; will retry`, { retry: 'retry' });
}

export function deskJobId(job: DeskJob, causedBy: string): string {
  return `${job.type}-${causedBy}`;
}

/** After a crash between commit and enqueue: queue again what the processing decided. */
async function requeueEffects(deps: InboundDeps, inbound: MessageRow): Promise<void> {
  for (const row of await deps.store.outboundCausedBy(inbound.id)) {
    if (row.delivery_status === 'pending') await deps.queues.addOutbound(row.channel, row.id);
  }
  for (const e of await deps.store.events(inbound.conversation_id)) {
    if (e.type === 'desk_job' && e.data.causedBy === inbound.id) {
      const job = e.data.job as unknown as DeskJob;
      await deps.queues.addDesk(job, deskJobId(job, inbound.id));
    }
  }
}

async function planTurn(
  deps: InboundDeps,
  rec: RecordedInbound,
  conv: Conversation,
  msg: InboundMessage,
  score: number | undefined,
): Promise<Plan> {
  const locale = detectLocale(msg.text, rec.customer.locale ?? msg.locale);
  const messageId = rec.message.id;

  if (conv.status === 'waiting_agent' || conv.status === 'agent') {
    return { patch: {}, replies: [], events: [], desk: [{ type: 'relay', conversationId: conv.id, messageId }] };
  }
  if (score !== undefined && awaitingCsat(conv, deps.now())) {
    return {
      patch: { botState: { ...conv.botState, csatPending: false, csat: score } },
      replies: [{ author: 'system', text: deps.templates.render('csat_thanks', locale) }],
      events: [{ type: 'csat', data: { score, messageId } }],
      desk: [{ type: 'csat', conversationId: conv.id, messageId, score }],
    };
  }
  if (conv.status === 'resolved') {
    // Within the reopen window: back to the person who had it.
    return {
      patch: { status: conv.assignee ? 'agent' : 'waiting_agent', resolvedAt: null },
      replies: [],
      events: [{ type: 'reopened', data: { messageId } }],
      desk: [{ type: 'reopen', conversationId: conv.id, messageId }],
    };
  }
  if (msg.kind === 'command' && msg.command?.name === 'start') {
    return { patch: {}, replies: [{ author: 'bot', text: deps.templates.render('welcome', locale) }], events: [], desk: [] };
  }
  if (msg.kind === 'command' && msg.command?.name === 'human') {
    return escalate(deps, conv, messageId, locale, { reason: 'asked_for_human', priority: 'normal' });
  }

  let decision: BotDecision;
  try {
    const history = await deps.store.recentTurns(conv.id, HISTORY_TURNS + 1);
    decision = await deps.responder().respond({
      conversationId: conv.id,
      customerId: rec.customer.id,
      channel: msg.channel,
      locale,
      kind: msg.kind,
      text: msg.text,
      ...(msg.buttonValue !== undefined ? { buttonValue: msg.buttonValue } : {}),
      history: history
        .filter((m) => m.id !== messageId)
        .slice(-HISTORY_TURNS)
        .map((m) => ({ author: m.author as MessageAuthor, text: m.text })),
      state: conv.botState,
      strikes: conv.strikes,
    });
  } catch (err) {
    deps.log.error({ err: errorMessage(err), conversationId: conv.id }, 'responder failed; escalating');
    return escalate(deps, conv, messageId, locale, { reason: 'bot_error', priority: 'normal' }, deps.templates.render('bot_error', locale));
  }

  const strikes = decision.unresolved ? conv.strikes + 1 : decision.kind === 'answer' ? 0 : conv.strikes;
  const botState = decision.state ?? conv.botState;
  const turnEvent = {
    type: 'bot_turn',
    data: {
      messageId,
      decision: decision.kind,
      confidence: decision.confidence ?? null,
      entryIds: decision.entryIds ?? [],
      sentiment: decision.sentiment ?? null,
    },
  };
  if (decision.kind === 'escalate') {
    return withEvent(escalate(deps, conv, messageId, locale, decision, decision.text, botState), turnEvent);
  }
  if (strikes >= deps.maxStrikes) {
    return withEvent(escalate(deps, conv, messageId, locale, { reason: 'three_strikes', priority: 'normal' }, undefined, botState), turnEvent);
  }
  return {
    patch: { strikes, botState },
    replies: [{ author: 'bot', text: decision.text, ...(decision.buttons?.length ? { buttons: decision.buttons } : {}) }],
    events: [turnEvent],
    desk: [],
  };
}

function withEvent(plan: Plan, event: Plan['events'][number]): Plan {
  return { ...plan, events: [event, ...plan.events] };
}

function escalate(
  deps: InboundDeps,
  conv: Conversation,
  messageId: string,
  locale: string,
  why: { reason: EscalationReason; priority: Priority },
  text?: string,
  botState?: JsonObject,
): Plan {
  const replies: Plan['replies'] = [];
  if (text) replies.push({ author: 'bot', text });
  const key = why.reason === 'angry' ? 'handover_angry' : 'handover';
  replies.push({ author: 'system', text: deps.templates.render(key, locale) });
  return {
    patch: {
      status: 'waiting_agent',
      escalationReason: why.reason,
      priority: why.priority,
      strikes: 0,
      assignee: null,
      ...(botState ? { botState } : {}),
    },
    replies,
    events: [{ type: 'escalated', data: { reason: why.reason, priority: why.priority, messageId } }],
    desk: [{ type: 'open', conversationId: conv.id, reason: why.reason, priority: why.priority, causedBy: messageId }],
  };
}

