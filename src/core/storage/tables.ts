import type { Generated } from 'kysely';

/** Row shapes as stored. Times are epoch milliseconds; JSON columns are text. */
export interface CustomerTable {
  id: string;
  display_name: string | null;
  locale: string | null;
  timezone: string | null;
  preferred_channel: string | null;
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
  escalation_ref: string | null; // JSON (desk thread...)
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

export interface EventTable {
  id: Generated<number>;
  conversation_id: string;
  type: string;
  actor: string;
  data: string; // JSON
  created_at: number;
}

export interface Database {
  customers: CustomerTable;
  identities: IdentityTable;
  conversations: ConversationTable;
  messages: MessageTable;
  events: EventTable;
}
