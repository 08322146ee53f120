/**
 * CSV export of any analytics table: csv-stringify, UTF-8 with a BOM (Excel opens Chinese text
 * right), a header row. Text cells that a spreadsheet would run as a formula (customers write the
 * questions: `=HYPERLINK(…)`) start with a `'` (OWASP's advice against CSV injection).
 */
import { stringify } from 'csv-stringify/sync';

export type Cell = string | number | boolean | null | undefined;

function safe(c: Cell): string | number | boolean {
  if (c === null || c === undefined) return '';
  return typeof c === 'string' && /^[=+\-@\t\r]/.test(c) ? `'${c}` : c;
}

export function toCsv(columns: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return `\uFEFF${stringify([columns as string[], ...rows.map((r) => r.map(safe))])}`;
}

/** The calendar day (YYYY-MM-DD) of a bucket start in the range's offset. */
export function dayOf(t: number, offsetMinutes: number): string {
  return new Date(t + offsetMinutes * 60_000).toISOString().slice(0, 10);
}
