/**
 * Time zones and quiet hours with `Intl` only: the wall-clock time of an instant in a zone, the
 * instant of a wall-clock time, and where a send due in quiet hours moves to (their end, local).
 */
import type { QuietHours } from './types.js';

const formats = new Map<string, Intl.DateTimeFormat>();

function formatIn(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(zone, f);
  }
  return f;
}

/** Whether `zone` is an IANA time zone this Node knows (Intl.DateTimeFormat throws on others). */
export function isTimeZone(zone: unknown): zone is string {
  if (typeof zone !== 'string' || zone.trim() === '') return false;
  try {
    formatIn(zone);
    return true;
  } catch {
    return false;
  }
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function wallTime(at: Date, zone: string): Wall {
  const parts: Record<string, number> = {};
  for (const p of formatIn(zone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const n = (k: string): number => parts[k] ?? 0;
  return { year: n('year'), month: n('month'), day: n('day'), hour: n('hour') % 24, minute: n('minute'), second: n('second') };
}

/** The instant at which `zone` shows this wall time (the later one in a DST gap's aftermath). */
export function instantOf(w: Wall, zone: string): Date {
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  let t = asUtc;
  for (let i = 0; i < 3; i++) {
    const seen = wallTime(new Date(t), zone);
    const diff = asUtc - Date.UTC(seen.year, seen.month - 1, seen.day, seen.hour, seen.minute, seen.second);
    if (diff === 0) break;
    t += diff;
  }
  return new Date(t);
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes after midnight of "HH:MM"; undefined when it is not one. */
export function minutesOf(hhmm: unknown): number | undefined {
  const m = typeof hhmm === 'string' ? HHMM.exec(hhmm) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

/**
 * When a message due `at` may go out: `at` itself, or, when the customer's local time falls in
 * the quiet hours (from inclusive, to exclusive; `from` > `to` spans midnight), the next `to`.
 */
export function afterQuietHours(at: Date, quiet: QuietHours | null, zone: string): Date {
  if (!quiet) return at;
  const from = minutesOf(quiet.from) ?? 0;
  const to = minutesOf(quiet.to) ?? 0;
  if (from === to) return at;
  const w = wallTime(at, zone);
  const now = w.hour * 60 + w.minute;
  const quietNow = from < to ? now >= from && now < to : now >= from || now < to;
  if (!quietNow) return at;
  // The end is today when we are before it (after midnight, or a same-day span), else tomorrow.
  const endsToday = now < to;
  const day = new Date(Date.UTC(w.year, w.month - 1, w.day + (endsToday ? 0 : 1)));
  return instantOf(
    { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), hour: Math.floor(to / 60), minute: to % 60, second: 0 },
    zone,
  );
}
