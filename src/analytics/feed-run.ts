/**
 * One run of the analytics feed (`feedOnce`) and its options: what src/analytics/feed.ts schedules,
 * in the hub's worker thread (src/analytics/feed-processor.ts) or on the caller's event loop. Kept
 * apart from the scheduling so the thread loads only this, the rebuild and the storage (no BullMQ,
 * no Redis client). The guarantees are written at the top of feed.ts.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Storage } from '../core/storage/storage.js';
import type { FoldOptions } from './fold.js';
import { ANALYTICS_EVENTS, defaultFoldOptions, rebuildConversation } from './rebuild.js';

/** The watermark's name in `analytics_feed`. */
export const FEED_NAME = 'events';
/** How often the feed runs by default: the read models' freshness against what they cost. */
export const FEED_EVERY_MS = 5000;

export interface FeedOptions {
  /**
   * How far before the watermark each run reads again, for events that committed late.
   * @defaultValue 5,000 ms on PostgreSQL, 1,000 ms on SQLite (one writer)
   */
  safetyMs: number;
  /** Events read per page. @defaultValue 2000 */
  pageSize: number;
  /** A run stops after the page that ends past this many ms (the next tick goes on). @defaultValue 20,000 */
  budgetMs: number;
  /**
   * SQLite: whether a batch's rebuilds share commits (storage's group commit, one commit per batch).
   * Yes on the hub's own connection, where a commit was most of a rebuild's cost; no in the feed's
   * thread (feed-processor.ts): there a shared commit holds the database's write lock, and so every
   * commit of the hub's connection, for the whole batch; one rebuild per commit holds it for one.
   * @defaultValue true
   */
  shareCommits: boolean;
  fold: FoldOptions;
}

export function feedDefaults(dialect: 'sqlite' | 'postgres'): FeedOptions {
  return { safetyMs: dialect === 'postgres' ? 5000 : 1000, pageSize: 2000, budgetMs: 20_000, shareCommits: true, fold: defaultFoldOptions };
}

export interface FeedRun {
  /** Events read (the safety window's included). */
  events: number;
  /** Conversations rebuilt. */
  rebuilt: number;
  /** The watermark after the run (null: no event yet). */
  watermark: number | null;
  /** Whether it stopped at its budget, or when told to (`signal`), with events left to read. */
  more: boolean;
}

/**
 * What a feed job returns: the run, the thread that ran it (0: the main thread) and, from a
 * thread, whether it loaded its own Chinese segmenter (remote-terms.ts: it should not) and whether
 * its code came from a bundle (src/core/thread-bundle.ts) rather than TypeScript compiled in the thread.
 */
export interface FeedJobResult extends FeedRun {
  threadId: number;
  segmenter?: boolean;
  bundle?: boolean;
}

/**
 * One run of the feed: reads the events since the watermark and rebuilds the conversations they touch.
 * `signal` (the hub stopping) ends it between two rebuilds: the watermark stays before the page it
 * was in, so the next run rebuilds the rest.
 */
export async function feedOnce(storage: Storage, opts: FeedOptions = feedDefaults(storage.dialect), signal?: AbortSignal): Promise<FeedRun> {
  const started = performance.now();
  let watermark = await storage.analytics.feedWatermark(FEED_NAME);
  let after: { at: number; id?: number } = { at: watermark === null ? Number.MIN_SAFE_INTEGER : watermark - opts.safetyMs };
  const run: FeedRun = { events: 0, rebuilt: 0, watermark, more: false };
  for (;;) {
    const page = await storage.analytics.feedEvents(after, ANALYTICS_EVENTS, opts.pageSize);
    run.events += page.length;
    const last = page[page.length - 1];
    if (!last) break;
    const spans = new Map<string, { minId: number; maxId: number }>();
    for (const e of page) {
      const s = spans.get(e.conversationId);
      if (s) {
        s.minId = Math.min(s.minId, e.id);
        s.maxId = Math.max(s.maxId, e.id);
      } else spans.set(e.conversationId, { minId: e.id, maxId: e.id });
    }
    const done = await rebuildMany(storage, await storage.analytics.stale(spans), opts, signal);
    run.rebuilt += done.rebuilt;
    if (!done.all) {
      run.more = true;
      break;
    }
    // Every conversation with an event up to `last` is rebuilt from all its events: the watermark may move there.
    if (watermark === null || last.at > watermark) {
      watermark = last.at;
      await storage.analytics.setFeedWatermark(FEED_NAME, watermark);
    }
    if (page.length < opts.pageSize) break;
    after = { at: last.at, id: last.id };
    if (performance.now() - started > opts.budgetMs || signal?.aborted) {
      run.more = true;
      break;
    }
  }
  run.watermark = watermark;
  return run;
}

/**
 * Rebuilds a page's conversations in batches, and leaves the workers of this process most of the
 * event loop: after each batch it pauses (REBUILD_DUTY of the time rebuilding at most), so a tick
 * with thousands of conversations to rebuild stretches over seconds instead of stalling every
 * message behind it (bench/pipeline.ts: p99 at 500 msg/s offered).
 * SQLite: a batch's rebuilds go in together, so they share commits (storage's group commit): one
 * commit per batch instead of one each (a commit was most of a rebuild's cost), unless
 * `shareCommits` is off (the feed's thread: there it pauses after each rebuild, so the hub's own
 * connection finds the write lock free between two). They still run one after another on the one
 * connection, so two rebuilds of one customer never interleave.
 * PostgreSQL: one at a time, as a rebuild settles its customer's other cases.
 */
async function rebuildMany(storage: Storage, ids: readonly string[], opts: FeedOptions, signal?: AbortSignal): Promise<{ rebuilt: number; all: boolean }> {
  const { fold } = opts;
  const together = storage.dialect === 'sqlite' && opts.shareCommits ? REBUILD_BATCH : 1;
  // Another SQLite connection (the feed's thread): the hub's connection gets the write lock only
  // between two of its transactions, so it pauses after each one instead of after each batch.
  const eachAlone = storage.dialect === 'sqlite' && !opts.shareCommits;
  const pause = (spent: number) => sleep((spent * (1 - REBUILD_DUTY)) / REBUILD_DUTY, undefined, signal ? { signal } : {}).catch(() => undefined);
  let rebuilt = 0;
  for (let i = 0; i < ids.length; i += REBUILD_BATCH) {
    const started = performance.now();
    const batch = ids.slice(i, i + REBUILD_BATCH);
    for (let j = 0; j < batch.length; j += together) {
      // A turn of the event loop first: on SQLite a rebuild never waits for I/O, so the message that
      // aborts `signal` (BullMQ's cancel, posted to the thread) would otherwise wait for the run's end.
      if (signal) await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) return { rebuilt, all: false };
      const some = batch.slice(j, j + together);
      const t = performance.now();
      await Promise.all(some.map((id) => rebuildConversation(storage, id, fold)));
      rebuilt += some.length;
      if (eachAlone && rebuilt < ids.length) await pause(performance.now() - t);
    }
    if (!eachAlone && i + REBUILD_BATCH < ids.length) {
      await pause(performance.now() - started);
    }
  }
  return { rebuilt, all: true };
}

/** Conversations rebuilt per batch (on SQLite together: one commit when the group commit takes them all). */
const REBUILD_BATCH = 32;
/** The share of its time the feed spends rebuilding while it has more to rebuild (the rest it pauses). */
const REBUILD_DUTY = 0.25;
