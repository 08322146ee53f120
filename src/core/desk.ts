import type { Logger } from 'pino';
import type { HttpRoutes } from './adapter.js';
import type { EscalationReason, Priority } from './responder.js';
import type { Store } from './storage/store.js';
import type { AgentActions } from './conversation/agent-actions.js';
import type { Templates } from './templates.js';
import type { MessageAuthor } from './types.js';

/**
 * Work for the agent side (the Slack desk), on the durable `desk` queue. Every job is keyed so a
 * redelivery repeats nothing: the desk checks what it already did (e.g. a case already posted).
 */
export type DeskJob =
  | { type: 'open'; conversationId: string; reason: EscalationReason; priority: Priority; causedBy: string }
  | { type: 'relay'; conversationId: string; messageId: string }
  | { type: 'reopen'; conversationId: string; messageId: string }
  | { type: 'delivery'; conversationId: string; messageId: string; status: 'sent' | 'failed'; error?: string }
  | { type: 'csat'; conversationId: string; messageId: string; score: number }
  /** A desk's own delayed follow-up (e.g. the unclaimed-case reminder); `key` is desk-defined. */
  | { type: 'remind'; conversationId: string; key: string };

export interface Suggestion {
  entryId: string;
  question: string;
  answer: string;
}

export interface DeskContext {
  http: HttpRoutes;
  log: Logger;
  store: Store;
  actions: AgentActions;
  templates: Templates;
  /** Queues a desk job later (durably, in BullMQ), e.g. the unclaimed reminder. Same id = once. */
  schedule(job: DeskJob, jobId: string, delayMs: number): Promise<void>;
  /** Knowledge-base suggestions for an agent (empty without a knowledge bot). */
  suggest(text: string, locale: string, n: number): Suggestion[];
  /** An agent-facing summary of these messages; LLM-written when configured, else extractive. */
  summarize(messages: { author: MessageAuthor; text: string }[], locale: string): Promise<string>;
  /** Folder of the knowledge files (where learned.yaml goes). */
  knowledgeDir: string;
  now(): number;
}

/** The agent side of escalations. The hub runs without one (cases are then only logged and stored). */
export interface AgentDesk {
  readonly name: string;
  /** `long` (Socket Mode): one gateway at a time under a lease; `stateless` (HTTP events): any process. */
  readonly connection: 'long' | 'stateless';
  mount(ctx: DeskContext): Promise<void>;
  connect?(): Promise<void>;
  disconnect?(): Promise<void>;
  handle(job: DeskJob): Promise<void>;
  stop(): Promise<void>;
}
