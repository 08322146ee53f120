import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { HubConfig } from './config-schema.js';
import type { AdapterContext, ChannelAdapter } from '../core/adapter.js';
import type { AgentDesk } from '../core/desk.js';
import { HandOverResponder, type Responder } from '../core/responder.js';
import { systemClock, type Clock } from '../core/clock.js';
import { HubError, errorMessage } from '../core/errors.js';
import { EventSubscriptions } from '../core/events.js';
import { HubMetrics } from '../core/metrics.js';
import { Storage } from '../core/storage/storage.js';
import type { MigrationSet } from '../core/storage/db.js';
import { HubQueues } from '../core/queues/hub-queues.js';
import { EventDispatcher } from '../core/queues/event-dispatcher.js';
import { createRedis } from '../core/queues/redis.js';
import { Templates } from '../core/templates.js';
import { ensurePrivateDir } from '../core/private-files.js';
import { validateInbound } from '../core/pipeline/validate.js';
import { AgentActions } from '../core/conversation/agent-actions.js';
import type { ChangeDeps } from '../core/conversation/change.js';
import { subscribeCsatQuestion } from '../core/conversation/csat.js';
import { coreTurnHandlers } from '../core/conversation/handlers.js';
import type { InboundDeps } from '../core/conversation/inbound.js';
import type { OutboundDeps } from '../core/conversation/outbound.js';
import { DirectSends } from '../core/conversation/direct-sends.js';
import { Proactive } from '../core/conversation/proactive.js';
import { FallbackSends } from '../core/conversation/fallback.js';
import { composeTurn, type TurnHandler } from '../core/conversation/turn.js';
import { Lease, LeaseKeeper } from '../core/lease.js';
import type { InboundMessage } from '../core/types.js';
import { adapterFactories, deskFactories } from '../adapters/registry.js';
import type { AdapterDeps, ChannelConfigBase, ChannelFactory } from '../adapters/define.js';
import { HttpSurface } from '../http/surface.js';
import { createTokenAuth, type TokenAuth } from '../api/tokens.js';
import { RedisBus } from './bus.js';
import { adapterContext, deskContext } from './contexts.js';
import { createLogger } from './logger.js';
import { attachmentLinks } from './files.js';
import { closeServer, httpOptions, listen, mountOps, mountPublicApi, setupWorkflows } from './ops.js';
import { outboundWorkers, startRunners, type RunnerDeps } from './runners.js';
import { waitForRedis, warnIfRedisForgets } from './redis-checks.js';
import { setupConsole } from './console.js';
import { setupAnalytics } from './analytics.js';
import { identityTurnHandlers } from './identity.js';
import { hubPiiCodec } from './pii.js';
import { Webhooks } from '../webhooks/index.js';

export type Role = 'start' | 'worker' | 'gateway';

export interface HubOptions {
  config: HubConfig;
  role?: Role;
  /** Folder holding templates/ (default `config`); the knowledge folder is `bot.knowledgeDir`. */
  configDir?: string;
  /** Adapters besides the configured ones (tests, benchmarks). */
  adapters?: ChannelAdapter[];
  /** The bot; default: the knowledge bot factory given, else hand every question over. */
  responder?: Responder;
  /** Builds the bot once storage and config are up (the knowledge bot). */
  responderFactory?: (hub: Hub) => Promise<Responder>;
  desk?: AgentDesk;
  /** Turn handlers that take a customer message before the bot (a workflow question, an identity code). */
  turnHandlers?: TurnHandler[];
  /** Registers more event subscribers (modules, tests); every process must register the same ones. */
  subscribe?: (subs: EventSubscriptions, hub: Hub) => void;
  /** Modules' own tables. */
  migrations?: MigrationSet[];
  log?: Logger;
  clock?: Clock;
  /** How long a long-connection lease lives without renewal (default: `queues.leaseMs`). */
  leaseTtlMs?: number;
  /** How old a pending send or an undispatched event must be before the sweep re-queues it (default 60 s). */
  sweepAfterMs?: number;
  /**
   * How long stop() waits for in-flight jobs (default 10 s). Past it the hub closes anyway: an
   * unfinished job keeps its lock until it expires and is then retried by another worker.
   */
  shutdownGraceMs?: number;
  /** Test hook: runs between a conversation change's commit and its dispatch. */
  afterCommitHook?: () => void;
}

