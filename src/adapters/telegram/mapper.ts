import type { AttachmentMeta, InboundMessage, JsonObject } from '../../core/types.js';
import {
  updateSchema,
  type TgCallbackQuery,
  type TgEntity,
  type TgMessage,
  type TgUpdate,
  type TgUser,
} from './update-schema.js';

export interface MapEnv {
  /** Bot username without `@`; needed for group messages only. */
  botUsername: string | undefined;
  /** Group chat ids (as strings) the bot answers in. */
  allowedGroups: ReadonlySet<string>;
  /** Epoch ms used as `receivedAt`. */
  now: number;
}

export type MapResult =
  | { ok: true; message: InboundMessage; callbackQueryId?: string }
  | {
      ok: false;
      /** Why the update is not handed to the core (logged; the update is still acknowledged). */
      reason: string;
      /** Routine (group chatter): log at debug level only. */
      quiet?: boolean;
      /** A group message arrived before the bot's username is known: ask getMe and map again. */
      needsBotUsername?: boolean;
      callbackQueryId?: string;
    };

const CHANNEL = 'telegram';
const GROUP_TYPES = new Set(['group', 'supergroup']);

/**
 * Maps one Bot API update to the core's InboundMessage, or says why it is ignored. Pure.
 * The platform message id comes from the message itself (`m<chat>_<message_id>`, edits
 * `e<chat>_<message_id>_<edit_date>`, button presses `cb<callback id>`), so a redelivered update
 * maps to the same id and the hub answers it once, also across restarts and webhook/polling switches.
 */
export function mapUpdate(raw: unknown, env: MapEnv): MapResult {
  const parsed = updateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `malformed update: ${issue ? `${issue.path.join('.') || '(update)'}: ${issue.message}` : 'invalid'}` };
  }
  const u: TgUpdate = parsed.data;
  if (u.message) return mapMessage(u, u.message, false, env);
  if (u.edited_message) return mapMessage(u, u.edited_message, true, env);
  if (u.callback_query) return mapCallback(u, u.callback_query, env);
  const kinds = Object.keys(u).filter((k) => k !== 'update_id');
  return { ok: false, reason: `unsupported update type: ${kinds.join(', ') || '(empty)'}` };
}

function mapMessage(u: TgUpdate, m: TgMessage, edited: boolean, env: MapEnv): MapResult {
  const from = m.from;
  if (!from || from.is_bot) return { ok: false, reason: from ? 'message from a bot' : 'message without a sender (channel or anonymous admin)' };
  const gate = chatGate(m, env);
  if (gate) return gate;

  let body = m.text ?? m.caption ?? '';
  const entities = (m.text !== undefined ? m.entities : m.caption_entities) ?? [];
  const group = GROUP_TYPES.has(m.chat.type);
  if (group) {
    const bot = env.botUsername ?? '';
    const mentions = entities.filter((e) => e.type === 'mention' && sameName(slice(body, e), `@${bot}`));
    const command = leadingCommand(body, entities);
    const addressed =
      mentions.length > 0 ||
      (command?.target !== undefined && sameName(command.target, bot)) ||
      (m.reply_to_message?.from?.is_bot === true && sameName(m.reply_to_message.from.username ?? '', bot));
    if (!addressed) return { ok: false, reason: 'group message does not address the bot', quiet: true };
    body = stripRanges(body, mentions);
  }

  const base = baseMessage(u, m, from, env, edited ? `e${m.chat.id}_${m.message_id}_${m.edit_date ?? m.date}` : `m${m.chat.id}_${m.message_id}`);
  if (edited) {
    // The media of an edited message was delivered with the original: only the new text matters.
    const text = body.trim();
    if (!text) return { ok: false, reason: 'edited message without text' };
    return { ok: true, message: { ...base, kind: 'text', text, extra: { ...base.extra, edited: true } } };
  }

  const command = m.text !== undefined ? leadingCommand(body, group ? [] : entities) ?? leadingCommandText(body) : undefined;
  if (command) {
    if (command.target !== undefined && env.botUsername !== undefined && !sameName(command.target, env.botUsername)) {
      return { ok: false, reason: `command for another bot (@${command.target})`, quiet: true };
    }
    const payload = body.slice(command.length).trim();
    return {
      ok: true,
      message: {
        ...base,
        kind: 'command',
        text: `/${command.name}${payload ? ` ${payload}` : ''}`,
        command: { name: command.name, ...(payload ? { payload } : {}) },
      },
    };
  }

  const attachments = attachmentsOf(m);
  if (attachments === 'sticker') return { ok: false, reason: 'stickers are not supported' };
  const text = body.trim();
  if (attachments.length > 0) return { ok: true, message: { ...base, kind: 'media', text, attachments } };
  if (text) return { ok: true, message: { ...base, kind: 'text', text } };
  const content = Object.keys(m).filter((k) => !BASE_KEYS.has(k));
  return { ok: false, reason: `message without text or supported media (${content.join(', ') || 'empty'})` };
}

function mapCallback(u: TgUpdate, q: TgCallbackQuery, env: MapEnv): MapResult {
  const ignored = (reason: string): MapResult => ({ ok: false, reason, callbackQueryId: q.id });
  if (q.data === undefined || q.data === '') return ignored('button press without callback data (game or URL button)');
  const m = q.message;
  if (!m) return ignored('button press on an inline-mode message (no chat)');
  const gate = chatGate(m, env);
  if (gate) return { ...gate, callbackQueryId: q.id };
  const data = q.data;
  const label = m.reply_markup?.inline_keyboard.flat().find((b) => b.callback_data === data)?.text;
  const base = baseMessage(u, m, q.from, env, `cb${q.id}`);
  return {
    ok: true,
    callbackQueryId: q.id,
    message: { ...base, kind: 'button', text: label ?? data, buttonValue: data },
  };
}

