import type { Button, ChannelName, InboundKind, JsonObject, MessageAuthor } from './types.js';

export type EscalationReason =
  | 'low_confidence'
  | 'asked_for_human'
  | 'three_strikes'
  | 'angry'
  | 'workflow'
  | 'bot_error'
  | 'action_failed';

export type Priority = 'normal' | 'high';

/** One customer turn as the bot sees it. Only this customer's own data is in here. */
export interface ResponderTurn {
  conversationId: string;
  customerId: string;
  channel: ChannelName;
  /** `zh` or `en` (or another configured locale), detected or from the customer's profile. */
  locale: string;
  kind: InboundKind;
  text: string;
  buttonValue?: string;
  /** The last messages of this conversation, oldest first (the current one excluded). */
  history: { author: MessageAuthor; text: string }[];
  /** Bot memory of this conversation (slots being filled...), as the last decision left it. */
  state: JsonObject;
  /** Unresolved turns in a row so far (the core's three-strikes counter). */
  strikes: number;
}

interface DecisionBase {
  /** Calibrated 0..1. */
  confidence?: number;
  /** Replaces the conversation's bot state when present. */
  state?: JsonObject;
  /**
   * true when this turn did not resolve the customer's question (low confidence, "that did not
   * help"): the core counts these and escalates at `bot.maxStrikes` in a row.
   */
  unresolved?: boolean;
  /** -1 (angry) .. 1 (happy), when measured. */
  sentiment?: number;
  /** Knowledge entry ids the answer came from. */
  entryIds?: string[];
}

export interface AnswerDecision extends DecisionBase {
  kind: 'answer';
  text: string;
  buttons?: Button[];
}

export interface ClarifyDecision extends DecisionBase {
  kind: 'clarify';
  text: string;
  buttons: Button[];
}

export interface EscalateDecision extends DecisionBase {
  kind: 'escalate';
  reason: EscalationReason;
  priority: Priority;
  /**
   * The hand-over message the customer sees, in place of the core's `handover` notice, so it must
   * say that a person is coming (e.g. "the order service is down; I'm handing you over"). Absent ->
   * the core's notice. Either way the customer gets one message per hand-over.
   */
  text?: string;
}

export type BotDecision = AnswerDecision | ClarifyDecision | EscalateDecision;

/** The bot behind status `bot`. The knowledge bot implements it; the core only calls it. */
export interface Responder {
  respond(turn: ResponderTurn): Promise<BotDecision>;
  /**
   * false: this responder never reads `turn.history`, so the core does not read it from storage
   * (one query and the decryption of the last texts per turn). Absent: it is read.
   */
  readonly usesHistory?: boolean;
  /** Knowledge entries that may answer `text` (the agent desk shows them as suggested replies). */
  suggest?(text: string, locale: string, n: number): { entryId: string; question: string; answer: string }[];
  /** An agent-facing summary (LLM-written when configured); absent -> the core's extractive one. */
  summarize?(messages: { author: MessageAuthor; text: string }[], locale: string): Promise<string>;
  close?(): Promise<void>;
}

/** Until a knowledge base is configured: say a person will take over, and escalate. */
export class HandOverResponder implements Responder {
  async respond(): Promise<BotDecision> {
    return { kind: 'escalate', reason: 'low_confidence', priority: 'normal', confidence: 0 };
  }
}
