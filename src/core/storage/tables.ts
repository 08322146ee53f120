import type { Generated } from 'kysely';

/** Row shapes as stored. Times are epoch milliseconds; JSON columns are text. */
export interface CustomerTable {
  id: string;
  display_name: string | null;
  locale: string | null;
  timezone: string | null;
  preferred_channel: string | null;
  /** The business's own id of this customer (unique when set). */
  external_id: string | null;
  consent: string; // JSON object of flags
  tags: string; // JSON array
  created_at: number;
  updated_at: number;
}

export interface IdentityTable {
  id: string;
  customer_id: string;
  channel: string;
  platform_user_id: string;
  display_name: string | null;
  verified: number; // 0/1
  last_ref: string; // JSON ConversationRef
  unreachable_at: number | null;
  unreachable_reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface ConversationTable {
  id: string;
  customer_id: string;
  channel: string;
  status: string;
  assignee: string | null;
  thread_key: string | null;
  escalation_id: string | null;
  escalation_reason: string | null;
  priority: string | null;
  strikes: number;
  bot_state: string; // JSON
  version: number;
  created_at: number;
  updated_at: number;
  resolved_at: number | null;
}

export interface MessageTable {
  id: string;
  conversation_id: string;
  customer_id: string;
  direction: string; // in | out
  author: string;
  author_name: string | null;
  channel: string;
  /** Inbound: `channel:platformMessageId` (unique); outbound: null. */
  dedupe_key: string | null;
  platform_message_id: string | null;
  kind: string;
  text: string;
  attachments: string; // JSON
  buttons: string; // JSON
  ref: string; // JSON ConversationRef the message was received on / is sent to
  delivery_status: string;
  /** Outbound: platform ids of parts already sent (resume after a crash mid-split). */
  sent_parts: string; // JSON string[]
  error: string | null;
  /** Outbound: the inbound message that caused it. */
  caused_by: string | null;
  processed_at: number | null;
  created_at: number;
  sent_at: number | null;
}

/** Before the typed catalogue (migration 002): kept for history, no longer written. */
export interface EventTable {
  id: Generated<number>;
  conversation_id: string;
  type: string;
  actor: string;
  data: string; // JSON
  created_at: number;
}

/** The conversation-event outbox: `dispatched_at` is set once every subscriber's job is queued. */
export interface ConversationEventTable {
  /** Unique in the database (autoincrement): the event id subscribers dedupe on. */
  id: Generated<number>;
  conversation_id: string;
  customer_id: string;
  type: string;
  actor: string;
  payload: string; // JSON, checked against the event catalogue when read
  created_at: number;
  dispatched_at: number | null;
}

/** One row per (subscriber, event) handled: the subscriber's idempotency on the event id. */
export interface EventReceiptTable {
  subscriber: string;
  event_id: string;
  done_at: number;
}

/** Small per-channel state (cursors): key -> JSON with a version for compare-and-set. */
export interface ChannelStateTable {
  channel: string;
  key: string;
  value: string; // JSON
  version: number;
  updated_at: number;
}

export interface DeskCaseTable {
  id: string;
  desk: string;
  escalation_id: string;
  conversation_id: string;
  state: string; // posting | posted
  owner: string | null;
  pending_since: number | null;
  thread_channel: string | null;
  thread_ts: string | null;
  snapshot: string | null; // JSON
  version: number;
  created_at: number;
  updated_at: number;
}

/**
 * What a desk posted under a key (a relay, a note): repeated work finds it and posts nothing. A row
 * without `ts` is a post in progress by `owner` (claimed at `created_at`).
 */
export interface DeskPostTable {
  desk: string;
  key: string;
  conversation_id: string;
  ts: string | null;
  owner: string | null;
  created_at: number;
}

export interface Database {
  customers: CustomerTable;
  identities: IdentityTable;
  conversations: ConversationTable;
  messages: MessageTable;
  events: EventTable;
  conversation_events: ConversationEventTable;
  event_receipts: EventReceiptTable;
  channel_state: ChannelStateTable;
  desk_cases: DeskCaseTable;
  desk_posts: DeskPostTable;
  proactive_sends: ProactiveSendTable;
}

export interface ProactiveSendTable {
  id: string;
  dedupe_key: string;
  customer_id: string;
  kind: string;
  content: string; // JSON ProactiveContent
  channels: string; // JSON array: the order to try
  attempts: string; // JSON array of SendAttempt
  status: string;
  message_id: string | null;
  request_hash: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}
