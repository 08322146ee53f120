// What sql-counter.mjs and pg-counter.mjs share: a per-statement tally and its report at exit
// (stderr, most costly first).

/** A map of statement text -> { n, ns }, printed when the process exits under `headline(n, ms)`. */
export function statementTally(headline) {
  const stats = new Map();
  process.on('exit', () => {
    let n = 0;
    let ns = 0n;
    for (const s of stats.values()) {
      n += s.n;
      ns += s.ns;
    }
    console.error(headline(n, Number(ns / 1_000_000n)));
    for (const [sql, s] of [...stats].sort((a, b) => Number(b[1].ns - a[1].ns)).slice(0, 30)) {
      console.error(`${String(Number(s.ns / 1_000_000n)).padStart(8)} ms ${String(s.n).padStart(8)}  ${sql}`);
    }
  });
  return {
    /** Counts one statement of `sql` that started at `t0` (process.hrtime.bigint()). */
    add(sql, t0) {
      const key = sql.slice(0, 90);
      const s = stats.get(key) ?? { n: 0, ns: 0n };
      s.n++;
      s.ns += process.hrtime.bigint() - t0;
      stats.set(key, s);
    },
  };
}
