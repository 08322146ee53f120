/**
 * Folds one conversation's events and messages into its cases, hourly volume, knowledge-gap
 * questions and proactive messages (a pure function: the rebuild reads the source and writes the
 * result). The definitions are in docs/analytics.md; in short:
 * - a case opens at a customer message when none is open; a case nobody escalated (or that a person
 *   returned to the bot) closes when the customer stays silent for `idleMs` (the next message opens
 *   a new case); an escalated case stays open until a person resolves it, and a reopen
 *   (`conversation.reopened`) continues the same case;
 * - the bot's first response is the first bot or system reply caused by the case's first message;
 *   a person's first response is their first message after the escalation.
 */
import type { StoredEvent } from '../core/events.js';
import { proactiveKinds } from '../core/events.js';
import type { AnalyticsCase, AnalyticsProactive, AnalyticsQuestion, AnalyticsRebuild, AnalyticsSource, AnalyticsVolume, SourceMessage } from '../core/storage/analytics.js';

const HOUR = 3_600_000;

/** Kinds of proactive message counted as outreach (the CSAT question and desk notices are not). */
export const OUTREACH_KINDS: readonly string[] = proactiveKinds.filter((k) => k !== 'csat' && k !== 'notice');

export interface FoldOptions {
  /** A case without a person closes after this much customer silence (default 30 min). */
  idleMs: number;
  /** A bot answer below this confidence is a knowledge gap. */
  lowConfidence: number;
  /**
   * Question terms (src/analytics/terms.ts); undefined when not known here yet (the feed's thread:
   * src/analytics/remote-terms.ts), which the fold reports in `missingTerms`.
   */
  terms(text: string): string | undefined;
  /** Gets the terms `terms` did not know, so that the next fold knows them (rebuild.ts). */
  fetchTerms?(texts: readonly string[]): Promise<void>;
}

/** What a fold gives: the rows, and the texts whose terms `terms` did not know (their rows have none yet). */
export type Folded = Omit<AnalyticsRebuild, 'optOuts'> & { missingTerms: string[] };

interface Draft extends AnalyticsCase {
  withPerson: boolean;
  firstMessageId: string | null;
  inboundIds: Set<string>;
}

type Payload = Record<string, unknown>;

function payloadOf(e: StoredEvent): Payload {
  return e.payload && typeof e.payload === 'object' ? (e.payload as Payload) : {};
}
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function foldConversation(src: AnalyticsSource, opts: FoldOptions): Folded {
  const missingTerms: string[] = [];
  const termsOf = (text: string): string => {
    const t = opts.terms(text);
    if (t !== undefined) return t;
    missingTerms.push(text);
    return '';
  };
  const byId = new Map<string, SourceMessage>(src.messages.map((m) => [m.id, m]));
  const cases: Draft[] = [];
  const questions: AnalyticsQuestion[] = [];
  const proactive: AnalyticsProactive[] = [];
  let cur: Draft | undefined;
  const textOf = (id: string | null): string => (id ? (byId.get(id)?.text ?? '') : '');

  /** A customer message's time is when it was stored (its event follows it). */
  const timeOf = (e: StoredEvent, messageId: string | null): number => (messageId ? (byId.get(messageId)?.createdAt ?? e.at) : e.at);
  const open = (e: StoredEvent, messageId: string | null, channel: string): Draft => {
    const question = textOf(messageId);
    const at = timeOf(e, messageId);
    const d: Draft = {
      id: `${src.conversationId}:${e.id}`,
      conversationId: src.conversationId,
      customerId: src.customerId,
      channel,
      firstEventId: Number(e.id),
      openedAt: at,
      lastCustomerAt: at,
      messagesIn: 0,
      messagesOut: 0,
      botAnswers: 0,
      botFirstResponseMs: null,
      minConfidence: null,
      escalatedAt: null,
      escalationReason: null,
      agentFirstResponseMs: null,
      resolvedAt: null,
      reopens: 0,
      csatAsked: false,
      csatScore: null,
      csatCount: 0,
      cameBack: false,
      entryIds: [],
      question: question.slice(0, 500),
      questionTerms: termsOf(question),
      withPerson: false,
      firstMessageId: messageId,
      inboundIds: new Set(messageId ? [messageId] : []),
    };
    cases.push(d);
    return d;
  };

  for (const e of src.events) {
    const p = payloadOf(e);
    switch (e.type) {
      case 'message.received': {
        const messageId = str(p.messageId);
        const at = timeOf(e, messageId);
        const quiet = cur && !cur.withPerson && cur.resolvedAt === null && at - cur.lastCustomerAt > opts.idleMs;
        if (!cur || quiet) {
          cur = open(e, messageId, str(p.channel) ?? src.channel);
        } else {
          if (messageId) cur.inboundIds.add(messageId);
          cur.lastCustomerAt = Math.max(cur.lastCustomerAt, at);
        }
        break;
      }
      case 'bot.answered':
      case 'bot.clarified': {
        if (!cur) break;
        const confidence = num(p.confidence);
        if (e.type === 'bot.answered') cur.botAnswers++;
        if (confidence !== null) cur.minConfidence = cur.minConfidence === null ? confidence : Math.min(cur.minConfidence, confidence);
        for (const id of Array.isArray(p.entryIds) ? p.entryIds : []) if (typeof id === 'string' && !cur.entryIds.includes(id)) cur.entryIds.push(id);
        if (e.type === 'bot.answered' && confidence !== null && confidence < opts.lowConfidence) {
          questions.push(question(e, cur, 'low_confidence', null, confidence, textOf(str(p.messageId)) || cur.question));
        }
        break;
      }
      case 'conversation.escalated': {
        const messageId = str(p.messageId);
        cur ??= open(e, messageId, src.channel);
        cur.escalatedAt ??= e.at;
        cur.escalationReason ??= str(p.reason);
        cur.withPerson = true;
        questions.push(question(e, cur, 'escalated', str(p.reason), null, textOf(messageId) || cur.question));
        break;
      }
      case 'conversation.resolved':
        if (cur) {
          cur.resolvedAt = e.at;
          cur.withPerson = false;
        }
        break;
      case 'conversation.reopened':
        if (cur) {
          cur.reopens++;
          cur.resolvedAt = null;
          cur.withPerson = true;
        }
        break;
      case 'conversation.returned_to_bot':
        if (cur) cur.withPerson = false;
        break;
      case 'csat.given': {
        const score = num(p.score);
        if (cur && score !== null) {
          cur.csatScore = score;
          cur.csatCount++;
        }
        break;
      }
      case 'message.queued': {
        const kind = str(p.kind);
        const messageId = str(p.messageId);
        if (kind === 'csat') {
          if (cur) cur.csatAsked = true;
        } else if (kind && messageId && OUTREACH_KINDS.includes(kind)) {
          proactive.push({ messageId, eventId: Number(e.id), conversationId: src.conversationId, customerId: src.customerId, channel: str(p.channel) ?? src.channel, kind, queuedAt: e.at });
        }
        break;
      }
      default:
        break;
    }
  }

  measure(cases, src.messages, questions);
  for (const q of questions) q.terms = termsOf(q.text);
  return {
    conversationId: src.conversationId,
    customerId: src.customerId,
    sinceEventId: src.sinceEventId,
    sinceHour: src.sinceHour,
    cases: cases.map(({ withPerson: _w, firstMessageId: _f, inboundIds: _i, ...c }) => c),
    volume: hourly(src),
    questions,
    proactive,
    customerMessageTimes: src.messages.filter((m) => m.direction === 'in').map((m) => m.createdAt),
    throughEventId: src.events.length ? Math.max(...src.events.map((e) => Number(e.id))) : null,
    eventsSeen: src.events.length,
    missingTerms,
  };
}