/** Private chats pass; groups only when allowed; channels never. */
function chatGate(m: TgMessage, env: MapEnv): MapResult | undefined {
  if (m.chat.type === 'private') return undefined;
  if (!GROUP_TYPES.has(m.chat.type)) return { ok: false, reason: `chat type ${m.chat.type} is not supported` };
  if (!env.allowedGroups.has(String(m.chat.id))) {
    return { ok: false, reason: `group ${m.chat.id} is not in channels.telegram.allowedGroups`, quiet: true };
  }
  if (env.botUsername === undefined) return { ok: false, reason: 'bot username not known yet', needsBotUsername: true };
  return undefined;
}

function baseMessage(u: TgUpdate, m: TgMessage, from: TgUser, env: MapEnv, platformMessageId: string): InboundMessage {
  const userName = [from.first_name, from.last_name].filter(Boolean).join(' ') || from.username;
  const extra: JsonObject = { updateId: u.update_id, chatType: m.chat.type, messageId: m.message_id, sentAt: m.date * 1000 };
  if (from.username) extra.username = from.username;
  return {
    channel: CHANNEL,
    platformMessageId,
    platformUserId: String(from.id),
    ...(userName ? { userName: userName.slice(0, 255) } : {}),
    ...(from.language_code ? { locale: from.language_code.slice(0, 35) } : {}),
    ref: { channel: CHANNEL, chatId: String(m.chat.id), extra: { chatType: m.chat.type, messageId: m.message_id } },
    kind: 'text',
    text: '',
    attachments: [],
    receivedAt: env.now,
    extra,
  };
}

interface Command {
  name: string;
  target?: string;
  /** Characters of the command token (`/start@bot`). */
  length: number;
}

/** A `bot_command` entity at offset 0. */
function leadingCommand(body: string, entities: readonly TgEntity[]): Command | undefined {
  const e = entities.find((x) => x.type === 'bot_command' && x.offset === 0);
  return e ? parseCommand(slice(body, e)) : undefined;
}

/** A `/word` at the start when the client sent no entities (some API clients, tests). */
function leadingCommandText(body: string): Command | undefined {
  const m = /^\/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,64})?(?=\s|$)/.exec(body);
  return m ? parseCommand(m[0]) : undefined;
}

function parseCommand(token: string): Command | undefined {
  const m = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]+))?$/.exec(token);
  if (!m?.[1]) return undefined;
  return { name: m[1].toLowerCase(), ...(m[2] ? { target: m[2] } : {}), length: token.length };
}

// Offsets are UTF-16 code units, like JS string indexes.
function slice(body: string, e: TgEntity): string {
  return body.slice(e.offset, e.offset + e.length);
}

function stripRanges(body: string, ranges: readonly TgEntity[]): string {
  let out = body;
  for (const e of [...ranges].sort((a, b) => b.offset - a.offset)) out = out.slice(0, e.offset) + out.slice(e.offset + e.length);
  return out.replace(/[ \t]{2,}/g, ' ').trim();
}

function sameName(a: string, b: string): boolean {
  return b.length > 0 && a.replace(/^@/, '').toLowerCase() === b.replace(/^@/, '').toLowerCase();
}

const BASE_KEYS = new Set([
  'message_id', 'date', 'edit_date', 'chat', 'from', 'text', 'entities', 'caption', 'caption_entities', 'reply_to_message',
  'reply_markup', 'message_thread_id', 'forward_origin', 'forward_from', 'forward_date', 'sender_chat', 'is_topic_message',
  'link_preview_options', 'has_protected_content', 'author_signature',
]);

function attachmentsOf(m: TgMessage): AttachmentMeta[] | 'sticker' {
  if ('sticker' in m && m.sticker !== undefined) return 'sticker';
  const out: AttachmentMeta[] = [];
  const largest = m.photo?.reduce((a, b) => ((b.file_size ?? 0) >= (a.file_size ?? 0) ? b : a));
  if (largest) out.push(meta(`photo_${largest.file_unique_id ?? largest.file_id.slice(0, 16)}.jpg`, 'image/jpeg', largest));
  const named: [keyof TgMessage & ('document' | 'voice' | 'audio' | 'video' | 'video_note' | 'animation'), string, string][] = [
    ['document', 'document', 'application/octet-stream'],
    ['voice', 'voice.ogg', 'audio/ogg'],
    ['audio', 'audio.mp3', 'audio/mpeg'],
    ['video', 'video.mp4', 'video/mp4'],
    ['video_note', 'video_note.mp4', 'video/mp4'],
    ['animation', 'animation.mp4', 'video/mp4'],
  ];
  for (const [key, name, mime] of named) {
    const f = m[key];
    if (f) out.push(meta(f.file_name ?? name, f.mime_type ?? mime, f));
  }
  return out;
}

function meta(name: string, mimeType: string, f: { file_id: string; file_size?: number | undefined }): AttachmentMeta {
  return { name, mimeType, fetchHandle: f.file_id, ...(f.file_size !== undefined ? { size: f.file_size } : {}) };
}
