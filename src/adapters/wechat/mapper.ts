import { extname } from 'node:path';
import type { AttachmentMeta, InboundMessage, JsonObject } from '../../core/types.js';

/**
 * Wechaty's enums (wechaty-puppet `types.Message` / `types.Contact`), copied so that this module and
 * the hub's start-up do not load wechaty; test/wechat/mapper.test.ts checks they still match.
 */
export const WxMessageType = {
  Unknown: 0,
  Attachment: 1,
  Audio: 2,
  Contact: 3,
  ChatHistory: 4,
  Emoticon: 5,
  Image: 6,
  Text: 7,
  Location: 8,
  MiniProgram: 9,
  GroupNote: 10,
  Transfer: 11,
  RedEnvelope: 12,
  Recalled: 13,
  Url: 14,
  Video: 15,
  Post: 16,
} as const;

export const WxContactType = { Unknown: 0, Individual: 1, Official: 2, Corporation: 3 } as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(WxMessageType).map(([k, v]) => [v, k]));

/** The part of a wechaty Contact the mapper reads. */
export interface WxContact {
  readonly id: string;
  name(): string;
  type(): number;
}

export interface WxRoom {
  readonly id: string;
  topic(): Promise<string>;
}

/** The part of a wechaty Message the mapper reads (wechaty's Message satisfies it). */
export interface WxMessage {
  readonly id: string;
  readonly payload?: { filename?: string; timestamp?: number };
  type(): number;
  self(): boolean;
  text(): string;
  talker(): WxContact;
  room(): WxRoom | undefined;
  mentionSelf(): Promise<boolean>;
  mentionText(): Promise<string>;
}

export interface MapOptions {
  channel: string;
  /** Room ids or topics the bot answers in (when @-mentioned). */
  allowedRooms: readonly string[];
  now(): number;
}

export type MapResult = { kind: 'accept'; message: InboundMessage } | { kind: 'ignore'; reason: string };

/**
 * Accounts that are WeChat itself, not people: notices, file helper, news... (web-protocol ids).
 * Their messages are system notices, never customer questions.
 */
const SYSTEM_ACCOUNTS = new Set([
  'weixin',
  'fmessage',
  'filehelper',
  'newsapp',
  'medianote',
  'floatbottle',
  'qmessage',
  'qqmail',
  'tmessage',
  'qqsync',
  'blogapp',
  'masssendapp',
  'feedsapp',
  'voip',
  'blogappweixin',
  'brandsessionholder',
  'weixinreminder',
  'officialaccounts',
  'notification_messages',
  'notifymessage',
  'wxitil',
  'userexperience_alarm',
]);

const MEDIA_TYPES: ReadonlyMap<number, { label: string; mime: string; ext: string }> = new Map([
  [WxMessageType.Image, { label: 'image', mime: 'image/jpeg', ext: '.jpg' }],
  [WxMessageType.Attachment, { label: 'file', mime: 'application/octet-stream', ext: '' }],
  [WxMessageType.Video, { label: 'video', mime: 'video/mp4', ext: '.mp4' }],
  [WxMessageType.Audio, { label: 'voice', mime: 'audio/silk', ext: '.sil' }],
]);

const IGNORED_TYPES: ReadonlyMap<number, string> = new Map([
  [WxMessageType.Unknown, 'unknown message type (system notice or a type the puppet cannot parse)'],
  [WxMessageType.Recalled, 'recall notice'],
  [WxMessageType.GroupNote, 'room system notice'],
  [WxMessageType.Emoticon, 'sticker (nothing to answer)'],
  [WxMessageType.Transfer, 'money transfer'],
  [WxMessageType.RedEnvelope, 'red envelope'],
  [WxMessageType.Post, 'moments post'],
]);

const MIME_BY_EXT: Readonly<Record<string, string>> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.mp4': 'video/mp4',
  '.mov': 'video/quicktime',
  '.mp3': 'audio/mpeg',
  '.sil': 'audio/silk',
  '.silk': 'audio/silk',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xls': 'application/vnd.ms-excel',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.ppt': 'application/vnd.ms-powerpoint',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  '.zip': 'application/zip',
};

export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type ${type}`;
}

/**
 * Maps a wechaty message to the hub's shape, or says why it is ignored. Attachments are metadata
 * only (the puppet is not asked for the bytes: a 50 MB document costs nothing here); `fetchHandle`
 * is the message id, which the puppet turns back into the file while it still has the message.
 */
export async function mapMessage(m: WxMessage, opts: MapOptions): Promise<MapResult> {
  if (m.self()) return ignore('own message');
  const talker = m.talker();
  if (SYSTEM_ACCOUNTS.has(talker.id)) return ignore(`system notice from ${talker.id}`);
  if (talker.type() === WxContactType.Official) return ignore('official account');

  const type = m.type();
  const ignored = IGNORED_TYPES.get(type);
  if (ignored) return ignore(ignored);
  const media = MEDIA_TYPES.get(type);
  if (type !== WxMessageType.Text && !media) return ignore(`unsupported message type ${typeName(type)}`);

  const room = m.room();
  let text = type === WxMessageType.Text ? m.text() : '';
  let roomTopic: string | undefined;
  if (room) {
    // Allowed by id or by topic; the topic is read once and kept for the message.
    const allowed = opts.allowedRooms;
    if (allowed.length === 0) return ignore('room not in allowedRooms');
    roomTopic = (await room.topic().catch(() => '')) || undefined;
    if (!allowed.includes(room.id) && !(roomTopic && allowed.includes(roomTopic))) return ignore('room not in allowedRooms');
    if (!(await m.mentionSelf())) return ignore('room message without @-mention of the bot');
    text = await m.mentionText();
  }
  text = text.trim();

  const attachments: AttachmentMeta[] = [];
  if (media) attachments.push(attachmentOf(m, media));
  else if (text.length === 0) return ignore('empty text');

  const contactId = talker.id;
  const refExtra: JsonObject = room ? { roomId: room.id, contactId } : { contactId };
  const extra: JsonObject = { type: typeName(type) };
  if (roomTopic) extra.roomTopic = roomTopic;
  const sentAt = m.payload?.timestamp;
  if (typeof sentAt === 'number' && sentAt > 0) extra.sentAt = sentAt < 1e12 ? sentAt * 1000 : sentAt;
  const name = safeName(talker);

  const message: InboundMessage = {
    channel: opts.channel,
    platformMessageId: m.id,
    platformUserId: contactId,
    ...(name ? { userName: name } : {}),
    ref: { channel: opts.channel, chatId: room ? room.id : contactId, extra: refExtra },
    kind: media ? 'media' : 'text',
    text,
    attachments,
    receivedAt: opts.now(),
    extra,
  };
  return { kind: 'accept', message };
}

function attachmentOf(m: WxMessage, media: { label: string; mime: string; ext: string }): AttachmentMeta {
  const filename = m.payload?.filename?.trim();
  const name = filename && filename.length > 0 ? filename.slice(0, 255) : `${media.label}-${m.id}${media.ext}`;
  const byExt = MIME_BY_EXT[extname(name).toLowerCase()];
  return { name, mimeType: byExt ?? media.mime, fetchHandle: m.id };
}

function safeName(c: WxContact): string | undefined {
  try {
    const n = c.name().trim();
    return n.length > 0 ? n.slice(0, 255) : undefined;
  } catch {
    return undefined;
  }
}

/** `fn()`, or undefined when it throws (wechaty accessors throw before a payload is loaded). */
export function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function ignore(reason: string): MapResult {
  return { kind: 'ignore', reason };
}
