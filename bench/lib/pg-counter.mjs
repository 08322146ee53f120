// Counts and times every PostgreSQL query a process sends (pg's Client.query), printed at exit
// (stderr), most costly first: the PostgreSQL twin of sql-counter.mjs.
//   node --import tsx --import ./bench/lib/pg-counter.mjs bench/pipeline.ts --db postgres --responder fixed
import { createRequire } from 'node:module';
import { statementTally } from './counter-report.mjs';

const require = createRequire(import.meta.url);
const pg = require('pg');
const tally = statementTally((n, ms) => `PG: ${n} queries, ${ms} ms waited in all (concurrent waits add up)`);
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text;
  if (typeof text !== 'string') return query.call(this, config, ...rest);
  const t = process.hrtime.bigint();
  const done = () => tally.add(text, t);
  const r = query.call(this, config, ...rest);
  if (r && typeof r.then === 'function') r.then(done, done);
  return r;
};