/**
 * The composition root: storage, Redis, queues, adapters, the turn chain, event subscribers,
 * workers, HTTP. One class, three roles: `start` (everything), `worker` (queue workers), `gateway`
 * (HTTP + channel connections).
 */
export class Hub {
  readonly log: Logger;
  readonly metrics = new HubMetrics();
  /** The HTTP surface: adapters' routes (the `HttpRoutes` port), the hub's own (`plugin`, `api`); served through Fastify. */
  readonly router = new HttpSurface();
  readonly adapters = new Map<string, ChannelAdapter>();
  readonly subs = new EventSubscriptions();
  readonly role: Role;
  readonly clock: Clock;
  /** Bearer tokens of the API and /metrics (`api.tokens`): `authorize(header, role)`. */
  readonly tokenAuth: TokenAuth;
  storage!: Storage;
  queues!: HubQueues;
  redis!: Redis;
  bus!: RedisBus;
  templates!: Templates;
  dispatcher!: EventDispatcher;
  agentActions!: AgentActions;
  proactive!: Proactive;
  webhooks!: Webhooks;
  workflows!: Awaited<ReturnType<typeof setupWorkflows>>;
  /** The web console; `console.guard` protects every console page and its API. */
  console!: Awaited<ReturnType<typeof setupConsole>>;
  /** Service analytics: read models, KPIs, the dashboard (behind the console's guard). */
  analytics!: Awaited<ReturnType<typeof setupAnalytics>>;
  /** Proactive sends that fall back across channels (`POST /api/messages`). */
  sends!: FallbackSends;
  responder: Responder = new HandOverResponder();
  desk: AgentDesk | undefined;
  private server: Server | undefined;
  private readonly workers: Worker[] = [];
  private readonly connectionWorkers = new Map<string, Worker[]>();
  private readonly leases: LeaseKeeper[] = [];
  private runnerDeps: RunnerDeps | undefined;
  private stopping = false;
  private direct: DirectSends | undefined;
  /** The sweep's age of a pending send or an undispatched event (60 s unless a test sets it). */
  private get sweepAfterMs(): number {
    return this.opts.sweepAfterMs ?? 60_000;
  }

  private constructor(readonly opts: HubOptions) {
    this.role = opts.role ?? 'start';
    this.clock = opts.clock ?? systemClock;
    this.tokenAuth = createTokenAuth(opts.config.api.tokens);
    this.log = opts.log ?? createLogger({ level: opts.config.logLevel });
  }

  get config(): HubConfig {
    return this.opts.config;
  }

  /** Base URL of the HTTP server (roles start and gateway). */
  get url(): string {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    if (!addr) throw new HubError('INTERNAL', 'this hub serves no HTTP');
    return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  }

  static async start(opts: HubOptions): Promise<Hub> {
    const hub = new Hub(opts);
    try {
      await hub.boot();
    } catch (err) {
      await hub.stop().catch(() => undefined);
      throw err;
    }
    return hub;
  }

