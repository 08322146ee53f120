/** The hand-checked history of the KPI tests (test/analytics/kpis.test.ts has the expected numbers). */
import { ManualClock } from '../../src/core/clock.js';
import { Storage } from '../../src/core/storage/storage.js';
import { AnalyticsKpis } from '../../src/analytics/kpis.js';
import type { TestDb } from '../helpers/env.js';
import { History } from './history.js';

/** The hand-checked history (times UTC), written in time order (storage stamps only move forward). */
export async function seedHistory(h: History): Promise<void> {
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


/**
 * A fresh database holding the hand-checked history (read models built by the feed as each event
 * is written, unless `feed: false`), the KPIs over it, and `close()` (closes and drops it).
 */
export async function seededStore(db: TestDb, opts: { feed?: boolean } = {}): Promise<{ storage: Storage; kpis: AnalyticsKpis; clock: ManualClock; close(): Promise<void> }> {
  const clock = new ManualClock(Date.parse('2026-11-01T00:00:00Z'));
  const storage = await Storage.open(db.url, { clock });
  await seedHistory(new History(storage, clock, { feed: opts.feed ?? true }));
  return {
    storage,
    kpis: new AnalyticsKpis(storage),
    clock,
    close: async () => {
      await storage.close();
      await db.drop();
    },
  };
}
