/**
 * KPIs on a seeded history with hand-checked answers, on both dialects: a conversation spanning
 * midnight (counted on the day it opened; its messages on the days they were written), a reopened
 * case (one case, not first-contact, resolution time to the last resolution), a CSAT given twice
 * (the second score counts, once), a customer coming back about the same thing within 24 h (not
 * resolved by the bot), time-zone buckets, and proactive messages delivered / answered / opted out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { Storage } from '../../src/core/storage/storage.js';
import { AnalyticsKpis } from '../../src/analytics/kpis.js';
import { rebuildAll } from '../../src/analytics/rebuild.js';
import { parseRange } from '../../src/analytics/range.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';
import { History, at } from './history.js';

const NOW = at('2026-11-05T12:00:00Z');
const range = (tz = 'UTC', bucket: 'day' | 'week' = 'day') => parseRange({ from: '2026-11-01', to: '2026-11-03', tz, bucket }, { timeZone: 'UTC', now: NOW });

/** The hand-checked history (times UTC), written in time order (storage stamps only move forward). */
async function seed(h: History): Promise<void> {
  // Ana (web chat): asks about her order late on 1 Nov; the bot answers (order-ship, 0.9). She comes
  // back about the same thing at 10:00 the next day (a new case, 10 h of silence): the first case
  // is not resolved by the bot; the second is.
  const ana = await h.conversation('webchat', 'ana');
  const a1 = await h.customer(ana, '2026-11-01T23:50:00Z', '我的订单什么时候发货');
  await h.reply(ana, '2026-11-01T23:50:01Z', 'bot', '一般 48 小时内发货', 2000, a1);
  await h.event(ana, '2026-11-01T23:50:01.500Z', { type: 'bot.answered', actor: 'bot', payload: { messageId: a1, confidence: 0.9, entryIds: ['order-ship'], sentiment: null } });
  // Bo (Telegram): a case spanning midnight. Low-confidence answer, asks for a person, an agent
  // answers after midnight, resolves; the CSAT question; Bo answers 4, then 5.
  const bo = await h.conversation('telegram', 'bo');
  const b1 = await h.customer(bo, '2026-11-01T23:55:00Z', 'I want a refund');
  await h.reply(bo, '2026-11-01T23:55:00.500Z', 'bot', 'Refunds take 5 days.', 500, b1);
  await h.event(bo, '2026-11-01T23:55:00.700Z', { type: 'bot.answered', actor: 'bot', payload: { messageId: b1, confidence: 0.3, entryIds: ['refund'], sentiment: null } });
  const b2 = await h.customer(bo, '2026-11-01T23:58:00Z', 'human please');
  await h.event(bo, '2026-11-01T23:58:01Z', { type: 'conversation.escalated', actor: 'customer', payload: { escalationId: b2, reason: 'asked_for_human', priority: 'normal', messageId: b2, sentiment: null } });
  await h.reply(bo, '2026-11-01T23:58:01.500Z', 'system', 'A person will answer.', 500, b2);
  await h.reply(bo, '2026-11-02T00:10:00Z', 'agent', 'Your refund is on its way.', 1000);
  await h.event(bo, '2026-11-02T00:10:02Z', { type: 'agent.replied', actor: 'agent:ag1', payload: { messageId: 'x', agentId: 'ag1', agentName: 'Dana', claimed: true } });
  await h.event(bo, '2026-11-02T00:20:00Z', { type: 'conversation.resolved', actor: 'agent:ag1', payload: { agentId: 'ag1' } });
  const q = await h.reply(bo, '2026-11-02T00:20:01Z', 'system', 'How did we do? 1-5', 1000);
  await h.event(bo, '2026-11-02T00:20:03Z', { type: 'message.queued', actor: 'system', payload: { messageId: q, kind: 'csat', key: 'csat:1', channel: 'telegram' } });
  const c1 = await h.customer(bo, '2026-11-02T00:21:00Z', '4');
  await h.event(bo, '2026-11-02T00:21:01Z', { type: 'csat.given', actor: 'customer', payload: { score: 4, messageId: c1 } });
  const c2 = await h.customer(bo, '2026-11-02T00:22:00Z', '5');
  await h.event(bo, '2026-11-02T00:22:01Z', { type: 'csat.given', actor: 'customer', payload: { score: 5, messageId: c2 } });

  const a2 = await h.customer(ana, '2026-11-02T10:00:00Z', '订单还没发货');
  await h.reply(ana, '2026-11-02T10:00:01Z', 'bot', '一般 48 小时内发货', 1000, a2);
  await h.event(ana, '2026-11-02T10:00:01.500Z', { type: 'bot.answered', actor: 'bot', payload: { messageId: a2, confidence: 0.9, entryIds: ['order-ship'], sentiment: null } });

  // Cy (web chat): escalated at once (low confidence), resolved, reopened 10 min later, resolved again.
  const cy = await h.conversation('webchat', 'cy');
  const y1 = await h.customer(cy, '2026-11-03T09:00:00Z', 'where is my invoice');
  await h.event(cy, '2026-11-03T09:00:01Z', { type: 'conversation.escalated', actor: 'bot', payload: { escalationId: y1, reason: 'low_confidence', priority: 'normal', messageId: y1, sentiment: null } });
  await h.reply(cy, '2026-11-03T09:00:02Z', 'system', 'A person will answer.', 1000, y1);
  await h.reply(cy, '2026-11-03T09:30:00Z', 'agent', 'Invoices are under Account > Billing.', 1000);
  await h.event(cy, '2026-11-03T09:40:00Z', { type: 'conversation.resolved', actor: 'agent:ag2', payload: { agentId: 'ag2' } });
  const y2 = await h.customer(cy, '2026-11-03T09:50:00Z', 'it is not there');
  await h.event(cy, '2026-11-03T09:50:01Z', { type: 'conversation.reopened', actor: 'customer', payload: { messageId: y2, assignee: 'ag2' } });
  await h.reply(cy, '2026-11-03T10:00:00Z', 'agent', 'Sent it by mail.', 1000);
  await h.event(cy, '2026-11-03T10:05:00Z', { type: 'conversation.resolved', actor: 'agent:ag2', payload: { agentId: 'ag2' } });
}

for (const dialect of DIALECTS) {
  describe(`analytics KPIs on a seeded history (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    let kpis: AnalyticsKpis;
    const clock = new ManualClock(at('2026-11-01T00:00:00Z'));

    before(async () => {
      tdb = await makeDb(dialect);
      storage = await Storage.open(tdb.url, { clock });
      kpis = new AnalyticsKpis(storage);
      await seed(new History(storage, clock));
    });
    after(async () => {
      await storage.close();
      await tdb.drop();
    });

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
  });
}