  private async boot(): Promise<void> {
    const cfg = this.config;
    // Data at rest: tighten a data folder made earlier (npm start's setup, an older version) to 0700.
    if (existsSync(cfg.dataDir) && ensurePrivateDir(cfg.dataDir)) this.log.info({ dataDir: cfg.dataDir }, 'data folder tightened to 0700');
    this.templates = Templates.load(join(this.opts.configDir ?? 'config', 'templates', 'core.yaml'));
    this.storage = await Storage.open(cfg.storage.url, { preparedStatements: cfg.storage.preparedStatements, clock: this.clock, migrations: this.opts.migrations ?? [], pii: hubPiiCodec({ dataDir: cfg.dataDir, log: this.log }) });

    this.redis = createRedis(cfg.redis.url);
    this.redis.on('error', (err) => this.log.warn(`redis: ${errorMessage(err)}`));
    await waitForRedis(this.redis, cfg.redis.url);
    await warnIfRedisForgets(this.redis, cfg.redis.url, this.log);
    this.bus = new RedisBus(this.redis, cfg.redis.prefix);
    this.queues = new HubQueues(this.redis, { prefix: cfg.redis.prefix, ...cfg.queues });
    this.dispatcher = new EventDispatcher(this.subs, this.storage, this.queues, this.log);
    const { backoffMs, outboundConcurrency: limit } = cfg.queues;
    const takes = this.role !== 'gateway'; // a gateway only leaves the workers' direct sends alone (`mayHold`)
    if (cfg.queues.directSends) this.direct = new DirectSends({ outbound: () => this.outboundDeps(), queues: this.queues, limit, sweepAfterMs: this.sweepAfterMs, backoffMs, now: () => this.clock.now(), takes });
    const change = this.changeDeps();
    this.agentActions = new AgentActions({ ...change, now: () => this.clock.now() });
    this.proactive = new Proactive({ ...change, available: (c) => this.adapters.has(c) });
    this.sends = new FallbackSends({ ...change, available: (c) => this.adapters.has(c), now: () => this.clock.now() });

    await this.createAdapters();
    if (this.opts.responder) this.responder = this.opts.responder;
    else if (this.opts.responderFactory) this.responder = await this.opts.responderFactory(this);
    this.desk = this.opts.desk ?? (await this.createDesk());

    const serves = this.role !== 'worker';
    if (serves) {
      mountOps({ router: this.router, storage: this.storage, redis: this.redis, queues: this.queues, metrics: this.metrics, auth: this.tokenAuth, stopping: () => this.stopping });
      const deliveries = { recent: (o: Parameters<Webhooks['deliveries']['recent']>[0]) => this.webhooks.deliveries.recent(o) };
      mountPublicApi(this.router, this.opts.configDir ?? 'config', { auth: this.tokenAuth, storage: this.storage, sends: this.sends, deliveries, log: this.log });
    }
    const ctx = this.adapterContext();
    for (const a of this.adapters.values()) await a.mount(ctx);
    // Subscribers: every process registers the same ones before any event is written.
    subscribeCsatQuestion(this.subs, { storage: this.storage, proactive: this.proactive, templates: this.templates });
    const { lockMs } = cfg.queues;
    this.webhooks = new Webhooks(cfg.webhooks, { storage: this.storage, redis: this.redis, prefix: cfg.redis.prefix, log: this.log, lockMs, backoffMs, sweepAfterMs: this.sweepAfterMs, now: () => this.clock.now() });
    this.webhooks.subscribe(this.subs);
    this.sends.subscribe(this.subs);
    this.workflows = await setupWorkflows(this);
    this.console = await setupConsole(this);
    this.analytics = await setupAnalytics(this, this.console.guard);
    if (this.desk) {
      await this.desk.mount(
        deskContext(this.desk.name, {
          http: this.router,
          log: this.log,
          storage: this.storage,
          actions: this.agentActions,
          proactive: this.proactive,
          templates: this.templates,
          queues: this.queues,
          responder: () => this.responder,
          knowledgeDir: cfg.bot.knowledgeDir,
          now: () => this.clock.now(),
        }),
      );
      this.desk.subscribe(this.subs);
    }
    this.opts.subscribe?.(this.subs, this);
    this.runnerDeps = this.createRunnerDeps();
    if (this.role !== 'gateway') this.workers.push(...(await startRunners(this.runnerDeps, this.adapters.values())), ...(await this.webhooks.start()), ...(await this.workflows.start()), ...(await this.analytics.start()));
    if (this.role !== 'worker') this.startConnections();
    if (serves) {
      // GET /files/* on every gateway: a desk may sign its first link after the server took its last route.
      attachmentLinks(this.router, this.storage, this.log);
      this.server = await listen(this.router, cfg.server.host, cfg.server.port, httpOptions(cfg, this.log));
    }
  }

