/**
 * What the inbox shows, read through the storage repositories: the cases waiting for a person (or
 * held by one), most urgent first, and one conversation with the customer's whole history across
 * channels, the hand-over summary, three suggested replies, profile, identities and notes.
 */
import type { DeskContext } from '../core/desk.js';
import type { Conversation, StoredMessage } from '../core/model.js';
import type { StoredEvent } from '../core/events.js';
import type { ConversationStatus } from '../core/types.js';
import { detectLocale } from '../core/locale.js';

export type InboxStatus = 'open' | 'waiting_agent' | 'agent' | 'resolved';

export interface InboxFilter {
  status: InboxStatus;
  channel?: string | undefined;
  /** `me`, `none` (unassigned) or an agent id; absent: anyone. */
  assignee?: string | undefined;
  /** Search in the customer's name, external id, identities and the conversation's text. */
  q?: string | undefined;
}

export interface InboxItem {
  id: string;
  customerId: string;
  /** The customer's name when a channel or the API gave one (else the client shows the identity). */
  customerName: string | null;
  channel: string;
  status: ConversationStatus;
  assignee: string | null;
  priority: string | null;
  reason: string | null;
  sentiment: number | null;
  /** When the current escalation began (else the conversation's last change). */
  waitingSince: number;
  lastText: string;
  lastAuthor: string | null;
  lastAt: number;
  identities: { channel: string; id: string; name: string | null }[];
}

/** Inbox size: the most recently changed conversations of the filter, before the search narrows them. */
const LIST_LIMIT = 200;
const STATUSES: Record<InboxStatus, ConversationStatus[]> = {
  open: ['waiting_agent', 'agent'],
  waiting_agent: ['waiting_agent'],
  agent: ['agent'],
  resolved: ['resolved'],
};

function lastEscalation(events: readonly StoredEvent[]): { at: number; sentiment: number | null } | undefined {
  const e = events.filter((x) => x.type === 'conversation.escalated').at(-1);
  if (!e) return undefined;
  const p = e.payload as { sentiment?: unknown };
  return { at: e.at, sentiment: typeof p.sentiment === 'number' ? p.sentiment : null };
}

/**
 * Urgency order: high priority first, then cases nobody has yet, then the angrier customer (lower
 * sentiment; an `angry` hand-over counts as -1), then the longest wait; resolved lists are newest first.
 */
export function byUrgency(a: InboxItem, b: InboxItem): number {
  const pri = (x: InboxItem) => (x.priority === 'high' ? 0 : 1);
  const taken = (x: InboxItem) => (x.assignee ? 1 : 0);
  const mood = (x: InboxItem) => (x.reason === 'angry' ? -1 : (x.sentiment ?? 0));
  return pri(a) - pri(b) || taken(a) - taken(b) || mood(a) - mood(b) || a.waitingSince - b.waitingSince;
}

export async function listInbox(ctx: DeskContext, f: InboxFilter, me: string): Promise<InboxItem[]> {
  const { storage } = ctx;
  const assignee = f.assignee === 'me' ? me : f.assignee === 'none' ? null : f.assignee || undefined;
  const convs = await storage.conversations.withStatus({
    statuses: STATUSES[f.status],
    ...(f.channel ? { channel: f.channel } : {}),
    ...(assignee !== undefined ? { assignee } : {}),
    limit: LIST_LIMIT,
  });
  const q = f.q?.trim().toLowerCase();
  const items = await Promise.all(
    convs.map(async (c): Promise<InboxItem | undefined> => {
      const [customer, identities, messages, events] = await Promise.all([
        storage.customers.get(c.customerId),
        storage.customers.identitiesOf(c.customerId),
        storage.messages.ofConversation(c.id, q ? 200 : 10),
        storage.events.ofConversation(c.id),
      ]);
      const name = customer?.displayName ?? identities.find((i) => i.displayName)?.displayName ?? null;
      if (q) {
        const hay = [name ?? '', customer?.externalId ?? '', ...identities.flatMap((i) => [i.platformUserId, i.displayName ?? '']), ...messages.map((m) => m.text)];
        if (!hay.some((h) => h.toLowerCase().includes(q))) return undefined;
      }
      // The customer's latest words tell an agent more than the hand-over notice after them.
      const last = messages.filter((m) => m.author === 'customer').at(-1) ?? messages.at(-1);
      const esc = lastEscalation(events);
      return {
        id: c.id,
        customerId: c.customerId,
        customerName: name,
        channel: c.channel,
        status: c.status,
        assignee: c.assignee,
        priority: c.priority,
        reason: c.escalationReason,
        sentiment: esc?.sentiment ?? null,
        waitingSince: esc?.at ?? c.updatedAt,
        lastText: last?.text.slice(0, 200) ?? '',
        lastAuthor: last?.author ?? null,
        lastAt: last?.createdAt ?? c.updatedAt,
        identities: identities.map((i) => ({ channel: i.channel, id: i.platformUserId, name: i.displayName })),
      };
    }),
  );
  const found = items.filter((x): x is InboxItem => x !== undefined);
  return f.status === 'resolved' ? found.sort((a, b) => b.lastAt - a.lastAt) : found.sort(byUrgency);
}

