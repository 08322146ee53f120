import { WebAPIPlatformError } from '@slack/web-api';
import type { Logger } from 'pino';
import type { AdapterContext, ChannelAdapter } from '../../core/adapter.js';
import type { Capabilities, InboundMessage, OutboundMessage, SendResult } from '../../core/types.js';
import { HubError, isHubError } from '../../core/errors.js';
import type { AdapterDeps } from '../define.js';
import { SlackApi, toHubError } from './api.js';
import { choiceBlocks, esc } from './blocks.js';
import type { SlackConfig } from './config.js';
import { CHANNEL, isDirect, mapAction, mapMessage, threadTsOf, type MapEnv, type MapResult } from './mapper.js';
import { SlackProfiles } from './profiles.js';
import { slackFileFetcher } from './files.js';
import { SlackTransport, type EventEnvelope } from './transport.js';

/** Refusals that mean this chat cannot be written to any more: the app left or was removed, the chat is gone. */
const GONE = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'restricted_action', 'user_not_found', 'user_disabled', 'cannot_dm_bot']);

/**
 * Slack as a customer channel (`channels.slack.customers`): direct messages to the app and shared
 * (Slack Connect) customer channels. It shares the desk's Slack app and transport (one Bolt app,
 * one Events API route or one Socket Mode connection, held by the desk's lease): the transport hands
 * it the DMs and the configured customer channels, and everything else to the desk. Without a
 * `customers` part (or with neither DMs nor channels) it stays idle and the desk gets every event.
 */
export class SlackCustomers implements ChannelAdapter {
  readonly channel = CHANNEL;
  readonly capabilities: Capabilities = {
    threads: true,
    buttons: true,
    // A section block's text limit: a reply with buttons is one section plus the buttons.
    maxTextLength: 3000,
    attachments: false,
    authorNames: false,
  };
  /** The Socket Mode connection (if any) is the desk's; Web API sends work from any process. */
  readonly connection = 'stateless' as const;
  readonly sendNeedsConnection = false;
  private readonly api: SlackApi;
  private readonly log: Logger;
  private readonly shared: ReadonlySet<string>;
  private readonly ownTeams: ReadonlySet<string>;
  private readonly profiles: SlackProfiles;
  private ctx: AdapterContext | undefined;

  constructor(
    private readonly cfg: SlackConfig,
    deps: AdapterDeps,
    api?: SlackApi,
  ) {
    this.log = deps.log;
    this.api = api ?? new SlackApi(cfg.botToken, cfg.apiUrl, deps.log);
    this.shared = new Set(cfg.customers?.channels ?? []);
    this.ownTeams = new Set(cfg.customers?.ownTeamIds ?? []);
    this.profiles = new SlackProfiles(this.api.client, deps.log, cfg.customers?.lookupProfiles ?? false);
  }

  /** true when `channels.slack.customers` turns on DMs or names a shared channel. */
  get active(): boolean {
    return this.cfg.customers !== undefined && (this.cfg.customers.directMessages || this.shared.size > 0);
  }

  async mount(ctx: AdapterContext): Promise<void> {
    if (!this.active) {
      this.log.debug('slack: no customers configured (channels.slack.customers): Slack is the agent desk only');
      return;
    }
    this.ctx = ctx;
    // Customers' files open for agents through signed hub links (the bot token never leaves the hub).
    ctx.serveAttachments?.(CHANNEL, slackFileFetcher(this.api, this.cfg, this.log));
    SlackTransport.of(ctx.http, this.cfg, this.log).setCustomers({
      owns: (channel, type) => (isDirect(channel, type) ? this.cfg.customers?.directMessages === true : this.shared.has(channel)),
      onMessage: (ev, envelope) => this.onMessage(ev, envelope),
      onAction: (body) => this.onAction(body),
      onLeft: (channel) => this.onLeft(channel),
    });
    this.log.info(
      { directMessages: this.cfg.customers?.directMessages ?? false, sharedChannels: [...this.shared] },
      'slack: customer side on (direct messages and shared channels feed the hub)',
    );
  }

  private env(envelope: EventEnvelope): MapEnv {
    return { sharedChannels: this.shared, ownTeams: this.ownTeams, deliveredTeam: envelope.teamId, now: Date.now() };
  }

  /** Throws when the message could not be queued: Slack gets no 2xx / ack and delivers it again. */
  async onMessage(raw: unknown, envelope: EventEnvelope): Promise<void> {
    const r = mapMessage(raw, this.env(envelope));
    if (!r.ok) return this.skip(r);
    const where = { slackChannel: r.message.ref.chatId, id: r.message.platformMessageId };
    if (r.message.extra?.edited) this.log.info(where, 'slack: a customer edited a message: the edited text is handled as a new message (the original stays)');
    if (r.message.kind === 'media' && !r.message.text) {
      this.log.info({ ...where, files: r.message.attachments.map((a) => a.name) }, 'slack: a file share without text: accepted with its file(s), which an agent sees as links');
    }
    await this.accept(await this.withProfile(r.message, r.author), envelope.retryNum);
  }

