/**
 * CSV import: `text,category` rows (an FAQ or intent set) become one entry per category, with the
 * answer from an optional `category,answer[,locale]` file. `entriesToYaml` writes a knowledge file.
 */
import { stringify } from 'yaml';
import { HubError } from '../errors.js';
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
}

export function entriesFromCsv(trainCsv: string, answersCsv?: string, locale = 'en'): CsvImport {
  const rows = parseCsvRecords(trainCsv);
  if (rows.length > 0 && (rows[0].text === undefined || rows[0].category === undefined)) {
    throw new HubError('INPUT_INVALID', 'training CSV needs a header row with `text,category` columns');
  }
  const answers = new Map<string, Record<string, string>>();
  if (answersCsv) {
    for (const r of parseCsvRecords(answersCsv)) {
      const cat = r.category ?? '';
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
  for (const [cat, questions] of byCategory) {
    let id = categoryId(cat);
    while (categories.has(id) && categories.get(id) !== cat) id += '_';
    categories.set(id, cat);
    const answer = answers.get(cat);
    entries.push({ id, questions: { [locale]: [...new Set(questions)] }, answer: answer && Object.keys(answer).length ? answer : { [locale]: `[${cat}]` }, tags: ['imported'] });
  }
  return { entries, categories };
}

export function entriesToYaml(entries: readonly EntryInit[]): string {
  return stringify({ entries }, { lineWidth: 0 });
}
