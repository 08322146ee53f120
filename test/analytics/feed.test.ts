/**
 * The analytics feed on both databases: the hand-checked history written as events only, then read
 * from the event log in one run, in pages cut short by the budget (a run that stops resumes from its
 * watermark), gives the hand-checked numbers; a run with nothing new rebuilds nothing; an event that
 * commits after the watermark passed its time (within the safety window) is still read; and two
 * workers fed by the job scheduler on a real Redis build the read models of new events within seconds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { ManualClock } from '../../src/core/clock.js';
import { Storage } from '../../src/core/storage/storage.js';
import { AnalyticsKpis } from '../../src/analytics/kpis.js';
import { FEED_NAME, FEED_QUEUE, feedDefaults, feedOnce, startAnalyticsFeed } from '../../src/analytics/feed.js';
import { parseRange } from '../../src/analytics/range.js';
import { DIALECTS, REDIS_URL, makeDb, uniqueName, type TestDb } from '../helpers/env.js';
import { cleanRedis, until } from '../helpers/hub.js';
import { History, at } from './history.js';
import { seededStore } from './seed.js';

const NOW = at('2026-11-05T12:00:00Z');
const range = () => parseRange({ from: '2026-11-01', to: '2026-11-03' }, { timeZone: 'UTC', now: NOW });

for (const dialect of DIALECTS) {
  describe(`analytics feed (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    let kpis: AnalyticsKpis;
    let clock: ManualClock;
    let close: () => Promise<void>;

    before(async () => {
      tdb = await makeDb(dialect);
      ({ storage, kpis, clock, close } = await seededStore(tdb, { feed: false }));
    });
    after(() => close());

    it('reads the event log in pages, resumes from its watermark, and gives the hand-checked numbers', async () => {
      assert.equal((await kpis.overview(range())).totals.cases, 0);
      assert.equal(await storage.analytics.feedWatermark(FEED_NAME), null);
      // Pages of 4 events and no time budget: every run stops after one page, with the watermark at its end.
      const small = { ...feedDefaults(dialect), pageSize: 4, budgetMs: -1 };
      const first = await feedOnce(storage, small);
      assert.equal(first.more, true);
      assert.ok(first.watermark !== null && first.watermark < at('2026-11-03T10:05:00Z'));
      assert.equal(await storage.analytics.feedWatermark(FEED_NAME), first.watermark);
      let runs = 1;
      while ((await feedOnce(storage, small)).more) runs++;
      assert.ok(runs >= 3, `${runs} runs`);
      assert.equal(await storage.analytics.feedWatermark(FEED_NAME), at('2026-11-03T10:05:00Z'));
      const t = (await kpis.overview(range())).totals;
      assert.deepEqual([t.cases, t.escalated, t.settled, t.botResolved, t.resolved, t.firstContact, t.reopened, t.csatAverage, t.csatGiven, t.csatAsked], [4, 2, 4, 1, 2, 2, 1, 5, 1, 1]);
      assert.deepEqual((await kpis.responseTimes(range())).totals.agentFirstResponse, { count: 2, median: 1_260_000, p90: 1_692_000 });
    });

    it('rebuilds nothing when every conversation read is up to date', async () => {
      const run = await feedOnce(storage);
      assert.ok(run.events > 0, 'the safety window is read again');
      assert.equal(run.rebuilt, 0);
    });

    it('reads an event that committed after the watermark passed its time (within the safety window)', async () => {
      const h = new History(storage, clock, { feed: false });
      const c = await h.conversation('webchat', 'late');
      await h.customer(c, '2026-11-03T11:00:00Z', 'where is my parcel');
      assert.equal((await feedOnce(storage)).rebuilt, 1);
      const mark = await storage.analytics.feedWatermark(FEED_NAME);
      // Another process stamped this event 500 ms before the watermark, and committed only now.
      const lateClock = new ManualClock(at('2026-11-03T10:59:59.500Z'));
      const other = await Storage.open(tdb.url, { clock: lateClock });
      try {
        await other.events.append(c.id, c.customerId, [{ type: 'conversation.escalated', actor: 'bot', payload: { escalationId: 'e1', reason: 'low_confidence', priority: 'normal', messageId: null, sentiment: null } }], () => false);
      } finally {
        await other.close();
      }
      const run = await feedOnce(storage);
      assert.equal(run.rebuilt, 1);
      assert.equal(run.watermark, mark);
      const [latest] = await storage.analyticsKpis.recentCases({ from: 0, to: NOW, bucket: 'day', offsetMinutes: 0, now: NOW }, 1);
      assert.equal(latest?.question, 'where is my parcel');
      assert.equal(latest?.escalationReason, 'low_confidence');
    });

    it("a new schedule's first run comes one interval after the start; a second start keeps the schedule's times", async () => {
      const prefix = uniqueName('sbt');
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const log = pino({ level: 'silent' });
      const queue = new Queue(FEED_QUEUE, { connection: redis, prefix });
      const first = await startAnalyticsFeed({ redis, prefix, storage: () => storage, log, everyMs: 60_000 });
      try {
        const [job] = await queue.getDelayed();
        const due = (job?.timestamp ?? 0) + (job?.delay ?? 0);
        assert.ok(due > Date.now() + 55_000, `the first run is due in ${due - Date.now()} ms`);
        await new Promise((r) => setTimeout(r, 50)); // a later start would ask for a later first run
        const second = await startAnalyticsFeed({ redis, prefix, storage: () => storage, log, everyMs: 60_000 });
        await second.worker.close();
        await second.close();
        const again = await queue.getDelayed();
        assert.deepEqual(again.map((j) => j.timestamp + j.delay), [due], 'one job, at the same time');
        assert.equal(await queue.getActiveCount(), 0);
      } finally {
        await first.worker.close();
        await first.close();
        await queue.close();
        redis.disconnect();
        await cleanRedis(prefix);
      }
    });

    it('two workers on the job scheduler build the read models of new events within seconds', async () => {
      const prefix = uniqueName('sbt');
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const log = pino({ level: 'silent' });
      const feeds = [
        await startAnalyticsFeed({ redis, prefix, storage: () => storage, log, everyMs: 200 }),
        await startAnalyticsFeed({ redis, prefix, storage: () => storage, log, everyMs: 200 }),
      ];
      try {
        const h = new History(storage, clock, { feed: false });
        const c = await h.conversation('telegram', 'live');
        await h.customer(c, '2026-11-03T12:00:00Z', 'is the shop open on sunday');
        const [latest] = await until(async () => {
          const cases = await storage.analyticsKpis.recentCases({ from: 0, to: NOW, bucket: 'day', offsetMinutes: 0, now: NOW }, 1);
          return cases[0]?.question === 'is the shop open on sunday' ? cases : undefined;
        }, 10_000, 'the feed to build the new case');
        assert.equal(latest?.channel, 'telegram');
      } finally {
        for (const f of feeds) {
          await f.worker.close();
          await f.close();
        }
        redis.disconnect();
        await cleanRedis(prefix);
      }
    });
  });
}
