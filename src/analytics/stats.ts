/** Small statistics for the KPIs: percentiles with linear interpolation (PostgreSQL's percentile_cont) and safe rates. */

export interface Spread {
  count: number;
  median: number | null;
  p90: number | null;
}

/** The p-quantile (0..1) of sorted numbers, interpolated between neighbours; null when empty. */
export function quantile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return Math.round(a + (b - a) * (rank - lo));
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9) };
}

/** part / whole rounded to 4 decimals; null when nothing to divide. */
export function rate(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null;
}

/** Minutes east of UTC of an IANA time zone at `at` (throws on an unknown zone). */
export function offsetMinutes(timeZone: string, at: number): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(new Date(at)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!m) return 0;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
}

/**
 * Median and p90 from a log-binned histogram (bin = round(ln(ms + 1) × binsPerE)): the same
 * interpolation between neighbouring ranks as `quantile`, each rank's value the centre of its bin
 * (within half a bin, about 1 %, of the exact value).
 */
export function spreadOfHistogram(bins: readonly { bin: number; n: number }[], binsPerE: number): Spread {
  const merged = new Map<number, number>();
  for (const b of bins) merged.set(b.bin, (merged.get(b.bin) ?? 0) + b.n);
  const sorted = [...merged.entries()].sort((a, b) => a[0] - b[0]);
  const count = sorted.reduce((s, [, n]) => s + n, 0);
  if (count === 0) return { count: 0, median: null, p90: null };
  const at = (rank: number): number => {
    let seen = 0;
    for (const [bin, n] of sorted) {
      seen += n;
      if (rank < seen) return Math.max(0, Math.exp(bin / binsPerE) - 1);
    }
    return Math.exp((sorted[sorted.length - 1]?.[0] ?? 0) / binsPerE) - 1;
  };
  const q = (p: number): number => {
    const rank = p * (count - 1);
    const lo = at(Math.floor(rank));
    const hi = at(Math.ceil(rank));
    return Math.round(lo + (hi - lo) * (rank - Math.floor(rank)));
  };
  return { count, median: q(0.5), p90: q(0.9) };
}
