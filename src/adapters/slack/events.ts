import { z } from 'zod';
import type { Logger } from 'pino';
import type { DeskContext } from '../../core/desk.js';
import type { AttachmentMeta } from '../../core/types.js';
import { HubError, isHubError, errorMessage } from '../../core/errors.js';
import type { SlackApi } from './api.js';
import type { SlackConfig } from './config.js';
import type { CaseStore } from './case-store.js';
import { actionKind, slackToPlain } from './blocks.js';
import { replyEventKey, scheduleRemind } from './keys.js';
import { fileSchema, toAttachment } from './mapper.js';

const messageEventSchema = z.looseObject({
  type: z.literal('message'),
  subtype: z.string().optional(),
  channel: z.string(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  text: z.string().optional(),
  ts: z.string(),
  thread_ts: z.string().optional(),
  user_profile: z.looseObject({ display_name: z.string().optional(), real_name: z.string().optional() }).optional(),
  files: z.array(fileSchema).optional(),
  message: z.looseObject({ ts: z.string().optional(), thread_ts: z.string().optional() }).optional(),
  previous_message: z.looseObject({ ts: z.string().optional(), thread_ts: z.string().optional() }).optional(),
  deleted_ts: z.string().optional(),
});
type MessageEvent = z.infer<typeof messageEventSchema>;

const actionBodySchema = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id: z.string(), username: z.string().optional(), name: z.string().optional() }),
  actions: z.array(z.looseObject({ action_id: z.string(), value: z.string().optional(), action_ts: z.string().optional() })).min(1),
});

export interface InboundDeps {
  cfg: SlackConfig;
  ctx: DeskContext;
  api: SlackApi;
  cases: CaseStore;
  log: Logger;
}

/** Subtypes that are ordinary agent messages. */
const PLAIN_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

/**
 * What Slack sends the desk, turned into durable work before Slack gets its ack: an agent reply is
 * stored and queued (AgentActions.reply, deduped by the Slack message, so Slack's retries and
 * duplicate deliveries send once); a button changes the conversation and queues the Slack follow-up.
 * Throwing here makes the receiver answer 500 (HTTP) / not ack (Socket Mode), so Slack retries.
 */
export class SlackInbound {
  constructor(private readonly d: InboundDeps) {}

  async onMessage(raw: unknown, retryNum?: number): Promise<void> {
    const { log, cfg } = this.d;
    const parsed = messageEventSchema.safeParse(raw);
    if (!parsed.success) {
      log.warn(`slack: unrecognised message event ignored (${parsed.error.issues[0]?.message ?? 'invalid'})`);
      return;
    }
    const ev = parsed.data;
    if (ev.bot_id || ev.subtype === 'bot_message') return; // our own posts, other bots
    if (ev.subtype === 'message_changed' || ev.subtype === 'message_deleted') return this.onEditOrDelete(ev);
    if (!PLAIN_SUBTYPES.has(ev.subtype)) {
      log.debug({ subtype: ev.subtype }, 'slack: message subtype ignored');
      return;
    }
    if (!ev.thread_ts || ev.thread_ts === ev.ts || !ev.user) return; // not a thread reply by a person
    const found = await this.d.cases.findByThread(ev.channel, ev.thread_ts);
    if (!found) {
      // A case message Slack already shows may not have its thread recorded yet: let Slack retry.
      if (await this.d.cases.posting(this.d.ctx.now() - 60_000)) {
        throw new HubError('WAITING', 'slack: a reply in a thread not known yet while a case is being posted; Slack will retry', { retry: 'retry' });
      }
      log.info({ slackChannel: ev.channel, thread: ev.thread_ts }, 'slack: unknown thread: a reply in a thread that is no Switchboard case; ignored');
      return;
    }
    const raw_text = ev.text ?? '';
    if (raw_text.trim().toLowerCase().startsWith(cfg.notePrefix.toLowerCase())) {
      log.debug({ conversationId: found.conversation.id }, 'slack: internal note, not relayed');
      const note = slackToPlain(raw_text.trim().slice(cfg.notePrefix.length)).trim();
      const agent = { id: ev.user, name: await this.agentName(ev.user, ev.user_profile) };
      if (note) await this.d.ctx.actions.note(found.conversation.id, agent, note, replyEventKey(ev.channel, ev.ts));
      return;
    }
    const attachments = (ev.files ?? []).map((f) => toAttachment(f, false));
    const links = attachments.map((a) => `\n${a.name}: ${a.url ?? '(no link)'}`).join('');
    const text = `${slackToPlain(raw_text)}${links}`.trim();
    if (!text) return;
    const agent = { id: ev.user, name: await this.agentName(ev.user, ev.user_profile) };
    const res = await this.d.ctx.actions.reply(found.conversation.id, agent, text, replyEventKey(ev.channel, ev.ts));
    if (res.duplicate) {
      log.info({ conversationId: found.conversation.id, retryNum }, 'slack: duplicate delivery of an agent reply ignored (already sent once)');
      return;
    }
    if (res.claimed) await scheduleRemind(this.d.ctx, found.conversation.id, `after:reply:${ev.user}:${ev.ts}`);
  }

