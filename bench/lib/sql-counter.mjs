// Counts and times every SQLite statement a process runs, printed at exit (stderr), most costly
// first: how many statements a message or a reminder costs, and where the database time goes.
//   node --import tsx --import ./bench/lib/sql-counter.mjs bench/reminders.ts --n 1000
// It wraps better-sqlite3's prepared statements (run/get/all/iterate); PostgreSQL is not counted.
import { createRequire } from 'node:module';
import { statementTally } from './counter-report.mjs';

const require = createRequire(import.meta.url);
const SQLite = require('better-sqlite3');
const tally = statementTally((n, ms) => `SQL: ${n} statements, ${ms} ms`);
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
        tally.add(sql, t);
      }
    };
  }
  return statement;
};
