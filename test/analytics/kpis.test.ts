/**
 * KPIs on a seeded history with hand-checked answers, on both dialects: a conversation spanning
 * midnight (counted on the day it opened; its messages on the days they were written), a reopened
 * case (one case, not first-contact, resolution time to the last resolution), a CSAT given twice
 * (the second score counts, once), a customer coming back about the same thing within 24 h (not
 * resolved by the bot), time-zone buckets, and proactive messages delivered / answered / opted out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { ManualClock } from '../../src/core/clock.js';
import { openDb } from '../../src/core/storage/db.js';
import { rowToCase, type AnalyticsTables } from '../../src/core/storage/analytics.js';
import { HOURLY_COUNTERS, addCase, addVolume, changed, type HourlyDeltas } from '../../src/core/storage/analytics-hourly.js';
import { Storage } from '../../src/core/storage/storage.js';
import { AnalyticsKpis } from '../../src/analytics/kpis.js';
import { rebuildAll } from '../../src/analytics/rebuild.js';
import { parseRange } from '../../src/analytics/range.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';
import { History, at } from './history.js';
import { seededStore } from './seed.js';

const NOW = at('2026-11-05T12:00:00Z');
const range = (tz = 'UTC', bucket: 'day' | 'week' = 'day') => parseRange({ from: '2026-11-01', to: '2026-11-03', tz, bucket }, { timeZone: 'UTC', now: NOW });

for (const dialect of DIALECTS) {
  describe(`analytics KPIs on a seeded history (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    let kpis: AnalyticsKpis;
    let clock: ManualClock;
    let close: () => Promise<void>;

    before(async () => {
      tdb = await makeDb(dialect);
      ({ storage, kpis, clock, close } = await seededStore(tdb));
    });
    after(() => close());

    it('rates over the range: 4 cases, 2 escalated, 1 resolved by the bot, 2 first-contact, CSAT 5 once', async () => {
      const o = await kpis.overview(range());
      assert.deepEqual(o.totals, {
        cases: 4,
        escalated: 2,
        escalationRate: 0.5,
        settled: 4,
        botResolved: 1,
        botResolutionRate: 0.25,
        resolved: 2,
        firstContact: 2,
        firstContactResolutionRate: 0.5,
        reopened: 1,
        csatAverage: 5,
        csatGiven: 1,
        csatAsked: 1,
        csatResponseRate: 1,
      });
      assert.deepEqual(
        o.series.map((s) => [new Date(s.bucket).toISOString().slice(0, 10), s.channel, s.cases, s.escalated, s.botResolved]),
        [
          ['2026-11-01', 'telegram', 1, 1, 0],
          ['2026-11-01', 'webchat', 1, 0, 0],
          ['2026-11-02', 'webchat', 1, 0, 1],
          ['2026-11-03', 'webchat', 1, 1, 0],
        ],
      );
      assert.equal(o.byChannel.webchat?.cases, 3);
      assert.equal(o.byChannel.telegram?.csatAverage, 5);
    });

    it('escalation reasons', async () => {
      assert.deepEqual(
        (await kpis.escalationReasons(range())).map((r) => [r.reason, r.channel, r.count]).sort(),
        [
          ['asked_for_human', 'telegram', 1],
          ['low_confidence', 'webchat', 1],
        ],
      );
    });

    it('response times: median and p90 of the bot, of agents after escalation, and to resolution', async () => {
      const t = await kpis.responseTimes(range());
      // Bot: 3 s (Ana 1), 2 s (Ana 2), 1 s (Bo), 3 s (Cy's hand-over notice).
      assert.deepEqual(t.totals.botFirstResponse, { count: 4, median: 2500, p90: 3000 });
      // Agents: Bo 23:58:01 -> 00:10:01 (12 min), Cy 09:00:01 -> 09:30:01 (30 min).
      assert.deepEqual(t.totals.agentFirstResponse, { count: 2, median: 1_260_000, p90: 1_692_000 });
      // Resolution: Bo 25 min, Cy 65 min (to the second resolution, after the reopen).
      assert.deepEqual(t.totals.resolution, { count: 2, median: 2_700_000, p90: 3_660_000 });
    });

    it('message volume by day follows the messages across midnight', async () => {
      const v = await kpis.volume(range());
      assert.deepEqual(
        v.map((x) => [new Date(x.bucket).toISOString().slice(0, 10), x.channel, x.inbound, x.outbound]),
        [
          ['2026-11-01', 'telegram', 2, 2],
          ['2026-11-01', 'webchat', 1, 1],
          ['2026-11-02', 'telegram', 2, 2],
          ['2026-11-02', 'webchat', 1, 1],
          ['2026-11-03', 'webchat', 2, 3],
        ],
      );
    });

    it('buckets follow the time zone (Asia/Shanghai: Ana and Bo on 2 Nov) and weeks start on Monday', async () => {
      const o = await kpis.overview(range('Asia/Shanghai'));
      assert.deepEqual(
        o.buckets.map((b) => [new Date(b.bucket + 8 * 3_600_000).toISOString().slice(0, 10), b.cases]),
        [
          ['2026-11-02', 3],
          ['2026-11-03', 1],
        ],
      );
      const w = await kpis.overview(range('UTC', 'week'));
      // 1 Nov 2026 is a Sunday: its week starts on Monday 26 Oct; 2 and 3 Nov are in the next.
      assert.deepEqual(
        w.buckets.map((b) => [new Date(b.bucket).toISOString().slice(0, 10), b.cases]),
        [
          ['2026-10-26', 2],
          ['2026-11-02', 2],
        ],
      );
    });

    it('knowledge gaps: the low-confidence and escalated questions, with the agent reply as a draft', async () => {
      const gaps = await kpis.gaps(range());
      assert.deepEqual(gaps.map((g) => [g.examples[0], g.count, g.escalated]).sort(), [
        ['I want a refund', 1, 0],
        ['human please', 1, 1],
        ['where is my invoice', 1, 1],
      ]);
      assert.equal(gaps.find((g) => g.examples[0] === 'where is my invoice')?.agentAnswer, 'Invoices are under Account > Billing.');
    });

    it('a full rebuild gives the same numbers as the event-by-event one', async () => {
      const before = await kpis.overview(range());
      const times = await kpis.responseTimes(range());
      assert.equal(await rebuildAll(storage), 3);
      assert.deepEqual(await kpis.overview(range()), before);
      assert.deepEqual(await kpis.responseTimes(range()), times);
    });

    it('before the 24 h come-back window has passed, cases are not settled (neither bot-resolved nor first-contact)', async () => {
      const early = parseRange({ from: '2026-11-01', to: '2026-11-03' }, { timeZone: 'UTC', now: at('2026-11-02T20:00:00Z') });
      const t = (await kpis.overview(early)).totals;
      // Ana's first case is settled (she came back); her second, Bo's and Cy's are within 24 h of their last message.
      assert.deepEqual([t.cases, t.settled, t.botResolved, t.firstContact, t.botResolutionRate], [4, 1, 0, 0, 0]);
    });

    it('the hourly rollup equals the sums over the read models it summarizes', async () => {
      const db = openDb(tdb.url);
      try {
        const k = db.kysely as unknown as Kysely<AnalyticsTables>;
        const deltas: HourlyDeltas = new Map();
        for (const c of await k.selectFrom('analytics_cases').selectAll().execute()) addCase(deltas, rowToCase(c), 1);
        for (const v of await k.selectFrom('analytics_volume').selectAll().execute()) addVolume(deltas, { conversationId: v.conversation_id, hour: Number(v.hour), channel: v.channel, inbound: v.inbound, outbound: v.outbound }, 1);
        const stored = (await k.selectFrom('analytics_hourly').selectAll().execute())
          .map((r) => Object.fromEntries(Object.entries(r).map(([key, v]) => [key, key === 'channel' ? v : Number(v)])))
          .filter((r) => HOURLY_COUNTERS.some((c) => r[c] !== 0))
          .sort((a, b) => Number(a.hour) - Number(b.hour) || String(a.channel).localeCompare(String(b.channel)));
        assert.deepEqual(stored, changed(deltas));
        assert.ok(stored.length >= 5);
      } finally {
        await db.close();
      }
    });

    it('proactive messages: sent, delivered, answered and opted out within 24 h', async () => {
      const h = new History(storage, clock);
      const r = parseRange({ from: '2026-11-10', to: '2026-11-10' }, { timeZone: 'UTC', now: NOW });
      const people = [
        ['dee', 'thanks', true],
        ['eve', 'TD', true],
        ['fay', null, true],
        ['gus', null, false],
      ] as const;
      const convs = [];
      for (const [user, , delivered] of people) {
        const c = await h.conversation('telegram', user);
        const m = await storage.messages.insertOutbound({ conversationId: c.id, customerId: c.customerId, channel: 'telegram', ref: { channel: 'telegram', chatId: user }, author: 'system', text: 'Your plan renews tomorrow.' });
        await h.event(c, '2026-11-10T08:00:00Z', { type: 'message.queued', actor: 'system', payload: { messageId: m.id, kind: 'reminder', key: `r:${user}`, channel: 'telegram' } });
        if (delivered) await storage.messages.markSent(m.id, ['x']);
        convs.push(c);
      }
      for (const [i, [, answer]] of people.entries()) {
        const c = convs[i];
        if (!c || !answer) continue;
        // As the workflows' opt-out records it (consent.optOut.<kind>.at, an ISO time).
        if (answer === 'TD') await storage.customers.updateConsent(c.customerId, (x) => ({ ...x, optOut: { reminder: { at: '2026-11-10T08:30:00.000Z', word: 'TD', channel: 'telegram' } } }));
        await h.customer(c, '2026-11-10T08:30:00Z', answer);
      }
      const p = await kpis.proactive(r);
      assert.deepEqual(p.rows, [{ channel: 'telegram', kind: 'reminder', sent: 4, delivered: 3, answered: 2, optedOut: 1 }]);
      assert.equal(p.totals.answerRate, 0.6667);
    });

    it("an event the conversation's last rebuild read needs no second rebuild; one it missed does", async () => {
      const h = new History(storage, clock);
      const c = await h.conversation('webchat', 'ida');
      const q1 = await h.customer(c, '2026-11-12T10:00:00Z', 'hello');
      await h.event(c, '2026-11-12T10:00:01Z', { type: 'bot.answered', actor: 'bot', payload: { messageId: q1, confidence: 0.9, entryIds: ['hi'], sentiment: null } });
      const events = await storage.events.ofConversation(c.id);
      for (const e of events) assert.equal(await storage.analytics.covered(c.id, Number(e.id)), true, e.type);
      const [later] = await storage.events.append(c.id, c.customerId, [{ type: 'conversation.returned_to_bot', actor: 'agent:a', payload: { agentId: 'a' } }], () => true);
      assert.ok(later);
      assert.equal(await storage.analytics.covered(c.id, Number(later.id)), false);
      // An event inside the span that committed after the rebuild read it (ids are taken before commit).
      const db = openDb(tdb.url);
      try {
        const k = db.kysely as unknown as Kysely<AnalyticsTables>;
        await k.updateTable('analytics_conversations').set((eb) => ({ events_seen: eb('events_seen', '-', 1) })).where('conversation_id', '=', c.id).execute();
      } finally {
        await db.close();
      }
      assert.equal(await storage.analytics.covered(c.id, Number(events[0]?.id)), false);
    });
  });
}
