import { parse } from 'csv-parse/sync';

/** RFC 4180 CSV through csv-parse: quoted fields may hold commas, doubled quotes and newlines; CRLF or LF rows; a BOM is dropped. */
export function parseCsv(text: string): string[][] {
  try {
    return parse(text, { bom: true, relax_column_count: true, record_delimiter: ['\r\n', '\n', '\r'] });
  } catch (err) {
    throw new Error(`CSV: ${err instanceof Error ? err.message.replace(/^Quote Not Closed/i, 'unterminated quoted field') : String(err)}`);
  }
}

/**
 * Rows as objects keyed by the header row; blank lines are skipped. Throws when the header lacks
 * one of `required`, naming the missing columns and what the first row holds instead.
 */
export function parseCsvRecords(text: string, required: readonly string[] = []): Record<string, string>[] {
  const rows = parseCsv(text).filter((r) => !(r.length === 1 && r[0] === ''));
  const [header, ...body] = rows;
  const keys = (header ?? []).map((h) => h.trim());
  const missing = required.filter((c) => !keys.includes(c));
  if (missing.length > 0) {
    const found = keys.length > 0 ? `its first row is \`${keys.join(',')}\`` : 'it is empty';
    throw new Error(`needs a header row with the column(s) ${missing.map((c) => `\`${c}\``).join(', ')}; ${found}`);
  }
  return body.map((r) => Object.fromEntries(keys.map((k, i) => [k, r[i] ?? ''])));
}

export function toCsvField(value: string): string {
  return /[",\r\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
}
