/**
 * The analytics feed: the read models follow the event log instead of subscribing to each event.
 * A BullMQ job scheduler (queue `analytics-feed`, every `FEED_EVERY_MS`; durable, never a process timer)
 * runs `feedOnce`: it reads the analytics events written since the stored watermark, minus a safety
 * window, and rebuilds the conversations they touch that their last rebuild did not fully read
 * (`rebuildConversation` is idempotent; a conversation already up to date is skipped), then moves
 * the watermark. The message pipeline pays nothing for it: nobody subscribes to these events, so
 * the core writes them in one statement with no subscriber job and no receipt.
 *
 * Guarantees:
 * - Nothing is lost on a crash: the watermark moves only after the rebuilds of everything up to it
 *   committed; a job that dies leaves it where it was, and its retry (or the next tick) reads the
 *   same events again.
 * - Late commits: an event's `created_at` is stamped before its transaction commits, so an event can
 *   appear below a watermark already stored; every run reads again from `safetyMs` before the
 *   watermark (also covering clock skew between processes). An event that commits more than
 *   `safetyMs` after it was stamped is missed until its conversation's next event (or `rebuildAll`).
 * - Several workers: the scheduler makes one job per tick across them, and the queue's global
 *   concurrency of 1 keeps two runs from overlapping; rebuilds are serialized per conversation
 *   anyway, and the watermark never moves back.
 * - Freshness: the read models trail the events by up to `everyMs` plus the run's time.
 *
 * Cost: a run rebuilds each conversation touched since the last one once, however many events it
 * had, so a longer interval coalesces more under load: bench/analytics-pipeline.ts (500 customers
 * writing at once) lost a quarter of the SQLite pipeline's throughput with a 2 s tick and none
 * measurable with 5 s (docs/analytics.md, "Speed"); at ordinary rates (a turn every few seconds per
 * conversation) it is one rebuild per turn either way.
 *
 * Where it runs (issue #19): the hub's event loop is its throughput limit, so the feed's runs go to a
 * worker thread (BullMQ's sandboxed processor, `useWorkerThreads`): src/analytics/feed-thread.mjs
 * loads src/analytics/feed-processor.ts there, which opens its own connection to the hub's database
 * (`thread.url`, with the hub's PII keys through `thread.codec`) and runs `feedOnce`. The hub's loop
 * keeps only the BullMQ worker (fetching the tick's job, renewing its lock, passing a message).
 * Everything above holds as before: the watermark moves in the thread after its commits; the queue,
 * its global concurrency and the scheduler are the same; a thread that crashes or exits fails its job
 * (logged), and its next attempt (1 s later; 3 in all, then the next tick) gets a new thread, which
 * reads the same events again; the pacing (feed-run.ts `rebuildMany`) is the same. On SQLite the
 * thread commits one rebuild at a time (`shareCommits: false`): the hub's synchronous connection
 * waits, with its event loop, while the thread holds the write lock, so the thread never holds it
 * for a batch.
 * `storage` instead of `thread` runs on the caller's loop (tests; an in-memory SQLite database, which
 * another connection cannot open).
 */
import { randomUUID } from 'node:crypto';
import { extname } from 'node:path';
import { threadId } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { Storage } from '../core/storage/storage.js';
import { FEED_EVERY_MS, feedDefaults, feedOnce, type FeedJobResult, type FeedOptions } from './feed-run.js';
import type { FeedThreadData, PlainFeedOptions } from './feed-processor.js';
import { bundleForThread } from '../core/thread-bundle.js';
import { defaultFoldOptions } from './rebuild.js';
import { serveTerms } from './remote-terms.js';

export { FEED_EVERY_MS, FEED_NAME, feedDefaults, feedOnce, type FeedJobResult, type FeedOptions, type FeedRun } from './feed-run.js';

export const FEED_QUEUE = 'analytics-feed';

/** The feed's thread: its own connection to the hub's database. */
export interface FeedThread {
  /** The database URL (the hub's `storage.url`). */
  url: string;
  /** PostgreSQL's named prepared statements (the hub's `storage.preparedStatements`; default on). */
  preparedStatements?: boolean;
  /**
   * The PII codec of the thread's storage: `module` (a file URL) exports `name`, a function called
   * with `arg` (the hub's: src/hub/pii.ts `hubPiiCodec`, the same keys from the same environment or
   * key file). None: plaintext.
   */
  codec?: { module: string; name: string; arg?: unknown };
}

interface FeedCommon {
  redis: Redis;
  prefix: string;
  log: Logger;
  /** How often the feed runs. @defaultValue FEED_EVERY_MS */
  everyMs?: number;
  /** In a thread the fold's `terms` must be the default (a function does not cross to the thread). */
  options?: Partial<FeedOptions>;
}

/** Either a thread (the hub's default) or `storage`, on this event loop. */
export type FeedDeps = FeedCommon & ({ thread: FeedThread; storage?: undefined } | { storage: () => Storage; thread?: undefined });

/** Tries of one tick's run (a failed one again after 1 s, then 2 s): a crashed thread costs seconds, not a tick. */
const FEED_ATTEMPTS = 3;

