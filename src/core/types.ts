/**
 * The normalized shapes every channel adapter speaks. The core never sees a platform SDK type:
 * adapters map native events to these in their own `mapper.ts`.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Channel names are open-ended so that a new channel touches only its own folder and the registry. */
export type ChannelName = string;

/**
 * How to reach a conversation on its platform: a chat id, an email address with thread headers, a
 * Slack channel with a thread ts... Stored with every identity so the hub can write first.
 */
export interface ConversationRef {
  channel: ChannelName;
  /** Platform chat / room / address to send to. */
  chatId: string;
  /** Platform thread (Slack thread ts, email Message-ID to reply to), when the platform has threads. */
  threadId?: string;
  /** Platform-specific routing details; each adapter validates its own shape. */
  extra?: JsonObject;
  /**
   * Set by the core on a message of a threaded channel that joined a conversation of another
   * thread or channel (a case a person holds): its own thread key, so answers go back in it.
   */
  threadKey?: string;
}

export interface AttachmentMeta {
  name: string;
  mimeType: string;
  size?: number;
  /** Opaque handle the adapter can turn back into bytes (Telegram file_id, a URL...). */
  fetchHandle?: string;
  url?: string;
}

export interface Button {
  /** Text shown on the button. */
  label: string;
  /** Value that comes back as a `button` inbound message when pressed. */
  value: string;
}

export type InboundKind = 'text' | 'button' | 'command' | 'media';

export interface InboundMessage {
  channel: ChannelName;
  /** Unique per channel: with the channel, the idempotency key of the whole pipeline. */
  platformMessageId: string;
  platformUserId: string;
  /** Display name the platform reports, when it does. */
  userName?: string;
  /** BCP-47-ish language hint from the platform or browser (e.g. `zh-CN`, `en`). */
  locale?: string;
  ref: ConversationRef;
  /**
   * The platform thread this message belongs to (an email thread's root Message-ID, a Slack thread
   * ts in a shared channel). Honoured only when the adapter declares `capabilities.threads`: the
   * conversation is then found by (customer, channel, thread key), so two threads stay apart.
   */
  threadKey?: string;
  kind: InboundKind;
  text: string;
  /** For kind `command`: name without the slash, and its payload (deep-link token...). */
  command?: { name: string; payload?: string };
  /** For kind `button`: the value of the pressed button. */
  buttonValue?: string;
  attachments: AttachmentMeta[];
  /** Epoch milliseconds. */
  receivedAt: number;
  /**
   * Why this message must not be answered (an auto-reply, a bounce, a mailing list, a sender over
   * the reply cap): it is stored and relayed to a person who has the conversation, but the bot never
   * answers it and nothing escalates. Loop protection for channels where robots write too.
   */
  noReply?: string;
  /** Small, typed-by-the-adapter platform details. */
  extra?: JsonObject;
}

export interface OutboundMessage {
  /** Storage id of the outbound row; also the idempotency key of the send. */
  id: string;
  conversationId: string;
  ref: ConversationRef;
  text: string;
  buttons?: Button[];
  attachments?: AttachmentMeta[];
  /** Who the customer sees as author (bot, agent display name). */
  author: MessageAuthor;
  authorName?: string;
  /**
   * Channels with `capabilities.threads`: the thread key of the message's conversation (absent: the
   * conversation has no thread yet, e.g. a reminder, so the message starts one).
   */
  threadKey?: string;
}

export interface SendResult {
  /** Platform ids of what was sent (one per part when a text was split). */
  platformMessageIds: string[];
}

export interface Capabilities {
  /** The adapter supplies `InboundMessage.threadKey`: conversations are kept apart per thread. */
  threads: boolean;
  /** The platform shows buttons; without them the core leaves buttons off. */
  buttons: boolean;
  /** Longest text one platform message may carry; the core splits longer replies. */
  maxTextLength: number;
  /** `send` can deliver files; without it the core sends attachments as name + link lines in the text. */
  attachments: boolean;
  /**
   * The platform shows each message's sender name as the adapter sets it (`authorName`, as the web
   * chat does); without it the core puts an agent's name on the first line of the agent's replies.
   */
  authorNames: boolean;
}

export type MessageAuthor = 'customer' | 'bot' | 'agent' | 'system';
export type ConversationStatus = 'bot' | 'waiting_agent' | 'agent' | 'resolved';
export type DeliveryStatus = 'received' | 'pending' | 'sent' | 'failed';
