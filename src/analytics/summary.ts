/**
 * The daily summary: yesterday's key numbers (in `analytics.timezone`), each with its change
 * against the day before, and the top three knowledge gaps, posted to a Slack channel through a
 * port (the hub gives a Slack Web API poster). Run by a BullMQ job scheduler on its own queue
 * `analytics-summary` (durable; never a process timer), so one post per tick whichever worker runs it.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { AnalyticsKpis } from './kpis.js';
import { parseRange } from './range.js';
import { fmtDuration, fmtRate } from './format.js';

export const SUMMARY_QUEUE = 'analytics-summary';
const DAY = 86_400_000;

/** Posts a text (Slack mrkdwn) to a channel. */
export type SummaryPoster = (channel: string, text: string) => Promise<void>;

function change(now: number | null, before: number | null, kind: 'rate' | 'count' | 'score' | 'ms'): string {
  if (now === null || before === null) return '';
  const d = now - before;
  if (d === 0) return ' (=)';
  const sign = d > 0 ? '+' : '−';
  const abs = Math.abs(d);
  const text = kind === 'rate' ? `${(abs * 100).toFixed(1)} pt` : kind === 'ms' ? fmtDuration(abs) : kind === 'score' ? abs.toFixed(2) : String(abs);
  return ` (${sign}${text})`;
}

/** The summary's text for the day before `now` in `timeZone`. */
export async function dailySummary(kpis: AnalyticsKpis, timeZone: string, now: number): Promise<string> {
  const day = (offsetDays: number) => {
    const r = parseRange({ tz: timeZone }, { timeZone, now });
    const to = r.to - DAY - offsetDays * DAY;
    return { ...r, from: to - DAY, to };
  };
  const [y, b] = [day(0), day(1)];
  const [oy, ob, ty, tb, gaps] = await Promise.all([kpis.overview(y), kpis.overview(b), kpis.responseTimes(y), kpis.responseTimes(b), kpis.gaps(y)]);
  const k = oy.totals;
  const p = ob.totals;
  const date = new Date(y.from + y.offsetMinutes * 60_000).toISOString().slice(0, 10);
  const lines = [
    `*Switchboard daily summary: ${date}* (${timeZone}; change against the day before)`,
    `• Cases: ${k.cases}${change(k.cases, p.cases, 'count')}`,
    `• Resolved by the bot: ${fmtRate(k.botResolutionRate)}${change(k.botResolutionRate, p.botResolutionRate, 'rate')}`,
    `• Escalated: ${fmtRate(k.escalationRate)}${change(k.escalationRate, p.escalationRate, 'rate')}`,
    `• First-contact resolution: ${fmtRate(k.firstContactResolutionRate)}${change(k.firstContactResolutionRate, p.firstContactResolutionRate, 'rate')}`,
    `• CSAT: ${k.csatAverage ?? '–'} from ${k.csatGiven} answers${change(k.csatAverage, p.csatAverage, 'score')}`,
    `• Agents' first response (median): ${fmtDuration(ty.totals.agentFirstResponse.median)}${change(ty.totals.agentFirstResponse.median, tb.totals.agentFirstResponse.median, 'ms')}`,
  ];
  const top = gaps.slice(0, 3);
  lines.push(top.length ? '*Top knowledge gaps*' : '*Knowledge gaps*: none');
  top.forEach((g, i) => lines.push(`${i + 1}. “${g.label.slice(0, 120)}” — ${g.count} question${g.count === 1 ? '' : 's'}, ${g.escalated} escalated`));
  return lines.join('\n');
}

export interface SummaryScheduleDeps {
  redis: Redis;
  prefix: string;
  cron: string;
  timeZone: string;
  channel: string;
  kpis: AnalyticsKpis;
  post: SummaryPoster;
  log: Logger;
  now(): number;
}

/** Upserts the scheduler and starts its worker; returns the worker and a close for the queue. */
export async function startDailySummary(d: SummaryScheduleDeps): Promise<{ worker: Worker; close(): Promise<void> }> {
  const queue = new Queue(SUMMARY_QUEUE, { connection: d.redis, prefix: d.prefix, defaultJobOptions: { removeOnComplete: 100, removeOnFail: 100, attempts: 5, backoff: { type: 'exponential', delay: 30_000 } } });
  queue.on('error', () => undefined);
  await queue.upsertJobScheduler('daily', { pattern: d.cron, tz: d.timeZone }, { name: 'daily' });
  const worker = new Worker(
    SUMMARY_QUEUE,
    async () => {
      await d.post(d.channel, await dailySummary(d.kpis, d.timeZone, d.now()));
      d.log.info({ channel: d.channel }, 'analytics: daily summary posted');
    },
    { connection: d.redis, prefix: d.prefix, concurrency: 1 },
  );
  worker.on('error', (err) => d.log.warn({ queue: SUMMARY_QUEUE }, `worker error: ${errorMessage(err)}`));
  return { worker, close: () => queue.close().catch(() => undefined) };
}
