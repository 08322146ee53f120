import { z } from 'zod';
import type { HistoryItem } from '../../core/adapter.js';
import type { Button, InboundMessage, MessageAuthor, OutboundMessage } from '../../core/types.js';

/** Pure mapping between the web chat wire protocol (JSON frames) and the hub's message shapes. */

export const CHANNEL = 'webchat';

/** Error codes a client can see in `{type:'error'}` frames. */
export type WebchatErrorCode = 'BAD_FRAME' | 'UNKNOWN_TYPE' | 'TOO_LARGE' | 'INPUT_INVALID' | 'RATE_LIMITED' | 'UNAVAILABLE';

const clientId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

const messageFrame = z.object({ type: z.literal('message'), id: clientId, text: z.string() });
const buttonFrame = z.object({
  type: z.literal('button'),
  id: clientId.optional(),
  value: z.string().min(1).max(1000),
  label: z.string().max(200),
});
const historyFrame = z.object({ type: z.literal('history') });
/** A link token from the page's `sb_link` parameter (docs/identity.md). */
const linkFrame = z.object({ type: z.literal('link'), id: clientId, token: z.string().min(1).max(100) });
/** A signed visitor: the site's user id and its HMAC-SHA256 under `identitySecret` (hex). */
const identifyFrame = z.object({ type: z.literal('identify'), userId: z.string().min(1).max(200), userHash: z.string().max(200).optional() });

export type LinkFrame = z.infer<typeof linkFrame>;
export type IdentifyFrame = z.infer<typeof identifyFrame>;
export type ClientFrame = z.infer<typeof messageFrame> | z.infer<typeof buttonFrame> | z.infer<typeof historyFrame> | LinkFrame | IdentifyFrame;
/** Frames that are a customer's message (stored, echoed to the visitor's other tabs). */
export type ChatFrame = z.infer<typeof messageFrame> | z.infer<typeof buttonFrame>;

export type ServerFrame =
  | { type: 'hello'; visitorId: string; locale?: string }
  | { type: 'history'; messages: HistoryItem[] }
  | { type: 'message'; id: string; author: MessageAuthor; authorName?: string; text: string; buttons?: Button[] }
  | { type: 'typing'; on: boolean }
  | { type: 'ack'; id: string }
  | { type: 'error'; code: WebchatErrorCode; message: string; id?: string };

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; code: WebchatErrorCode; message: string; id?: string };

const KNOWN_TYPES = ['message', 'button', 'history', 'link', 'identify'] as const;

/** Parses one text frame from a browser. Never throws. */
export function parseClientFrame(raw: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'BAD_FRAME', message: 'frame is not valid JSON' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'BAD_FRAME', message: 'frame must be a JSON object with a "type"' };
  }
  const type: unknown = (data as Record<string, unknown>).type;
  const rawId: unknown = (data as Record<string, unknown>).id;
  const id = typeof rawId === 'string' && clientId.safeParse(rawId).success ? rawId : undefined;
  if (typeof type !== 'string' || !(KNOWN_TYPES as readonly string[]).includes(type)) {
    const shown = typeof type === 'string' ? `"${type.slice(0, 40)}"` : 'missing';
    return { ok: false, code: 'UNKNOWN_TYPE', message: `unknown frame type ${shown}; expected one of ${KNOWN_TYPES.join(', ')}`, ...(id ? { id } : {}) };
  }
  const schema = type === 'message' ? messageFrame : type === 'button' ? buttonFrame : type === 'link' ? linkFrame : type === 'identify' ? identifyFrame : historyFrame;
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path.join('.') || '(frame)';
    return { ok: false, code: 'BAD_FRAME', message: `${type} frame: ${field}: ${issue?.message ?? 'invalid'}`, ...(id ? { id } : {}) };
  }
  return { ok: true, frame: r.data };
}

export interface VisitorSession {
  visitorId: string;
  locale?: string;
}

/** The hub's inbound message for a `message` or `button` frame (the hub validates text). */
export function toInbound(
  frame: ChatFrame,
  clientMsgId: string,
  session: VisitorSession,
  now: number,
): InboundMessage {
  const base = {
    channel: CHANNEL,
    platformMessageId: `${session.visitorId}:${clientMsgId}`,
    platformUserId: session.visitorId,
    ...(session.locale ? { locale: session.locale } : {}),
    ref: { channel: CHANNEL, chatId: session.visitorId },
    attachments: [],
    receivedAt: now,
  };
  if (frame.type === 'button') return { ...base, kind: 'button', text: frame.label, buttonValue: frame.value };
  return { ...base, kind: 'text', text: frame.text };
}

/** The frame a browser gets for an outbound message. */
export function toServerMessage(m: OutboundMessage): ServerFrame {
  return {
    type: 'message',
    id: m.id,
    author: m.author,
    ...(m.authorName ? { authorName: m.authorName } : {}),
    text: m.text,
    ...(m.buttons?.length ? { buttons: m.buttons.map((b) => ({ label: b.label, value: b.value })) } : {}),
  };
}

/** Echo of a customer's own message to the visitor's other tabs. */
export function customerEcho(frame: ChatFrame, clientMsgId: string): ServerFrame {
  return { type: 'message', id: clientMsgId, author: 'customer', text: frame.type === 'button' ? frame.label : frame.text };
}

/** Shape check of a frame published on the bus by this adapter (any process). */
export function isServerFrame(v: unknown): v is ServerFrame {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}
