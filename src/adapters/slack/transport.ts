import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, HTTPReceiver, type Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import type { HttpRoutes } from '../../core/adapter.js';
import { errorMessage } from '../../core/errors.js';
import { slackLogger } from './api.js';
import { CUSTOMER_ACTION_PREFIX } from './blocks.js';
import type { SlackConfig } from './config.js';
import { DeferredAckSocketReceiver } from './socket-receiver.js';

/** How far a signed request's timestamp may be from our clock, either way (Slack's own rule: 5 minutes). */
const MAX_SKEW_SEC = 5 * 60;

/** Seconds the `X-Slack-Request-Timestamp` is ahead of `nowMs` (negative: behind); undefined when absent or not a number (Bolt refuses those). */
export function timestampSkewSec(header: string | string[] | undefined, nowMs: number): number | undefined {
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header.trim())) return undefined;
  return Number(header.trim()) - Math.floor(nowMs / 1000);
}

/** What Slack delivered around an event: the workspace it was delivered to, Slack's retry count. */
export interface EventEnvelope {
  /** `team_id` of the event callback: the workspace the app is installed in (ours). */
  teamId?: string | undefined;
  retryNum?: number | undefined;
}

/** The agent desk's side: case-channel messages and the case buttons (`sb_…`). */
export interface DeskRole {
  onMessage(event: unknown, retryNum?: number): Promise<void>;
  onAction(body: unknown): Promise<void>;
}

/** The customer side: DMs and shared customer channels, and the customers' buttons (`sbc_…`). */
export interface CustomerRole {
  /** true when a message in this channel is the customer side's (a DM or a configured shared channel). */
  owns(channel: string, channelType: string | undefined): boolean;
  onMessage(event: unknown, envelope: EventEnvelope): Promise<void>;
  onAction(body: unknown): Promise<void>;
  /** The app left (or was removed from) a channel. */
  onLeft(channel: string): void;
}

/**
 * One Slack app's transport: one Bolt App over one receiver (the Events API route on the hub's own
 * server, or one Socket Mode connection), shared by the desk and the customer side of the same
 * `channels.slack` section. Every event is routed by channel: a DM or a configured customer channel
 * goes to the customer side (when it is mounted), everything else to the desk, so the case channel
 * never becomes a customer conversation. Buttons are routed by action id.
 *
 * One transport per (HTTP routes of a hub, app): `SlackTransport.of` hands the desk and the customer
 * adapter of one hub the same instance, whichever mounts first builds it.
 */
export class SlackTransport {
  private static readonly byRoutes = new WeakMap<HttpRoutes, Map<string, SlackTransport>>();
  private desk: DeskRole | undefined;
  private customers: CustomerRole | undefined;
  private readonly receiver: HTTPReceiver | DeferredAckSocketReceiver;
  private connected = false;

  static of(http: HttpRoutes, cfg: SlackConfig, log: Logger): SlackTransport {
    const key = cfg.mode === 'socket' ? `socket:${cfg.appToken ?? ''}` : `http:${cfg.eventsPath}`;
    let map = SlackTransport.byRoutes.get(http);
    if (!map) SlackTransport.byRoutes.set(http, (map = new Map()));
    let t = map.get(key);
    if (!t) map.set(key, (t = new SlackTransport(http, cfg, log)));
    return t;
  }

