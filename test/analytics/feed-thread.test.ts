/**
 * The analytics feed off the hub's event loop (issue #19), on both databases: with a hub running on
 * the hand-checked history (written sealed, with the test hubs' PII keys), the feed's runs happen in
 * a worker thread (every run's `threadId` is another thread's, never this one's) and give the
 * hand-checked numbers, sealed in the database under the hub's keys and read back by the hub, its
 * Chinese questions' terms asked of the hub's thread (the feed's thread loads no jieba); the
 * hub's stop ends the thread promptly. A thread killed in the middle of a rebuild fails its job,
 * which is logged and tried again in a new thread, which reads the same events again: nothing is
 * lost. A run told to stop (the hub stopping) ends between two rebuilds without moving the watermark
 * past what it did not rebuild.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { threadId } from 'node:worker_threads';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { QueueEvents } from 'bullmq';
import { ManualClock } from '../../src/core/clock.js';
import { isSealed } from '../../src/core/storage/pii.js';
import { AnalyticsKpis } from '../../src/analytics/kpis.js';
import { FEED_NAME, FEED_QUEUE, feedDefaults, feedOnce, startAnalyticsFeed, type FeedJobResult } from '../../src/analytics/feed.js';
import type { Storage } from '../../src/core/storage/storage.js';
import { parseRange } from '../../src/analytics/range.js';
import { questionTerms } from '../../src/analytics/terms.js';
import { DIALECTS, REDIS_URL, makeDb, uniqueName, type TestDb } from '../helpers/env.js';
import { cleanRedis, openHubStorage, startTestHub, until } from '../helpers/hub.js';
import { niceValues } from '../helpers/threads.js';
import { History, at } from './history.js';
import { seedHistory, seededStore } from './seed.js';

const NOW = at('2026-11-05T12:00:00Z');
const range = () => parseRange({ from: '2026-11-01', to: '2026-11-03' }, { timeZone: 'UTC', now: NOW });
/** The hand-checked totals (kpis.test.ts): cases, escalated, settled, bot-resolved, resolved, first contact, reopened, CSAT average, given, asked. */
const TOTALS = [4, 2, 4, 1, 2, 2, 1, 5, 1, 1];

async function totals(kpis: AnalyticsKpis): Promise<(number | null)[]> {
  const t = (await kpis.overview(range())).totals;
  return [t.cases, t.escalated, t.settled, t.botResolved, t.resolved, t.firstContact, t.reopened, t.csatAverage, t.csatGiven, t.csatAsked];
}

/** The feed's job results and failures as BullMQ reports them (from Redis: no hub internals). */
async function watchFeed(prefix: string): Promise<{ runs: (FeedJobResult & { jobId: string })[]; failures: string[]; close(): Promise<void> }> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const events = new QueueEvents(FEED_QUEUE, { connection, prefix, lastEventId: '0-0' });
  const runs: (FeedJobResult & { jobId: string })[] = [];
  const failures: string[] = [];
  events.on('completed', ({ jobId, returnvalue }) => runs.push({ ...((typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as FeedJobResult), jobId }));
  events.on('failed', ({ failedReason }) => failures.push(failedReason));
  await events.waitUntilReady();
  return {
    runs,
    failures,
    close: async () => {
      await events.close();
      connection.disconnect();
    },
  };
}

/** The stored values of a column of `analytics_cases`, as they are on disk. */
async function rawColumn(db: TestDb, column: 'question' | 'customer_id'): Promise<string[]> {
  const query = `select ${column} as v from analytics_cases`;
  if (db.url.startsWith('sqlite:')) {
    const d = new Database(db.url.slice('sqlite:'.length), { readonly: true });
    try {
      return (d.prepare(query).all() as { v: string }[]).map((r) => r.v);
    } finally {
      d.close();
    }
  }
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query<{ v: string }>(query)).rows.map((r) => r.v);
  } finally {
    await c.end();
  }
}

