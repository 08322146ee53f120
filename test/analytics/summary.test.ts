/**
 * The daily Slack summary: its text on the hand-checked history (yesterday's numbers, the change
 * against the day before, the top knowledge gaps), and the BullMQ job scheduler posting it through
 * the port on a real Redis (a per-second cron in the test; hub.yaml takes minute crons).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { AnalyticsKpis } from '../../src/analytics/kpis.js';
import { dailySummary, startDailySummary } from '../../src/analytics/summary.js';
import { REDIS_URL, sqliteDb, uniqueName, type TestDb } from '../helpers/env.js';
import { cleanRedis, until } from '../helpers/hub.js';
import { at } from './history.js';
import { seededStore } from './seed.js';

describe('analytics daily summary', () => {
  let tdb: TestDb;
  let kpis: AnalyticsKpis;
  let close: () => Promise<void>;

  before(async () => {
    tdb = sqliteDb();
    ({ kpis, close } = await seededStore(tdb));
  });
  after(() => close());

  it("says yesterday's numbers with their change against the day before, and the top gaps", async () => {
    // On 3 Nov at 09:00 UTC: yesterday is 2 Nov (Ana's second case), the day before 1 Nov (Ana's first, Bo's).
    const text = await dailySummary(kpis, 'UTC', at('2026-11-03T09:00:00Z'));
    const lines = text.split('\n');
    assert.equal(lines[0], '*Switchboard daily summary: 2026-11-02* (UTC; change against the day before)');
    assert.equal(lines[1], '• Cases: 1 (−1)');
    assert.equal(lines[3], '• Escalated: 0.0% (−50.0 pt)');
    assert.ok(lines.includes('*Knowledge gaps*: none'), text);
    const nov4 = await dailySummary(kpis, 'UTC', at('2026-11-04T09:00:00Z'));
    assert.match(nov4, /\*Top knowledge gaps\*\n1\. “where is my invoice” — 1 question, 1 escalated/);
  });

  it('a BullMQ job scheduler posts it through the port', async () => {
    const prefix = uniqueName('sbt');
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const posts: { channel: string; text: string }[] = [];
    const s = await startDailySummary({
      redis,
      prefix,
      cron: '* * * * * *',
      timeZone: 'UTC',
      channel: 'C0SUMMARY',
      kpis,
      post: async (channel, text) => void posts.push({ channel, text }),
      log: pino({ level: 'silent' }),
      now: () => at('2026-11-03T09:00:00Z'),
    });
    try {
      await until(() => posts.length > 0 || undefined, 10_000, 'a summary post');
      assert.equal(posts[0]?.channel, 'C0SUMMARY');
      assert.match(posts[0]?.text ?? '', /daily summary: 2026-11-02/);
    } finally {
      await s.worker.close();
      await s.close();
      redis.disconnect();
      await cleanRedis(prefix);
    }
  });
});