  async onAction(raw: unknown): Promise<void> {
    const r = mapAction(raw, this.env({ teamId: teamOf(raw) }));
    if (!r.ok) return this.skip(r);
    await this.accept(await this.withProfile(r.message, r.author));
  }

  onLeft(channel: string): void {
    if (this.shared.has(channel)) {
      this.log.error(
        { slackChannel: channel },
        `slack: the app left or was removed from customer channel ${channel}: customers there get no answers, and replies to them fail (customer unreachable) until someone invites the app again (/invite @app)`,
      );
    } else this.log.info({ slackChannel: channel }, `slack: the app left channel ${channel}`);
  }

  /** Logs why an event is no customer message (routine ones at debug level). */
  private skip(r: Extract<MapResult, { ok: false }>): void {
    if (r.quiet) this.log.debug(`slack customers: ignored: ${r.reason}`);
    else this.log.info(`slack customers: ignored: ${r.reason}`);
  }

  /** Name, email and company from users.info / team.info, as far as the scopes allow. */
  private async withProfile(m: InboundMessage, author: { user: string; team: string }): Promise<InboundMessage> {
    const p = await this.profiles.of(author.user, author.team);
    const name = p.name ?? m.userName;
    const userName = name && p.company ? `${name} (${p.company})` : name;
    const details = { ...(p.email ? { email: p.email } : {}), ...(p.company ? { company: p.company } : {}) };
    return {
      ...m,
      ...(userName ? { userName: userName.slice(0, 255) } : {}),
      ref: { ...m.ref, extra: { ...m.ref.extra, ...details } },
      extra: { ...m.extra, ...details },
    };
  }

  private async accept(m: InboundMessage, retryNum?: number): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) throw new HubError('INTERNAL', 'slack customers: not mounted', { retry: 'retry' });
    try {
      await ctx.accept(m);
    } catch (err) {
      // Bad input stays bad on every retry: acknowledge it (logged) instead of letting Slack retry.
      if (!isHubError(err, 'INPUT_INVALID')) throw err;
      this.log.warn({ id: m.platformMessageId }, `slack customers: message refused by the hub: ${err.message}`);
      return;
    }
    this.log.debug({ id: m.platformMessageId, retryNum }, 'slack customers: message queued');
  }

  /**
   * Posts a reply: in a shared channel in the conversation's thread (from the thread key; a message
   * without one, e.g. a reminder, starts a thread), in a DM as a message of the DM. Plain text
   * (escaped, no mrkdwn); choices as Block Kit buttons whose presses come back as `button` messages.
   */
  async send(m: OutboundMessage): Promise<SendResult> {
    const channel = m.ref.chatId;
    if (channel === this.cfg.caseChannel) {
      throw new HubError('PLATFORM_REFUSED', `slack: refusing to post a customer reply into the case channel ${channel}`, { retry: 'final' });
    }
    const threadTs = threadTsOf(m.threadKey, channel);
    const text = esc(m.text);
    const args: Record<string, unknown> = {
      channel,
      text,
      mrkdwn: false,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      ...(m.buttons?.length ? { blocks: choiceBlocks(m.text, m.buttons) } : {}),
    };
    let ts: unknown;
    try {
      const r: Record<string, unknown> = { ...(await this.api.client.apiCall('chat.postMessage', args)) };
      ts = r.ts;
    } catch (err) {
      throw this.sendError(err, channel);
    }
    if (typeof ts !== 'string') throw new HubError('PLATFORM_REFUSED', 'Slack chat.postMessage returned no ts', { retry: 'retry' });
    return { platformMessageIds: [`${channel}:${ts}`] };
  }

  private sendError(err: unknown, channel: string): HubError {
    if (err instanceof WebAPIPlatformError && GONE.has(err.data.error)) {
      const code = err.data.error;
      this.log.warn(
        { slackChannel: channel, slack: code },
        `slack: cannot post to customer chat ${channel} (${code}): the app was removed from it or it is gone; the customer is marked unreachable until they write again (invite the app back to reach a shared channel)`,
      );
      return new HubError('RECIPIENT_UNREACHABLE', `Slack chat.postMessage: ${code}`, { retry: 'final', context: { slack: code, slackChannel: channel } });
    }
    return toHubError('chat.postMessage', err, this.log, channel);
  }

  async stop(): Promise<void> {
    this.ctx = undefined;
  }
}

function teamOf(body: unknown): string | undefined {
  const team = (body as { team?: { id?: unknown } } | null)?.team?.id;
  return typeof team === 'string' ? team : undefined;
}
