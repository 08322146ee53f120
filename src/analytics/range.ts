/**
 * The date range of a KPI request: `from` and `to` are calendar days (YYYY-MM-DD, both included)
 * in `tz` (an IANA zone, default the configured one), or epoch milliseconds; `bucket` is day or
 * week; `channel` narrows to one channel. Default: the last 30 days up to today.
 */
import type { KpiRange } from '../core/storage/analytics-kpis.js';
import { offsetMinutes } from './stats.js';

const DAY = 86_400_000;
/** Longest range served (about five years). */
const MAX_DAYS = 1900;

export interface RangeQuery {
  from?: string | undefined;
  to?: string | undefined;
  bucket?: string | undefined;
  tz?: string | undefined;
  channel?: string | undefined;
}

export class BadRange extends Error {}

function dayStart(text: string, offsetMs: number, field: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const t = Date.parse(`${text}T00:00:00Z`);
    if (Number.isFinite(t)) return t - offsetMs;
  } else if (/^\d{10,15}$/.test(text)) {
    return Number(text);
  }
  throw new BadRange(`${field}: expected a day (YYYY-MM-DD) or epoch milliseconds, got "${text}"`);
}

export function parseRange(q: RangeQuery, defaults: { timeZone: string; now: number }): KpiRange {
  const tz = q.tz || defaults.timeZone;
  let offset: number;
  try {
    offset = offsetMinutes(tz, defaults.now);
  } catch {
    throw new BadRange(`tz: unknown time zone "${tz}" (an IANA name such as Asia/Shanghai or UTC)`);
  }
  const offsetMs = offset * 60_000;
  const today = Math.floor((defaults.now + offsetMs) / DAY) * DAY - offsetMs;
  // `to` names the last day included: the range ends at the next midnight.
  const to = q.to ? (/^\d{4}-/.test(q.to) ? dayStart(q.to, offsetMs, 'to') + DAY : dayStart(q.to, offsetMs, 'to')) : today + DAY;
  const from = q.from ? dayStart(q.from, offsetMs, 'from') : to - 30 * DAY;
  if (from >= to) throw new BadRange('from: must be before to');
  if (to - from > MAX_DAYS * DAY) throw new BadRange(`the range may span at most ${MAX_DAYS} days`);
  const bucket = q.bucket ?? 'day';
  if (bucket !== 'day' && bucket !== 'week') throw new BadRange(`bucket: must be day or week, got "${bucket}"`);
  if (q.channel !== undefined && !/^[a-z][a-z0-9_-]{0,63}$/.test(q.channel)) throw new BadRange(`channel: not a channel name: "${q.channel}"`);
  return { from, to, bucket, offsetMinutes: offset, now: defaults.now, ...(q.channel ? { channel: q.channel } : {}) };
}
