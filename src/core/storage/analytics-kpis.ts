/**
 * Aggregations over the analytics read models for the KPI queries (src/analytics/kpis.ts turns
 * them into rates and percentiles): counts from the hourly rollup, durations from a covering index
 * of the cases table. Every query takes a half-open range [from, to) of epoch ms on
 * the case's opening (volume: the message's hour; proactive: its queueing), an optional channel,
 * and buckets by day or week in a fixed UTC offset (weeks start on Monday).
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Q } from './rows.js';
import type { Database } from './tables.js';
import { PLAINTEXT, type PiiCodec } from './pii.js';
import { BINS_PER_E, openCaseRow, openQuestionRow, rowToCase, type AnalyticsCase, type AnalyticsDb, type AnalyticsTables, type QuestionTable } from './analytics-rows.js';

export type Bucket = 'day' | 'week';

export interface KpiRange {
  from: number;
  to: number;
  channel?: string | undefined;
  bucket: Bucket;
  /** Minutes east of UTC of the calendar the buckets follow (480 for Asia/Shanghai). */
  offsetMinutes: number;
  /** "Now" for what is settled (a case's 24 h come-back window has passed). */
  now: number;
}

export interface CaseCounts {
  bucket: number;
  channel: string;
  cases: number;
  escalated: number;
  settled: number;
  botResolved: number;
  resolved: number;
  firstContact: number;
  reopened: number;
  csatAsked: number;
  csatAnswered: number;
  csatGiven: number;
  csatSum: number;
}

export interface VolumeCounts {
  bucket: number;
  channel: string;
  inbound: number;
  outbound: number;
}

export interface ProactiveCounts {
  channel: string;
  kind: string;
  sent: number;
  delivered: number;
  answered: number;
  optedOut: number;
}

export interface CaseTimes {
  bucket: number;
  channel: string;
  botFirstResponseMs: number | null;
  agentFirstResponseMs: number | null;
  resolutionMs: number | null;
}

export type QuestionRow = QuestionTable;

export { BINS_PER_E };
export type TimeMetric = 'botFirstResponse' | 'agentFirstResponse' | 'resolution';
const METRIC_BIN = { botFirstResponse: 'bot_first_response_bin', agentFirstResponse: 'agent_first_response_bin', resolution: 'resolution_bin' } as const;

const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** 1970-01-01 was a Thursday: shifting by three days starts weeks on Monday. */
const MONDAY = 3 * DAY;

export class AnalyticsKpiRepo {
  private typed: AnalyticsDb | undefined;

  constructor(
    private readonly handle: Q,
    private readonly pii: PiiCodec = PLAINTEXT,
  ) {}

  private get q(): AnalyticsDb {
    this.typed ??= (this.handle as Kysely<Database>).withTables<Omit<AnalyticsTables, keyof Database>>();
    return this.typed;
  }

  /** The bucket number of a time column, and the bucket's start in epoch ms. */
  private bucketOf(column: string, r: KpiRange): { expr: RawBuilder<number>; start(n: number): number } {
    const size = r.bucket === 'day' ? DAY : WEEK;
    const shift = r.offsetMinutes * 60_000 + (r.bucket === 'week' ? MONDAY : 0);
    return { expr: sql<number>`(${sql.ref(column)} + ${sql.lit(shift)}) / ${sql.lit(size)}`, start: (n) => n * size - shift };
  }

