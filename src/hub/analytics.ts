/**
 * Wires service analytics into the hub (issue #17): the feed that keeps the read models (a job
 * scheduler reading the event log, roles start and worker; no event subscriber, so the message
 * pipeline pays nothing for it; its runs in a worker thread, `feedThread`), the `/api/analytics/*`
 * endpoints, the dashboard at `/console/dashboard` and bull-board at `/console/queues` when the hub
 * serves HTTP (roles start and gateway), and the daily Slack summary's scheduler and worker (roles
 * start and worker, when `analytics.dailySummary` and `channels.slack` are set). Everything is
 * behind `guard` (role admin); without one, API bearer tokens (`api.tokens`) decide.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { WebClient } from '@slack/web-api';
import type { Clock } from '../core/clock.js';
import { DESK_QUEUE, EVENTS_QUEUE, MAINTENANCE_QUEUE, inboundQueueName, outboundQueueName } from '../core/queues/names.js';
import type { Storage } from '../core/storage/storage.js';
import type { HttpSurface } from '../http/surface.js';
import type { TokenAuth } from '../api/tokens.js';
import type { HubConfig } from './config-schema.js';
import { bearerGuard, type Guard } from '../analytics/guard.js';
import { AnalyticsKpis } from '../analytics/kpis.js';
import { defaultFoldOptions } from '../analytics/rebuild.js';
import { FEED_QUEUE, startAnalyticsFeed, type FeedThread } from '../analytics/feed.js';
import { mountAnalyticsApi } from '../analytics/routes.js';
import { mountDashboard } from '../analytics/dashboard.js';
import { mountQueuesBoard, type QueuesBoard } from '../analytics/queues-board.js';
import { startDailySummary, type SummaryPoster } from '../analytics/summary.js';

/** What the wiring takes of the hub (the Hub itself, without importing it: no cycle). */
export interface AnalyticsHost {
  readonly config: HubConfig;
  readonly role: 'start' | 'worker' | 'gateway';
  readonly storage: Storage;
  readonly redis: Redis;
  readonly log: Logger;
  readonly clock: Clock;
  readonly router: HttpSurface;
  readonly tokenAuth: TokenAuth;
  /** The channels this hub runs (their outbound queues are listed on the queues board). */
  readonly adapters: ReadonlyMap<string, unknown>;
  /** The hub's options: with migrations of its own, the feed stays on this loop (`feedThread`). */
  readonly opts?: { readonly migrations?: readonly unknown[] };
}

/**
 * Where the feed runs (src/analytics/feed.ts, "Where it runs"): a worker thread with its own
 * connection to the hub's database and the hub's PII keys (`hubPiiCodec`, read again in the thread
 * from the same environment or key file: the hub has made the file by now), off the event loop
 * that carries the messages. On this loop only when another connection cannot see the hub's data:
 * an in-memory SQLite database, or a hub with migrations of its own (`opts.migrations`: the
 * thread's storage would refuse a database with migrations it does not know).
 */
function feedThread(hub: AnalyticsHost): FeedThread | undefined {
  const url = hub.config.storage.url;
  if (url === 'sqlite:' || url === 'sqlite::memory:' || (hub.opts?.migrations?.length ?? 0) > 0) return undefined;
  return { url, preparedStatements: hub.config.storage.preparedStatements, codec: { module: PII_MODULE, name: 'hubPiiCodec', arg: { dataDir: hub.config.dataDir, generate: false } } };
}

/** src/hub/pii.ts, as this process loads it (`.ts` under tsx). */
const PII_MODULE = new URL(`./pii${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;

export interface AnalyticsModule {
  kpis: AnalyticsKpis;
  /** The feed's worker and the summary's (roles start and worker; the summary when configured). */
  start(): Promise<Worker[]>;
  close(): Promise<void>;
}

/** Posts through the Slack Web API with the desk's bot token (`channels.slack`). */
function slackPoster(cfg: HubConfig): SummaryPoster | undefined {
  const slack = (cfg.channels as Record<string, { enabled?: boolean; botToken?: string; apiUrl?: string } | undefined>).slack;
  if (!slack?.enabled || !slack.botToken) return undefined;
  const client = new WebClient(slack.botToken, { ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}), retryConfig: { retries: 2 } });
  return async (channel, text) => {
    await client.chat.postMessage({ channel, text, mrkdwn: true, unfurl_links: false });
  };
}

export async function setupAnalytics(hub: AnalyticsHost, guard?: Guard): Promise<AnalyticsModule> {
  const cfg = hub.config.analytics;
  const foldOpts = { ...defaultFoldOptions, idleMs: cfg.idleMinutes * 60_000, lowConfidence: cfg.lowConfidence };
  const kpis = new AnalyticsKpis(hub.storage);
  const allow = guard ?? bearerGuard(hub.tokenAuth);
  const now = () => hub.clock.now();
  let board: QueuesBoard | undefined;
  if (hub.role !== 'worker') {
    hub.router.api((app) => mountAnalyticsApi(app, { kpis, guard: allow, timeZone: cfg.timezone, now }));
    hub.router.plugin((app) => {
      mountDashboard(app, { guard: allow });
      const known = [
        ...Array.from({ length: hub.config.queues.partitions }, (_, i) => inboundQueueName(i)),
        ...[...hub.adapters.keys()].map(outboundQueueName),
        EVENTS_QUEUE,
        MAINTENANCE_QUEUE,
        DESK_QUEUE,
        FEED_QUEUE,
      ];
      board = mountQueuesBoard(app, { guard: allow, redis: hub.redis, prefix: hub.config.redis.prefix, known });
    });
  }
  const closers: (() => Promise<void>)[] = [];
  return {
    kpis,
    start: async () => {
      if (hub.role === 'gateway') return [];
      const log = hub.log.child({ module: 'analytics' });
      const where = feedThread(hub);
      const feed = await startAnalyticsFeed({
        redis: hub.redis,
        prefix: hub.config.redis.prefix,
        log,
        everyMs: cfg.feedSeconds * 1000,
        options: { fold: foldOpts },
        ...(where ? { thread: where } : { storage: () => hub.storage }),
      });
      closers.push(feed.close);
      const summary = cfg.dailySummary;
      if (!summary) return [feed.worker];
      const post = slackPoster(hub.config);
      if (!post) {
        hub.log.warn('analytics.dailySummary is set but channels.slack is not enabled: no daily summary');
        return [feed.worker];
      }
      const s = await startDailySummary({ redis: hub.redis, prefix: hub.config.redis.prefix, cron: summary.cron, timeZone: cfg.timezone, channel: summary.slackChannel, kpis, post, log, now });
      closers.push(s.close);
      return [feed.worker, s.worker];
    },
    close: async () => {
      await board?.close();
      for (const c of closers) await c();
    },
  };
}
