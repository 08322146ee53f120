import { z } from 'zod';

/*
 * The slice of the Bot API `Update` the adapter reads, validated: a webhook body is untrusted input.
 * Objects are loose (Telegram adds fields all the time); only the fields used here are checked.
 */

const user = z.looseObject({
  id: z.number().int(),
  is_bot: z.boolean().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  username: z.string().optional(),
  language_code: z.string().optional(),
});

const chat = z.looseObject({
  id: z.number().int(),
  type: z.string(),
  title: z.string().optional(),
  username: z.string().optional(),
});

const entity = z.looseObject({
  type: z.string(),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});

const file = {
  file_id: z.string().min(1),
  file_unique_id: z.string().optional(),
  file_size: z.number().nonnegative().optional(),
};
const photoSize = z.looseObject({ ...file, width: z.number().optional(), height: z.number().optional() });
const namedFile = z.looseObject({ ...file, file_name: z.string().optional(), mime_type: z.string().optional() });

const inlineButton = z.looseObject({ text: z.string(), callback_data: z.string().optional() });
const inlineKeyboard = z.looseObject({ inline_keyboard: z.array(z.array(inlineButton)) });

export const messageSchema = z.looseObject({
  message_id: z.number().int(),
  date: z.number().int(),
  edit_date: z.number().int().optional(),
  chat,
  from: user.optional(),
  text: z.string().optional(),
  entities: z.array(entity).optional(),
  caption: z.string().optional(),
  caption_entities: z.array(entity).optional(),
  photo: z.array(photoSize).optional(),
  document: namedFile.optional(),
  voice: namedFile.optional(),
  audio: namedFile.optional(),
  video: namedFile.optional(),
  video_note: namedFile.optional(),
  animation: namedFile.optional(),
  reply_to_message: z.looseObject({ message_id: z.number().int(), from: user.optional() }).optional(),
  reply_markup: inlineKeyboard.optional(),
});

export const callbackQuerySchema = z.looseObject({
  id: z.string().min(1),
  from: user,
  message: messageSchema.optional(),
  data: z.string().optional(),
});

export const updateSchema = z.looseObject({
  update_id: z.number().int().nonnegative(),
  message: messageSchema.optional(),
  edited_message: messageSchema.optional(),
  callback_query: callbackQuerySchema.optional(),
});

export type TgUser = z.infer<typeof user>;
export type TgEntity = z.infer<typeof entity>;
export type TgMessage = z.infer<typeof messageSchema>;
export type TgCallbackQuery = z.infer<typeof callbackQuerySchema>;
export type TgUpdate = z.infer<typeof updateSchema>;

/** The update types the adapter asks for (getUpdates / setWebhook `allowed_updates`). */
export const ALLOWED_UPDATES = ['message', 'edited_message', 'callback_query'] as const;

/** `update_id` of a body when it looks like an update at all; undefined for anything else. */
export function updateIdOf(raw: unknown): number | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const id = (raw as { update_id?: unknown }).update_id;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : undefined;
}
