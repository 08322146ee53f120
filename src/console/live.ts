/**
 * Live updates for open inboxes, and the console's part as the desk when no other desk (Slack) is
 * configured. The subscriber `console` hears the conversation events an inbox shows and publishes
 * `{type, conversationId, at}` on the hub's bus (Redis pub/sub), so every gateway's open
 * `/console/events` streams (SSE) hear it, whichever worker handled the event; browsers then fetch
 * what changed. Delivery is at least once: a repeated notice only makes a browser fetch again.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Bus } from '../core/adapter.js';
import type { DeskContext } from '../core/desk.js';
import type { EventEnvelope, EventSubscriptions, EventType } from '../core/events.js';
import { detectLocale } from '../core/locale.js';

export const LIVE_TOPIC = 'console:events';

/** What an inbox redraws on (besides `message.received`, which also drives the waiting notice). */
const LIVE_TYPES = [
  'conversation.escalated',
  'conversation.claimed',
  'agent.replied',
  'note.added',
  'conversation.resolved',
  'conversation.returned_to_bot',
  'conversation.reopened',
  'csat.given',
  'message.failed',
] as const satisfies readonly EventType[];

export interface LiveDeps {
  bus: Bus;
  desk: DeskContext;
  /** true when the console is the only desk: it then tells waiting customers a person will answer. */
  onlyDesk: boolean;
}

/**
 * While a case waits unclaimed and the console is the only desk, the customer's next message gets
 * one notice per escalation (`handover_waiting`: a person will answer here), instead of typing
 * dots and silence. Keyed by the escalation, so a redelivered event or a further message sends none.
 */
async function waitingNotice(d: LiveDeps, e: EventEnvelope<'message.received'>): Promise<void> {
  if (!e.payload.toAgent || e.payload.noReply) return; // an auto-reply is never answered (loop protection)
  const { storage } = d.desk;
  const c = await storage.conversations.get(e.conversationId);
  if (!c || c.status !== 'waiting_agent' || c.assignee || !c.escalationId) return;
  const [msg, customer] = await Promise.all([storage.messages.get(e.payload.messageId), storage.customers.get(e.customerId)]);
  const locale = detectLocale(msg?.text ?? '', customer?.locale);
  await d.desk.proactive.sendToCustomer({
    customerId: e.customerId,
    conversationId: e.conversationId,
    kind: 'notice',
    key: `console:waiting:${c.escalationId}`,
    content: { text: d.desk.templates.render('handover_waiting', locale) },
  });
}

/** The console's event subscriber name. */
export const CONSOLE_SUBSCRIBER = 'console';

export function subscribeLive(subs: EventSubscriptions, d: LiveDeps): void {
  const publish = (e: { type: string; conversationId: string; at: number }) =>
    d.bus.publish(LIVE_TOPIC, JSON.stringify({ type: e.type, conversationId: e.conversationId, at: e.at }));
  // Only relayed messages: the bot's turns queue no job for the console.
  subs.on(
    CONSOLE_SUBSCRIBER,
    'message.received',
    async (e) => {
      if (d.onlyDesk) await waitingNotice(d, e);
      await publish(e);
    },
    { when: (p) => p.toAgent },
  );
  for (const type of LIVE_TYPES) subs.on(CONSOLE_SUBSCRIBER, type, publish);
}

/** Open SSE streams of this process (ended when the hub stops). */
export class LiveStreams {
  private readonly open = new Set<() => void>();

  /** Serves one `text/event-stream` until the client leaves, the session expires or the hub stops. */
  async serve(d: { bus: Bus; now(): number }, request: FastifyRequest, reply: FastifyReply, expiresAt: number | undefined): Promise<void> {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\nevent: hello\ndata: {}\n\n');
    const unsubscribe = await d.bus.subscribe(LIVE_TOPIC, (payload) => res.write(`data: ${payload}\n\n`));
    const ping = setInterval(() => res.write(': ping\n\n'), 25_000);
    const expiry = expiresAt === undefined ? undefined : setTimeout(() => end(), Math.max(0, expiresAt - d.now()));
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(ping);
      if (expiry) clearTimeout(expiry);
      this.open.delete(end);
      void unsubscribe().catch(() => undefined);
      res.end();
    };
    this.open.add(end);
    request.raw.once('close', end);
  }

  close(): void {
    for (const end of [...this.open]) end();
  }
}
