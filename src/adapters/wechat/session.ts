import { setMaxListeners } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ContactSelf, Friendship, Message, Wechaty } from 'wechaty';
import type { Bus } from '../../core/adapter.js';
import { HubError, errorMessage } from '../../core/errors.js';
import type { WechatAdapterOptions, WechatConfig } from './config.js';
import { LOGIN_PATH, LOGIN_QUERY_TOPIC, LOGIN_STATE_TOPIC, printQr, qrImageUrl, type LoginSnapshot } from './login.js';
import { safe } from './mapper.js';
import type { PacingClock } from './pacing.js';
import { defaultImporter, loadPuppet } from './puppet.js';

export interface SessionDeps {
  config: WechatConfig;
  dataDir: string;
  log: Logger;
  clock: PacingClock;
  options: WechatAdapterOptions;
  /** Where the puppet's messages and friend requests go. */
  onMessage(msg: Message): void;
  onFriendship(f: Friendship): void;
}

/**
 * The WeChat login of the process holding the channel lease: loads the puppet, starts wechaty,
 * follows scan / login / logout, restarts a dropped session with backoff, and publishes the login
 * state on the bus so that the login route of any process can show it.
 */
export class WechatSession {
  private bot: Wechaty | undefined;
  private isConnected = false;
  private isStopped = false;
  private snapshot: LoginSnapshot = { status: 'logged_out', since: Date.now(), connected: false };
  private scanSinceLogout = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private restarting: Promise<void> | undefined;
  private abort = new AbortController();
  private bus: Bus | undefined;
  private unsubscribeQuery: (() => Promise<void>) | undefined;
  private loginWaiters: (() => void)[] = [];
  private lastBuildError: string | undefined;
  private readonly log: Logger;

  constructor(private readonly d: SessionDeps) {
    this.log = d.log;
  }

  /** true between a successful `connect` and `disconnect` in this process. */
  get connected(): boolean {
    return this.isConnected;
  }

  get stopped(): boolean {
    return this.isStopped;
  }

  /** Aborted when the connection closes: paced sends and accept retries stop waiting. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Login state in this process. */
  get loginState(): LoginSnapshot {
    return { ...this.snapshot };
  }

  async connect(bus: Bus): Promise<void> {
    if (this.isConnected) return;
    this.bus = bus;
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
    this.isConnected = true;
    // A restored session may have logged in during start: keep what the events said.
    const { since: _since, connected: _connected, ...current } = this.snapshot;
    this.setState(current);
    try {
      this.unsubscribeQuery = await bus.subscribe(LOGIN_QUERY_TOPIC, () => void this.publishState());
    } catch (err) {
      this.log.warn(`wechat: login status will only be served by this process: ${errorMessage(err)}`);
    }
  }

