/** Durations (`15m`, `7d`, `1h30m`) and `until` expressions (`dueAt - 7d`) of workflow files. */

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(?:\d+[smhdw])+$/;
const PART = /(\d+)([smhdw])/g;

/** Milliseconds of `15m`, `7d`, `1h30m` (units s m h d w); undefined when it is not one (or zero). */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  if (!DURATION.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

export const DURATION_HINT = 'a duration like 30s, 15m, 2h, 7d, 1w or 1h30m';

/** `dueAt`, `dueAt - 7d`, `at + 2h`: a data field and an offset. */
export function parseUntil(text: unknown): { field: string; offsetMs: number } | { problem: string } {
  if (typeof text !== 'string') return { problem: 'write a time from the event data, e.g. "dueAt - 7d"' };
  const m = /^\s*([A-Za-z_]\w*)\s*(?:([+-])\s*(\S+)\s*)?$/.exec(text);
  if (!m) return { problem: `"${text}" is not <datetime field> [+|- <duration>], e.g. "dueAt - 7d"` };
  const field = m[1] ?? '';
  if (m[2] === undefined) return { field, offsetMs: 0 };
  const ms = parseDuration(m[3]);
  if (ms === undefined) return { problem: `"${m[3] ?? ''}" in "${text}" is not ${DURATION_HINT}` };
  return { field, offsetMs: m[2] === '-' ? -ms : ms };
}

/** `7d`, `1h30m`: the shortest spelling of a duration (timelines). */
export function formatDuration(ms: number): string {
  let rest = Math.abs(ms);
  let out = '';
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m], ['s', UNIT_MS.s]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return (ms < 0 ? '-' : '') + (out || '0s');
}
