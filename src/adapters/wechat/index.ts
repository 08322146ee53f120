import { setMaxListeners } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Contact, ContactSelf, Friendship, Message, Room, Wechaty } from 'wechaty';
import type { AdapterContext, ChannelAdapter } from '../../core/adapter.js';
import { HubError, errorMessage, isHubError } from '../../core/errors.js';
import { splitText } from '../../core/pipeline/split.js';
import type { Capabilities, InboundMessage, OutboundMessage, SendResult } from '../../core/types.js';
import { defineAdapter, type AdapterDeps } from '../define.js';
import {
  LOGIN_PATH,
  LOGIN_QUERY_TOPIC,
  LOGIN_STATE_TOPIC,
  loginRoute,
  parseSnapshot,
  printQr,
  qrImageUrl,
  type LoginSnapshot,
} from './login.js';
import { mapMessage } from './mapper.js';
import { Pacer, realPacingClock, type PacingClock } from './pacing.js';
import { checkPuppetToken, loadPuppet, defaultImporter, type ModuleImporter, type WechatyPuppet } from './puppet.js';

export const CHANNEL = 'wechat';

const pacingSchema = z
  .object({
    minIntervalMs: z.number().int().min(0).default(3000).describe('Least time between two sends to one contact or room.'),
    jitterMs: z.number().int().min(0).default(2000).describe('Random extra 0..jitterMs on each per-contact interval.'),
    globalPerMinute: z.number().positive().default(20).describe('Sends per minute over the whole account, evenly spaced.'),
    maxWaitMs: z
      .number()
      .int()
      .min(0)
      .default(20_000)
      .describe('Longest a reply waits in memory for its slot; later slots go back to the queue as delayed jobs.'),
  })
  .strict();

export const wechatConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    puppet: z
      .string()
      .min(1)
      .default('wechaty-puppet-wechat4u')
      .describe('Puppet package: wechaty-puppet-wechat4u (default, web protocol), wechaty-puppet-service (with a token)...'),
    puppetToken: z.string().optional().describe('Token of puppets that need one (use ${ENV}).'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
      .default('switchboard')
      .describe('Session name: the login is kept in <dataDir>/wechat/<name>.memory-card.json.'),
    allowedRooms: z.array(z.string().min(1)).default([]).describe('Room ids or topics where the bot answers when @-mentioned.'),
    acceptFriendRequests: z.boolean().default(false),
    pacing: pacingSchema.prefault({}),
    maxTextLength: z.number().int().min(100).max(10_000).default(1500).describe('Longer replies are split at this length.'),
    adminToken: z.string().min(16).optional().describe('Bearer token for GET /api/channels/wechat/login (use ${ENV}).'),
  })
  .strict();

export type WechatConfig = z.infer<typeof wechatConfigSchema>;

/** Test and embedding hooks; not part of hub.yaml. */
export interface WechatAdapterOptions {
  /** Use this puppet instead of loading `config.puppet` (tests: a wechaty-puppet-mock PuppetMock). */
  puppetInstance?: WechatyPuppet;
  /** How puppet packages are imported (tests: simulate a missing package). */
  importer?: ModuleImporter;
  clock?: PacingClock;
  random?: () => number;
  /** Print the QR code in the terminal (default true). */
  printQr?: boolean;
  /** Where terminal output goes (default stdout). */
  write?: (s: string) => void;
  /** First delay before restarting after a logout or a dropped session (default 2 s, doubling, max 5 min). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Tries of ctx.accept before an inbound message is logged as lost (default 6: ~15 s in all). */
  acceptAttempts?: number;
  acceptRetryBaseMs?: number;
  /** How long a send waits for the login before failing with a retryable error (default 10 s). */
  loginWaitMs?: number;
  /** How long the login route waits for the process holding the connection (default 1.5 s). */
  remoteStatusTimeoutMs?: number;
}

type Target = Contact | Room;