function question(e: StoredEvent, c: Draft, kind: AnalyticsQuestion['kind'], reason: string | null, confidence: number | null, text: string): AnalyticsQuestion {
  return { eventId: Number(e.id), caseId: c.id, conversationId: c.conversationId, channel: c.channel, at: e.at, kind, reason, confidence, text: text.slice(0, 500), terms: '', agentAnswer: null };
}

/** Message counts and response times of each case, from the messages in its window. */
function measure(cases: Draft[], messages: readonly SourceMessage[], questions: AnalyticsQuestion[]): void {
  const firstAgentText = new Map<string, string>();
  cases.forEach((c, i) => {
    const end = cases[i + 1]?.openedAt ?? Number.POSITIVE_INFINITY;
    let firstBot: number | null = null;
    let firstAgent: SourceMessage | undefined;
    for (const m of messages) {
      if (m.direction === 'in') {
        if (c.inboundIds.has(m.id)) c.messagesIn++;
        continue;
      }
      if (m.createdAt < c.openedAt || m.createdAt >= end) continue;
      c.messagesOut++;
      const at = m.sentAt ?? m.createdAt;
      if ((m.author === 'bot' || m.author === 'system') && c.firstMessageId !== null && m.causedBy === c.firstMessageId) {
        firstBot = firstBot === null ? at : Math.min(firstBot, at);
      }
      if (m.author === 'agent' && c.escalatedAt !== null && m.createdAt >= c.escalatedAt && (!firstAgent || m.createdAt < firstAgent.createdAt)) firstAgent = m;
    }
    if (firstBot !== null) c.botFirstResponseMs = Math.max(0, firstBot - c.openedAt);
    if (firstAgent && c.escalatedAt !== null) {
      c.agentFirstResponseMs = Math.max(0, (firstAgent.sentAt ?? firstAgent.createdAt) - c.escalatedAt);
      firstAgentText.set(c.id, firstAgent.text.slice(0, 2000));
    }
  });
  for (const q of questions) q.agentAnswer = firstAgentText.get(q.caseId) ?? null;
}

function hourly(src: AnalyticsSource): AnalyticsVolume[] {
  const rows = new Map<string, AnalyticsVolume>();
  for (const m of src.messages) {
    const hour = Math.floor(m.createdAt / HOUR) * HOUR;
    const key = `${hour}|${m.channel}`;
    let r = rows.get(key);
    if (!r) {
      r = { conversationId: src.conversationId, hour, channel: m.channel, inbound: 0, outbound: 0 };
      rows.set(key, r);
    }
    if (m.direction === 'in') r.inbound++;
    else r.outbound++;
  }
  return [...rows.values()];
}
