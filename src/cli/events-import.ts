/**
 * `switchboard events import FILE.csv --type T [--map col=field ...] [--url URL] [--dry-run]`:
 * turns a CSV export (a header row, one row per customer) into events of type T for a running hub
 * (issue #15), for businesses without an integration.
 *
 * Columns map to the event by name: a data field of T -> `data.<field>`; `externalId` /
 * `customer.externalId`, `locale`, `timezone` -> the customer; a channel name (`telegram`, `email`,
 * `wechat`, `webchat`) -> an identity `{ channel, id: cell }` when the cell is not empty;
 * `correlationKey`. `--map col=target` overrides (targets: data.<field>, externalId, locale,
 * timezone, identity.<channel>, correlationKey, `-` to leave a column out); other columns are left
 * out with a note. Cells become the field's type (number, integer, boolean; datetime stays an ISO
 * string); an empty cell is an absent field.
 *
 * Every row is checked first against T's schema of the workflows folder (as `workflows check`
 * finds it): a bad row is reported as `FILE:LINE: field: problem` (stderr) and skipped. The good
 * ones are POSTed to `<url>/api/events` (8 at a time) with `Authorization: Bearer
 * $SWITCHBOARD_TOKEN` and `Idempotency-Key: import:<sha256 of the file, 16 hex>:<line>`, so running
 * the same file again creates nothing new (the hub answers 200: "already imported"). Then the
 * summary `N rows: A accepted, D already imported, B bad (skipped), F failed` and a JSON line of
 * the counts. Exit 0 when every row was imported (or was already); 1 when a row was bad or failed
 * to post (re-running the file is safe); 2 for bad arguments, an unreadable file or no token.
 * `--dry-run` checks the rows and posts nothing (no token needed).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { errorMessage } from '../core/errors.js';
import { checkEvent } from '../workflows/event.js';
import { WorkflowLoadError, formatProblem } from '../workflows/source.js';
import type { DataSchema, FieldSpec } from '../workflows/types.js';
import { adapterFactories } from '../adapters/registry.js';
import type { CliIo } from './input.js';
import { loadConfiguredWorkflows } from './workflows.js';

export const EVENTS_USAGE = `usage: switchboard events import FILE.csv --type EVENT_TYPE [--map column=field ...] [--url http://127.0.0.1:3000] [--dry-run]
  fields: data.<field>, externalId, locale, timezone, identity.<channel>, correlationKey, - (leave out)
  needs SWITCHBOARD_TOKEN (an API token with the events role) unless --dry-run`;

const DEFAULT_URL = 'http://127.0.0.1:3000';
const CONCURRENCY = 8;
const CHANNEL = /^[a-z][a-z0-9_-]*$/;

class UsageError extends Error {}

/* Only workflows.dir is read, as `workflows check` does. */
export interface EventsImportOptions {
  configFile?: string;
  templatesFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Where a column goes. */
type Target =
  | { kind: 'data'; field: string; spec: FieldSpec }
  | { kind: 'customer'; key: 'externalId' | 'locale' | 'timezone' }
  | { kind: 'identity'; channel: string }
  | { kind: 'correlationKey' }
  | { kind: 'skip' };

interface CsvRecord {
  line: number;
  cells: string[];
}

interface Row {
  line: number;
  body: Record<string, unknown>;
}

export async function eventsCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }, opts: EventsImportOptions = {}): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'import') return await importEvents(rest, io, opts);
    throw new UsageError(sub === undefined ? 'give an events command' : `unknown events command: ${sub}`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`${err.message}\n${EVENTS_USAGE}\n`);
      return 2;
    }
    io.err.write(`${err instanceof WorkflowLoadError ? err.problems.map(formatProblem).join('\n') : errorMessage(err)}\n`);
    return 1;
  }
}