  private async onEditOrDelete(ev: MessageEvent): Promise<void> {
    const thread = ev.message?.thread_ts ?? ev.previous_message?.thread_ts;
    const ts = ev.previous_message?.ts ?? ev.message?.ts ?? ev.deleted_ts;
    const what = ev.subtype === 'message_changed' ? 'edited' : 'deleted';
    if (!thread || !ts || thread === ts) return;
    const found = await this.d.cases.findByThread(ev.channel, thread);
    if (!found) return;
    this.d.log.info(
      { conversationId: found.conversation.id, ts },
      `slack: a message in a case thread was ${what}; the customer keeps what was sent (edits and deletions are not relayed)`,
    );
    const sent = await this.d.ctx.storage.messages.byKey(`agent:${replyEventKey(ev.channel, ts)}`);
    if (sent) await scheduleRemind(this.d.ctx, found.conversation.id, `edit:${ts}`);
  }

  async onAction(raw: unknown): Promise<void> {
    const { log, ctx } = this.d;
    const parsed = actionBodySchema.safeParse(raw);
    if (!parsed.success) {
      log.warn('slack: unrecognised interactivity payload ignored');
      return;
    }
    const body = parsed.data;
    const agent = { id: body.user.id, name: body.user.name ?? body.user.username ?? body.user.id };
    for (const action of body.actions) {
      const kind = actionKind(action.action_id);
      const conversationId = action.value ?? '';
      if (!kind) continue;
      const conv = await ctx.storage.conversations.get(conversationId);
      if (!conv) {
        log.warn({ conversationId, action: action.action_id }, 'slack: button for an unknown conversation ignored');
        continue;
      }
      const ts = action.action_ts ?? String(ctx.now() / 1000);
      const label = kind === 'returnToBot' ? 'return' : kind;
      try {
        if (kind === 'claim') await ctx.actions.claim(conversationId, agent);
        else if (kind === 'resolve') await ctx.actions.resolve(conversationId, agent);
        else if (kind === 'returnToBot') await ctx.actions.returnToBot(conversationId, agent);
      } catch (err) {
        if (!isHubError(err, 'INPUT_INVALID')) throw err;
        log.info({ conversationId, action: label }, `slack: ${label} refused: ${errorMessage(err)}`);
        await scheduleRemind(ctx, conversationId, `after:fail-${label}:${agent.id}:${ts}`);
        continue;
      }
      log.info({ conversationId, agent: agent.id }, `slack: ${label} by agent`);
      await scheduleRemind(ctx, conversationId, `after:${label}:${agent.id}:${ts}`);
    }
  }

  /** The name customers see: `agentName` with {name} = the agent's Slack name. */
  private async agentName(userId: string, profile?: { display_name?: string | undefined; real_name?: string | undefined }): Promise<string> {
    const fromEvent = profile?.display_name || profile?.real_name;
    if (fromEvent) this.d.api.rememberName(userId, fromEvent);
    const name = fromEvent || (this.d.cfg.agentName.includes('{name}') ? await this.d.api.userName(userId) : undefined) || 'Support';
    return this.d.cfg.agentName.replace(/\{name\}/g, name);
  }
}
