import { CompiledQuery, type Compilable, type Insertable, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Database } from './tables.js';

/** The storage's connection or one of its transactions (`Q` of rows.ts, which holds the cache). */
type Q = Kysely<Database> | Transaction<Database>;

/** Most shapes a storage keeps (an insert's: table, columns, row count, conflict column; a query's: its key). */
const MAX_SHAPES = 500;

/**
 * Statements compiled once: hot queries by key (`run`), and inserts by shape. Kysely builds and
 * compiles an insert the first time its shape is seen (table, columns in order, number of rows, the
 * column whose conflict does nothing), and later inserts of that shape reuse its SQL with their own
 * values. Building and compiling a 20-column insert costs
 * about 17 µs, reusing its text about 1 µs, and inserts are most of a message's statements. The SQL
 * is kept only when Kysely's parameters were exactly the rows' values in column order, so what runs
 * is always what Kysely would have run. One per storage (so per dialect).
 */
export class QueryCache {
  private readonly shapes = new Map<string, string | null>();
  private readonly queries = new Map<string, string | null>();

  /**
   * A hot query whose SQL depends only on `key` (its caller puts in the key whatever changes the
   * SQL: the columns a patch sets, how many ids a list has): `build` gives Kysely's query the first
   * time, and later calls run its SQL with `params`, the values in the order the SQL takes them.
   * As with inserts, the SQL is kept only when Kysely's parameters were exactly `params`, so a
   * caller that lists them wrongly gets Kysely's query every time, never a wrong one. The rows come
   * back as Kysely's `execute` gives them (no plugins are configured).
   */
  async run<R>(q: Q, key: string, params: readonly unknown[], build: () => Compilable<R>): Promise<QueryResult<R>> {
    return this.through(this.queries, q, key, params, build);
  }

  /** The keys of `run` whose SQL is kept (what the hot paths reuse; tests and diagnostics). */
  kept(): string[] {
    return [...this.queries].filter(([, text]) => text !== null).map(([key]) => key);
  }

  /** Inserts `rows` into `table`; returns the number of rows inserted. */
  async insert<T extends keyof Database & string>(q: Q, table: T, rows: readonly Insertable<Database[T]>[], doNothingOn?: keyof Database[T] & string): Promise<bigint> {
    const first = rows[0] as Record<string, unknown> | undefined;
    if (!first) return 0n;
    const cols = Object.keys(first).filter((c) => first[c] !== undefined);
    const key = `${table}\u0000${doNothingOn ?? ''}\u0000${rows.length}\u0000${cols.join(',')}`;
    const params: unknown[] = [];
    let uniform = true;
    for (const r of rows as readonly Record<string, unknown>[]) {
      for (const c of cols) params.push(r[c]);
      // Every row has the first one's columns, and no other.
      if (r !== first) uniform &&= Object.keys(r).filter((c) => r[c] !== undefined).join(',') === cols.join(',');
    }
    const build = () => {
      const base = q.insertInto(table).values(rows as never);
      return doNothingOn ? base.onConflict((oc) => oc.column(doNothingOn as never).doNothing()) : base;
    };
    // Rows whose keys differ (a column missing in one) compile to other parameters: never reused.
    const res = uniform ? await this.through(this.shapes, q, key, params, build) : await q.executeQuery(build().compile());
    return res.numAffectedRows ?? 0n;
  }

  /** Runs the SQL kept under `key`, or Kysely's query, keeping its SQL when its parameters were exactly `params`. */
  private async through<R>(kept: Map<string, string | null>, q: Q, key: string, params: readonly unknown[], build: () => Compilable<R>): Promise<QueryResult<R>> {
    const text = kept.get(key);
    if (text) return q.executeQuery<R>(CompiledQuery.raw(text, [...params]));
    const compiled = build().compile();
    if (text === undefined && kept.size < MAX_SHAPES) {
      const same = compiled.parameters.length === params.length && compiled.parameters.every((p, i) => p === params[i]);
      kept.set(key, same ? compiled.sql : null);
    }
    return q.executeQuery(compiled);
  }
}