/**
 * WeChat through wechaty. `mount` registers the login route only; `connect` (in the process holding
 * the channel lease) loads the puppet, starts wechaty and keeps the session alive; `send` paces.
 */
export class WechatAdapter implements ChannelAdapter {
  readonly channel = CHANNEL;
  readonly capabilities: Capabilities;
  readonly connection = 'long' as const;
  readonly sendNeedsConnection = true;

  private ctx: AdapterContext | undefined;
  private bot: Wechaty | undefined;
  private connected = false;
  private stopped = false;
  private snapshot: LoginSnapshot = { status: 'logged_out', since: Date.now(), connected: false };
  private scanSinceLogout = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private restarting: Promise<void> | undefined;
  private abort = new AbortController();
  private unsubscribeQuery: (() => Promise<void>) | undefined;
  private loginWaiters: (() => void)[] = [];
  private lastBuildError: string | undefined;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly sentIds = new Map<string, string[]>();
  private readonly pacer: Pacer;
  private readonly clock: PacingClock;
  private readonly log: Logger;

  constructor(
    readonly config: WechatConfig,
    private readonly deps: AdapterDeps,
    private readonly opts: WechatAdapterOptions = {},
  ) {
    this.capabilities = { threads: false, buttons: false, maxTextLength: config.maxTextLength, attachments: false };
    this.clock = opts.clock ?? realPacingClock;
    this.pacer = new Pacer(config.pacing, this.clock, opts.random);
    this.log = deps.log;
  }

  /** Login state in this process. */
  get loginState(): LoginSnapshot {
    return { ...this.snapshot };
  }

  async mount(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    ctx.http.route(
      'GET',
      LOGIN_PATH,
      loginRoute({
        adminToken: this.config.adminToken,
        local: () => (this.connected ? this.loginState : undefined),
        remote: () => this.askHolder(),
      }),
    );
  }

  async connect(): Promise<void> {
    if (this.stopped) throw new HubError('INTERNAL', 'wechat adapter is stopped');
    if (!this.ctx) throw new HubError('INTERNAL', 'wechat adapter is not mounted');
    if (this.connected) return;
    this.abort = new AbortController();
    setMaxListeners(0, this.abort.signal); // one listener per paced send waiting
    let bot = this.bot;
    if (!bot) {
      try {
        bot = await this.build();
      } catch (err) {
        // Retried by the lease keeper every few seconds: loud once, then quieter.
        const msg = errorMessage(err);
        if (msg !== this.lastBuildError) this.log.error(`wechat: cannot start: ${msg}`);
        else this.log.warn(`wechat: cannot start: ${msg}`);
        this.lastBuildError = msg;
        throw err;
      }
    }
    await this.startBot(bot);
    this.connected = true;
    // A restored session may have logged in during start: keep what the events said.
    const { since: _since, connected: _connected, ...current } = this.snapshot;
    this.setState(current);
    try {
      this.unsubscribeQuery = await this.ctx.bus.subscribe(LOGIN_QUERY_TOPIC, () => void this.publishState());
    } catch (err) {
      this.log.warn(`wechat: login status will only be served by this process: ${errorMessage(err)}`);
    }
  }

  async disconnect(): Promise<void> {
    const wasConnected = this.connected;
    this.connected = false;
    this.cancelReconnect();
    this.abort.abort(new HubError('NETWORK', 'wechat connection closing', { retry: 'retry' }));
    const unsub = this.unsubscribeQuery;
    this.unsubscribeQuery = undefined;
    await unsub?.().catch(() => undefined);
    await this.restarting?.catch(() => undefined);
    if (this.bot) await this.stopBot(this.bot);
    if (wasConnected) this.log.info('wechat: disconnected');
    this.setState({ status: 'logged_out' });
    this.wakeLoginWaiters();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.disconnect();
    await Promise.allSettled([...this.chains.values()]);
    this.bot = undefined;
    this.ctx = undefined;
  }

