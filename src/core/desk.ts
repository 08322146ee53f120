import type { Logger } from 'pino';
import type { HttpRoutes } from './adapter.js';
import type { EventSubscriptions } from './events.js';
import type { Storage } from './storage/storage.js';
import type { PendingAnswer, ProposedAnswer } from './storage/pending-answers.js';
import type { AgentActions } from './conversation/agent-actions.js';
import type { Proactive } from './conversation/proactive.js';
import type { Templates } from './templates.js';
import type { AttachmentMeta, ChannelName, MessageAuthor } from './types.js';

export interface Suggestion {
  entryId: string;
  question: string;
  answer: string;
}

/** A desk's own delayed follow-up (e.g. the unclaimed-case reminder); `key` is desk-defined. */
export interface DeskReminderJob {
  conversationId: string;
  key: string;
}

export interface DeskContext {
  http: HttpRoutes;
  log: Logger;
  /** Repositories (customers, conversations, messages, events, the desk's cases). */
  storage: Storage;
  actions: AgentActions;
  /** Notices to the customer (after-hours...) go through the proactive API. */
  proactive: Proactive;
  templates: Templates;
  /** Queues a reminder for later (durably, in BullMQ). Same conversation + key = once. */
  remind(job: DeskReminderJob, delayMs?: number): Promise<void>;
  /** Knowledge-base suggestions for an agent (empty without a knowledge bot). */
  suggest(text: string, locale: string, n: number): Suggestion[];
  /** An agent-facing summary of these messages; LLM-written when configured, else extractive. */
  summarize(messages: { author: MessageAuthor; text: string }[], locale: string): Promise<string>;
  /**
   * A link an agent may open to a customer's attachment: for a `fetchHandle` of a channel that serves
   * its files (AdapterContext.serveAttachments), a hub URL under `baseUrl` signed until `ttlMs` from
   * now, which the hub answers by fetching the file through the adapter (no platform secret in it);
   * else the attachment's own http(s) `url`; else undefined (no `baseUrl`, nothing to link).
   */
  attachmentUrl(channel: ChannelName, attachment: AttachmentMeta, opts: { baseUrl?: string | undefined; ttlMs: number }): Promise<string | undefined>;
  /** An agent's answer for the knowledge base, pending an admin's approval (`switchboard kb pending`); same key: stored once. */
  proposeAnswer(a: ProposedAnswer): Promise<{ answer: PendingAnswer; created: boolean }>;
  /** Folder of the knowledge files. */
  knowledgeDir: string;
  now(): number;
}

/**
 * The agent side of escalations. A desk is a subscriber of conversation events like any other:
 * `subscribe` registers what it reacts to (escalated, relayed messages, deliveries...). The hub runs
 * without one (cases are then only stored, with their events).
 */
export interface AgentDesk {
  readonly name: string;
  /** `long` (Socket Mode): one gateway at a time under a lease; `stateless` (HTTP events): any process. */
  readonly connection: 'long' | 'stateless';
  mount(ctx: DeskContext): Promise<void>;
  /** Registers the desk's event handlers (called once at boot, after mount, in every process). */
  subscribe(subs: EventSubscriptions): void;
  connect?(): Promise<void>;
  disconnect?(): Promise<void>;
  /** Runs one of the desk's own reminders. */
  remind(job: DeskReminderJob): Promise<void>;
  stop(): Promise<void>;
}
