// Counts and times every SQLite statement a process runs, printed at exit (stderr), most costly
// first: how many statements a message or a reminder costs, and where the database time goes.
//   node --import tsx --import ./bench/lib/sql-counter.mjs bench/reminders.ts --n 1000
// It wraps better-sqlite3's prepared statements (run/get/all/iterate); PostgreSQL is not counted.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SQLite = require('better-sqlite3');
const stats = new Map();
const prepare = SQLite.prototype.prepare;
SQLite.prototype.prepare = function (sql) {
  const statement = prepare.call(this, sql);
  for (const m of ['run', 'get', 'all', 'iterate']) {
    const f = statement[m];
    statement[m] = function (...args) {
      const t = process.hrtime.bigint();
      try {
        return f.apply(this, args);
      } finally {
        const key = sql.slice(0, 90);
        const s = stats.get(key) ?? { n: 0, ns: 0n };
        s.n++;
        s.ns += process.hrtime.bigint() - t;
        stats.set(key, s);
      }
    };
  }
  return statement;
};
process.on('exit', () => {
  let n = 0;
  let ns = 0n;
  for (const s of stats.values()) {
    n += s.n;
    ns += s.ns;
  }
  console.error(`SQL: ${n} statements, ${Number(ns / 1_000_000n)} ms`);
  for (const [sql, s] of [...stats].sort((a, b) => Number(b[1].ns - a[1].ns)).slice(0, 30)) {
    console.error(`${String(Number(s.ns / 1_000_000n)).padStart(7)} ms ${String(s.n).padStart(8)}  ${sql}`);
  }
});