  async send(m: OutboundMessage): Promise<SendResult> {
    const done = this.sentIds.get(m.id);
    if (done) return { platformMessageIds: done };
    if (this.stopped) throw new HubError('NETWORK', 'wechat adapter is stopped', { retry: 'retry' });
    const parts = splitText(m.text, this.capabilities.maxTextLength);
    // Slots are reserved before the first await: replies keep the order in which sends were called.
    const slots = this.pacer.reserve(m.ref.chatId, parts.length);
    const signal = this.abort.signal;
    const ids: string[] = [];
    try {
      const bot = await this.loggedInBot();
      const { target, mention } = await this.resolveTarget(bot, m);
      for (let i = 0; i < parts.length; i++) {
        await slots[i]?.wait(signal);
        if (!this.connected) throw new HubError('NETWORK', 'wechat connection closed while waiting to send', { retry: 'retry' });
        let sent: unknown;
        try {
          sent = mention ? await (target as Room).say(parts[i] ?? '', mention) : await target.say(parts[i] ?? '');
        } catch (err) {
          throw sendError(err, m.ref.chatId);
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

  // ---------------------------------------------------------------- connection

  private async build(): Promise<Wechaty> {
    const puppet = this.opts.puppetInstance ?? (await loadPuppet(this.config.puppet, this.config.puppetToken, this.opts.importer ?? defaultImporter));
    const dir = resolve(this.deps.dataDir, 'wechat');
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new HubError('CONFIG_INVALID', `wechat: cannot create the session folder ${dir}: ${errorMessage(err)}`, { cause: err });
    }
    const { WechatyBuilder } = await import('wechaty');
    // The memory card (session) is <dir>/<name>.memory-card.json: a restart logs in without a scan
    // when the puppet can restore its session (wechat4u can, for a while).
    const bot = WechatyBuilder.build({ puppet, name: join(dir, this.config.name) });
    bot.on('scan', (qrcode: string, status: number) => this.onScan(qrcode, status));
    bot.on('login', (user: ContactSelf) => this.onLogin(user));
    bot.on('logout', (user: ContactSelf, reason?: string) => this.onLogout(user, reason));
    bot.on('error', (err: Error) => this.log.warn(`wechat: puppet error: ${errorMessage(err)}`));
    bot.on('message', (msg: Message) => this.onMessage(msg));
    bot.on('friendship', (f: Friendship) => void this.onFriendship(f));
    this.bot = bot;
    return bot;
  }

  /** Starts wechaty; a puppet that does not come up is a HubError (wechaty itself only emits it). */
  private async startBot(bot: Wechaty): Promise<void> {
    let lastError: unknown;
    const onError = (err: unknown): void => {
      lastError = err;
    };
    bot.on('error', onError);
    try {
      await bot.start();
    } catch (err) {
      lastError = err;
    } finally {
      bot.off('error', onError);
    }
    let active = false;
    try {
      active = bot.puppet.state.active() === true;
    } catch {
      active = false;
    }
    if (!active) {
      await this.stopBot(bot);
      const reason = lastError === undefined ? 'the puppet did not start' : errorMessage(lastError);
      const puppetName = this.opts.puppetInstance ? 'injected puppet' : this.config.puppet;
      this.log.error({ puppet: puppetName }, `wechat: puppet ${puppetName} failed to start: ${reason}`);
      throw new HubError('NETWORK', `wechat: puppet ${puppetName} failed to start: ${reason}`, {
        retry: 'retry',
        ...(lastError === undefined ? {} : { cause: lastError }),
        context: { puppet: puppetName },
      });
    }
    this.log.info({ puppet: this.opts.puppetInstance ? 'injected' : this.config.puppet }, 'wechat: puppet started, waiting for login');
  }

  private async stopBot(bot: Wechaty): Promise<void> {
    try {
      await bot.stop();
    } catch (err) {
      this.log.warn(`wechat: stopping the puppet: ${errorMessage(err)}`);
    }
  }

  private onScan(qrcode: string, status: number): void {
    // ScanStatus: 2 Waiting (new code), 3 Scanned, 4 Confirmed, 5 Timeout.
    this.scanSinceLogout = true;
    this.cancelReconnect();
    if (status === 3 || status === 4) {
      this.log.info('wechat: QR code scanned, confirm the login on the phone');
      return;
    }
    if (!qrcode) return;
    const qrUrl = qrImageUrl(qrcode);
    this.setState({ status: 'scan', qrUrl, qrcode });
    this.log.info({ qrUrl }, `wechat: scan the QR code to log in: ${qrUrl} (also at GET ${LOGIN_PATH})`);
    if (this.opts.printQr !== false) printQr(qrcode, this.opts.write ?? ((s) => process.stdout.write(s)));
  }

  private onLogin(user: ContactSelf): void {
    this.reconnectAttempt = 0;
    this.scanSinceLogout = false;
    this.cancelReconnect();
    const name = safe(() => user.name()) ?? '';
    this.setState({ status: 'logged_in', user: { id: user.id, name } });
    this.log.info({ user: user.id }, `wechat: logged in as ${name || user.id}`);
    this.wakeLoginWaiters();
  }

  private onLogout(user: ContactSelf, reason?: string): void {
    this.scanSinceLogout = false;
    this.setState({ status: 'logged_out' });
    if (this.stopped || !this.connected) {
      this.log.info({ user: user.id }, `wechat: logged out${reason ? ` (${reason})` : ''}`);
      return;
    }
    const delay = this.scheduleReconnect();
    this.log.warn({ user: user.id, reason }, `wechat: logged out${reason ? ` (${reason})` : ''}; restarting in ${Math.round(delay / 1000)} s unless the puppet asks for a scan`);
  }

  /** Restart with exponential backoff; a scan or login event meanwhile cancels it (the puppet is alive). */
  private scheduleReconnect(): number {
    this.cancelReconnect();
    const base = this.opts.reconnectBaseMs ?? 2000;
    const max = this.opts.reconnectMaxMs ?? 300_000;
    const delay = Math.min(max, base * 2 ** Math.min(this.reconnectAttempt, 20));
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.restarting = this.restart().finally(() => (this.restarting = undefined));
    }, delay);
    this.reconnectTimer.unref();
    return delay;
  }

  private cancelReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private async restart(): Promise<void> {
    const bot = this.bot;
    if (!bot || !this.connected || this.stopped || this.snapshot.status === 'logged_in' || this.scanSinceLogout) return;
    this.log.info(`wechat: restarting the puppet (attempt ${this.reconnectAttempt})`);
    await this.stopBot(bot);
    if (!this.connected || this.stopped) return;
    try {
      await this.startBot(bot);
    } catch (err) {
      if (!this.connected || this.stopped) return;
      const delay = this.scheduleReconnect();
      this.log.warn(`wechat: restart failed (${errorMessage(err)}); next try in ${Math.round(delay / 1000)} s`);
    }
  }

  /** The login state as of now; `connected` always mirrors this process's connection. */
  private setState(s: Omit<LoginSnapshot, 'since' | 'connected'>): void {
    this.snapshot = { ...s, since: this.clock.now(), connected: this.connected };
    if (this.connected) void this.publishState();
  }

  private async publishState(): Promise<void> {
    try {
      await this.ctx?.bus.publish(LOGIN_STATE_TOPIC, JSON.stringify(this.snapshot));
    } catch (err) {
      this.log.debug(`wechat: publishing login state: ${errorMessage(err)}`);
    }
  }

  /** Login state from the process holding the connection, through the bus. */
  private async askHolder(): Promise<LoginSnapshot | undefined> {
    const ctx = this.ctx;
    if (!ctx) return undefined;
    let resolveAnswer: (s: LoginSnapshot | undefined) => void = () => undefined;
    const answer = new Promise<LoginSnapshot | undefined>((r) => (resolveAnswer = r));
    const timer = setTimeout(() => resolveAnswer(undefined), this.opts.remoteStatusTimeoutMs ?? 1500);
    let unsub: (() => Promise<void>) | undefined;
    try {
      unsub = await ctx.bus.subscribe(LOGIN_STATE_TOPIC, (payload) => {
        const s = parseSnapshot(payload);
        if (s?.connected) resolveAnswer(s);
      });
      await ctx.bus.publish(LOGIN_QUERY_TOPIC, '?');
      return await answer;
    } catch (err) {
      this.log.debug(`wechat: asking for the login state: ${errorMessage(err)}`);
      return undefined;
    } finally {
      clearTimeout(timer);
      await unsub?.().catch(() => undefined);
    }
  }

  private async loggedInBot(): Promise<Wechaty> {
    if (this.stopped) throw new HubError('NETWORK', 'wechat adapter is stopped', { retry: 'retry' });
    const ready = () => this.connected && this.bot !== undefined && this.snapshot.status === 'logged_in';
    // Connected but not (yet) logged in: a login may be seconds away (session restore, a scan).
    if (this.connected && !ready()) {
      const wait = this.opts.loginWaitMs ?? 10_000;
      await new Promise<void>((r) => {
        const t = setTimeout(done, wait);
        this.loginWaiters.push(done);
        function done() {
          clearTimeout(t);
          r();
        }
      });
    }
    const bot = this.bot;
    if (!bot || !ready()) {
      throw new HubError('NETWORK', `wechat: not logged in (${this.connected ? 'waiting for a QR scan' : 'not connected'})`, { retry: 'retry' });
    }
    return bot;
  }

  private wakeLoginWaiters(): void {
    for (const w of this.loginWaiters.splice(0)) w();
  }

  private async resolveTarget(bot: Wechaty, m: OutboundMessage): Promise<{ target: Target; mention?: Contact }> {
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
      if (isHubError(err)) throw err;
      if (/not exist|not found|no payload/i.test(errorMessage(err))) throw unreachable(`${roomId ? 'room' : 'contact'} ${roomId ?? m.ref.chatId} not found: ${errorMessage(err)}`);
      throw new HubError('NETWORK', `wechat: looking up ${roomId ?? m.ref.chatId}: ${errorMessage(err)}`, { cause: err, retry: 'retry' });
    }
  }

