import { z } from 'zod';
import type { AttachmentMeta, InboundMessage, JsonObject } from '../../core/types.js';
import { CUSTOMER_ACTION_PREFIX, slackToPlain } from './blocks.js';

export const CHANNEL = 'slack';

/** Slack file ids (`F…`): the `fetchHandle` of a customer's file (fetched by files.ts for agents). */
export const FILE_ID = /^F[A-Z0-9]{2,}$/;

/** A file of a Slack message event (customer or agent side). */
export const fileSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().optional(),
  title: z.string().optional(),
  mimetype: z.string().optional(),
  size: z.number().optional(),
  permalink: z.string().optional(),
  permalink_public: z.string().optional(),
});

const innerSchema = z.looseObject({
  user: z.string().optional(),
  bot_id: z.string().optional(),
  text: z.string().optional(),
  ts: z.string().optional(),
  thread_ts: z.string().optional(),
  team: z.string().optional(),
  user_team: z.string().optional(),
  edited: z.looseObject({ ts: z.string() }).optional(),
});

const messageSchema = z.looseObject({
  type: z.literal('message'),
  subtype: z.string().optional(),
  channel: z.string().min(1),
  channel_type: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  text: z.string().optional(),
  ts: z.string().min(1),
  thread_ts: z.string().optional(),
  team: z.string().optional(),
  user_team: z.string().optional(),
  user_profile: z.looseObject({ display_name: z.string().optional(), real_name: z.string().optional() }).optional(),
  files: z.array(fileSchema).optional(),
  message: innerSchema.optional(),
  previous_message: innerSchema.optional(),
});

const actionSchema = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id: z.string(), name: z.string().optional(), username: z.string().optional(), team_id: z.string().optional() }),
  team: z.looseObject({ id: z.string() }).nullish(),
  channel: z.looseObject({ id: z.string() }).optional(),
  container: z.looseObject({ channel_id: z.string().optional(), message_ts: z.string().optional(), thread_ts: z.string().optional() }).optional(),
  message: z.looseObject({ ts: z.string(), thread_ts: z.string().optional() }).optional(),
  actions: z.array(
    z.looseObject({
      action_id: z.string(),
      value: z.string().optional(),
      action_ts: z.string().optional(),
      text: z.looseObject({ text: z.string() }).optional(),
    }),
  ),
});

export interface MapEnv {
  /** Shared (Slack Connect) customer channels. */
  sharedChannels: ReadonlySet<string>;
  /** Our own workspaces (their members are no customers in a shared channel). */
  ownTeams: ReadonlySet<string>;
  /** The workspace the event was delivered to (the envelope's team_id). */
  deliveredTeam: string | undefined;
  /** Epoch ms used as `receivedAt`. */
  now: number;
}

/** Who wrote: the Slack user and their workspace. */
export interface SlackAuthor {
  user: string;
  team: string;
}

export type MapResult =
  | { ok: true; message: InboundMessage; author: SlackAuthor }
  | {
      ok: false;
      /** Why the event is not a customer message (logged; Slack is still acknowledged). */
      reason: string;
      /** Routine (bots, unfurls, joins): log at debug level only. */
      quiet?: boolean;
    };

/** What a customer-side `ConversationRef.extra` holds. */
export interface SlackRefExtra extends JsonObject {
  /** `dm`: a direct message to the app; `shared`: a shared customer channel (answers go in the thread). */
  kind: 'dm' | 'shared';
  team: string;
}

/** Subtypes that are a person's ordinary message. */
const PLAIN = new Set([undefined, 'file_share', 'thread_broadcast']);

/** `<channel>:<thread root ts>`: the thread key of a shared-channel conversation. */
export function threadKeyOf(channel: string, rootTs: string): string {
  return `${channel}:${rootTs}`;
}

/** The thread root ts of a thread key made by `threadKeyOf` for `channel` (undefined for another channel's key). */
export function threadTsOf(threadKey: string | undefined, channel: string): string | undefined {
  if (!threadKey?.startsWith(`${channel}:`)) return undefined;
  const ts = threadKey.slice(channel.length + 1);
  return /^\d+\.\d+$/.test(ts) ? ts : undefined;
}

