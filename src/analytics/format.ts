/** Plain-text formats of rates and durations (the Slack summary). */
export function fmtRate(x: number | null): string {
  return x === null ? '–' : `${(x * 100).toFixed(1)}%`;
}

export function fmtDuration(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
