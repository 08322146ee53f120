/**
 * The hourly rollup behind the KPI and volume queries (`analytics_hourly`, one row per UTC hour and
 * channel): what each case adds, counted in the hour it opened, and what each message adds, in the
 * hour it was written. A rebuild moves the rollup by the difference between the rows it replaces
 * and the new ones, in the same transaction, so the rollup always equals the sum over the read
 * models (tests compare the two). Counts that depend on "now" (whether a case's 24 h come-back
 * window has passed) are stored as if it had (`*_if_quiet`); the KPI query corrects for the few
 * cases of the last day from the cases table.
 */
import { HOURLY_COUNTERS, type AnalyticsCase, type AnalyticsVolume, type HourlyCounter, type HourlyTable } from './analytics-rows.js';

export { HOURLY_COUNTERS, type HourlyCounter, type HourlyTable };

const HOUR = 3_600_000;

/** Differences per (hour, channel), keyed `hour|channel`. */
export type HourlyDeltas = Map<string, HourlyTable>;

function row(deltas: HourlyDeltas, hour: number, channel: string): HourlyTable {
  const key = `${hour}|${channel}`;
  let r = deltas.get(key);
  if (!r) {
    r = { hour, channel, ...(Object.fromEntries(HOURLY_COUNTERS.map((c) => [c, 0])) as Record<HourlyCounter, number>) };
    deltas.set(key, r);
  }
  return r;
}

/** A case resolved by the bot once its come-back window has passed (docs/analytics.md). */
export function botResolvedIfQuiet(c: Pick<AnalyticsCase, 'escalatedAt' | 'botAnswers' | 'cameBack'>): boolean {
  return c.escalatedAt === null && c.botAnswers > 0 && !c.cameBack;
}

/** A case resolved at first contact once its come-back window has passed. */
export function firstContactIfQuiet(c: Pick<AnalyticsCase, 'escalatedAt' | 'botAnswers' | 'cameBack' | 'reopens' | 'resolvedAt'>): boolean {
  return !c.cameBack && c.reopens === 0 && (botResolvedIfQuiet(c) || c.resolvedAt !== null);
}

/** Adds `sign` × a case's counters to its opening hour. */
export function addCase(deltas: HourlyDeltas, c: AnalyticsCase, sign: 1 | -1): void {
  const r = row(deltas, Math.floor(c.openedAt / HOUR) * HOUR, c.channel);
  r.cases += sign;
  if (c.escalatedAt !== null) r.escalated += sign;
  if (c.resolvedAt !== null) r.resolved += sign;
  if (c.reopens > 0) r.reopened += sign;
  if (c.csatAsked) r.csat_asked += sign;
  if (c.csatAsked && c.csatScore !== null) r.csat_answered += sign;
  if (c.csatScore !== null) {
    r.csat_given += sign;
    r.csat_sum += sign * c.csatScore;
  }
  if (botResolvedIfQuiet(c)) r.bot_resolved_if_quiet += sign;
  if (firstContactIfQuiet(c)) r.first_contact_if_quiet += sign;
  if (c.cameBack) r.came_back += sign;
}

export function addVolume(deltas: HourlyDeltas, v: AnalyticsVolume, sign: 1 | -1): void {
  const r = row(deltas, v.hour, v.channel);
  r.inbound += sign * v.inbound;
  r.outbound += sign * v.outbound;
}

/** The non-zero differences, in key order (PostgreSQL: rebuilds lock rollup rows in one order, no deadlock). */
export function changed(deltas: HourlyDeltas): HourlyTable[] {
  return [...deltas.values()].filter((r) => HOURLY_COUNTERS.some((c) => r[c] !== 0)).sort((a, b) => a.hour - b.hour || a.channel.localeCompare(b.channel));
}
