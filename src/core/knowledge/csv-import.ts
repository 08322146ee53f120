/**
 * CSV import: `text,category` rows (an FAQ or intent set) become one entry per category, with the
 * answer from an optional `category,answer[,locale]` file. `entriesToYaml` writes a knowledge file
 * (`switchboard kb import`); `switchboard eval` builds its base the same way.
 */
import { stringify } from 'yaml';
import { HubError } from '../errors.js';
import { parseCsv, parseCsvRecords } from './csv.js';
import type { EntryInit } from './bot.js';

/**
 * Why a CSV text cannot be read as rows with these header columns (undefined when it can): a
 * syntax error, or the missing columns and what the first row holds instead.
 */
export function csvProblem(text: string, columns: readonly string[]): string | undefined {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  const header = (rows.find((r) => !(r.length === 1 && r[0] === '')) ?? []).map((h) => h.trim());
  const missing = columns.filter((c) => !header.includes(c));
  if (missing.length === 0) return undefined;
  const found = header.length > 0 ? `its first row is \`${header.join(',')}\`` : 'it is empty';
  return `needs a header row with the column(s) ${missing.map((c) => `\`${c}\``).join(', ')}; ${found}`;
}

/** Category names become valid entry ids (`reverted_card_payment?` -> `reverted_card_payment_`). */
export function categoryId(category: string): string {
  const id = category.trim().replace(/[^\w.:-]/gu, '_');
  return id || 'category';
}

export interface CsvImport {
  entries: EntryInit[];
  /** entry id -> original category name */
  categories: Map<string, string>;
  /** Ids of the entries the answers file has no answer for. */
  unanswered: string[];
  /** Categories of the answers file that no question row has. */
  unknownAnswers: string[];
}

/**
 * `pendingWithoutAnswer`: an entry without an answer gets `status: pending` (the bot skips it
 * until an admin writes the answer) instead of answering with its category name in brackets.
 */
export function entriesFromCsv(trainCsv: string, answersCsv?: string, locale = 'en', opts: { pendingWithoutAnswer?: boolean } = {}): CsvImport {
  const problem = csvProblem(trainCsv, ['text', 'category']);
  if (problem) throw new HubError('INPUT_INVALID', `training CSV: ${problem}`);
  const answerProblem = answersCsv === undefined ? undefined : csvProblem(answersCsv, ['category', 'answer']);
  if (answerProblem) throw new HubError('INPUT_INVALID', `answers CSV: ${answerProblem}`);
  const rows = parseCsvRecords(trainCsv);
  const answers = new Map<string, Record<string, string>>();
  if (answersCsv) {
    for (const r of parseCsvRecords(answersCsv)) {
      const cat = (r.category ?? '').trim();
      if (!cat || !(r.answer ?? '').trim()) continue;
      const a = answers.get(cat) ?? {};
      a[r.locale || locale] = r.answer ?? '';
      answers.set(cat, a);
    }
  }
  const byCategory = new Map<string, string[]>();
  for (const r of rows) {
    const text = (r.text ?? '').trim();
    const cat = (r.category ?? '').trim();
    if (!text || !cat) continue;
    const list = byCategory.get(cat) ?? [];
    list.push(text);
    byCategory.set(cat, list);
  }
  const categories = new Map<string, string>();
  const entries: EntryInit[] = [];
  const unanswered: string[] = [];
  for (const [cat, questions] of byCategory) {
    let id = categoryId(cat);
    while (categories.has(id) && categories.get(id) !== cat) id += '_';
    categories.set(id, cat);
    const answer = answers.get(cat);
    const entry: EntryInit = { id, questions: { [locale]: [...new Set(questions)] }, answer: answer ?? { [locale]: `[${cat}]` }, tags: ['imported'] };
    if (!answer) {
      unanswered.push(id);
      if (opts.pendingWithoutAnswer) entry.status = 'pending';
    }
    entries.push(entry);
  }
  const unknownAnswers = [...answers.keys()].filter((c) => !byCategory.has(c));
  return { entries, categories, unanswered, unknownAnswers };
}

export function entriesToYaml(entries: readonly EntryInit[]): string {
  return stringify({ entries }, { lineWidth: 0 });
}
