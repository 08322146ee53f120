import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, HTTPReceiver, type Receiver } from '@slack/bolt';
import type { Logger } from 'pino';
import type { AdapterDeps } from '../define.js';
import type { AgentDesk, DeskContext, DeskReminderJob } from '../../core/desk.js';
import type { EventSubscriptions } from '../../core/events.js';
import { HubError, errorMessage } from '../../core/errors.js';
import { SlackApi, slackLogger } from './api.js';
import type { SlackConfig } from './config.js';
import { CaseStore } from './case-store.js';
import { SlackInbound } from './events.js';
import { CaseJobs } from './jobs.js';
import { DeferredAckSocketReceiver } from './socket-receiver.js';

/** How far a signed request's timestamp may be from our clock, either way (Slack's own rule: 5 minutes). */
const MAX_SKEW_SEC = 5 * 60;

/** Seconds the `X-Slack-Request-Timestamp` is ahead of `nowMs` (negative: behind); undefined when absent or not a number (Bolt refuses those). */
export function timestampSkewSec(header: string | string[] | undefined, nowMs: number): number | undefined {
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header.trim())) return undefined;
  return Number(header.trim()) - Math.floor(nowMs / 1000);
}

/**
 * The Slack agent desk: cases are threads in `caseChannel`, agents answer in the thread. Events
 * arrive through Bolt (HTTP on the hub's own server, signatures verified by Bolt's HTTPReceiver;
 * or Socket Mode); Slack posts are made by desk jobs on the durable desk queue.
 */
export class SlackDesk implements AgentDesk {
  readonly name = 'slack';
  readonly connection: 'long' | 'stateless';
  readonly api: SlackApi;
  private readonly log: Logger;
  private readonly publicUrl: string | undefined;
  private jobs: CaseJobs | undefined;
  private receiver: HTTPReceiver | DeferredAckSocketReceiver | undefined;
  private connected = false;

  constructor(
    readonly cfg: SlackConfig,
    deps: AdapterDeps,
  ) {
    this.connection = cfg.mode === 'socket' ? 'long' : 'stateless';
    this.log = deps.log;
    this.publicUrl = deps.publicUrl;
    this.api = new SlackApi(cfg.botToken, cfg.apiUrl, deps.log);
  }

  async mount(ctx: DeskContext): Promise<void> {
    const cases = new CaseStore(ctx.storage);
    const deps = { cfg: this.cfg, ctx, api: this.api, cases, log: this.log, publicUrl: this.publicUrl };
    this.jobs = new CaseJobs(deps);
    const inbound = new SlackInbound(deps);
    const logger = slackLogger(this.log);
    let receiver: HTTPReceiver | DeferredAckSocketReceiver;
    if (this.cfg.mode === 'http') {
      const http = new HTTPReceiver({
        signingSecret: this.cfg.signingSecret ?? '',
        endpoints: this.cfg.eventsPath,
        // The HTTP answer waits for the listeners: Slack gets 200 only once the work is durable.
        processBeforeResponse: true,
        logger,
        processEventErrorHandler: async ({ error, response }) => {
          this.log.error(`slack event not processed (answering 500 so Slack retries): ${errorMessage(error)}`);
          if (!response.headersSent) {
            response.writeHead(500);
            response.end();
          }
          return false;
        },
      });
      ctx.http.route('POST', this.cfg.eventsPath, (req: IncomingMessage, res: ServerResponse) => {
        // Bolt refuses only timestamps too far in the past; one too far ahead is refused here.
        const skew = timestampSkewSec(req.headers['x-slack-request-timestamp'], Date.now());
        if (skew !== undefined && Math.abs(skew) > MAX_SKEW_SEC) {
          this.log.warn({ skewSec: skew }, `slack: request refused: its timestamp is ${Math.abs(skew)} s in the ${skew > 0 ? 'future' : 'past'} (more than ${MAX_SKEW_SEC / 60} minutes off)`);
          res.writeHead(401);
          res.end();
          return;
        }
        return http.requestListener(req, res);
      });
      receiver = http;
    } else {
      receiver = new DeferredAckSocketReceiver({ appToken: this.cfg.appToken ?? '', log: this.log });
    }
    this.receiver = receiver;
    const app = new App({
      receiver: receiver as Receiver,
      // No token check at start (mount makes no network calls); our own posts are recognised by bot_id.
      authorize: async () => ({ botToken: this.cfg.botToken }),
      ignoreSelf: false,
      convoStore: false,
      logger,
      clientOptions: { slackApiUrl: this.cfg.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true },
    });
    app.error(async (err) => {
      throw err;
    });
    app.event('message', async ({ event, context }) => {
      if (context.retryNum) this.log.debug({ retryNum: context.retryNum, reason: context.retryReason }, 'slack: retried event');
      await inbound.onMessage(event as unknown, context.retryNum);
    });
    app.action(/^sb_/, async ({ body, ack }) => {
      await inbound.onAction(body as unknown);
      await ack();
    });
  }

  async connect(): Promise<void> {
    if (this.cfg.mode !== 'socket' || !(this.receiver instanceof DeferredAckSocketReceiver)) return;
    await this.receiver.start();
    this.connected = true;
    this.log.info('slack: Socket Mode connected');
  }

  async disconnect(): Promise<void> {
    if (!this.connected || !(this.receiver instanceof DeferredAckSocketReceiver)) return;
    this.connected = false;
    await this.receiver.stop().catch((err) => this.log.warn(`slack: Socket Mode disconnect: ${errorMessage(err)}`));
  }

  subscribe(subs: EventSubscriptions): void {
    if (!this.jobs) throw new HubError('INTERNAL', 'slack desk is not mounted');
    this.jobs.subscribe(subs);
  }

  async remind(job: DeskReminderJob): Promise<void> {
    if (!this.jobs) throw new HubError('INTERNAL', 'slack desk is not mounted', { retry: 'retry' });
    await this.jobs.remind(job);
  }

  async stop(): Promise<void> {
    await this.disconnect();
  }
}
