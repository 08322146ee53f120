/**
 * Domain records as the core sees them. Repositories in `storage/` return these; the snake_case
 * rows and the query builder never leave `storage/`.
 */
import type {
  AttachmentMeta,
  Button,
  ChannelName,
  ConversationRef,
  ConversationStatus,
  DeliveryStatus,
  InboundKind,
  JsonObject,
  MessageAuthor,
} from './types.js';

export interface Customer {
  id: string;
  displayName: string | null;
  locale: string | null;
  timezone: string | null;
  /** Where proactive messages go first (the first channel the customer used, until changed). */
  preferredChannel: ChannelName | null;
  /** The business's own id of this customer (set through the API), unique. */
  externalId: string | null;
  consent: JsonObject;
  tags: string[];
  createdAt: number;
  updatedAt: number;
}

/** One (channel, platform user id) of a customer, with the latest ref it was reached on. */
export interface Identity {
  id: string;
  customerId: string;
  channel: ChannelName;
  platformUserId: string;
  displayName: string | null;
  verified: boolean;
  lastRef: ConversationRef;
  unreachableAt: number | null;
  unreachableReason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface Conversation {
  id: string;
  customerId: string;
  channel: ChannelName;
  /** Set when the channel keys conversations by thread (an email thread, a Slack thread). */
  threadKey: string | null;
  status: ConversationStatus;
  assignee: string | null;
  /** Id of the current (latest) escalation: the desk keeps one case per escalation id. */
  escalationId: string | null;
  escalationReason: string | null;
  priority: string | null;
  strikes: number;
  botState: JsonObject;
  version: number;
  createdAt: number;
  updatedAt: number;
  resolvedAt: number | null;
}

export interface ConversationPatch {
  status?: ConversationStatus;
  assignee?: string | null;
  escalationId?: string | null;
  escalationReason?: string | null;
  priority?: string | null;
  strikes?: number;
  botState?: JsonObject;
  resolvedAt?: number | null;
}

export interface StoredMessage {
  id: string;
  conversationId: string;
  customerId: string;
  direction: 'in' | 'out';
  author: MessageAuthor;
  authorName: string | null;
  channel: ChannelName;
  /** Inbound: `channel:platformMessageId`; outbound: the effect's idempotency key, if any. */
  dedupeKey: string | null;
  platformMessageId: string | null;
  kind: InboundKind;
  text: string;
  attachments: AttachmentMeta[];
  buttons: Button[];
  /** The ref the message was received on / is sent to. */
  ref: ConversationRef;
  deliveryStatus: DeliveryStatus;
  /** Outbound: platform ids of the parts already sent (resume after a crash mid-split). */
  sentParts: string[];
  error: string | null;
  /** Outbound: the inbound message that caused it. */
  causedBy: string | null;
  processedAt: number | null;
  createdAt: number;
  sentAt: number | null;
}

export interface NewOutbound {
  conversationId: string;
  customerId: string;
  channel: ChannelName;
  ref: ConversationRef;
  author: MessageAuthor;
  authorName?: string;
  text: string;
  buttons?: Button[];
  attachments?: AttachmentMeta[];
  causedBy?: string;
  /** Unique key for effects that may be requested twice (an agent reply redelivered, a proactive key). */
  dedupeKey?: string;
}

/** A desk's case: one per escalation, a thread on the desk once posted. */
export interface DeskCase {
  id: string;
  desk: string;
  escalationId: string;
  conversationId: string;
  /** `posting` while one worker posts the case message (others wait), `posted` once it has a thread. */
  state: 'posting' | 'posted';
  owner: string | null;
  pendingSince: number | null;
  threadChannel: string | null;
  threadTs: string | null;
  /** What the desk computed once for this escalation (summary, suggestions...), desk-defined. */
  snapshot: JsonObject | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** One channel tried by a proactive send: sent, failed (with the platform's reason), or skipped. */
export interface SendAttempt {
  channel: ChannelName;
  status: 'queued' | 'sent' | 'failed' | 'skipped';
  at: number;
  error?: string;
  /** The outbound message of this attempt (absent for skipped channels). */
  messageId?: string;
}

/** A proactive send that falls back across the customer's channels until one delivers. */
export interface ProactiveSend {
  id: string;
  key: string;
  customerId: string;
  kind: string;
  content: { text: string; buttons?: Button[]; attachments?: AttachmentMeta[] };
  /** Channels in the order to try. */
  channels: ChannelName[];
  attempts: SendAttempt[];
  status: 'queued' | 'sent' | 'failed';
  /** The outbound message in flight (the latest attempt's). */
  messageId: string | null;
  /** What the caller asked, hashed: the same key with another request is refused. */
  requestHash: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}
