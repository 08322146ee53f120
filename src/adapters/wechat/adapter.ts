import type { Contact, Room, Wechaty } from 'wechaty';
import type { AdapterContext, ChannelAdapter } from '../../core/adapter.js';
import { HubError, isHubError } from '../../core/errors.js';
import { splitText } from '../../core/pipeline/split.js';
import type { Capabilities, OutboundMessage, SendResult } from '../../core/types.js';
import type { AdapterDeps } from '../define.js';
import { lookupError, sendError, unreachable } from './api-errors.js';
import { CHANNEL, type WechatAdapterOptions, type WechatConfig } from './config.js';
import { WechatInbound } from './inbound.js';
import { LOGIN_PATH, askHolder, loginRoute, type LoginSnapshot } from './login.js';
import { Pacer, realPacingClock } from './pacing.js';
import { WechatSession } from './session.js';

/** Where a reply goes: a contact, or a room with the customer to @-mention. */
type Target = { target: Contact } | { target: Room; mention: Contact } | { target: Room };

/** Outbound ids already sent, so that a retried job does not send twice (bounded). */
const SENT_IDS_KEPT = 2000;

/**
 * WeChat through wechaty. `mount` registers the login route only; `connect` (in the process holding
 * the channel lease) starts the session (session.ts), whose messages go to inbound.ts; `send` paces.
 */
export class WechatAdapter implements ChannelAdapter {
  readonly channel = CHANNEL;
  readonly capabilities: Capabilities;
  readonly connection = 'long' as const;
  readonly sendNeedsConnection = true;

  private ctx: AdapterContext | undefined;
  private readonly session: WechatSession;
  private readonly inbound: WechatInbound;
  private readonly sentIds = new Map<string, string[]>();
  private readonly pacer: Pacer;

  constructor(
    readonly config: WechatConfig,
    private readonly deps: AdapterDeps,
    private readonly opts: WechatAdapterOptions = {},
  ) {
    this.capabilities = { threads: false, buttons: false, maxTextLength: config.maxTextLength, attachments: false, authorNames: false };
    const clock = opts.clock ?? realPacingClock;
    this.pacer = new Pacer(config.pacing, clock, opts.random);
    this.session = new WechatSession({
      config,
      dataDir: deps.dataDir,
      log: deps.log,
      clock,
      options: opts,
      onMessage: (msg) => this.inbound.onMessage(msg),
      onFriendship: (f) => void this.inbound.onFriendship(f),
    });
    this.inbound = new WechatInbound({
      config,
      log: deps.log,
      clock,
      options: opts,
      ctx: () => this.ctx,
      stopped: () => this.session.stopped,
      signal: () => this.session.signal,
    });
  }

  /** Login state in this process. */
  get loginState(): LoginSnapshot {
    return this.session.loginState;
  }

  async mount(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    ctx.http.route(
      'GET',
      LOGIN_PATH,
      loginRoute({
        adminToken: this.config.adminToken,
        local: () => (this.session.connected ? this.session.loginState : undefined),
        remote: async () => {
          const current = this.ctx;
          return current ? askHolder(current.bus, this.opts.remoteStatusTimeoutMs ?? 1500, this.deps.log) : undefined;
        },
      }),
    );
  }

  async connect(): Promise<void> {
    if (this.session.stopped) throw new HubError('INTERNAL', 'wechat adapter is stopped');
    if (!this.ctx) throw new HubError('INTERNAL', 'wechat adapter is not mounted');
    await this.session.connect(this.ctx.bus);
  }

  async disconnect(): Promise<void> {
    await this.session.disconnect();
  }

  async stop(): Promise<void> {
    if (this.session.stopped) return;
    await this.session.stop();
    await this.inbound.settled();
    this.ctx = undefined;
  }

  async send(m: OutboundMessage): Promise<SendResult> {
    const done = this.sentIds.get(m.id);
    if (done) return { platformMessageIds: done };
    if (this.session.stopped) throw new HubError('NETWORK', 'wechat adapter is stopped', { retry: 'retry' });
    const parts = splitText(m.text, this.capabilities.maxTextLength);
    // Slots are reserved before the first await: replies keep the order in which sends were called.
    const slots = this.pacer.reserve(m.ref.chatId, parts.length);
    const signal = this.session.signal;
    const ids: string[] = [];
    try {
      const bot = await this.session.loggedInBot();
      const to = await this.resolveTarget(bot, m);
      for (let i = 0; i < parts.length; i++) {
        const slot = slots[i];
        await slot?.wait(signal);
        let sent: unknown;
        try {
          if (!this.session.connected) throw new HubError('NETWORK', 'wechat connection closed while waiting to send', { retry: 'retry' });
          const text = parts[i] ?? '';
          sent = 'mention' in to ? await to.target.say(text, to.mention) : await to.target.say(text);
        } catch (err) {
          throw isHubError(err) ? err : sendError(err, m.ref.chatId);
        } finally {
          slot?.sent();
        }
        ids.push(messageIdOf(sent) ?? `wx-${m.id}${parts.length > 1 ? `#${i}` : ''}`);
      }
    } catch (err) {
      for (const s of slots) s.cancel();
      throw err;
    }
    this.rememberSent(m.id, ids);
    return { platformMessageIds: ids };
  }

  private async resolveTarget(bot: Wechaty, m: OutboundMessage): Promise<Target> {
    const extra = m.ref.extra ?? {};
    const roomId = typeof extra.roomId === 'string' ? extra.roomId : undefined;
    try {
      if (roomId) {
        const room = await bot.Room.find({ id: roomId });
        if (!room) throw unreachable(`room ${roomId} not found (the bot may have left it)`);
        const contactId = typeof extra.contactId === 'string' ? extra.contactId : undefined;
        const mention = contactId ? await bot.Contact.find({ id: contactId }).catch(() => undefined) : undefined;
        return mention ? { target: room, mention } : { target: room };
      }
      const contact = await bot.Contact.find({ id: m.ref.chatId });
      if (!contact) throw unreachable(`contact ${m.ref.chatId} not found (not a friend any more?)`);
      return { target: contact };
    } catch (err) {
      throw roomId ? lookupError(err, 'room', roomId) : lookupError(err, 'contact', m.ref.chatId);
    }
  }

  private rememberSent(id: string, ids: string[]): void {
    this.sentIds.set(id, ids);
    if (this.sentIds.size > SENT_IDS_KEPT) {
      const first = this.sentIds.keys().next();
      if (!first.done) this.sentIds.delete(first.value);
    }
  }
}

function messageIdOf(sent: unknown): string | undefined {
  if (typeof sent !== 'object' || sent === null) return undefined;
  const id = (sent as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}
