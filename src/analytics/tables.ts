/**
 * The analytics tables as the API serves them: JSON, and the same rows as CSV (`?format=csv`).
 * Each table names its columns once; both forms come from it.
 */
import type { KpiRange } from '../core/storage/analytics-kpis.js';
import type { AnalyticsKpis } from './kpis.js';
import { dayOf, type Cell } from './csv.js';

export interface Table {
  /** The JSON answer. */
  json: unknown;
  columns: readonly string[];
  rows: readonly (readonly Cell[])[];
}

const RATE_COLUMNS = ['cases', 'escalated', 'escalationRate', 'settled', 'botResolved', 'botResolutionRate', 'resolved', 'firstContact', 'firstContactResolutionRate', 'reopened', 'csatAverage', 'csatGiven', 'csatAsked', 'csatResponseRate'] as const;

export const TABLES = ['kpis', 'volume', 'response-times', 'escalations', 'proactive', 'gaps', 'conversations'] as const;
export type TableName = (typeof TABLES)[number];

export async function table(name: TableName, kpis: AnalyticsKpis, r: KpiRange): Promise<Table> {
  const day = (t: number) => dayOf(t, r.offsetMinutes);
  const range = { from: r.from, to: r.to, bucket: r.bucket, offsetMinutes: r.offsetMinutes, channel: r.channel ?? null };
  switch (name) {
    case 'kpis': {
      const o = await kpis.overview(r);
      return {
        json: { range, ...o, series: o.series.map((s) => ({ ...s, day: day(s.bucket) })), buckets: o.buckets.map((s) => ({ ...s, day: day(s.bucket) })) },
        columns: ['day', 'channel', ...RATE_COLUMNS],
        rows: o.series.map((s) => [day(s.bucket), s.channel, ...RATE_COLUMNS.map((k) => s[k])]),
      };
    }
    case 'volume': {
      const v = await kpis.volume(r);
      return { json: { range, rows: v.map((x) => ({ ...x, day: day(x.bucket) })) }, columns: ['day', 'channel', 'inbound', 'outbound'], rows: v.map((x) => [day(x.bucket), x.channel, x.inbound, x.outbound]) };
    }
    case 'response-times': {
      const t = await kpis.responseTimes(r);
      const keys = ['botFirstResponse', 'agentFirstResponse', 'resolution'] as const;
      return {
        json: { range, exact: t.exact, totals: t.totals, series: t.series.map((s) => ({ ...s, day: day(s.bucket) })) },
        columns: ['day', ...keys.flatMap((k) => [`${k}Count`, `${k}MedianMs`, `${k}P90Ms`])],
        rows: t.series.map((s) => [day(s.bucket), ...keys.flatMap((k) => [s[k].count, s[k].median, s[k].p90])]),
      };
    }
    case 'escalations': {
      const e = await kpis.escalationReasons(r);
      return { json: { range, rows: e }, columns: ['reason', 'channel', 'count'], rows: e.map((x) => [x.reason, x.channel, x.count]) };
    }
    case 'proactive': {
      const p = await kpis.proactive(r);
      return { json: { range, ...p }, columns: ['channel', 'kind', 'sent', 'delivered', 'answered', 'optedOut'], rows: p.rows.map((x) => [x.channel, x.kind, x.sent, x.delivered, x.answered, x.optedOut]) };
    }
    case 'gaps': {
      const g = await kpis.gaps(r);
      return {
        json: { range, clusters: g },
        columns: ['id', 'label', 'keywords', 'count', 'escalated', 'lowConfidence', 'lastAt', 'examples'],
        rows: g.map((c) => [c.id, c.label, c.keywords.join(' '), c.count, c.escalated, c.lowConfidence, new Date(c.lastAt).toISOString(), c.examples.join(' | ')]),
      };
    }
    case 'conversations': {
      const cs = await kpis.recent(r);
      return {
        json: { range, rows: cs },
        columns: ['openedAt', 'channel', 'conversationId', 'question', 'escalationReason', 'resolved', 'reopens', 'csatScore', 'botFirstResponseMs', 'agentFirstResponseMs'],
        rows: cs.map((c) => [new Date(c.openedAt).toISOString(), c.channel, c.conversationId, c.question, c.escalationReason, c.resolvedAt !== null, c.reopens, c.csatScore, c.botFirstResponseMs, c.agentFirstResponseMs]),
      };
    }
  }
}
