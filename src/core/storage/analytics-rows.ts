/**
 * Shapes of the analytics read models (migration `analytics:001_read_models`) and of what the
 * analytics module reads to rebuild one conversation's rows. Times are epoch ms.
 */
import type { Kysely } from 'kysely';
import type { StoredEvent } from '../events.js';
import type { MessageAuthor } from '../types.js';
import type { Database } from './tables.js';
import type { PiiCodec } from './pii.js';
import { sealOpt, sealText } from './rows.js';

/** One case: a customer's contact, from their first message to its close (docs/analytics.md). */
export interface AnalyticsCase {
  id: string;
  conversationId: string;
  customerId: string;
  channel: string;
  /** The event that opened it (its customer message's `message.received`). */
  firstEventId: number;
  openedAt: number;
  lastCustomerAt: number;
  messagesIn: number;
  messagesOut: number;
  botAnswers: number;
  botFirstResponseMs: number | null;
  minConfidence: number | null;
  escalatedAt: number | null;
  escalationReason: string | null;
  agentFirstResponseMs: number | null;
  /** The last resolution by a person (null while open or reopened). */
  resolvedAt: number | null;
  reopens: number;
  csatAsked: boolean;
  /** The last score given (a second answer replaces the first). */
  csatScore: number | null;
  csatCount: number;
  /** The customer came back about the same thing within 24 h of the case's last message. */
  cameBack: boolean;
  entryIds: string[];
  question: string;
  /** Tokens of the first question (knowledge tokenizer), space-separated, sorted, unique. */
  questionTerms: string;
}

/** Customer messages and hub messages of one conversation per hour (the volume rollup). */
export interface AnalyticsVolume {
  conversationId: string;
  /** Start of the hour, epoch ms. */
  hour: number;
  channel: string;
  inbound: number;
  outbound: number;
}

/** A question the bot escalated or answered with low confidence. */
export interface AnalyticsQuestion {
  eventId: number;
  caseId: string;
  conversationId: string;
  channel: string;
  at: number;
  kind: 'escalated' | 'low_confidence';
  reason: string | null;
  confidence: number | null;
  text: string;
  terms: string;
  /** The first reply of a person in that case (a draft answer). */
  agentAnswer: string | null;
}

/** A message the hub wrote first. */
export interface AnalyticsProactive {
  messageId: string;
  eventId: number;
  conversationId: string;
  customerId: string;
  channel: string;
  kind: string;
  queuedAt: number;
}

/** A message as the rebuild reads it. */
export interface SourceMessage {
  id: string;
  direction: 'in' | 'out';
  author: MessageAuthor;
  channel: string;
  text: string;
  causedBy: string | null;
  createdAt: number;
  sentAt: number | null;
}

/** What the rebuild of one conversation reads. */
export interface AnalyticsSource {
  conversationId: string;
  customerId: string;
  channel: string;
  /** The customer's opt-outs by kind (`consent.optOut.<kind>.at`). */
  optOuts: Record<string, number>;
  /** Rebuild from this event on (the latest case's first event), null: from the start. */
  sinceEventId: number | null;
  /** Volume rows from this hour on are rebuilt (null: all). */
  sinceHour: number | null;
  events: StoredEvent[];
  messages: SourceMessage[];
}

/** What the rebuild writes for one conversation (from `sinceEventId` / `sinceHour` on). */
export interface AnalyticsRebuild {
  conversationId: string;
  customerId: string;
  sinceEventId: number | null;
  sinceHour: number | null;
  cases: AnalyticsCase[];
  volume: AnalyticsVolume[];
  questions: AnalyticsQuestion[];
  proactive: AnalyticsProactive[];
  /** Customer message times (a proactive message answered within 24 h). */
  customerMessageTimes: number[];
  /** The newest event read and how many were read (from `sinceEventId` on). */
  throughEventId: number | null;
  eventsSeen: number;
  /** The customer's opt-outs by kind (`consent.optOut.<kind>.at`). */
  optOuts: Record<string, number>;
}

export interface CaseTable {
  id: string;
  conversation_id: string;
  customer_id: string;
  channel: string;
  first_event_id: number;
  opened_at: number;
  last_customer_at: number;
  messages_in: number;
  messages_out: number;
  bot_answers: number;
  bot_first_response_ms: number | null;
  min_confidence: number | null;
  escalated_at: number | null;
  escalation_reason: string | null;
  agent_first_response_ms: number | null;
  resolved_at: number | null;
  bot_first_response_bin: number | null;
  agent_first_response_bin: number | null;
  resolution_bin: number | null;
  reopens: number;
  csat_asked: number;
  csat_score: number | null;
  csat_count: number;
  came_back: number;
  entry_ids: string;
  question: string;
  question_terms: string;
}
export interface VolumeTable {
  conversation_id: string;
  hour: number;
  channel: string;
  inbound: number;
  outbound: number;
}
export interface QuestionTable {
  event_id: number;
  case_id: string;
  conversation_id: string;
  channel: string;
  at: number;
  kind: string;
  reason: string | null;
  confidence: number | null;
  text: string;
  terms: string;
  agent_answer: string | null;
}
export interface ProactiveTable {
  message_id: string;
  event_id: number;
  conversation_id: string;
  customer_id: string;
  channel: string;
  kind: string;
  queued_at: number;
  answered_at: number | null;
  opted_out_at: number | null;
}

/** Counters of the hourly rollup (src/core/storage/analytics-hourly.ts). */
export const HOURLY_COUNTERS = [
  'inbound',
  'outbound',
  'cases',
  'escalated',
  'resolved',
  'reopened',
  'csat_asked',
  'csat_answered',
  'csat_given',
  'csat_sum',
  'bot_resolved_if_quiet',
  'first_contact_if_quiet',
  'came_back',
] as const;
export type HourlyCounter = (typeof HOURLY_COUNTERS)[number];

