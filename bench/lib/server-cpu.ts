// CPU time of the servers the bench talks to, when they run on this machine (Linux /proc): every
// process named `postgres` or `redis-server`, its own time plus that of its reaped children (a
// PostgreSQL backend that ends between two readings moves its time into the postmaster's), in
// seconds. Undefined where /proc is not readable. A server on another machine reads as 0.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux architecture Node supports. */
const TICKS_PER_SECOND = 100;

export function serverCpuSeconds(names: readonly string[] = ['postgres', 'redis-server']): Record<string, number> | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const name = stat.slice(open + 1, close);
    if (!(name in out)) continue;
    // After the name: state (field 3) … utime (14), stime (15), cutime (16), cstime (17).
    const f = stat.slice(close + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
    out[name] = (out[name] ?? 0) + ticks / TICKS_PER_SECOND;
  }
  return out;
}

/** What each server used between two readings, in ms per message. */
export function serverCpuMsPerMsg(before: Record<string, number> | undefined, after: Record<string, number> | undefined, messages: number): Record<string, number> | undefined {
  if (!before || !after) return undefined;
  return Object.fromEntries(Object.keys(after).map((k) => [k, Number((((after[k] ?? 0) - (before[k] ?? 0)) * 1000 / messages).toFixed(3))]));
}
