import type { BusinessHours } from './config.js';

interface LocalTime {
  /** ISO weekday, 1 = Monday. */
  weekday: number;
  minutes: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const NAMES = {
  en: ['', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
  zh: ['', '周一', '周二', '周三', '周四', '周五', '周六', '周日'],
};

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

export function localTime(now: number, timezone: string): LocalTime {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(now));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return { weekday: WEEKDAYS[get('weekday')] ?? 1, minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

export function isOpen(bh: BusinessHours, now: number): boolean {
  const t = localTime(now, bh.timezone);
  return bh.days.includes(t.weekday) && t.minutes >= toMinutes(bh.open) && t.minutes < toMinutes(bh.close);
}

/**
 * When the desk next opens, for the customer ("tomorrow 09:00", "明天 09:00", "Monday 09:00"),
 * in the desk's time zone (named in English texts).
 */
export function opensAt(bh: BusinessHours, now: number, locale: string): string {
  const zh = locale === 'zh';
  const t = localTime(now, bh.timezone);
  const open = toMinutes(bh.open);
  for (let d = 0; d <= 7; d++) {
    const weekday = ((t.weekday - 1 + d) % 7) + 1;
    if (!bh.days.includes(weekday)) continue;
    if (d === 0 && t.minutes >= open) continue;
    const day =
      d === 0 ? (zh ? '今天' : 'today') : d === 1 ? (zh ? '明天' : 'tomorrow') : (zh ? NAMES.zh : NAMES.en)[weekday];
    return zh ? `${day} ${bh.open}` : `${day} ${bh.open} (${bh.timezone} time)`;
  }
  return bh.open;
}
