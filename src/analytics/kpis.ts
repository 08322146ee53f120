/**
 * The KPIs over a date range, per channel and per day or week (definitions: docs/analytics.md):
 * counts come from SQL aggregations of the read models (storage.analyticsKpis), rates and
 * percentiles are computed here.
 */
import type { Storage } from '../core/storage/storage.js';
import { BINS_PER_E, type CaseCounts, type KpiRange, type TimeMetric } from '../core/storage/analytics-kpis.js';
import type { AnalyticsCase } from '../core/storage/analytics.js';
import { hasCjk } from '../knowledge/tokenize.js';
import { clusterQuestions, type GapCluster } from './gaps.js';
import { rate, spread, spreadOfHistogram, type Spread } from './stats.js';

export type { KpiRange };

/** Up to this many durations in a range, percentiles are exact; beyond, from histograms (about 1 %). */
export const EXACT_TIMES = 20_000;
const METRICS: readonly TimeMetric[] = ['botFirstResponse', 'agentFirstResponse', 'resolution'];

/** Questions read for the gap clusters (the newest of the range). */
export const GAP_QUESTIONS = 5000;

export interface Rates {
  cases: number;
  escalated: number;
  escalationRate: number | null;
  settled: number;
  botResolved: number;
  botResolutionRate: number | null;
  resolved: number;
  firstContact: number;
  firstContactResolutionRate: number | null;
  reopened: number;
  csatAverage: number | null;
  csatGiven: number;
  csatAsked: number;
  csatResponseRate: number | null;
}

export interface SeriesPoint extends Rates {
  bucket: number;
  channel: string;
}

export interface Times {
  botFirstResponse: Spread;
  agentFirstResponse: Spread;
  resolution: Spread;
}

function sum(rows: readonly CaseCounts[]): CaseCounts {
  const t: CaseCounts = { bucket: 0, channel: '*', cases: 0, escalated: 0, settled: 0, botResolved: 0, resolved: 0, firstContact: 0, reopened: 0, csatAsked: 0, csatAnswered: 0, csatGiven: 0, csatSum: 0 };
  for (const r of rows) {
    for (const k of ['cases', 'escalated', 'settled', 'botResolved', 'resolved', 'firstContact', 'reopened', 'csatAsked', 'csatAnswered', 'csatGiven', 'csatSum'] as const) t[k] += r[k];
  }
  return t;
}

export function rates(c: CaseCounts): Rates {
  return {
    cases: c.cases,
    escalated: c.escalated,
    escalationRate: rate(c.escalated, c.cases),
    settled: c.settled,
    botResolved: c.botResolved,
    botResolutionRate: rate(c.botResolved, c.settled),
    resolved: c.resolved,
    firstContact: c.firstContact,
    firstContactResolutionRate: rate(c.firstContact, c.settled),
    reopened: c.reopened,
    csatAverage: c.csatGiven > 0 ? Math.round((c.csatSum / c.csatGiven) * 100) / 100 : null,
    csatGiven: c.csatGiven,
    csatAsked: c.csatAsked,
    csatResponseRate: rate(c.csatAnswered, c.csatAsked),
  };
}

export class AnalyticsKpis {
  constructor(private readonly storage: Storage) {}

  private get repo() {
    return this.storage.analyticsKpis;
  }

  /** Rates per bucket and channel, per bucket (all channels), and over the whole range. */
  async overview(r: KpiRange): Promise<{ totals: Rates; byChannel: Record<string, Rates>; series: SeriesPoint[]; buckets: SeriesPoint[] }> {
    const rows = await this.repo.caseCounts(r);
    const byChannel: Record<string, Rates> = {};
    for (const ch of new Set(rows.map((x) => x.channel))) byChannel[ch] = rates(sum(rows.filter((x) => x.channel === ch)));
    const buckets = [...new Set(rows.map((x) => x.bucket))].sort((a, b) => a - b).map((bucket) => ({ ...rates(sum(rows.filter((x) => x.bucket === bucket))), bucket, channel: '*' }));
    return { totals: rates(sum(rows)), byChannel, series: rows.map((x) => ({ ...rates(x), bucket: x.bucket, channel: x.channel })), buckets };
  }

  async volume(r: KpiRange) {
    return this.repo.volume(r);
  }