  private rememberSent(id: string, ids: string[]): void {
    this.sentIds.set(id, ids);
    if (this.sentIds.size > 2000) {
      const first = this.sentIds.keys().next();
      if (!first.done) this.sentIds.delete(first.value);
    }
  }

  // ---------------------------------------------------------------- inbound

  /** Messages of one talker are handled in arrival order (mapping awaits the puppet). */
  private onMessage(msg: Message): void {
    const key = safe(() => msg.talker().id) ?? '?';
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.handleMessage(msg));
    this.chains.set(key, next);
    void next
      .catch((err: unknown) => this.log.warn(`wechat: handling a message: ${errorMessage(err)}`))
      .finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
  }

  private async handleMessage(msg: Message): Promise<void> {
    let result;
    try {
      result = await mapMessage(msg, { channel: CHANNEL, allowedRooms: this.config.allowedRooms, now: () => this.clock.now() });
    } catch (err) {
      this.log.warn({ messageId: msg.id }, `wechat: cannot read message: ${errorMessage(err)}; ignored`);
      return;
    }
    if (result.kind === 'ignore') {
      this.log.debug({ messageId: msg.id }, `wechat: ignored message: ${result.reason}`);
      return;
    }
    await this.deliver(result.message);
  }

  /**
   * WeChat has no acknowledgement or redelivery: once wechaty emitted a message, this process is the
   * only copy. ctx.accept is retried in memory (default 6 tries over ~15 s); a message still not
   * queued after that, or when the process dies meanwhile, is lost. It is logged at error level with
   * its id, sender and text so someone can answer by hand.
   */
  private async deliver(msg: InboundMessage): Promise<void> {
    const attempts = this.opts.acceptAttempts ?? 6;
    const base = this.opts.acceptRetryBaseMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      const ctx = this.ctx;
      try {
        if (!ctx) throw new HubError('NETWORK', 'adapter stopped', { retry: 'retry' });
        await ctx.accept(msg);
        if (attempt > 1) this.log.info({ messageId: msg.platformMessageId }, `wechat: message queued after ${attempt} tries`);
        return;
      } catch (err) {
        if (isHubError(err) && err.retry === 'final') {
          this.log.warn({ messageId: msg.platformMessageId, code: err.code }, `wechat: message refused by the hub: ${err.message}`);
          return;
        }
        if (attempt >= attempts || !ctx || this.stopped) {
          this.log.error(
            { messageId: msg.platformMessageId, from: msg.platformUserId, chatId: msg.ref.chatId, text: msg.text.slice(0, 500), attempts: attempt },
            `wechat: LOST inbound message: the hub could not queue it (${errorMessage(err)}); WeChat will not redeliver it`,
          );
          return;
        }
        const delay = base * 2 ** (attempt - 1);
        this.log.warn({ messageId: msg.platformMessageId }, `wechat: could not queue message (${errorMessage(err)}); retry ${attempt}/${attempts - 1} in ${delay} ms`);
        await this.clock.sleep(delay, this.abort.signal).catch(() => undefined);
      }
    }
  }

  private async onFriendship(f: Friendship): Promise<void> {
    try {
      const contact = f.contact();
      const who = safe(() => contact.name()) || contact.id;
      const type = f.type();
      // FriendshipType: 1 Confirm, 2 Receive, 3 Verify.
      if (type === 2) {
        if (this.config.acceptFriendRequests) {
          await f.accept();
          this.log.info({ contact: contact.id }, `wechat: friend request from ${who} accepted`);
        } else {
          this.log.info({ contact: contact.id }, `wechat: friend request from ${who} not accepted (acceptFriendRequests: false)`);
        }
      } else if (type === 1) {
        this.log.info({ contact: contact.id }, `wechat: now friends with ${who}`);
      } else {
        this.log.debug({ contact: contact.id, type }, 'wechat: friendship event ignored');
      }
    } catch (err) {
      this.log.warn(`wechat: handling a friend request: ${errorMessage(err)}`);
    }
  }
}