export type HourlyTable = { hour: number; channel: string } & Record<HourlyCounter, number>;

export interface ConversationMarkTable {
  conversation_id: string;
  since_event_id: number | null;
  through_event_id: number;
  events_seen: number;
}

/** How far the analytics feed has read the event log (src/analytics/feed.ts). */
export interface FeedTable {
  name: string;
  /** The newest `conversation_events.created_at` whose conversations were rebuilt. */
  watermark: number;
}

/** An event the analytics feed reads (the conversation it touches). */
export interface FeedEvent {
  id: number;
  conversationId: string;
  at: number;
}

export type AnalyticsTables = Database & {
  analytics_feed: FeedTable;
  analytics_conversations: ConversationMarkTable;
  analytics_cases: CaseTable;
  analytics_hourly: HourlyTable;
  analytics_volume: VolumeTable;
  analytics_questions: QuestionTable;
  analytics_proactive: ProactiveTable;
};
export type AnalyticsDb = Kysely<AnalyticsTables>;

/** Histogram bins per unit of ln(ms): 50 makes each bin e^(1/50) ≈ 2 % wide. */
export const BINS_PER_E = 50;

/** The log bin of a duration (stored beside it, so histograms are counted from an index alone). */
export function binOf(ms: number | null): number | null {
  return ms === null ? null : Math.round(Math.log(Math.max(0, ms) + 1) * BINS_PER_E);
}

export function caseToRow(c: AnalyticsCase): CaseTable {
  return {
    id: c.id,
    conversation_id: c.conversationId,
    customer_id: c.customerId,
    channel: c.channel,
    first_event_id: c.firstEventId,
    opened_at: c.openedAt,
    last_customer_at: c.lastCustomerAt,
    messages_in: c.messagesIn,
    messages_out: c.messagesOut,
    bot_answers: c.botAnswers,
    bot_first_response_ms: c.botFirstResponseMs,
    min_confidence: c.minConfidence,
    escalated_at: c.escalatedAt,
    escalation_reason: c.escalationReason,
    agent_first_response_ms: c.agentFirstResponseMs,
    resolved_at: c.resolvedAt,
    bot_first_response_bin: binOf(c.botFirstResponseMs),
    agent_first_response_bin: binOf(c.agentFirstResponseMs),
    resolution_bin: binOf(c.resolvedAt === null ? null : c.resolvedAt - c.openedAt),
    reopens: c.reopens,
    csat_asked: c.csatAsked ? 1 : 0,
    csat_score: c.csatScore,
    csat_count: c.csatCount,
    came_back: c.cameBack ? 1 : 0,
    entry_ids: c.entryIds.join(' '),
    question: c.question,
    question_terms: c.questionTerms,
  };
}

export function rowToCase(r: CaseTable): AnalyticsCase {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    customerId: r.customer_id,
    channel: r.channel,
    firstEventId: Number(r.first_event_id),
    openedAt: Number(r.opened_at),
    lastCustomerAt: Number(r.last_customer_at),
    messagesIn: r.messages_in,
    messagesOut: r.messages_out,
    botAnswers: r.bot_answers,
    botFirstResponseMs: r.bot_first_response_ms === null ? null : Number(r.bot_first_response_ms),
    minConfidence: r.min_confidence === null ? null : Number(r.min_confidence),
    escalatedAt: r.escalated_at === null ? null : Number(r.escalated_at),
    escalationReason: r.escalation_reason,
    agentFirstResponseMs: r.agent_first_response_ms === null ? null : Number(r.agent_first_response_ms),
    resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
    reopens: r.reopens,
    csatAsked: r.csat_asked === 1,
    csatScore: r.csat_score,
    csatCount: r.csat_count,
    cameBack: r.came_back === 1,
    entryIds: r.entry_ids ? r.entry_ids.split(' ') : [],
    question: r.question,
    questionTerms: r.question_terms,
  };
}

export function questionToRow(q: AnalyticsQuestion): QuestionTable {
  return {
    event_id: q.eventId,
    case_id: q.caseId,
    conversation_id: q.conversationId,
    channel: q.channel,
    at: q.at,
    kind: q.kind,
    reason: q.reason,
    confidence: q.confidence,
    text: q.text,
    terms: q.terms,
    agent_answer: q.agentAnswer,
  };
}

/** A case row as stored: the question and its terms (the customer's words) sealed by the PII codec. */
export function sealCaseRow(pii: PiiCodec, r: CaseTable): CaseTable {
  return { ...r, question: sealText(pii, r.question), question_terms: sealText(pii, r.question_terms) };
}

/** A stored case row with its sealed columns read. */
export function openCaseRow(pii: PiiCodec, r: CaseTable): CaseTable {
  return { ...r, question: pii.open(r.question, 'analytics_cases.question'), question_terms: pii.open(r.question_terms, 'analytics_cases.question_terms') };
}

/** A question row as stored: the question, its terms and the agent's answer sealed by the PII codec. */
export function sealQuestionRow(pii: PiiCodec, r: QuestionTable): QuestionTable {
  return { ...r, text: sealText(pii, r.text), terms: sealText(pii, r.terms), agent_answer: sealOpt(pii, r.agent_answer) };
}

/** A stored question row with its sealed columns read. */
export function openQuestionRow(pii: PiiCodec, r: QuestionTable): QuestionTable {
  return { ...r, text: pii.open(r.text, 'analytics_questions.text'), terms: pii.open(r.terms, 'analytics_questions.terms'), agent_answer: r.agent_answer === null ? null : pii.open(r.agent_answer, 'analytics_questions.agent_answer') };
}
