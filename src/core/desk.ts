import type { Logger } from 'pino';
import type { HttpRoutes } from './adapter.js';
import type { EscalationReason, Priority } from './responder.js';

/**
 * Work for the agent side (the Slack desk), on the durable `desk` queue. Every job is keyed so a
 * redelivery repeats nothing: the desk checks what it already did (e.g. a case already posted).
 */
export type DeskJob =
  | { type: 'open'; conversationId: string; reason: EscalationReason; priority: Priority; causedBy: string }
  | { type: 'relay'; conversationId: string; messageId: string }
  | { type: 'reopen'; conversationId: string; messageId: string }
  | { type: 'delivery'; conversationId: string; messageId: string; status: 'sent' | 'failed'; error?: string }
  | { type: 'csat'; conversationId: string; messageId: string; score: number };

export interface DeskContext {
  http: HttpRoutes;
  log: Logger;
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