  /**
   * Case counts per bucket and channel from the hourly rollup, corrected for the cases whose 24 h
   * come-back window is still open at `r.now` (not yet settled, so neither resolved by the bot nor
   * at first contact), read from the cases table.
   */
  async caseCounts(r: KpiRange): Promise<CaseCounts[]> {
    const b = this.bucketOf('hour', r);
    let q = this.q.selectFrom('analytics_hourly').where('hour', '>=', r.from).where('hour', '<', r.to).where('cases', '>', 0);
    if (r.channel) q = q.where('channel', '=', r.channel);
    const sum = (c: string) => sql<number>`sum(${sql.ref(c)})`.as(c);
    const rows = await q
      .select([b.expr.as('bucket'), 'channel', sum('cases'), sum('escalated'), sum('resolved'), sum('reopened'), sum('csat_asked'), sum('csat_answered'), sum('csat_given'), sum('csat_sum'), sum('bot_resolved_if_quiet'), sum('first_contact_if_quiet')])
      .groupBy([b.expr, 'channel'])
      .execute();
    const out = new Map<string, CaseCounts>();
    for (const x of rows) {
      const bucket = b.start(Number(x.bucket));
      out.set(`${bucket}|${x.channel}`, {
        bucket,
        channel: x.channel,
        cases: Number(x.cases),
        escalated: Number(x.escalated),
        settled: Number(x.cases),
        botResolved: Number(x.bot_resolved_if_quiet),
        resolved: Number(x.resolved),
        firstContact: Number(x.first_contact_if_quiet),
        reopened: Number(x.reopened),
        csatAsked: Number(x.csat_asked),
        csatAnswered: Number(x.csat_answered),
        csatGiven: Number(x.csat_given),
        csatSum: Number(x.csat_sum),
      });
    }
    const c = this.bucketOf('opened_at', r);
    let open = this.q.selectFrom('analytics_cases').where('last_customer_at', '>', r.now - DAY).where('came_back', '=', 0).where('opened_at', '>=', r.from).where('opened_at', '<', r.to);
    if (r.channel) open = open.where('channel', '=', r.channel);
    const unsettled = await open
      .select([
        c.expr.as('bucket'),
        'channel',
        sql<number>`count(*)`.as('n'),
        sql<number>`sum(case when escalated_at is null and bot_answers > 0 then 1 else 0 end)`.as('bot'),
        sql<number>`sum(case when reopens = 0 and ((escalated_at is null and bot_answers > 0) or resolved_at is not null) then 1 else 0 end)`.as('first'),
      ])
      .groupBy([c.expr, 'channel'])
      .execute();
    for (const x of unsettled) {
      const row = out.get(`${c.start(Number(x.bucket))}|${x.channel}`);
      if (!row) continue;
      row.settled -= Number(x.n);
      row.botResolved -= Number(x.bot);
      row.firstContact -= Number(x.first);
    }
    return [...out.values()].sort((a, z) => a.bucket - z.bucket || a.channel.localeCompare(z.channel));
  }

  async escalationReasons(r: KpiRange): Promise<{ reason: string; channel: string; count: number }[]> {
    let q = this.q.selectFrom('analytics_cases').where('opened_at', '>=', r.from).where('opened_at', '<', r.to).where('escalated_at', 'is not', null);
    if (r.channel) q = q.where('channel', '=', r.channel);
    const rows = await q.select(['escalation_reason', 'channel', sql<number>`count(*)`.as('n')]).groupBy(['escalation_reason', 'channel']).execute();
    return rows.map((x) => ({ reason: x.escalation_reason ?? 'unknown', channel: x.channel, count: Number(x.n) })).sort((a, b) => b.count - a.count);
  }

  /** Per case with any timing: its bucket, channel and the three durations (percentiles are taken by the caller). */
  async caseTimes(r: KpiRange): Promise<CaseTimes[]> {
    const b = this.bucketOf('opened_at', r);
    let q = this.q
      .selectFrom('analytics_cases')
      .where('opened_at', '>=', r.from)
      .where('opened_at', '<', r.to)
      .where((eb) => eb.or([eb('bot_first_response_ms', 'is not', null), eb('agent_first_response_ms', 'is not', null), eb('resolved_at', 'is not', null)]));
    if (r.channel) q = q.where('channel', '=', r.channel);
    const rows = await q
      .select([b.expr.as('bucket'), 'channel', 'bot_first_response_ms', 'agent_first_response_ms', sql<number | null>`resolved_at - opened_at`.as('resolution_ms')])
      .execute();
    return rows.map((x) => ({
      bucket: b.start(Number(x.bucket)),
      channel: x.channel,
      botFirstResponseMs: x.bot_first_response_ms === null ? null : Number(x.bot_first_response_ms),
      agentFirstResponseMs: x.agent_first_response_ms === null ? null : Number(x.agent_first_response_ms),
      resolutionMs: x.resolution_ms === null ? null : Number(x.resolution_ms),
    }));
  }

