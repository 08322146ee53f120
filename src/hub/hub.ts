import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { HubConfig } from './config-schema.js';
import type { AdapterContext, ChannelAdapter } from '../core/adapter.js';
import type { AgentDesk, DeskJob } from '../core/desk.js';
import type { Responder } from '../core/responder.js';
import { HandOverResponder } from '../core/responder.js';
import { systemClock, type Clock } from '../core/clock.js';
import { HubError, errorMessage } from '../core/errors.js';
import { HubMetrics } from '../core/metrics.js';
import { openDb, migrate } from '../core/storage/db.js';
import { Store } from '../core/storage/store.js';
import { HubQueues, type OutboundJob } from '../core/queues/hub-queues.js';
import { createRedis } from '../core/queues/redis.js';
import { DESK_QUEUE, inboundQueueName, outboundQueueName } from '../core/queues/names.js';
import { Templates } from '../core/templates.js';
import { processInbound } from '../core/pipeline/inbound.js';
import { processOutbound } from '../core/pipeline/outbound.js';
import { validateInbound } from '../core/pipeline/validate.js';
import { AgentActions } from '../core/conversation/agent-actions.js';
import { Lease, LeaseKeeper } from '../core/lease.js';
import type { InboundMessage } from '../core/types.js';
import { adapterFactories, deskFactories } from '../adapters/registry.js';
import type { AdapterDeps, ChannelConfigBase, ChannelFactory } from '../adapters/define.js';
import { extractiveSummary } from '../core/conversation/summary.js';
import type { DeskContext } from '../core/desk.js';
import type { Button, MessageAuthor } from '../core/types.js';
import { parseJson } from '../core/storage/json.js';
import { Router, sendJson } from '../http/router.js';
import { RedisBus } from './bus.js';
import { startWorker, steer } from './workers.js';

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
  log?: Logger;
  clock?: Clock;
  /** How long a long-connection lease lives without renewal (default 15 s). */
  leaseTtlMs?: number;
  /** How old a pending outbound row must be before the sweeper re-queues it (default 60 s). */
  sweepAfterMs?: number;
  /**
   * How long stop() waits for in-flight jobs (default 10 s). Past it the hub closes anyway: an
   * unfinished job keeps its lock until it expires and is then retried by another worker.
   */
  shutdownGraceMs?: number;
}

/**
 * The composition root: storage, Redis, queues, adapters, workers, HTTP. One class, three roles:
 * `start` (everything), `worker` (queue workers), `gateway` (HTTP + channel connections).
 */