async function importEvents(argv: string[], io: CliIo, opts: EventsImportOptions): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { type: { type: 'string' }, map: { type: 'string', multiple: true }, url: { type: 'string' }, 'dry-run': { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) throw new UsageError('give the CSV file');
  if (extra.length > 0) throw new UsageError(`one CSV file only (got also: ${extra.join(' ')})`);
  const type = parsed.values.type;
  if (type === undefined) throw new UsageError('give the event type: --type subscription.expiring');
  const dryRun = parsed.values['dry-run'] === true;
  const url = (parsed.values.url ?? DEFAULT_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url ${url}: not an http(s) URL (e.g. ${DEFAULT_URL})`);
  const token = (opts.env ?? process.env).SWITCHBOARD_TOKEN;
  if (!dryRun && (token === undefined || token.trim() === '')) {
    io.err.write('SWITCHBOARD_TOKEN is not set: export SWITCHBOARD_TOKEN=<an API token with the events role> (npx switchboard token create NAME --role events), or use --dry-run\n');
    return 2;
  }

  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new UsageError(`${file}: ${errorMessage(err)}`);
  }
  let records: CsvRecord[];
  try {
    records = parseCsvLines(bytes.toString('utf8'));
  } catch (err) {
    throw new UsageError(`${file}: ${errorMessage(err)}`);
  }
  const [header, ...body] = records;
  if (!header) throw new UsageError(`${file}: empty (needs a header row naming the columns)`);

  const schema = loadSchema(type, opts);
  const targets = columnTargets(file, header.cells.map((c) => c.trim()), schema, parsed.values.map ?? [], io);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);

  const good: Row[] = [];
  let bad = 0;
  for (const rec of body) {
    const problems = rowProblems(rec, targets, header.cells.length, type, schema);
    if ('problems' in problems) {
      bad++;
      for (const p of problems.problems) io.err.write(`${file}:${rec.line}: ${p}\n`);
    } else good.push({ line: rec.line, body: problems.body });
  }

  if (dryRun) {
    io.out.write(`${body.length} rows: ${good.length} valid, ${bad} bad (skipped); dry run: nothing posted\n`);
    io.out.write(`${JSON.stringify({ rows: body.length, valid: good.length, bad, dryRun: true })}\n`);
    return bad > 0 ? 1 : 0;
  }

  const counts = { accepted: 0, alreadyImported: 0, failed: 0 };
  let abort: string | undefined;
  const post = async (row: Row): Promise<void> => {
    if (abort !== undefined) {
      counts.failed++;
      return;
    }
    const outcome = await postRow(url, token ?? '', `import:${hash}:${row.line}`, row.body);
    if (outcome.kind === 'accepted') counts.accepted++;
    else if (outcome.kind === 'duplicate') counts.alreadyImported++;
    else {
      counts.failed++;
      if (outcome.kind === 'fatal') {
        if (abort === undefined) io.err.write(`${outcome.message}; stopped: the rows left were not posted\n`);
        abort ??= outcome.message;
      } else io.err.write(`${file}:${row.line}: ${outcome.message}\n`);
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, good.length) }, async () => {
      while (next < good.length) {
        const row = good[next++];
        if (row) await post(row);
      }
    }),
  );
  io.out.write(`${body.length} rows: ${counts.accepted} accepted, ${counts.alreadyImported} already imported, ${bad} bad (skipped), ${counts.failed} failed${counts.failed > 0 ? ' (running the same file again imports no row twice)' : ''}\n`);
  io.out.write(`${JSON.stringify({ rows: body.length, ...counts, bad })}\n`);
  return bad > 0 || counts.failed > 0 ? 1 : 0;
}

/** T's data schema in the workflows folder hub.yaml names (workflows.dir, default config/workflows). */
function loadSchema(type: string, opts: EventsImportOptions): DataSchema {
  const { dir, loaded } = loadConfiguredWorkflows(opts);
  const decl = loaded.events.get(type);
  if (!decl) throw new UsageError(`--type ${type}: no workflow in ${dir} declares it (known: ${[...loaded.events.keys()].join(', ') || 'none'})`);
  return decl.data;
}

/** A target as --map writes it. */
function parseTarget(text: string, schema: DataSchema): Target | string {
  const t = text.trim();
  if (t === '-') return { kind: 'skip' };
  if (t === 'correlationKey') return { kind: 'correlationKey' };
  const customer = t.replace(/^customer\./, '');
  if (customer === 'externalId' || customer === 'locale' || customer === 'timezone') return { kind: 'customer', key: customer };
  if (t.startsWith('identity.') || t.startsWith('customer.identity.')) {
    const channel = t.slice(t.indexOf('identity.') + 'identity.'.length);
    return CHANNEL.test(channel) ? { kind: 'identity', channel } : `identity.${channel}: not a channel name (e.g. identity.email)`;
  }
  const field = t.startsWith('data.') ? t.slice(5) : t;
  const spec = schema[field];
  if (spec) return { kind: 'data', field, spec };
  return `${t}: not a field of the event (data has ${Object.keys(schema).join(', ')}; or externalId, locale, timezone, identity.<channel>, correlationKey, -)`;
}

/** The target of each header column: --map first, then by name; unmapped columns are noted and left out. */
function columnTargets(file: string, header: string[], schema: DataSchema, maps: string[], io: CliIo): Target[] {
  const seen = new Set<string>();
  for (const h of header) {
    if (h !== '' && seen.has(h)) throw new UsageError(`${file}:1: column ${h} appears twice in the header`);
    seen.add(h);
  }
  const mapped = new Map<string, Target>();
  for (const m of maps) {
    const eq = m.indexOf('=');
    if (eq <= 0) throw new UsageError(`--map ${m}: write column=field (e.g. --map sub_id=data.subscriptionId)`);
    const col = m.slice(0, eq).trim();
    if (!header.includes(col)) throw new UsageError(`--map ${m}: ${file} has no column ${col} (its header: ${header.join(',')})`);
    const target = parseTarget(m.slice(eq + 1), schema);
    if (typeof target === 'string') throw new UsageError(`--map ${m}: ${target}`);
    mapped.set(col, target);
  }
  const channels = new Set(adapterFactories.map((f) => f.channel));
  const left: string[] = [];
  const targets = header.map((h): Target => {
    const given = mapped.get(h);
    if (given) return given;
    const byName = parseTarget(h, schema);
    if (typeof byName !== 'string' && (byName.kind !== 'identity' || channels.has(byName.channel))) return byName;
    if (channels.has(h)) return { kind: 'identity', channel: h };
    if (h !== '') left.push(h);
    return { kind: 'skip' };
  });
  if (left.length > 0) io.err.write(`${file}: column(s) ${left.join(', ')} not imported (no field of the event by that name; --map column=data.<field> to import one)\n`);
  return targets;
}

/** A cell as the field's type; a cell that is not one stays text, for the schema to name. */
function convert(cell: string, spec: FieldSpec): unknown {
  if (spec.type === 'number' || spec.type === 'integer') {
    return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(cell) ? Number(cell) : cell;
  }
  if (spec.type === 'boolean') {
    const v = cell.toLowerCase();
    if (['true', 'yes', '1'].includes(v)) return true;
    if (['false', 'no', '0'].includes(v)) return false;
  }
  return cell;
}

function rowProblems(rec: CsvRecord, targets: Target[], width: number, type: string, schema: DataSchema): { body: Record<string, unknown> } | { problems: string[] } {
  if (rec.cells.length > width) return { problems: [`(row): ${rec.cells.length} cells, the header has ${width} columns`] };
  const data: Record<string, unknown> = {};
  const customer: { externalId?: string; locale?: string; timezone?: string; identities?: { channel: string; id: string }[] } = {};
  const cellOf = new Map<string, string>();
  let correlationKey: string | undefined;
  targets.forEach((t, i) => {
    const cell = (rec.cells[i] ?? '').trim();
    if (cell === '' || t.kind === 'skip') return;
    if (t.kind === 'data') {
      data[t.field] = convert(cell, t.spec);
      cellOf.set(`data.${t.field}`, cell);
    } else if (t.kind === 'customer') customer[t.key] = cell;
    else if (t.kind === 'identity') (customer.identities ??= []).push({ channel: t.channel, id: cell });
    else correlationKey = cell;
  });
  const body: Record<string, unknown> = { type, customer, data, ...(correlationKey === undefined ? {} : { correlationKey }) };
  const checked = checkEvent(body, type, schema);
  const problems = 'problems' in checked ? checked.problems.map((p) => cellProblem(p, cellOf.get(p.field), targets)) : [];
  if (customer.externalId === undefined && !customer.identities?.length) {
    problems.push(`customer: needs an externalId or an identity (a column like externalId, email, telegram, or --map col=identity.<channel>)`);
  }
  return problems.length > 0 ? { problems } : { body };
}

const TYPE_PROBLEM: Record<FieldSpec['type'], string> = {
  string: 'must not be empty',
  number: 'must be a number',
  integer: 'must be a whole number',
  boolean: 'must be true or false (or yes/no, 1/0)',
  datetime: 'must be an ISO 8601 date and time with a zone',
};

/** `field: problem (cell "…")`; a cell checkEvent calls missing (a value of the wrong type) is named by its type. */
function cellProblem(p: { field: string; message: string }, cell: string | undefined, targets: Target[]): string {
  if (cell === undefined) return `${p.field}: ${p.message}`;
  const t = targets.find((x) => x.kind === 'data' && `data.${x.field}` === p.field);
  const message = p.message === 'is required' && t?.kind === 'data' ? TYPE_PROBLEM[t.spec.type] : p.message;
  return `${p.field}: ${message} (cell "${cell}")`;
}

type Outcome = { kind: 'accepted' } | { kind: 'duplicate' } | { kind: 'failed'; message: string } | { kind: 'fatal'; message: string };

async function postRow(url: string, token: string, key: string, body: Record<string, unknown>): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
    });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return { kind: 'fatal', message: `cannot reach the hub at ${url} (${errorMessage(cause ?? err)}); is it running? (--url)` };
  }
  if (res.status === 202) return { kind: 'accepted' };
  if (res.status === 200) return { kind: 'duplicate' };
  const answer = (await res.json().catch(() => ({}))) as { error?: string; field?: string };
  const why = `${res.status}${answer.field ? ` ${answer.field}` : ''}: ${answer.error ?? res.statusText}`;
  if (res.status === 401 || res.status === 403) return { kind: 'fatal', message: `the hub refused SWITCHBOARD_TOKEN (${why}): it needs an API token with the events role` };
  return { kind: 'failed', message: `the hub refused the row (${why})` };
}

/** RFC 4180 records (csv-parse) with the line each starts on (the header is line 1); blank lines are skipped; CRLF, LF or CR rows. */
export function parseCsvLines(text: string): CsvRecord[] {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true, info: true, record_delimiter: ['\r\n', '\n', '\r'] }) as unknown as typeof rows;
  } catch (err) {
    const e = err as { code?: string; lines?: number };
    throw new Error(e.code === 'CSV_QUOTE_NOT_CLOSED' ? `line ${e.lines ?? '?'}: a quoted cell is not closed` : errorMessage(err));
  }
  // info.lines is the line a record ends on; quoted cells' own line breaks say how many lines it spans.
  const breaks = (cells: string[]): number => cells.reduce((n, c) => n + (c.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
  return rows.map((r) => ({ line: r.info.lines - breaks(r.record), cells: r.record }));
}
