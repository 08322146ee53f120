/** What the CLI commands share: their output streams, and reading the files they are given. */
import { readFile } from 'node:fs/promises';
import { errorMessage, isHubError } from '../core/errors.js';
import { parseCsvRecords } from '../knowledge/csv.js';
import { entriesFromCsv, type CsvImport } from '../knowledge/csv-import.js';

export interface CliIo {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

/** Bad input (a flag, a file): the message names it; the command exits with code 2. */
export class InputError extends Error {}

/** A file given as `--flag path`. */
export interface InputFile {
  flag: string;
  path: string;
  text: string;
}

export async function readInput(flag: string, path: string): Promise<InputFile> {
  try {
    return { flag, path, text: await readFile(path, 'utf8') };
  } catch (err) {
    throw new InputError(`--${flag} ${path}: ${errorMessage(err)}`);
  }
}

/** The rows of a CSV file with these header columns that have a text. */
/** A CSV row with a non-blank `text` column. */
export type QuestionRow = Record<string, string> & { text: string };

export function csvQuestions(file: InputFile, columns: readonly string[]): QuestionRow[] {
  try {
    return parseCsvRecords(file.text, columns).filter((r): r is QuestionRow => (r.text ?? '').trim() !== '');
  } catch (err) {
    throw new InputError(`--${file.flag} ${file.path}: ${errorMessage(err)}`);
  }
}

/** `entriesFromCsv`, with an error that names the file at fault. */
export function importCsv(questions: InputFile, answers: InputFile | undefined, locale: string, opts: { pendingWithoutAnswer?: boolean } = {}): CsvImport {
  let imported: CsvImport;
  try {
    imported = entriesFromCsv(questions.text, answers?.text, locale, opts);
  } catch (err) {
    if (!isHubError(err) || err.code !== 'INPUT_INVALID') throw err;
    const file = err.context.csv === 'answers' && answers ? answers : questions;
    throw new InputError(`--${file.flag} ${file.path}: ${err.message}`);
  }
  if (imported.entries.length === 0) throw new InputError(`--${questions.flag} ${questions.path}: no row has both a text and a category`);
  return imported;
}