function unreachable(message: string): HubError {
  return new HubError('RECIPIENT_UNREACHABLE', `wechat: ${message}`, { retry: 'final' });
}

/** Puppet send errors: retryable unless clearly final. */
function sendError(err: unknown, chatId: string): HubError {
  if (isHubError(err)) return err;
  const text = errorMessage(err);
  if (/not exist|not found|no payload/i.test(text)) return unreachable(`${chatId} not found: ${text}`);
  if (/\b1205\b|frequen|too fast|rate/i.test(text)) {
    return new HubError('PLATFORM_RATE_LIMITED', `wechat: the platform throttled sending: ${text}`, { cause: err, retry: 'delay', retryAfterMs: 60_000 });
  }
  return new HubError('NETWORK', `wechat: send failed: ${text}`, { cause: err, retry: 'retry', context: { chatId } });
}

function messageIdOf(sent: unknown): string | undefined {
  if (typeof sent !== 'object' || sent === null) return undefined;
  const id = (sent as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** Builds the adapter; the third argument carries test hooks (a mock puppet, a virtual clock). */
export function createWechatAdapter(config: WechatConfig, deps: AdapterDeps, options: WechatAdapterOptions = {}): WechatAdapter {
  if (config.enabled && !options.puppetInstance) checkPuppetToken(config.puppet, config.puppetToken);
  return new WechatAdapter(config, deps, options);
}

export const wechatAdapter = defineAdapter({
  channel: CHANNEL,
  configSchema: wechatConfigSchema,
  create: (config, deps) => createWechatAdapter(config, deps),
});