for (const dialect of DIALECTS) {
  describe(`analytics feed in a worker thread (${dialect})`, () => {
    it('with the hub running, rebuilds in another thread with the hub\'s PII keys and gives the hand-checked numbers', async () => {
      const db = await makeDb(dialect);
      const clock = new ManualClock(Date.parse('2026-11-01T00:00:00Z'));
      const seed = await openHubStorage(db.url, { clock });
      await seedHistory(new History(seed, clock, { feed: false }));
      await seed.close();
      const prefix = uniqueName('sbt');
      const feed = await watchFeed(prefix);
      const t = await startTestHub({ dialect, db, config: { redis: { prefix }, analytics: { feedSeconds: 1 } } });
      try {
        await until(async () => (await totals(t.hub.analytics.kpis)).join() === TOTALS.join(), 30_000, 'the feed to build the read models');
        assert.deepEqual(await totals(t.hub.analytics.kpis), TOTALS);
        assert.deepEqual((await t.hub.analytics.kpis.responseTimes(range())).totals.agentFirstResponse, { count: 2, median: 1_260_000, p90: 1_692_000 });
        await until(() => feed.runs.reduce((n, r) => n + r.rebuilt, 0) === 3, 5_000, `the runs that rebuilt the three conversations: ${JSON.stringify(feed.runs)}`);
        // Every run came from a worker thread: the main thread's id is 0 (and this test's is the hub's).
        assert.equal(threadId, 0);
        assert.ok(feed.runs.length > 0 && feed.runs.every((r) => r.threadId > 0), JSON.stringify(feed.runs));
        // It folded Chinese questions with the terms this thread computes, without loading jieba itself.
        assert.ok(feed.runs.every((r) => r.segmenter === false), JSON.stringify(feed.runs));
        // Its code is the hub's esbuild bundle: no TypeScript compiled in the thread.
        assert.ok(feed.runs.every((r) => r.bundle === true), JSON.stringify(feed.runs));
        const terms = new Map<string, string>();
        for (const customerId of await rawColumn(db, 'customer_id')) {
          for (const c of await t.hub.storage.analytics.customerCases(customerId, 0)) terms.set(c.question, c.questionTerms);
        }
        assert.equal(terms.get('我的订单什么时候发货'), questionTerms('我的订单什么时候发货'));
        assert.ok(terms.get('我的订单什么时候发货')?.includes('订单'), JSON.stringify([...terms]));
        if (process.platform === 'linux') {
          // The thread runs below the hub's loop (nice 10); the loop's own thread stays at 0.
          assert.ok((await niceValues('task')).includes(10), 'a thread of this process at nice 10');
          assert.deepEqual(await niceValues('self'), [0]);
        }
        assert.equal(await t.hub.storage.analytics.feedWatermark(FEED_NAME), at('2026-11-03T10:05:00Z'));
        // Sealed on disk under the keys the hub reads them with (above): the thread had the hub's keys.
        const questions = await rawColumn(db, 'question');
        assert.equal(questions.length, 4);
        assert.ok(questions.every((q) => isSealed(q)), questions.join(' | '));
      } finally {
        const started = Date.now();
        await t.stop();
        // The thread ends with the hub (BullMQ's worker close asks it to exit; no grace timeout hit).
        assert.ok(Date.now() - started < 5_000, `stop took ${Date.now() - started} ms`);
        await feed.close();
        await db.drop();
      }
    });

    describe('a run told to stop (the hub stopping: BullMQ cancels the job)', () => {
      let tdb: TestDb;
      let close: () => Promise<void>;
      let kpis: AnalyticsKpis;
      let storage: Storage;
      before(async () => {
        tdb = await makeDb(dialect);
        ({ storage, kpis, close } = await seededStore(tdb, { feed: false }));
      });
      after(() => close());

      it('ends after the rebuild in progress, leaves the watermark before its page, and the next run does the rest', async () => {
        // A signal that turns aborted once the first rebuild is done (the check before each rebuild reads it).
        let reads = 0;
        const signal = { get aborted() { return ++reads > 1; } } as AbortSignal;
        const stopped = await feedOnce(storage, { ...feedDefaults(dialect), shareCommits: false }, signal);
        assert.deepEqual([stopped.rebuilt, stopped.more, stopped.watermark], [1, true, null]);
        assert.equal(await storage.analytics.feedWatermark(FEED_NAME), null);
        assert.equal((await totals(kpis))[0] as number < 4, true, 'only part of the cases yet');
        const rest = await feedOnce(storage);
        assert.equal(rest.rebuilt, 2, 'the conversation rebuilt before the stop is up to date and skipped');
        assert.deepEqual(await totals(kpis), TOTALS);
        assert.equal(await storage.analytics.feedWatermark(FEED_NAME), at('2026-11-03T10:05:00Z'));
      });
    });

    it('closing the worker cancels the run in the thread: it ends after the rebuild in progress', async () => {
      const tdb2 = await makeDb(dialect);
      const seeded = await seededStore(tdb2, { feed: false });
      const dir2 = mkdtempSync(join(tmpdir(), 'sb-feed-stop-'));
      const marker = join(dir2, 'started');
      const prefix = uniqueName('sbt');
      const watch = await watchFeed(prefix);
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      // 200 ms per value opened: the whole run takes about 4 s, its longest rebuild about 2 s.
      const codec = { module: new URL('./crash-codec.ts', import.meta.url).href, name: 'slowCodec', arg: { marker, ms: 200 } };
      // The first run comes one interval after the start; the worker is closed during it.
      const f = await startAnalyticsFeed({ redis, prefix, log: pino({ level: 'silent' }), everyMs: 500, thread: { url: tdb2.url, codec } });
      try {
        await until(() => existsSync(marker), 20_000, 'the run to start');
        const started = Date.now();
        await f.worker.close();
        const took = Date.now() - started;
        await until(() => watch.runs.length > 0, 5_000, 'the cancelled run to complete');
        const [run] = watch.runs;
        assert.ok(run && run.more && run.rebuilt < 3 && run.threadId > 0, JSON.stringify(run));
        assert.ok(took < 3_000, `close took ${took} ms`);
      } finally {
        await f.close();
        redis.disconnect();
        await watch.close();
        await cleanRedis(prefix);
        await seeded.close();
        rmSync(dir2, { recursive: true, force: true });
      }
    });

    describe('a thread killed in the middle of a rebuild', () => {
      let tdb: TestDb;
      let dir: string;
      let close: () => Promise<void>;
      let kpis: AnalyticsKpis;
      before(async () => {
        tdb = await makeDb(dialect);
        dir = mkdtempSync(join(tmpdir(), 'sb-feed-crash-'));
        ({ kpis, close } = await seededStore(tdb, { feed: false }));
      });
      after(async () => {
        await close();
        rmSync(dir, { recursive: true, force: true });
      });

      it('fails its job (logged), which is tried again in a new thread, and nothing is lost', async () => {
        const marker = join(dir, 'crashed');
        const lines: string[] = [];
        const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
        const prefix = uniqueName('sbt');
        const watch = await watchFeed(prefix);
        const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
        const codec = { module: new URL('./crash-codec.ts', import.meta.url).href, name: 'crashOnce', arg: { marker, after: 3 } };
        const f = await startAnalyticsFeed({ redis, prefix, log, everyMs: 300, thread: { url: tdb.url, codec } });
        try {
          await until(async () => (await totals(kpis)).join() === TOTALS.join(), 30_000, 'the read models after the crash');
          assert.ok(existsSync(marker), 'the thread crashed');
          const crashed = Number(readFileSync(marker, 'utf8'));
          assert.ok(crashed > 0);
          // Logged with its job, and that job tried again (a second later, in a new thread) and completed.
          const failed = lines.map((l) => JSON.parse(l) as { msg: string; jobId?: string; attempt?: number }).find((l) => l.msg.includes('analytics feed run failed'));
          assert.ok(failed?.msg.includes('Unexpected exit code: 70') && failed.attempt === 1, lines.join(''));
          await until(() => watch.runs.some((r) => r.jobId === failed?.jobId), 10_000, 'the failed job to complete on its retry');
          assert.deepEqual(watch.failures, [], 'no job failed for good');
          assert.ok(watch.runs.every((r) => r.threadId > 0 && r.threadId !== crashed), JSON.stringify({ crashed, runs: watch.runs }));
          assert.deepEqual((await kpis.responseTimes(range())).totals.agentFirstResponse, { count: 2, median: 1_260_000, p90: 1_692_000 });
        } finally {
          await f.worker.close();
          await f.close();
          redis.disconnect();
          await watch.close();
          await cleanRedis(prefix);
        }
      });
    });
  });
}