/** The processor BullMQ's thread imports: the compiled file next to this one (`.ts` under tsx). */
const PROCESSOR = new URL(`./feed-processor${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
/** The thread's entry: plain JavaScript, registers tsx in the thread when the processor is TypeScript. */
const THREAD_ENTRY = new URL('./feed-thread.mjs', import.meta.url);

/**
 * The thread's processor and codec module: one esbuild bundle when they are TypeScript
 * (src/core/thread-bundle.ts), with the sources to fall back on; as they are otherwise.
 */
async function threadCode(thread: FeedThread, log: Logger): Promise<Omit<FeedThreadData, 'options' | 'termsChannel'>> {
  const codec = thread.codec?.module;
  const bundled = await bundleForThread(codec ? [PROCESSOR, codec] : [PROCESSOR], (message) => log.warn(`analytics feed: the thread's bundle was not built (the thread compiles its TypeScript with tsx instead): ${message}`));
  const processor = bundled.get(PROCESSOR);
  if (!processor) return { processor: PROCESSOR, ...thread };
  const codecBundle = codec ? bundled.get(codec) : undefined;
  return {
    ...thread,
    processor,
    ...(thread.codec ? { codec: { ...thread.codec, module: codecBundle ?? thread.codec.module } } : {}),
    sources: { processor: PROCESSOR, ...(codec ? { codec } : {}) },
  };
}

/** The options that cross to the thread (structured clone: no functions). */
function plainOptions(o: Partial<FeedOptions> = {}): PlainFeedOptions {
  const { fold, ...rest } = o;
  if (fold && fold.terms !== defaultFoldOptions.terms) throw new Error('analytics feed: a thread folds with the default terms only');
  return { ...rest, ...(fold ? { idleMs: fold.idleMs, lowConfidence: fold.lowConfidence } : {}) };
}

/**
 * The feed thread's young generation, capped (V8's default lets it grow to 32 MB or more): the
 * thread rebuilds one conversation at a time, whose garbage is small, and the resident memory it
 * saves counts more than the extra scavenges of a thread that runs at nice 10 anyway.
 */
const FEED_THREAD_LIMITS = { maxYoungGenerationSizeMb: 8 };

/** Upserts the feed's job scheduler and starts its worker (roles start and worker). */
export async function startAnalyticsFeed(d: FeedDeps): Promise<{ worker: Worker; close(): Promise<void> }> {
  const queue = new Queue(FEED_QUEUE, { connection: d.redis, prefix: d.prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: 100 } });
  queue.on('error', () => undefined);
  await queue.setGlobalConcurrency(1);
  const every = d.everyMs ?? FEED_EVERY_MS;
  // A new schedule's first run is one interval away, not at once: the read models trail the events
  // by up to an interval anyway, and a starting hub does not boot the feed's thread (a second of
  // CPU) while it starts, nor wait for that boot when it is stopped right away. An existing
  // schedule (another process, a restart) keeps its own times: BullMQ ignores startDate then.
  await queue.upsertJobScheduler('poll', { every, startDate: Date.now() + every }, { name: 'poll', opts: { attempts: FEED_ATTEMPTS, backoff: { type: 'exponential', delay: 1000 } } });
  const common = { connection: d.redis, prefix: d.prefix, concurrency: 1 };
  let worker: Worker;
  let terms: { close(): void } | undefined;
  if (d.thread) {
    // The thread asks this one for question terms instead of loading jieba itself (remote-terms.ts).
    const termsChannel = `switchboard-feed-terms:${process.pid}:${threadId}:${randomUUID()}`;
    terms = serveTerms(termsChannel);
    const feed: FeedThreadData = { ...(await threadCode(d.thread, d.log)), termsChannel, options: plainOptions(d.options) };
    worker = new Worker(FEED_QUEUE, THREAD_ENTRY, { ...common, useWorkerThreads: true, workerThreadsOptions: { workerData: { feed }, resourceLimits: FEED_THREAD_LIMITS } });
  } else {
    const storage = d.storage;
    worker = new Worker(
      FEED_QUEUE,
      async (_job: Job, _token?: string, signal?: AbortSignal): Promise<FeedJobResult> => {
        const s = storage();
        return { ...(await feedOnce(s, { ...feedDefaults(s.dialect), ...d.options }, signal)), threadId };
      },
      common,
    );
  }
  // Closing (the hub stopping): the run in progress ends after its current rebuild (feedOnce's
  // `signal`), so the worker's close waits for one rebuild, not for a run of up to `budgetMs`.
  let closing = false;
  worker.on('closing', () => {
    closing = true;
    worker.cancelAllJobs('the hub is stopping');
  });
  worker.on('completed', (_job, run: FeedJobResult) => {
    if (run.more && !closing) d.log.info({ events: run.events, rebuilt: run.rebuilt }, 'analytics: the feed is catching up');
  });
  worker.on('error', (err) => d.log.warn({ queue: FEED_QUEUE }, `worker error: ${errorMessage(err)}`));
  worker.on('failed', (job, err) => {
    const again = (job?.attemptsMade ?? FEED_ATTEMPTS) < FEED_ATTEMPTS ? 'tried again in a second or two' : 'the next tick reads the same events again';
    d.log.warn({ queue: FEED_QUEUE, jobId: job?.id, attempt: job?.attemptsMade }, `analytics feed run failed (${again}): ${errorMessage(err)}`);
  });
  return {
    worker,
    close: async () => {
      terms?.close();
      await queue.close().catch(() => undefined);
    },
  };
}
