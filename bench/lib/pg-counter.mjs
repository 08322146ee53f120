// Counts and times every PostgreSQL query a process sends (pg's Client.query), printed at exit
// (stderr), most costly first: the PostgreSQL twin of sql-counter.mjs.
//   node --import tsx --import ./bench/lib/pg-counter.mjs bench/pipeline.ts --db postgres --responder fixed
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pg = require('pg');
const stats = new Map();
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text !== 'string') return query.call(this, config, ...rest);
  const t = process.hrtime.bigint();
  const done = () => {
    const key = text.slice(0, 90);
    const s = stats.get(key) ?? { n: 0, ns: 0n };
    s.n++;
    s.ns += process.hrtime.bigint() - t;
    stats.set(key, s);
  };
  const r = query.call(this, config, ...rest);
  if (r && typeof r.then === 'function') r.then(done, done);
  return r;
};
process.on('exit', () => {
  let n = 0;
  let ns = 0n;
  for (const s of stats.values()) {
    n += s.n;
    ns += s.ns;
  }
  console.error(`PG: ${n} queries, ${Number(ns / 1_000_000n)} ms waited in all (concurrent waits add up)`);
  for (const [sql, s] of [...stats].sort((a, b) => Number(b[1].ns - a[1].ns)).slice(0, 30)) {
    console.error(`${String(Number(s.ns / 1_000_000n)).padStart(8)} ms ${String(s.n).padStart(8)}  ${sql}`);
  }
});