  async disconnect(): Promise<void> {
    const wasConnected = this.isConnected;
    this.isConnected = false;
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

  /** Disconnects for good; `connect` refuses afterwards. */
  async stop(): Promise<void> {
    this.isStopped = true;
    await this.disconnect();
    this.bot = undefined;
  }

  /** The logged-in wechaty; waits up to `loginWaitMs` for a login that may be seconds away. */
  async loggedInBot(): Promise<Wechaty> {
    if (this.isStopped) throw new HubError('NETWORK', 'wechat adapter is stopped', { retry: 'retry' });
    const ready = () => this.isConnected && this.bot !== undefined && this.snapshot.status === 'logged_in';
    // Connected but not (yet) logged in: a login may be seconds away (session restore, a scan).
    if (this.isConnected && !ready()) {
      const wait = this.d.options.loginWaitMs ?? 10_000;
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
      throw new HubError('NETWORK', `wechat: not logged in (${this.isConnected ? 'waiting for a QR scan' : 'not connected'})`, { retry: 'retry' });
    }
    return bot;
  }

  private async build(): Promise<Wechaty> {
    const { config, options } = this.d;
    const puppet = options.puppetInstance ?? (await loadPuppet(config.puppet, config.puppetToken, options.importer ?? defaultImporter));
    const dir = resolve(this.d.dataDir, 'wechat');
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new HubError('CONFIG_INVALID', `wechat: cannot create the session folder ${dir}: ${errorMessage(err)}`, { cause: err });
    }
    const { WechatyBuilder } = await import('wechaty');
    // The memory card (session) is <dir>/<name>.memory-card.json: a restart logs in without a scan
    // when the puppet can restore its session (wechat4u can, for a while).
    const bot = WechatyBuilder.build({ puppet, name: join(dir, config.name) });
    bot.on('scan', (qrcode: string, status: number) => this.onScan(qrcode, status));
    bot.on('login', (user: ContactSelf) => this.onLogin(user));
    bot.on('logout', (user: ContactSelf, reason?: string) => this.onLogout(user, reason));
    bot.on('error', (err: Error) => this.log.warn(`wechat: puppet error: ${errorMessage(err)}`));
    bot.on('message', (msg: Message) => this.d.onMessage(msg));
    bot.on('friendship', (f: Friendship) => this.d.onFriendship(f));
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
    const injected = this.d.options.puppetInstance !== undefined;
    if (!active) {
      await this.stopBot(bot);
      const reason = lastError === undefined ? 'the puppet did not start' : errorMessage(lastError);
      const puppetName = injected ? 'injected puppet' : this.d.config.puppet;
      this.log.error({ puppet: puppetName }, `wechat: puppet ${puppetName} failed to start: ${reason}`);
      throw new HubError('NETWORK', `wechat: puppet ${puppetName} failed to start: ${reason}`, {
        retry: 'retry',
        ...(lastError === undefined ? {} : { cause: lastError }),
        context: { puppet: puppetName },
      });
    }
    this.log.info({ puppet: injected ? 'injected' : this.d.config.puppet }, 'wechat: puppet started, waiting for login');
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
    if (this.d.options.printQr !== false) printQr(qrcode, this.d.options.write ?? ((s) => process.stdout.write(s)));
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
    if (this.isStopped || !this.isConnected) {
      this.log.info({ user: user.id }, `wechat: logged out${reason ? ` (${reason})` : ''}`);
      return;
    }
    const delay = this.scheduleReconnect();
    this.log.warn({ user: user.id, reason }, `wechat: logged out${reason ? ` (${reason})` : ''}; restarting in ${Math.round(delay / 1000)} s unless the puppet asks for a scan`);
  }

  /** Restart with exponential backoff; a scan or login event meanwhile cancels it (the puppet is alive). */
  private scheduleReconnect(): number {
    this.cancelReconnect();
    const base = this.d.options.reconnectBaseMs ?? 2000;
    const max = this.d.options.reconnectMaxMs ?? 300_000;
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
    if (!bot || !this.isConnected || this.isStopped || this.snapshot.status === 'logged_in' || this.scanSinceLogout) return;
    this.log.info(`wechat: restarting the puppet (attempt ${this.reconnectAttempt})`);
    await this.stopBot(bot);
    if (!this.isConnected || this.isStopped) return;
    try {
      await this.startBot(bot);
    } catch (err) {
      if (!this.isConnected || this.isStopped) return;
      const delay = this.scheduleReconnect();
      this.log.warn(`wechat: restart failed (${errorMessage(err)}); next try in ${Math.round(delay / 1000)} s`);
    }
  }

  /** The login state as of now; `connected` always mirrors this process's connection. */
  private setState(s: Omit<LoginSnapshot, 'since' | 'connected'>): void {
    this.snapshot = { ...s, since: this.d.clock.now(), connected: this.isConnected };
    if (this.isConnected) void this.publishState();
  }

  private async publishState(): Promise<void> {
    try {
      await this.bus?.publish(LOGIN_STATE_TOPIC, JSON.stringify(this.snapshot));
    } catch (err) {
      this.log.debug(`wechat: publishing login state: ${errorMessage(err)}`);
    }
  }

  private wakeLoginWaiters(): void {
    for (const w of this.loginWaiters.splice(0)) w();
  }
}