export interface HistoryItem {
  id: string;
  conversationId: string;
  channel: string;
  author: string;
  authorName: string | null;
  text: string;
  at: number;
  deliveryStatus: string;
  /** Files, with a link the agent can open when there is one (a signed hub URL, or the file's own). */
  attachments: { name: string; mimeType: string; url: string | null }[];
}

/** How long an attachment link in the console works. */
const LINK_TTL_MS = 3600_000;

async function historyItem(ctx: DeskContext, m: StoredMessage, baseUrl: string): Promise<HistoryItem> {
  const attachments = await Promise.all(
    m.attachments.map(async (a) => ({ name: a.name, mimeType: a.mimeType, url: (await ctx.attachmentUrl(m.channel, a, { baseUrl, ttlMs: LINK_TTL_MS })) ?? null })),
  );
  return { id: m.id, conversationId: m.conversationId, channel: m.channel, author: m.author, authorName: m.authorName, text: m.text, at: m.createdAt, deliveryStatus: m.deliveryStatus, attachments };
}

/** Summaries made, per process: one per (conversation, escalation, language), like the Slack case's. */
const summaries = new Map<string, string>();
const SUMMARIES_KEPT = 500;

/**
 * The hand-over summary, written once per escalation and language (an LLM call when `llm` is
 * configured), not on every refresh of every open browser.
 */
async function handOverSummary(ctx: DeskContext, c: Conversation, own: readonly StoredMessage[], locale: string): Promise<string> {
  const key = `${c.id}:${c.escalationId ?? ''}:${locale}`;
  const known = summaries.get(key);
  if (known !== undefined) return known;
  const text = await ctx.summarize(
    own.map((m) => ({ author: m.author, text: m.text })),
    locale,
  );
  summaries.set(key, text);
  if (summaries.size > SUMMARIES_KEPT) summaries.delete(summaries.keys().next().value ?? key);
  return text;
}

/** One conversation as the agent sees it (attachment links under `baseUrl`, the hub as the browser reached it); undefined when there is none with this id. */
export async function conversationView(ctx: DeskContext, id: string, agentLocale: string, baseUrl: string) {
  const { storage } = ctx;
  const c: Conversation | undefined = await storage.conversations.get(id);
  if (!c) return undefined;
  const [customer, identities, history, events] = await Promise.all([
    storage.customers.get(c.customerId),
    storage.customers.identitiesOf(c.customerId),
    storage.messages.ofCustomer(c.customerId, 200),
    storage.events.ofConversation(c.id),
  ]);
  const own = history.filter((m) => m.conversationId === c.id);
  const lastAsked = own.filter((m) => m.author === 'customer').at(-1);
  const customerLocale = detectLocale(lastAsked?.text ?? '', customer?.locale);
  const summary = await handOverSummary(ctx, c, own, agentLocale);
  // An answer filled from an order lookup ({{status}}) is no reply an agent can send as it is.
  const suggestions = lastAsked ? ctx.suggest(lastAsked.text, customerLocale, 8).filter((s) => !s.answer.includes('{{')).slice(0, 3) : [];
  const notes = events
    .filter((e) => e.type === 'note.added')
    .map((e) => {
      const p = e.payload as { text?: unknown; agentId?: unknown };
      return { at: e.at, actor: e.actor, text: typeof p.text === 'string' ? p.text : '' };
    });
  const csat = typeof c.botState.csat === 'number' ? c.botState.csat : null;
  return {
    conversation: {
      id: c.id,
      channel: c.channel,
      status: c.status,
      assignee: c.assignee,
      priority: c.priority,
      reason: c.escalationReason,
      createdAt: c.createdAt,
      resolvedAt: c.resolvedAt,
      csat,
      csatPending: c.botState.csatPending === true,
    },
    customer: customer
      ? { id: customer.id, displayName: customer.displayName, externalId: customer.externalId, locale: customer.locale, timezone: customer.timezone, tags: customer.tags, createdAt: customer.createdAt }
      : { id: c.customerId, displayName: null, externalId: null, locale: null, timezone: null, tags: [], createdAt: c.createdAt },
    customerLocale,
    identities: identities.map((i) => ({ channel: i.channel, id: i.platformUserId, name: i.displayName, unreachable: i.unreachableAt !== null })),
    history: await Promise.all(history.map((m) => historyItem(ctx, m, baseUrl))),
    summary,
    suggestions,
    notes,
    lastQuestion: lastAsked?.text ?? '',
  };
}
