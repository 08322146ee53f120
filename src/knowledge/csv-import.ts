/**
 * CSV import: `text,category` rows (an FAQ or intent set) become one entry per category, with the
 * answer from an optional `category,answer[,locale]` file. `entriesToYaml` writes a knowledge file
 * (`switchboard kb import`); `switchboard eval` builds its base the same way.
 */
import { stringify } from 'yaml';
import { HubError, errorMessage } from '../core/errors.js';
import { parseCsvRecords } from './csv.js';
import type { EntryInit } from './bot.js';

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

/** The rows of one of the two CSV files; a HubError says which (`context.csv`) and what is wrong. */
function rowsOf(text: string, columns: readonly string[], csv: 'questions' | 'answers'): Record<string, string>[] {
  try {
    return parseCsvRecords(text, columns);
  } catch (err) {
    throw new HubError('INPUT_INVALID', errorMessage(err), { cause: err, context: { csv } });
  }
}

/**
 * `pendingWithoutAnswer`: an entry without an answer gets `status: pending` (the bot skips it
 * until an admin writes the answer) instead of answering with its category name in brackets.
 * A CSV that does not parse or lacks its columns throws INPUT_INVALID with `context.csv`
 * `questions` or `answers`.
 */
export function entriesFromCsv(trainCsv: string, answersCsv?: string, locale = 'en', opts: { pendingWithoutAnswer?: boolean } = {}): CsvImport {
  const rows = rowsOf(trainCsv, ['text', 'category'], 'questions');
  const answerRows = answersCsv === undefined ? [] : rowsOf(answersCsv, ['category', 'answer'], 'answers');
  const answers = new Map<string, Record<string, string>>();
  for (const r of answerRows) {
    const cat = (r.category ?? '').trim();
    if (!cat || !(r.answer ?? '').trim()) continue;
    const a = answers.get(cat) ?? {};
    a[r.locale || locale] = r.answer ?? '';
    answers.set(cat, a);
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