export class Hub {
  readonly log: Logger;
  readonly metrics = new HubMetrics();
  readonly router = new Router();
  readonly adapters = new Map<string, ChannelAdapter>();
  readonly role: Role;
  readonly clock: Clock;
  store!: Store;
  queues!: HubQueues;
  redis!: Redis;
  bus!: RedisBus;
  templates!: Templates;
  agentActions!: AgentActions;
  responder: Responder = new HandOverResponder();
  desk: AgentDesk | undefined;
  private server: Server | undefined;
  private readonly workers: Worker[] = [];
  private readonly connectionWorkers = new Map<string, Worker>();
  private readonly leases: LeaseKeeper[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  private stopping = false;

  private constructor(readonly opts: HubOptions) {
    this.role = opts.role ?? 'start';
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? pino({ level: opts.config.logLevel, redact: ['*.token', '*.apiKey', '*.secret', '*.password'] });
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
    const configDir = this.opts.configDir ?? 'config';
    this.templates = Templates.load(join(configDir, 'templates', 'core.yaml'));

    const db = openDb(cfg.storage.url);
    this.store = new Store(db, this.clock);
    await migrate(db);

    this.redis = createRedis(cfg.redis.url);
    this.redis.on('error', (err) => this.log.warn(`redis: ${errorMessage(err)}`));
    await this.waitForRedis();
    this.bus = new RedisBus(this.redis, cfg.redis.prefix);
    this.queues = new HubQueues(this.redis, { prefix: cfg.redis.prefix, ...cfg.queues });
    this.agentActions = new AgentActions({
      store: this.store,
      queues: this.queues,
      templates: this.templates,
      log: this.log,
      now: () => this.clock.now(),
    });

    this.createAdapters();
    if (this.opts.responder) this.responder = this.opts.responder;
    else if (this.opts.responderFactory) this.responder = await this.opts.responderFactory(this);
    this.desk = this.opts.desk ?? this.createDesk();

    const serves = this.role !== 'worker';
    if (serves) this.mountOps();
    const ctx = this.adapterContext();
    for (const a of this.adapters.values()) await a.mount(ctx);
    if (this.desk) await this.desk.mount(this.deskContext(this.desk.name));

    if (this.role !== 'gateway') await this.startWorkers();
    if (this.role !== 'worker') this.startConnections();
    if (serves) await this.listen();
  }

  private async waitForRedis(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.redis.ping();
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new HubError('NETWORK', `Redis at ${this.config.redis.url} does not answer: ${errorMessage(err)}`, { cause: err });
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** The registered factories whose `channels.<name>` section is enabled, each with its section. */
  private enabled<T>(factories: readonly ChannelFactory<T>[]): { f: ChannelFactory<T>; section: ChannelConfigBase }[] {
    const channels = this.config.channels as Record<string, ChannelConfigBase | undefined>;
    return factories.flatMap((f) => {
      const section = channels[f.channel];
      return section?.enabled ? [{ f, section }] : [];
    });
  }

  private depsFor(channel: string): AdapterDeps {
    return {
      log: this.log.child({ channel }),
      dataDir: this.config.dataDir,
      ...(this.config.server.publicUrl ? { publicUrl: this.config.server.publicUrl } : {}),
    };
  }

  private createAdapters(): void {
    for (const { f, section } of this.enabled(adapterFactories)) {
      this.adapters.set(f.channel, f.create(section, this.depsFor(f.channel)));
    }
    for (const a of this.opts.adapters ?? []) this.adapters.set(a.channel, a);
  }

  private createDesk(): AgentDesk | undefined {
    const first = this.enabled(deskFactories)[0];
    return first?.f.create(first.section, this.depsFor(first.f.channel));
  }

  deskContext(name: string): DeskContext {
    return {
      http: this.router,
      log: this.log.child({ desk: name }),
      store: this.store,
      actions: this.agentActions,
      templates: this.templates,
      schedule: (job, jobId, delayMs) => this.queues.addDesk(job, jobId, delayMs),
      suggest: (text, locale, n) => this.responder.suggest?.(text, locale, n) ?? [],
      summarize: async (msgs, locale) => {
        if (this.responder.summarize) {
          try {
            return await this.responder.summarize(msgs, locale);
          } catch (err) {
            this.log.warn(`LLM summary failed, using the extractive one: ${errorMessage(err)}`);
          }
        }
        return extractiveSummary(msgs, locale);
      },
      knowledgeDir: this.config.bot.knowledgeDir,
      now: () => this.clock.now(),
    };
  }

  adapterContext(): AdapterContext {
    return {
      accept: (m) => this.accept(m),
      http: this.router,
      bus: this.bus,
      log: this.log,
      history: async (channel, platformUserId, limit) => {
        const rows = await this.store.customerHistory(channel, platformUserId, limit);
        return rows.map((r) => ({
          id: r.id,
          author: r.author as MessageAuthor,
          ...(r.author_name ? { authorName: r.author_name } : {}),
          text: r.text,
          at: r.created_at,
          ...(r.buttons !== '[]' ? { buttons: parseJson<Button[]>(r.buttons, []) } : {}),
        }));
      },
    };
  }

  /** Validates and durably queues an inbound message; resolves once Redis has it. */
  async accept(input: InboundMessage): Promise<{ jobId: string }> {
    if (this.stopping) throw new HubError('NETWORK', 'hub is shutting down', { retry: 'retry' });
    const msg = validateInbound(input);
    if (!this.adapters.has(msg.channel)) {
      throw new HubError('UNKNOWN_CHANNEL', `unknown channel "${msg.channel}"`, { context: { channel: msg.channel } });
    }
    const res = await this.queues.addInbound(msg);
    this.metrics.messagesIn.inc({ channel: msg.channel });
    return res;
  }

  /** What every worker of this hub shares (concurrency is per queue). */
  private workerOptions(): { redis: Redis; prefix: string; log: Logger; lockMs: number } {
    return { redis: this.redis, prefix: this.config.redis.prefix, log: this.log, lockMs: this.config.queues.lockMs };
  }

  private async startWorkers(): Promise<void> {
    const cfg = this.config;
    const common = this.workerOptions();
    await this.queues.ensurePartitionConcurrency();
    const inboundDeps = {
      store: this.store,
      queues: this.queues,
      responder: () => this.responder,
      templates: this.templates,
      log: this.log,
      maxStrikes: cfg.bot.maxStrikes,
      reopenWindowMs: cfg.escalation.reopenWindowMinutes * 60_000,
      now: () => this.clock.now(),
    };
    for (let p = 0; p < cfg.queues.partitions; p++) {
      this.workers.push(
        startWorker<InboundMessage>(
          inboundQueueName(p),
          steer('inbound', (m) => processInbound(inboundDeps, m), this.log, this.metrics),
          { ...common, concurrency: 1 },
        ),
      );
    }
    for (const a of this.adapters.values()) {
      if (!a.sendNeedsConnection) this.workers.push(this.outboundWorker(a.channel));
    }
    if (this.desk) {
      const desk = this.desk;
      this.workers.push(
        startWorker<DeskJob>(DESK_QUEUE, steer('desk', (j) => desk.handle(j), this.log, this.metrics), {
          ...common,
          concurrency: 8,
        }),
      );
    }
    const sweepAfter = this.opts.sweepAfterMs ?? 60_000;
    this.sweeper = setInterval(() => void this.sweep(sweepAfter), Math.max(1000, Math.floor(sweepAfter / 2)));
  }

  private outboundWorker(channel: string): Worker {
    const deps = {
      store: this.store,
      queues: this.queues,
      adapter: (c: string) => this.adapters.get(c),
      metrics: this.metrics,
      log: this.log,
      now: () => this.clock.now(),
    };
    return startWorker<OutboundJob>(
      outboundQueueName(channel),
      steer(
        'outbound',
        async (job) => {
          const out = await processOutbound(deps, job);
          if (this.desk && out.status !== 'already-sent') {
            const row = await this.store.getMessage(job.messageId);
            if (row?.author === 'agent') {
              await this.queues.addDesk(
                {
                  type: 'delivery',
                  conversationId: row.conversation_id,
                  messageId: row.id,
                  status: out.status,
                  ...(out.status === 'failed' ? { error: out.error.message } : {}),
                },
                `delivery-${row.id}`,
              );
            }
          }
        },
        this.log,
        this.metrics,
      ),
      { ...this.workerOptions(), concurrency: this.config.queues.outboundConcurrency },
    );
  }

  /** Re-queues outbound rows whose send job was lost (a crash between commit and enqueue). */
  private async sweep(olderThanMs: number): Promise<void> {
    try {
      // Re-assert the ordering setting: a Redis that lost its data (restart without persistence) forgets it.
      await this.queues.ensurePartitionConcurrency();
      for (const row of await this.store.pendingOutbound(olderThanMs)) await this.queues.addOutbound(row.channel, row.id);
    } catch (err) {
      this.log.warn(`outbound sweep failed: ${errorMessage(err)}`);
    }
  }

  /** Long connections (polling, sockets, logins) under a Redis lease: one gateway at a time. */
  private startConnections(): void {
    const ttl = this.opts.leaseTtlMs ?? 15_000;
    const prefix = this.config.redis.prefix;
    for (const a of this.adapters.values()) {
      if (a.connection !== 'long') continue;
      const keeper = new LeaseKeeper(new Lease(this.redis, `${prefix}:lease:channel:${a.channel}`, ttl), {
        onAcquire: async () => {
          this.log.info({ channel: a.channel }, 'lease acquired: connecting');
          await a.connect?.();
          if (a.sendNeedsConnection) this.connectionWorkers.set(a.channel, this.outboundWorker(a.channel));
        },
        onLose: async () => {
          this.log.warn({ channel: a.channel }, 'lease lost: disconnecting');
          await this.connectionWorkers.get(a.channel)?.close();
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

  private mountOps(): void {
    this.router.route('GET', '/healthz', (_req, res) => sendJson(res, 200, { ok: true }));
    this.router.route('GET', '/readyz', async (_req, res) => {
      const checks: Record<string, string> = {};
      await this.store.ping().then(
        () => (checks.storage = 'ok'),
        (e) => (checks.storage = errorMessage(e)),
      );
      await this.redis.ping().then(
        () => (checks.redis = 'ok'),
        (e) => (checks.redis = errorMessage(e)),
      );
      const ok = Object.values(checks).every((v) => v === 'ok') && !this.stopping;
      sendJson(res, ok ? 200 : 503, { ok, ...checks });
    });
    this.router.route('GET', '/metrics', async (_req, res) => {
      try {
        for (const [q, n] of Object.entries(await this.queues.depths())) this.metrics.queueDepth.set({ queue: q }, n);
      } catch {
        // Redis away: serve the rest.
      }
      const text = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(text);
    });
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.router.handle(req, res).catch((err) => this.log.error({ url: req.url }, `http handler failed: ${errorMessage(err)}`));
    });
    server.on('upgrade', (req, socket, head) => this.router.handleUpgrade(req, socket, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new HubError('NETWORK', `cannot listen on ${this.config.server.host}:${this.config.server.port}: ${err.message}`)),
      );
      server.listen(this.config.server.port, this.config.server.host, () => resolve());
    });
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
    if (this.sweeper) clearInterval(this.sweeper);
    const closing = this.server
      ? new Promise<void>((r) => {
          this.server?.close(() => r());
          this.server?.closeIdleConnections();
          setTimeout(() => {
            this.server?.closeAllConnections();
            r();
          }, 2000).unref();
        })
      : Promise.resolve();
    await Promise.all(this.leases.map((l) => l.stop().catch(() => undefined)));
    await Promise.all([...this.workers, ...this.connectionWorkers.values()].map((w) => this.closeWorker(w)));
    for (const a of this.adapters.values()) await a.stop().catch((e) => this.log.warn(`stop ${a.channel}: ${errorMessage(e)}`));
    await this.desk?.stop().catch(() => undefined);
    await this.responder.close?.().catch(() => undefined);
    await closing;
    await this.bus?.close();
    await this.queues?.close().catch(() => undefined);
    if (this.redis) this.redis.disconnect();
    await this.store?.close().catch(() => undefined);
  }
}
