import { z } from 'zod';
import { HubError } from '../errors.js';
import type { InboundMessage } from '../types.js';

/** Longest customer text the hub accepts (characters). Longer input is refused with a clear error. */
export const MAX_TEXT_CHARS = 20_000;

const jsonValue: z.ZodType = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);
const jsonObject = z.record(z.string(), jsonValue);

const refSchema = z.object({
  channel: z.string().min(1),
  chatId: z.string().min(1),
  threadId: z.string().optional(),
  extra: jsonObject.optional(),
});

const inboundSchema = z.object({
  channel: z.string().min(1).max(32),
  platformMessageId: z.string().min(1).max(255),
  platformUserId: z.string().min(1).max(255),
  userName: z.string().max(255).optional(),
  locale: z.string().max(35).optional(),
  ref: refSchema,
  threadKey: z.string().min(1).max(400).optional(),
  kind: z.enum(['text', 'button', 'command', 'media']),
  text: z.string(),
  command: z.object({ name: z.string().min(1), payload: z.string().optional() }).optional(),
  buttonValue: z.string().max(1000).optional(),
  attachments: z.array(
    z.object({
      name: z.string(),
      mimeType: z.string(),
      size: z.number().nonnegative().optional(),
      fetchHandle: z.string().optional(),
      url: z.string().optional(),
    }),
  ),
  receivedAt: z.number().int().positive(),
  noReply: z.string().min(1).max(200).optional(),
  extra: jsonObject.optional(),
});

// C0 controls except tab/newline/CR, DEL, and lone surrogates: what binary garbage turns into.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Validates and cleans a message from an adapter. Throws HubError('INPUT_INVALID') naming the problem. */
export function validateInbound(input: unknown): InboundMessage {
  const r = inboundSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    const field = i ? i.path.join('.') || '(message)' : '(message)';
    throw new HubError('INPUT_INVALID', `inbound message: ${field}: ${i?.message ?? 'invalid'}`, { context: { field } });
  }
  const msg = r.data as InboundMessage;
  if (msg.text.length > MAX_TEXT_CHARS) {
    throw new HubError('INPUT_INVALID', `inbound message: text is ${msg.text.length} characters, the limit is ${MAX_TEXT_CHARS}`, {
      context: { field: 'text', length: msg.text.length },
    });
  }
  const text = msg.text.replace(CONTROL, '').trim();
  if (text.length === 0 && msg.attachments.length === 0 && msg.kind !== 'command' && msg.kind !== 'button') {
    throw new HubError('INPUT_INVALID', 'inbound message: text is empty and there is no attachment', { context: { field: 'text' } });
  }
  return { ...msg, text };
}