  /**
   * A duration's histogram per bucket in its stored log bins (binOf: bins 2 % wide), counted by the
   * database from the covering index; percentiles of large ranges come from it (src/analytics/stats.ts).
   */
  async timeHistogram(r: KpiRange, metric: TimeMetric): Promise<{ bucket: number; bin: number; n: number }[]> {
    const b = this.bucketOf('opened_at', r);
    const bin = METRIC_BIN[metric];
    let q = this.q.selectFrom('analytics_cases').where('opened_at', '>=', r.from).where('opened_at', '<', r.to).where(bin, 'is not', null);
    if (r.channel) q = q.where('channel', '=', r.channel);
    const rows = await q.select([b.expr.as('bucket'), bin, sql<number>`count(*)`.as('n')]).groupBy([b.expr, bin]).execute();
    return rows.map((x) => ({ bucket: b.start(Number(x.bucket)), bin: Number(x[bin]), n: Number(x.n) }));
  }

  async volume(r: KpiRange): Promise<VolumeCounts[]> {
    const b = this.bucketOf('hour', r);
    let q = this.q.selectFrom('analytics_hourly').where('hour', '>=', r.from).where('hour', '<', r.to);
    if (r.channel) q = q.where('channel', '=', r.channel);
    const rows = await q
      .select([b.expr.as('bucket'), 'channel', sql<number>`sum(inbound)`.as('inbound'), sql<number>`sum(outbound)`.as('outbound')])
      .groupBy([b.expr, 'channel'])
      .having(sql<boolean>`sum(inbound) + sum(outbound) > 0`)
      .execute();
    return rows
      .map((x) => ({ bucket: b.start(Number(x.bucket)), channel: x.channel, inbound: Number(x.inbound), outbound: Number(x.outbound) }))
      .sort((a, c) => a.bucket - c.bucket || a.channel.localeCompare(c.channel));
  }

  /** Proactive messages queued in the range: delivered (the platform took it), answered and opted out within 24 h. */
  async proactive(r: KpiRange): Promise<ProactiveCounts[]> {
    let q = this.q
      .selectFrom('analytics_proactive as p')
      .leftJoin('messages as m', 'm.id', 'p.message_id')
      .where('p.queued_at', '>=', r.from)
      .where('p.queued_at', '<', r.to);
    if (r.channel) q = q.where('p.channel', '=', r.channel);
    const rows = await q
      .select([
        'p.channel',
        'p.kind',
        sql<number>`count(*)`.as('sent'),
        sql<number>`sum(case when m.sent_at is not null then 1 else 0 end)`.as('delivered'),
        sql<number>`sum(case when p.answered_at is not null then 1 else 0 end)`.as('answered'),
        sql<number>`sum(case when p.opted_out_at is not null then 1 else 0 end)`.as('opted_out'),
      ])
      .groupBy(['p.channel', 'p.kind'])
      .execute();
    return rows.map((x) => ({ channel: x.channel, kind: x.kind, sent: Number(x.sent), delivered: Number(x.delivered), answered: Number(x.answered), optedOut: Number(x.opted_out) }));
  }

  /** Knowledge-gap questions in the range, newest first. */
  async questions(r: KpiRange, limit: number): Promise<QuestionRow[]> {
    let q = this.q.selectFrom('analytics_questions').selectAll().where('at', '>=', r.from).where('at', '<', r.to);
    if (r.channel) q = q.where('channel', '=', r.channel);
    const rows = await q.orderBy('at', 'desc').limit(limit).execute();
    return rows.map((x) => ({ ...openQuestionRow(this.pii, x), event_id: Number(x.event_id), at: Number(x.at), confidence: x.confidence === null ? null : Number(x.confidence) }));
  }

  /** The latest cases opened in the range. */
  async recentCases(r: KpiRange, limit: number): Promise<AnalyticsCase[]> {
    let q = this.q.selectFrom('analytics_cases').selectAll().where('opened_at', '>=', r.from).where('opened_at', '<', r.to);
    if (r.channel) q = q.where('channel', '=', r.channel);
    return (await q.orderBy('opened_at', 'desc').limit(limit).execute()).map((x) => rowToCase(openCaseRow(this.pii, x)));
  }
}
