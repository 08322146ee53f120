/** CSV export of any analytics table: csv-stringify, UTF-8 with a BOM (Excel opens Chinese text right), a header row. */
import { stringify } from 'csv-stringify/sync';

export type Cell = string | number | boolean | null | undefined;

export function toCsv(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return `\uFEFF${stringify([columns as string[], ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : c)))])}`;
}

/** The calendar day (YYYY-MM-DD) of a bucket start in the range's offset. */
export function dayOf(t: number, offsetMinutes: number): string {
  return new Date(t + offsetMinutes * 60_000).toISOString().slice(0, 10);
}
