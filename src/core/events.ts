/**
 * The typed catalogue of what happens in a conversation. Events are written in the same transaction
 * as the change that causes them (an outbox, `storage/events.ts`) and dispatched after commit,
 * through BullMQ, to the subscribers registered here by event type (`queues/event-dispatcher.ts`).
 * Delivery is at least once; each subscriber is idempotent on the event id (a receipt per
 * subscriber and event, plus keyed effects), so none sees an event twice in effect.
 */
import { z } from 'zod';
import { HubError } from './errors.js';

const reason = z.enum(['low_confidence', 'asked_for_human', 'three_strikes', 'angry', 'workflow', 'bot_error', 'action_failed']);
const priority = z.enum(['normal', 'high']);
const author = z.enum(['customer', 'bot', 'agent', 'system']);
const botTurn = {
  messageId: z.string(),
  confidence: z.number().nullable(),
  entryIds: z.array(z.string()),
  sentiment: z.number().nullable(),
};

/** Why the hub wrote first. */
export const proactiveKinds = ['reminder', 'alert', 'notice', 'csat', 'identity_code', 'api'] as const;
export type ProactiveKind = (typeof proactiveKinds)[number];

/** Every event type and its payload. Adding an event: one line here, then emit it and subscribe. */
const schemas = {
  /**
   * A customer message was stored; `toAgent` when it was relayed to a person instead of the bot;
   * `noReply` when the channel marked it as one never to answer (an auto-reply, a bounce): a desk
   * must not answer it either (loop protection).
   */
  'message.received': z.object({ messageId: z.string(), channel: z.string(), toAgent: z.boolean(), noReply: z.boolean().optional() }),
  'bot.answered': z.object(botTurn),
  'bot.clarified': z.object(botTurn),
  'conversation.escalated': z.object({
    escalationId: z.string(),
    reason,
    priority,
    messageId: z.string().nullable(),
    sentiment: z.number().nullable(),
  }),
  'conversation.claimed': z.object({ agentId: z.string() }),
  'agent.replied': z.object({ messageId: z.string(), agentId: z.string(), agentName: z.string(), claimed: z.boolean() }),
  'note.added': z.object({ agentId: z.string(), text: z.string(), key: z.string() }),
  'conversation.resolved': z.object({ agentId: z.string() }),
  'conversation.returned_to_bot': z.object({ agentId: z.string() }),
  'conversation.reopened': z.object({ messageId: z.string(), assignee: z.string().nullable() }),
  'csat.given': z.object({ score: z.number().int().min(1).max(5), messageId: z.string() }),
  /** The hub wrote first (a reminder, an alert, a desk notice...). */
  'message.queued': z.object({ messageId: z.string(), kind: z.enum(proactiveKinds), key: z.string(), channel: z.string() }),
  'message.sent': z.object({ messageId: z.string(), channel: z.string(), author }),
  'message.failed': z.object({ messageId: z.string(), channel: z.string(), author, code: z.string(), error: z.string() }),
  'identity.unreachable': z.object({ identityId: z.string(), channel: z.string(), reason: z.string() }),
};

export type EventPayloads = { [K in keyof typeof schemas]: z.output<(typeof schemas)[K]> };
export type EventType = keyof EventPayloads;
export type EventPayload<K extends EventType> = EventPayloads[K];
/** The catalogue's schemas, typed per event type (payloads are checked when read back). */
export const eventCatalogue: { [K in EventType]: z.ZodType<EventPayloads[K]> } = schemas;

/** Who caused an event. */
export type Actor = 'customer' | 'bot' | 'system' | `agent:${string}` | `desk:${string}`;
const actorPattern = /^(customer|bot|system|agent:.+|desk:.+)$/;

export function isActor(s: string): s is Actor {
  return actorPattern.test(s);
}

export function isEventType(s: string): s is EventType {
  return Object.hasOwn(eventCatalogue, s);
}

export interface EventEnvelope<K extends EventType> {
  /** Unique id: subscribers dedupe on it. */
  id: string;
  type: K;
  conversationId: string;
  customerId: string;
  actor: Actor;
  /** Epoch milliseconds. */
  at: number;
  payload: EventPayload<K>;
}