  private constructor(
    http: HttpRoutes,
    private readonly cfg: SlackConfig,
    private readonly log: Logger,
  ) {
    const logger = slackLogger(log);
    if (cfg.mode === 'http') {
      const receiver = new HTTPReceiver({
        signingSecret: cfg.signingSecret ?? '',
        endpoints: cfg.eventsPath,
        // The HTTP answer waits for the listeners: Slack gets 200 only once the work is durable.
        processBeforeResponse: true,
        logger,
        processEventErrorHandler: async ({ error, response }) => {
          log.error(`slack event not processed (answering 500 so Slack retries): ${errorMessage(error)}`);
          if (!response.headersSent) {
            response.writeHead(500);
            response.end();
          }
          return false;
        },
      });
      http.route('POST', cfg.eventsPath, (req: IncomingMessage, res: ServerResponse) => {
        // Bolt refuses only timestamps too far in the past; one too far ahead is refused here.
        const skew = timestampSkewSec(req.headers['x-slack-request-timestamp'], Date.now());
        if (skew !== undefined && Math.abs(skew) > MAX_SKEW_SEC) {
          log.warn({ skewSec: skew }, `slack: request refused: its timestamp is ${Math.abs(skew)} s in the ${skew > 0 ? 'future' : 'past'} (more than ${MAX_SKEW_SEC / 60} minutes off)`);
          res.writeHead(401);
          res.end();
          return;
        }
        return receiver.requestListener(req, res);
      });
      this.receiver = receiver;
    } else {
      this.receiver = new DeferredAckSocketReceiver({ appToken: cfg.appToken ?? '', log, apiUrl: cfg.apiUrl });
    }
    const app = new App({
      receiver: this.receiver as Receiver,
      // No token check at start (mount makes no network calls); our own posts are recognised by bot_id.
      authorize: async () => ({ botToken: cfg.botToken }),
      ignoreSelf: false,
      convoStore: false,
      logger,
      clientOptions: { slackApiUrl: cfg.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true },
    });
    app.error(async (err) => {
      throw err;
    });
    app.event('message', async ({ event, body, context }) => {
      if (context.retryNum) log.debug({ retryNum: context.retryNum, reason: context.retryReason }, 'slack: retried event');
      const ev = event as { channel?: unknown; channel_type?: unknown };
      const channel = typeof ev.channel === 'string' ? ev.channel : '';
      const type = typeof ev.channel_type === 'string' ? ev.channel_type : undefined;
      const customers = this.customers;
      if (customers && channel !== cfg.caseChannel && customers.owns(channel, type)) {
        const teamId = (body as { team_id?: unknown }).team_id;
        await customers.onMessage(event as unknown, { teamId: typeof teamId === 'string' ? teamId : undefined, retryNum: context.retryNum });
        return;
      }
      if (this.desk) await this.desk.onMessage(event as unknown, context.retryNum);
      else log.debug({ slackChannel: channel }, 'slack: message outside the customer channels and no desk mounted here; ignored');
    });
    app.action(/^sb_/, async ({ body, ack }) => {
      if (this.desk) await this.desk.onAction(body as unknown);
      else log.warn('slack: a case button was pressed but no desk is mounted here; ignored');
      await ack();
    });
    app.action(new RegExp(`^${CUSTOMER_ACTION_PREFIX}`), async ({ body, ack }) => {
      if (this.customers) await this.customers.onAction(body as unknown);
      else log.warn('slack: a customer button was pressed but the customer side is not mounted here; ignored');
      await ack();
    });
    for (const name of ['channel_left', 'group_left'] as const) {
      app.event(name, async ({ event }) => {
        const channel = (event as { channel?: unknown }).channel;
        if (typeof channel === 'string') this.left(channel);
      });
    }
  }

  setDesk(role: DeskRole): void {
    this.desk = role;
  }

  setCustomers(role: CustomerRole): void {
    this.customers = role;
  }

  private left(channel: string): void {
    if (channel === this.cfg.caseChannel) {
      this.log.error({ slackChannel: channel }, `slack: the app was removed from the case channel ${channel}: cases cannot be posted until someone invites it again (/invite @app)`);
      return;
    }
    if (this.customers) this.customers.onLeft(channel);
    else this.log.info({ slackChannel: channel }, `slack: the app left channel ${channel}`);
  }

  /** Socket Mode: opens the one connection (the holder of the desk's lease calls this). */
  async connect(): Promise<void> {
    if (this.connected || !(this.receiver instanceof DeferredAckSocketReceiver)) return;
    await this.receiver.start();
    this.connected = true;
    this.log.info('slack: Socket Mode connected');
  }

  async disconnect(): Promise<void> {
    if (!this.connected || !(this.receiver instanceof DeferredAckSocketReceiver)) return;
    this.connected = false;
    await this.receiver.stop().catch((err) => this.log.warn(`slack: Socket Mode disconnect: ${errorMessage(err)}`));
  }
}
