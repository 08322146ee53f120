import type { Logger } from 'pino';
import type { AdapterContext, Bus, HttpRoutes } from '../core/adapter.js';
import type { DeskContext } from '../core/desk.js';
import type { Responder } from '../core/responder.js';
import type { Storage } from '../core/storage/storage.js';
import type { AgentActions } from '../core/conversation/agent-actions.js';
import type { Proactive } from '../core/conversation/proactive.js';
import type { HubQueues } from '../core/queues/hub-queues.js';
import type { Templates } from '../core/templates.js';
import type { InboundMessage } from '../core/types.js';
import { reminderJobId } from '../core/queues/names.js';
import { extractiveSummary } from '../core/conversation/summary.js';
import { errorMessage } from '../core/errors.js';
import { attachmentLinks, attachmentUrl } from './files.js';

/** What the hub gives every adapter. */
export function adapterContext(d: {
  accept(m: InboundMessage): Promise<{ jobId: string }>;
  http: HttpRoutes;
  bus: Bus;
  log: Logger;
  storage: Storage;
}): AdapterContext {
  return {
    accept: (m) => d.accept(m),
    http: d.http,
    bus: d.bus,
    log: d.log,
    state: (channel) => ({
      get: (key) => d.storage.channelState.get(channel, key),
      set: (key, value, expectedVersion) => d.storage.channelState.set(channel, key, value, expectedVersion),
      delete: (key) => d.storage.channelState.delete(channel, key),
    }),
    history: async (channel, platformUserId, limit) => {
      const identity = await d.storage.customers.findIdentity(channel, platformUserId);
      if (!identity) return [];
      const msgs = await d.storage.messages.ofCustomer(identity.customerId, limit);
      return msgs.map((m) => ({
        id: m.id,
        author: m.author,
        ...(m.authorName ? { authorName: m.authorName } : {}),
        text: m.text,
        at: m.createdAt,
        ...(m.buttons.length ? { buttons: m.buttons } : {}),
      }));
    },
    withPerson: async (channel, platformUserId) => {
      const identity = await d.storage.customers.findIdentity(channel, platformUserId);
      if (!identity) return false;
      // The conversation a message without a thread key routes to.
      const current = await d.storage.conversations.latest(identity.customerId);
      return current?.status === 'waiting_agent' || current?.status === 'agent';
    },
    serveAttachments: (channel, fetch) => attachmentLinks(d.http, d.storage, d.log).serve(channel, fetch),
  };
}

/** What the hub gives the agent desk named `name`. */
export function deskContext(
  name: string,
  d: {
    http: HttpRoutes;
    log: Logger;
    storage: Storage;
    actions: AgentActions;
    proactive: Proactive;
    templates: Templates;
    queues: HubQueues;
    responder(): Responder;
    knowledgeDir: string;
    now(): number;
  },
): DeskContext {
  const log = d.log.child({ desk: name });
  return {
    http: d.http,
    log,
    storage: d.storage,
    actions: d.actions,
    proactive: d.proactive,
    templates: d.templates,
    remind: (job, delayMs = 0) => d.queues.addDeskReminder({ desk: name, ...job }, reminderJobId(name, job.conversationId, job.key), delayMs),
    suggest: (text, locale, n) => d.responder().suggest?.(text, locale, n) ?? [],
    summarize: async (msgs, locale) => {
      const r = d.responder();
      if (r.summarize) {
        try {
          return await r.summarize(msgs, locale);
        } catch (err) {
          log.warn(`LLM summary failed, using the extractive one: ${errorMessage(err)}`);
        }
      }
      return extractiveSummary(msgs, locale);
    },
    proposeAnswer: (a) => d.storage.pendingAnswers.propose(a),
    attachmentUrl: (channel, a, o) => attachmentUrl(attachmentLinks(d.http, d.storage, d.log), channel, a, o),
    knowledgeDir: d.knowledgeDir,
    now: d.now,
  };
}