/** Any conversation event (a union discriminated by `type`). */
export type ConversationEvent = { [K in EventType]: EventEnvelope<K> }[EventType];

/** What a state change emits; storage adds id, conversation, customer and time. */
export type NewEvent = { [K in EventType]: { type: K; actor: Actor; payload: EventPayload<K> } }[EventType];

/** An event as read back from the outbox, before its payload is checked against the catalogue. */
export interface StoredEvent {
  id: string;
  type: string;
  conversationId: string;
  customerId: string;
  actor: string;
  at: number;
  payload: unknown;
  dispatchedAt: number | null;
}

/** Checks a stored event against the catalogue entry of `type`. */
export function readEvent<K extends EventType>(type: K, e: StoredEvent): EventEnvelope<K> {
  if (e.type !== type) throw new HubError('INTERNAL', `event ${e.id} is ${e.type}, not ${type}`);
  if (!isActor(e.actor)) throw new HubError('INTERNAL', `event ${e.id} has an unknown actor "${e.actor}"`);
  const schema = eventCatalogue[type];
  const parsed = schema.safeParse(e.payload);
  if (!parsed.success) {
    throw new HubError('INTERNAL', `event ${e.id} (${type}): ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`, {
      retry: 'final',
    });
  }
  return { id: e.id, type, conversationId: e.conversationId, customerId: e.customerId, actor: e.actor, at: e.at, payload: parsed.data };
}

export type EventHandler<K extends EventType> = (event: EventEnvelope<K>) => Promise<void>;

/**
 * Who listens to what, by subscriber name (the name keys its receipts and its jobs: keep it stable).
 * Every process registers the same subscribers at boot (the composition root), so the writer of an
 * event knows whom to queue it for.
 */
export class EventSubscriptions {
  private readonly byType = new Map<string, Map<string, Subscription>>();

  /**
   * `opts.when`: which events of `type` the subscriber wants, decided on the payload when the event
   * is written, so no job is queued for the others (a desk that only hears relayed messages costs
   * nothing on the bot's turns).
   */
  on<K extends EventType>(subscriber: string, type: K, handler: EventHandler<K>, opts: { when?: (payload: EventPayload<K>) => boolean } = {}): this {
    if (!/^[a-z][a-z0-9_-]*$/.test(subscriber)) throw new HubError('INTERNAL', `subscriber name "${subscriber}" must be lower-case letters, digits, - or _`);
    const subs = this.byType.get(type) ?? new Map<string, Subscription>();
    if (subs.has(subscriber)) throw new HubError('INTERNAL', `subscriber ${subscriber} already handles ${type}`);
    const when = opts.when;
    const schema: z.ZodType<EventPayload<K>> = eventCatalogue[type];
    // A payload that does not parse is delivered: the handler's check then reports it.
    const wants = when
      ? (payload: unknown) => {
          const p = schema.safeParse(payload);
          return !p.success || when(p.data);
        }
      : undefined;
    subs.set(subscriber, { run: (e) => handler(readEvent(type, e)), ...(wants ? { wants } : {}) });
    this.byType.set(type, subs);
    return this;
  }

  /** Names of the subscribers of `type` (that want this `payload`, when given), in registration order. */
  subscribersOf(type: string, payload?: unknown): string[] {
    const subs = [...(this.byType.get(type) ?? new Map<string, Subscription>())];
    return subs.filter(([, s]) => payload === undefined || !s.wants || s.wants(payload)).map(([name]) => name);
  }

  /** true when someone subscribes to `type` (and wants this `payload`, when given). */
  has(type: string, payload?: unknown): boolean {
    return payload === undefined ? (this.byType.get(type)?.size ?? 0) > 0 : this.subscribersOf(type, payload).length > 0;
  }

  /** Runs one subscriber's handler; false when it does not handle this type (nothing to do). */
  async deliver(subscriber: string, event: StoredEvent): Promise<boolean> {
    const s = this.byType.get(event.type)?.get(subscriber);
    if (!s) return false;
    await s.run(event);
    return true;
  }
}

interface Subscription {
  run(e: StoredEvent): Promise<void>;
  /** Absent: every event of the type. */
  wants?(payload: unknown): boolean;
}