  /** What the hub gives every adapter (accept, routes, bus, history). */
  adapterContext(): AdapterContext {
    return adapterContext({ accept: (m) => this.accept(m), http: this.router, bus: this.bus, log: this.log, storage: this.storage });
  }

  /** What every conversation change needs (storage, queues, the event dispatcher). */
  changeDeps(): ChangeDeps {
    return {
      storage: this.storage,
      queues: this.queues,
      dispatcher: this.dispatcher,
      ...(this.direct ? { direct: this.direct } : {}),
      ...(this.opts.afterCommitHook ? { afterCommitHook: this.opts.afterCommitHook } : {}),
    };
  }

  /** The inbound pipeline's dependencies, with the turn chain: core handlers, the modules' before the bot. */
  inboundDeps(): InboundDeps {
    const cfg = this.config;
    const now = () => this.clock.now();
    const handlers = coreTurnHandlers(
      { storage: this.storage, responder: () => this.responder, templates: this.templates, log: this.log, maxStrikes: cfg.bot.maxStrikes, now },
      [...(this.workflows?.turnHandlers ?? []), ...(this.opts.turnHandlers ?? [])],
    );
    return {
      ...this.changeDeps(),
      // Identity proof (a link token's /start, a signed visitor) comes first: the core's commands would take /start.
      turn: composeTurn([...identityTurnHandlers(this), ...handlers]),
      capabilities: (c) => this.adapters.get(c)?.capabilities,
      reopenWindowMs: cfg.escalation.reopenWindowMinutes * 60_000,
      now,
    };
  }

  outboundDeps(): OutboundDeps {
    return { ...this.changeDeps(), adapter: (c) => this.adapters.get(c), metrics: this.metrics, log: this.log, now: () => this.clock.now() };
  }

  private createRunnerDeps(): RunnerDeps {
    const cfg = this.config;
    return {
      redis: this.redis,
      prefix: cfg.redis.prefix,
      log: this.log,
      metrics: this.metrics,
      lockMs: cfg.queues.lockMs,
      partitions: cfg.queues.partitions,
      outboundConcurrency: cfg.queues.outboundConcurrency,
      storage: this.storage,
      queues: this.queues,
      dispatcher: this.dispatcher,
      inbound: this.inboundDeps(),
      outbound: this.outboundDeps(),
      ...(this.direct ? { direct: this.direct } : {}),
      desk: this.desk,
      sweepAfterMs: this.sweepAfterMs,
    };
  }

  /** The registered factories whose `channels.<name>` section is enabled, each with its section. */
  private enabled<T>(factories: readonly ChannelFactory<T>[]): { f: ChannelFactory<T>; section: ChannelConfigBase }[] {
    const channels = this.config.channels as Record<string, ChannelConfigBase | undefined>;
    return factories.flatMap((f) => {
      const section = channels[f.channel];
      return section?.enabled && (f.wanted?.(section) ?? true) ? [{ f, section }] : [];
    });
  }

  private depsFor(channel: string): AdapterDeps {
    return {
      log: this.log.child({ channel }),
      dataDir: this.config.dataDir,
      ...(this.config.server.publicUrl ? { publicUrl: this.config.server.publicUrl } : {}),
    };
  }

  private async createAdapters(): Promise<void> {
    for (const { f, section } of this.enabled(adapterFactories)) this.adapters.set(f.channel, await f.create(section, this.depsFor(f.channel)));
    for (const a of this.opts.adapters ?? []) this.adapters.set(a.channel, a);
  }

  private async createDesk(): Promise<AgentDesk | undefined> {
    const first = this.enabled(deskFactories)[0];
    return first ? await first.f.create(first.section, this.depsFor(first.f.channel)) : undefined;
  }

