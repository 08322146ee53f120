import type { Logger } from 'pino';
import type { AdapterDeps } from '../define.js';
import type { AgentDesk, DeskContext, DeskReminderJob } from '../../core/desk.js';
import type { EventSubscriptions } from '../../core/events.js';
import { HubError } from '../../core/errors.js';
import { SlackApi } from './api.js';
import type { SlackConfig } from './config.js';
import { CaseStore } from './case-store.js';
import { SlackInbound } from './events.js';
import { CaseJobs } from './jobs.js';
import { SlackTransport } from './transport.js';

export { timestampSkewSec } from './transport.js';

/**
 * The Slack agent desk: cases are threads in `caseChannel`, agents answer in the thread. Events
 * arrive through the app's one SlackTransport (Bolt: HTTP on the hub's own server, signatures
 * verified by Bolt's HTTPReceiver; or Socket Mode), which hands the desk everything that is not the
 * customer side's; Slack posts are made by desk jobs on the durable desk queue.
 */
export class SlackDesk implements AgentDesk {
  readonly name = 'slack';
  readonly connection: 'long' | 'stateless';
  readonly api: SlackApi;
  private readonly log: Logger;
  private readonly publicUrl: string | undefined;
  private jobs: CaseJobs | undefined;
  private transport: SlackTransport | undefined;

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
    // The one transport of this app, shared with the customer side (channels.slack.customers).
    this.transport = SlackTransport.of(ctx.http, this.cfg, this.log);
    this.transport.setDesk({ onMessage: (ev, retryNum) => inbound.onMessage(ev, retryNum), onAction: (body) => inbound.onAction(body) });
  }

  /** Socket Mode: the desk's lease holds the app's one connection, for the customer side too. */
  async connect(): Promise<void> {
    await this.transport?.connect();
  }

  async disconnect(): Promise<void> {
    await this.transport?.disconnect();
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