/** A DM with the app (`im`), by the event's channel type or the channel id's `D` prefix. */
export function isDirect(channel: string, channelType: string | undefined): boolean {
  return channelType === 'im' || (channelType === undefined && channel.startsWith('D'));
}

/**
 * Maps one customer-side Slack message event to the core's InboundMessage, or says why it is
 * ignored. Pure. The platform message id is the Slack channel and the message's ts
 * (`<channel>:<ts>`), which Slack keeps on every retry and redelivery of the event (under any event
 * id), so the hub answers a message once; an edit is `<channel>:<ts>:edit:<edited ts>` (the text as
 * edited, a new message); the customer is `<team>:<user>` (one identity per Slack user). In a shared
 * channel the conversation is keyed by the thread (`<channel>:<root ts>`: a top-level message starts
 * one, replies in its thread continue it) and answered in that thread; a DM is one conversation per
 * customer, answered in the DM.
 */
export function mapMessage(raw: unknown, env: MapEnv): MapResult {
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `malformed message event: ${issue ? `${issue.path.join('.') || '(event)'}: ${issue.message}` : 'invalid'}` };
  }
  const ev = parsed.data;
  if (ev.bot_id || ev.subtype === 'bot_message') return { ok: false, reason: 'a bot\'s message (ours or another app\'s), never a customer\'s', quiet: true };
  if (ev.subtype === 'message_deleted') return { ok: false, reason: 'a customer deleted a message; the hub keeps what it received' };
  if (ev.subtype === 'message_changed') return mapEdit(ev, env);
  if (!PLAIN.has(ev.subtype)) return { ok: false, reason: `message subtype ${ev.subtype ?? ''} is no customer message`, quiet: true };
  if (!ev.user) return { ok: false, reason: 'message without a user' };
  return build(env, {
    channel: ev.channel,
    channelType: ev.channel_type,
    user: ev.user,
    team: ev.user_team ?? ev.team,
    ts: ev.ts,
    threadTs: ev.thread_ts,
    id: `${ev.channel}:${ev.ts}`,
    text: ev.text ?? '',
    files: ev.files ?? [],
    userName: ev.user_profile?.display_name || ev.user_profile?.real_name || undefined,
  });
}

function mapEdit(ev: z.infer<typeof messageSchema>, env: MapEnv): MapResult {
  const m = ev.message;
  if (!m || m.bot_id) return { ok: false, reason: 'an edit of a bot\'s message', quiet: true };
  if (!m.edited || !m.ts || !m.user) return { ok: false, reason: 'message_changed without a text edit (a link preview, a thread\'s reply count)', quiet: true };
  if ((m.text ?? '') === (ev.previous_message?.text ?? '')) return { ok: false, reason: 'message_changed with the same text', quiet: true };
  return build(env, {
    channel: ev.channel,
    channelType: ev.channel_type,
    user: m.user,
    team: m.user_team ?? m.team ?? ev.user_team ?? ev.team,
    ts: m.ts,
    threadTs: m.thread_ts,
    id: `${ev.channel}:${m.ts}:edit:${m.edited.ts}`,
    text: m.text ?? '',
    files: [],
    edited: true,
  });
}

interface Draft {
  channel: string;
  channelType: string | undefined;
  user: string;
  team: string | undefined;
  ts: string;
  threadTs: string | undefined;
  id: string;
  text: string;
  files: z.infer<typeof fileSchema>[];
  userName?: string | undefined;
  edited?: boolean;
}