  /** Validates and durably queues an inbound message; resolves once Redis has it. */
  async accept(input: InboundMessage): Promise<{ jobId: string }> {
    if (this.stopping) throw new HubError('NETWORK', 'hub is shutting down', { retry: 'retry' });
    const msg = validateInbound(input);
    if (!this.adapters.has(msg.channel)) throw new HubError('UNKNOWN_CHANNEL', `unknown channel "${msg.channel}"`, { context: { channel: msg.channel } });
    const res = await this.queues.addInbound(msg);
    this.metrics.messagesIn.inc({ channel: msg.channel });
    return res;
  }

  /** Long connections (polling, sockets, logins) under a Redis lease: one gateway at a time. */
  private startConnections(): void {
    const ttl = this.opts.leaseTtlMs ?? this.config.queues.leaseMs;
    const prefix = this.config.redis.prefix;
    const runnerDeps = this.runnerDeps;
    for (const a of this.adapters.values()) {
      if (a.connection !== 'long') continue;
      const keeper = new LeaseKeeper(new Lease(this.redis, `${prefix}:lease:channel:${a.channel}`, ttl), {
        onAcquire: async () => {
          this.log.info({ channel: a.channel }, 'lease acquired: connecting');
          await a.connect?.();
          if (a.sendNeedsConnection && runnerDeps) this.connectionWorkers.set(a.channel, outboundWorkers(runnerDeps, a.channel));
        },
        onLose: async () => {
          this.log.warn({ channel: a.channel }, 'lease lost: disconnecting');
          await Promise.all((this.connectionWorkers.get(a.channel) ?? []).map((w) => w.close()));
          this.connectionWorkers.delete(a.channel);
          await a.disconnect?.();
        },
        onError: (err) => this.log.warn({ channel: a.channel }, `lease: ${errorMessage(err)}`),
      });
      keeper.start();
      this.leases.push(keeper);
    }
    const desk = this.desk;
    if (desk?.connection === 'long') {
      const keeper = new LeaseKeeper(new Lease(this.redis, `${prefix}:lease:desk:${desk.name}`, ttl), {
        onAcquire: async () => desk.connect?.(),
        onLose: async () => desk.disconnect?.(),
        onError: (err) => this.log.warn({ desk: desk.name }, `lease: ${errorMessage(err)}`),
      });
      keeper.start();
      this.leases.push(keeper);
    }
  }

  private async closeWorker(w: Worker): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), this.opts.shutdownGraceMs ?? 10_000);
    });
    // BullMQ's close can wait forever on a main loop that lost its Redis mid-call; bound it.
    const done = await Promise.race([w.close().then(() => 'closed' as const, () => 'closed' as const), grace]);
    clearTimeout(timer);
    if (done === 'late') {
      this.log.warn({ queue: w.name }, 'worker did not finish in time; its jobs will be retried after their lock expires');
      void w.disconnect().catch(() => undefined);
    }
  }

  /** Graceful: stop taking work, let in-flight jobs finish (or return to the queue), close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.console?.close();
    const closing = closeServer(this.server);
    await Promise.all(this.leases.map((l) => l.stop().catch(() => undefined)));
    await Promise.all([...this.workers, ...[...this.connectionWorkers.values()].flat()].map((w) => this.closeWorker(w)));
    await this.direct?.close(this.opts.shutdownGraceMs ?? 10_000);
    for (const a of this.adapters.values()) await a.stop().catch((e) => this.log.warn(`stop ${a.channel}: ${errorMessage(e)}`));
    await this.desk?.stop().catch(() => undefined);
    await this.responder.close?.().catch(() => undefined);
    await closing;
    await this.bus?.close();
    for (const m of [this.webhooks, this.workflows, this.analytics]) await m?.close().catch(() => undefined);
    await this.queues?.close().catch(() => undefined);
    if (this.redis) this.redis.disconnect();
    await this.storage?.close().catch(() => undefined);
  }
}