  async escalationReasons(r: KpiRange) {
    return this.repo.escalationReasons(r);
  }

  /**
   * Median and p90 of the bot's and the agents' first response and of the time to resolution,
   * overall and per bucket: exact up to `EXACT_TIMES` durations in the range, beyond that from the
   * database's log-binned histograms (within about 1 %; docs/analytics.md).
   */
  async responseTimes(r: KpiRange): Promise<{ totals: Times; series: ({ bucket: number } & Times)[]; exact: boolean }> {
    const hists = await Promise.all(METRICS.map((m) => this.repo.timeHistogram(r, m)));
    const total = hists.reduce((s, h) => s + h.reduce((t, x) => t + x.n, 0), 0);
    if (total <= EXACT_TIMES) return { ...(await this.exactTimes(r)), exact: true };
    const buckets = [...new Set(hists.flatMap((h) => h.map((x) => x.bucket)))].sort((a, b) => a - b);
    const [bot = [], agent = [], resolution = []] = hists;
    const times = (pick: (x: { bucket: number }) => boolean): Times => ({
      botFirstResponse: spreadOfHistogram(bot.filter(pick), BINS_PER_E),
      agentFirstResponse: spreadOfHistogram(agent.filter(pick), BINS_PER_E),
      resolution: spreadOfHistogram(resolution.filter(pick), BINS_PER_E),
    });
    return { totals: times(() => true), series: buckets.map((bucket) => ({ bucket, ...times((x) => x.bucket === bucket) })), exact: false };
  }

  private async exactTimes(r: KpiRange): Promise<{ totals: Times; series: ({ bucket: number } & Times)[] }> {
    const rows = await this.repo.caseTimes(r);
    const times = (xs: typeof rows): Times => ({
      botFirstResponse: spread(xs.flatMap((x) => (x.botFirstResponseMs === null ? [] : [x.botFirstResponseMs]))),
      agentFirstResponse: spread(xs.flatMap((x) => (x.agentFirstResponseMs === null ? [] : [x.agentFirstResponseMs]))),
      resolution: spread(xs.flatMap((x) => (x.resolutionMs === null ? [] : [x.resolutionMs]))),
    });
    const byBucket = new Map<number, typeof rows>();
    for (const x of rows) {
      const list = byBucket.get(x.bucket);
      if (list) list.push(x);
      else byBucket.set(x.bucket, [x]);
    }
    return {
      totals: times(rows),
      series: [...byBucket.entries()].sort((a, b) => a[0] - b[0]).map(([bucket, xs]) => ({ bucket, ...times(xs) })),
    };
  }

  async proactive(r: KpiRange) {
    const rows = await this.repo.proactive(r);
    const t = { sent: 0, delivered: 0, answered: 0, optedOut: 0 };
    for (const x of rows) for (const k of ['sent', 'delivered', 'answered', 'optedOut'] as const) t[k] += x[k];
    return { totals: { ...t, deliveryRate: rate(t.delivered, t.sent), answerRate: rate(t.answered, t.delivered), optOutRate: rate(t.optedOut, t.delivered) }, rows };
  }

  async gaps(r: KpiRange): Promise<GapCluster[]> {
    return clusterQuestions(await this.repo.questions(r, GAP_QUESTIONS));
  }

  async recent(r: KpiRange, limit = 50): Promise<AnalyticsCase[]> {
    return this.repo.recentCases(r, limit);
  }

  /**
   * Drafts a knowledge entry from a gap cluster into the pending answers (idempotent per cluster):
   * the question is its newest example, the answer a person's reply to one of its questions when
   * there is one, else a marked placeholder to be written before approval.
   */
  async draftFromGap(r: KpiRange, clusterId: string, by: string) {
    const cluster = (await this.gaps(r)).find((c) => c.id === clusterId);
    if (!cluster) return undefined;
    const question = cluster.examples[0] ?? cluster.label;
    const answer =
      cluster.agentAnswer ??
      `[draft] ${cluster.count} similar questions (${cluster.examples.join(' | ')}): write the answer before approving.`;
    return this.storage.pendingAnswers.propose({
      key: `analytics-gap:${cluster.id}`,
      question,
      answer,
      locale: hasCjk(question) ? 'zh' : 'en',
      conversationId: cluster.conversationId,
      proposedBy: by,
      proposedByName: 'Analytics',
    });
  }
}
