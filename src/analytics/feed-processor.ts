/**
 * The analytics feed's runs in a worker thread (src/analytics/feed.ts, "Where it runs"): BullMQ's
 * sandbox thread imports this module (through feed-thread.mjs) and calls its default export with
 * each tick's job. The thread opens its own storage once, on its first job, with the database URL
 * and the PII codec the hub handed it in `workerData.feed`: on SQLite a second connection to the
 * same file (WAL: readers never wait; a write waits for the hub's commit through busy_timeout), on
 * PostgreSQL its own small pool. A failed open is tried again on the next job.
 *
 * The thread ends when the hub closes the feed's worker (BullMQ asks it to finish its run and
 * exit) or when it crashes; its connection ends with it (better-sqlite3 closes its databases when
 * the thread's environment is torn down, an open transaction rolls back; PostgreSQL's sockets close
 * with the thread's event loop).
 */
import { threadId, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '../core/thread-priority.js';
import type { PiiCodec } from '../core/storage/pii.js';
import { Storage } from '../core/storage/storage.js';
import { segmenterLoaded } from '../knowledge/tokenize.js';
import { feedDefaults, feedOnce, type FeedJobResult, type FeedOptions } from './feed-run.js';
import { defaultFoldOptions } from './rebuild.js';
import { RemoteTerms } from './remote-terms.js';

/** The feed's options as they cross to the thread (the fold's terms are always the default). */
export type PlainFeedOptions = Partial<Omit<FeedOptions, 'fold'>> & { idleMs?: number; lowConfidence?: number };

/** `workerData.feed`: what the hub hands the thread. */
export interface FeedThreadData {
  /** This module's URL (feed-thread.mjs imports it), or its bundle's (src/core/thread-bundle.ts). */
  processor: string;
  /** With a bundle: the TypeScript sources, which the thread loads through tsx when the bundle is gone. */
  sources?: { processor: string; codec?: string };
  /** The database URL. */
  url: string;
  /** PostgreSQL's named prepared statements (default on). */
  preparedStatements?: boolean;
  /** Where the PII codec comes from: `module` exports `name`, called with `arg`. None: plaintext. */
  codec?: { module: string; name: string; arg?: unknown };
  /** The hub's terms channel (remote-terms.ts `serveTerms`); none: the thread computes terms itself. */
  termsChannel?: string;
  options: PlainFeedOptions;
}

let remote: RemoteTerms | undefined;

let opening: Promise<Storage> | undefined;

/** The feed thread's SQLite page cache: a tick's rebuilds touch the recent pages of a few tables. */
const FEED_CACHE_MB = 16;

function storage(data: FeedThreadData): Promise<Storage> {
  opening ??= open(data).catch((err: unknown) => {
    opening = undefined;
    throw err;
  });
  return opening;
}

async function open(data: FeedThreadData): Promise<Storage> {
  let pii: PiiCodec | undefined;
  if (data.codec) {
    const mod = (await import(data.codec.module)) as Record<string, unknown>;
    const make = mod[data.codec.name];
    if (typeof make !== 'function') throw new Error(`analytics feed thread: ${data.codec.module} exports no function ${data.codec.name}`);
    pii = (await (make as (arg: unknown) => PiiCodec | Promise<PiiCodec>)(data.codec.arg)) ?? undefined;
  }
  // The hub's own connection runs the file's checkpoint thread; this reader-writer needs no second
  // one (a thread and 0.5 s of CPU per start) nor the hub's 64 MiB page cache.
  return Storage.open(data.url, {
    ...(pii ? { pii } : {}),
    ...(data.preparedStatements !== undefined ? { preparedStatements: data.preparedStatements } : {}),
    sqlite: { checkpointer: false, cacheMb: FEED_CACHE_MB },
  });
}

/** One tick's run, in this thread; `signal`: BullMQ's cancel (the hub stopping) ends it between two rebuilds. */
export default async function feedInThread(_job: unknown, _token?: string, signal?: AbortSignal): Promise<FeedJobResult> {
  // The read models are background work: the hub's loop and Redis first when the cores are busy
  // (bench/pipeline.ts, four alternated pairs: 875 -> 924 msg/s, p99 at 500 msg/s 56 -> 38 ms).
  lowerThreadPriority();
  const data = (workerData as { feed: FeedThreadData }).feed;
  const s = await storage(data);
  const { idleMs, lowConfidence, ...rest } = data.options;
  if (data.termsChannel) remote ??= new RemoteTerms(data.termsChannel);
  const terms = remote ? { terms: remote.terms, fetchTerms: remote.fetchTerms } : {};
  const fold = { ...defaultFoldOptions, ...terms, ...(idleMs !== undefined ? { idleMs } : {}), ...(lowConfidence !== undefined ? { lowConfidence } : {}) };
  const run = await feedOnce(s, { ...feedDefaults(s.dialect), shareCommits: false, ...rest, fold }, signal);
  return { ...run, threadId, segmenter: segmenterLoaded(), bundle: !import.meta.url.endsWith('.ts') };
}
