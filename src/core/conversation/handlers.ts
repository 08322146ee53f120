import type { Logger } from 'pino';
import type { BotDecision, EscalationReason, Priority, Responder } from '../responder.js';
import type { Templates } from '../templates.js';
import type { NewEvent } from '../events.js';
import type { JsonObject } from '../types.js';
import type { Storage } from '../storage/storage.js';
import { errorMessage } from '../errors.js';
import { awaitingCsat, csatScore, isCsatQuestion } from './csat.js';
import type { Plan, Turn, TurnHandler } from './turn.js';

const HISTORY_TURNS = 10;

/** While a person has the conversation, customer messages go to the case, never to the bot. */
export const relayToAgent: TurnHandler = {
  name: 'relay-to-agent',
  async handle(turn, next) {
    const s = turn.conversation.status;
    if (s !== 'waiting_agent' && s !== 'agent') return next();
    return { patch: {}, replies: [], events: [], toAgent: true };
  },
};

/** A message the channel marked `noReply` (an auto-reply, a bounce...): stored, never answered. */
export const noReply: TurnHandler = {
  name: 'no-reply',
  async handle(turn, next) {
    if (turn.msg.noReply === undefined) return next();
    return { patch: {}, replies: [], events: [] };
  },
};

/**
 * A 1-5 answer (button or text) to the CSAT question of a resolved conversation, taken only while
 * that question is the last thing the hub said there: a bare "3" answering anything else (or sent
 * before the question went out) is an ordinary message.
 */
export function csatAnswer(d: { storage: Storage; templates: Templates; now(): number }): TurnHandler {
  return {
    name: 'csat-answer',
    async handle(turn, next) {
      const score = csatScore(turn.msg);
      const c = turn.conversation;
      if (score === undefined || !awaitingCsat(c, d.now())) return next();
      const asked = await d.storage.messages.lastOutbound(c.id);
      if (!asked || !isCsatQuestion(asked)) return next();
      return {
        patch: { botState: { ...c.botState, csatPending: false, csat: score } },
        replies: [{ author: 'system', text: d.templates.render('csat_thanks', turn.locale) }],
        events: [{ type: 'csat.given', actor: 'customer', payload: { score, messageId: turn.message.id } }],
      };
    },
  };
}

/** A message soon after resolution (within the reopen window): back to the person who had it. */
export const reopen: TurnHandler = {
  name: 'reopen',
  async handle(turn, next) {
    const c = turn.conversation;
    if (c.status !== 'resolved') return next();
    return {
      patch: { status: c.assignee ? 'agent' : 'waiting_agent', resolvedAt: null },
      replies: [],
      events: [{ type: 'conversation.reopened', actor: 'customer', payload: { messageId: turn.message.id, assignee: c.assignee } }],
      toAgent: true,
    };
  },
};

/** `/start` (welcome) and `/human` (hand over). */
export function commands(d: { templates: Templates }): TurnHandler {
  return {
    name: 'commands',
    async handle(turn, next) {
      if (turn.msg.kind !== 'command') return next();
      const name = turn.msg.command?.name;
      if (name === 'start') return { patch: {}, replies: [{ author: 'bot', text: d.templates.render('welcome', turn.locale) }], events: [] };
      if (name === 'human') return escalate(d.templates, turn, { reason: 'asked_for_human', priority: 'normal' });
      return next();
    },
  };
}

export interface BotDeps {
  storage: Storage;
  /** Read on every turn so a hot-reloaded bot takes effect at once. */
  responder(): Responder;
  templates: Templates;
  log: Logger;
  maxStrikes: number;
}

/** The bot behind status `bot`: answers, clarifies, or hands over (also after `maxStrikes` misses). */
export function bot(d: BotDeps): TurnHandler {
  return {
    name: 'bot',
    async handle(turn) {
      const conv = turn.conversation;
      let decision: BotDecision;
      try {
        const responder = d.responder();
        const history = responder.usesHistory === false ? [] : await d.storage.messages.recentTurns(conv.id, HISTORY_TURNS + 1);
        decision = await responder.respond({
          conversationId: conv.id,
          customerId: turn.customer.id,
          channel: turn.msg.channel,
          locale: turn.locale,
          kind: turn.msg.kind,
          text: turn.msg.text,
          ...(turn.msg.buttonValue !== undefined ? { buttonValue: turn.msg.buttonValue } : {}),
          history: history
            .filter((m) => m.id !== turn.message.id)
            .slice(-HISTORY_TURNS)
            .map((m) => ({ author: m.author, text: m.text })),
          state: conv.botState,
          strikes: conv.strikes,
        });
      } catch (err) {
        d.log.error({ err: errorMessage(err), conversationId: conv.id }, 'responder failed; escalating');
        return escalate(d.templates, turn, { reason: 'bot_error', priority: 'normal' }, { text: d.templates.render('bot_error', turn.locale) });
      }
      const strikes = decision.unresolved ? conv.strikes + 1 : decision.kind === 'answer' ? 0 : conv.strikes;
      const botState = decision.state ?? conv.botState;
      const sentiment = decision.sentiment ?? null;
      if (decision.kind === 'escalate') {
        return escalate(d.templates, turn, decision, { botState, sentiment, ...(decision.text ? { text: decision.text } : {}) });
      }
      if (strikes >= d.maxStrikes) return escalate(d.templates, turn, { reason: 'three_strikes', priority: 'normal' }, { botState, sentiment });
      const payload = {
        messageId: turn.message.id,
        confidence: decision.confidence ?? null,
        entryIds: decision.entryIds ?? [],
        sentiment,
      };
      const event: NewEvent =
        decision.kind === 'clarify' ? { type: 'bot.clarified', actor: 'bot', payload } : { type: 'bot.answered', actor: 'bot', payload };
      return {
        patch: { strikes, botState },
        replies: [{ author: 'bot', text: decision.text, ...(decision.buttons?.length ? { buttons: decision.buttons } : {}) }],
        events: [event],
      };
    },
  };
}

/**
 * Hands the conversation over to a person: one escalation id per hand-over (the desk keeps one case
 * each) and one message to the customer, `more.text` when given, else the core's `handover` notice.
 */
export function escalate(
  templates: Templates,
  turn: Turn,
  why: { reason: EscalationReason; priority: Priority },
  more: { text?: string; botState?: JsonObject; sentiment?: number | null } = {},
): Plan {
  // One hand-over, one message: the responder's own text (which says a person is coming) replaces
  // the core's notice; without one the core says it.
  const replies: Plan['replies'] = more.text
    ? [{ author: 'bot', text: more.text }]
    : [{ author: 'system', text: templates.render(why.reason === 'angry' ? 'handover_angry' : 'handover', turn.locale) }];
  const escalationId = turn.message.id;
  return {
    patch: {
      status: 'waiting_agent',
      escalationId,
      escalationReason: why.reason,
      priority: why.priority,
      strikes: 0,
      assignee: null,
      ...(more.botState ? { botState: more.botState } : {}),
    },
    replies,
    events: [
      {
        type: 'conversation.escalated',
        actor: why.reason === 'asked_for_human' ? 'customer' : 'bot',
        payload: { escalationId, reason: why.reason, priority: why.priority, messageId: turn.message.id, sentiment: more.sentiment ?? null },
      },
    ],
  };
}

/** The core's chain, in order: relay to a person, CSAT answer, reopen, commands, then the bot. */
export function coreTurnHandlers(d: BotDeps & { now(): number }, before: readonly TurnHandler[] = []): TurnHandler[] {
  return [relayToAgent, noReply, csatAnswer(d), reopen, commands(d), ...before, bot(d)];
}