function build(env: MapEnv, d: Draft): MapResult {
  const direct = isDirect(d.channel, d.channelType);
  if (!direct && !env.sharedChannels.has(d.channel)) return { ok: false, reason: `channel ${d.channel} is no customer channel` };
  const team = d.team ?? env.deliveredTeam ?? 'unknown';
  if (!direct && isOwnTeam(team, env)) {
    return { ok: false, reason: `a member of our own workspace (${team}) wrote in customer channel ${d.channel}: not a customer message` };
  }
  const text = slackToPlain(d.text);
  const attachments = d.files.map((f) => toAttachment(f));
  if (!text && attachments.length === 0) return { ok: false, reason: 'message without text or files' };
  const root = d.threadTs ?? d.ts;
  const extra: SlackRefExtra = { kind: direct ? 'dm' : 'shared', team };
  const message: InboundMessage = {
    channel: CHANNEL,
    platformMessageId: d.id,
    platformUserId: `${team}:${d.user}`,
    ...(d.userName ? { userName: d.userName } : {}),
    ref: { channel: CHANNEL, chatId: d.channel, ...(direct ? {} : { threadId: root }), extra },
    ...(direct ? {} : { threadKey: threadKeyOf(d.channel, root) }),
    kind: attachments.length ? 'media' : 'text',
    text,
    attachments,
    receivedAt: env.now,
    extra: { ts: d.ts, user: d.user, team, ...(d.edited ? { edited: true } : {}) },
  };
  return { ok: true, message, author: { user: d.user, team } };
}

function isOwnTeam(team: string, env: MapEnv): boolean {
  return env.ownTeams.size ? env.ownTeams.has(team) : team === env.deliveredTeam;
}

/**
 * A customer's press of one of our buttons (`block_actions` with an `sbc_…` action id) as a
 * `button` message whose value is the button's. Its id is `<channel>:<message ts>:press:<action ts>`
 * (Slack does not retry interactivity; a second press is a second answer). Pure.
 */
export function mapAction(raw: unknown, env: MapEnv): MapResult {
  const parsed = actionSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: 'malformed interactivity payload' };
  const body = parsed.data;
  const action = body.actions.find((a) => a.action_id.startsWith(CUSTOMER_ACTION_PREFIX));
  const channel = body.channel?.id ?? body.container?.channel_id;
  const messageTs = body.message?.ts ?? body.container?.message_ts;
  if (!action || action.value === undefined) return { ok: false, reason: 'button press without a customer button value' };
  if (!channel || !messageTs) return { ok: false, reason: 'button press outside a message (no channel)' };
  const direct = isDirect(channel, undefined);
  if (!direct && !env.sharedChannels.has(channel)) return { ok: false, reason: `button press in channel ${channel}, which is no customer channel` };
  const team = body.user.team_id ?? body.team?.id ?? env.deliveredTeam ?? 'unknown';
  if (!direct && isOwnTeam(team, env)) return { ok: false, reason: `a member of our own workspace (${team}) pressed a customer's button in ${channel}: ignored` };
  const root = body.message?.thread_ts ?? body.container?.thread_ts ?? messageTs;
  const actionTs = action.action_ts ?? String(env.now / 1000);
  const extra: SlackRefExtra = { kind: direct ? 'dm' : 'shared', team };
  const message: InboundMessage = {
    channel: CHANNEL,
    platformMessageId: `${channel}:${messageTs}:press:${actionTs}`,
    platformUserId: `${team}:${body.user.id}`,
    ref: { channel: CHANNEL, chatId: channel, ...(direct ? {} : { threadId: root }), extra },
    ...(direct ? {} : { threadKey: threadKeyOf(channel, root) }),
    kind: 'button',
    text: action.text?.text ?? action.value,
    buttonValue: action.value,
    attachments: [],
    receivedAt: env.now,
    extra: { ts: messageTs, user: body.user.id, team },
  };
  return { ok: true, message, author: { user: body.user.id, team } };
}

/** A Slack file as an attachment; `fetchable`: the hub may fetch it by id (a customer's file, opened through a signed hub link). */
export function toAttachment(f: z.infer<typeof fileSchema>, fetchable = true): AttachmentMeta {
  const url = f.permalink_public ?? f.permalink;
  return {
    name: f.name ?? f.title ?? 'file',
    mimeType: f.mimetype ?? 'application/octet-stream',
    ...(f.size !== undefined ? { size: f.size } : {}),
    ...(fetchable && f.id && FILE_ID.test(f.id) ? { fetchHandle: f.id } : {}),
    ...(url ? { url } : {}),
  };
}
