/**
 * `switchboard kb import --csv FAQ.csv [--answers-csv A.csv] [--locale en] [--out FILE] [--force]`
 *
 * Turns an existing FAQ or intent set (`text,category` rows; answers from `category,answer[,locale]`
 * rows) into a knowledge file: one entry per category. An entry the answers file has no answer for
 * is written with `status: pending`, so the bot skips it until an admin writes the answer. The file
 * goes to the knowledge directory of hub.yaml (`<csv name>.yaml`) unless `--out` says otherwise.
 * Nothing is written when the result would not load: an existing file (without `--force`), an id
 * another knowledge file already defines, or a broken knowledge directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configPath, loadConfigFile } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import { entriesFromCsv, entriesToYaml } from '../core/knowledge/csv-import.js';
import { loadKnowledgeDir, parseKnowledgeFile } from '../core/knowledge/loader.js';
import type { CliIo } from './eval.js';

const USAGE = 'usage: switchboard kb import --csv FAQ.csv [--answers-csv A.csv] [--locale en] [--out FILE] [--force]\n';

class ImportError extends Error {}

export async function kbCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'import') {
    io.err.write(USAGE);
    return 2;
  }
  try {
    io.out.write(await kbImport(rest));
    return 0;
  } catch (err) {
    io.err.write(`${errorMessage(err)}\n`);
    return err instanceof ImportError ? 2 : 1;
  }
}

async function kbImport(argv: string[]): Promise<string> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        csv: { type: 'string' },
        'answers-csv': { type: 'string' },
        locale: { type: 'string', default: 'en' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ImportError(`${errorMessage(err)}\n${USAGE.trimEnd()}`);
  }
  if (!args.csv) throw new ImportError(USAGE.trimEnd());
  const read = async (flag: string, path: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw new ImportError(`--${flag} ${path}: ${errorMessage(err)}`);
    }
  };
  const csv = await read('csv', args.csv);
  const answersPath = args['answers-csv'];
  const answers = answersPath === undefined ? undefined : await read('answers-csv', answersPath);
  let imported;
  try {
    imported = entriesFromCsv(csv, answers, args.locale, { pendingWithoutAnswer: true });
  } catch (err) {
    const file = errorMessage(err).startsWith('answers CSV') ? `--answers-csv ${answersPath}` : `--csv ${args.csv}`;
    throw new ImportError(`${file}: ${errorMessage(err)}`);
  }
  if (imported.entries.length === 0) throw new ImportError(`--csv ${args.csv}: no row has both a text and a category`);

  const out = resolve(args.out ?? join(knowledgeDir(), `${basename(args.csv, extname(args.csv))}.yaml`));
  if (existsSync(out) && !args.force) throw new ImportError(`${out} already exists; pass --force to replace it`);
  const yaml = `# Imported from ${basename(args.csv)}${answersPath ? ` and ${basename(answersPath)}` : ''} by \`switchboard kb import\`.\n${entriesToYaml(imported.entries)}`;
  // What the bot will load: the file itself must parse, and no other file may define its ids.
  parseKnowledgeFile(out, yaml);
  const dir = dirname(out);
  if (existsSync(dir)) {
    const kb = await loadKnowledgeDir(dir);
    const others = new Map(kb.entries.filter((e) => resolve(e.source.file) !== out).map((e) => [e.id, e]));
    const clashes = imported.entries.flatMap((e) => {
      const other = others.get(e.id);
      return other ? [`"${e.id}" is already defined at ${other.source.file}:${other.source.line}`] : [];
    });
    if (clashes.length > 0) {
      throw new ImportError(`not written: ${clashes.length} id(s) clash with ${dir}: ${clashes.slice(0, 5).join('; ')}${clashes.length > 5 ? '; …' : ''}`);
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFile(out, yaml);

  const questions = imported.entries.reduce((n, e) => n + Object.values(e.questions).flat().length, 0);
  const lines = [`wrote ${out}: ${imported.entries.length} entries, ${questions} questions`];
  if (imported.unanswered.length > 0) {
    const n = imported.unanswered.length;
    lines.push(`${n} ${n === 1 ? 'entry has' : 'entries have'} no answer and ${n === 1 ? 'is' : 'are'} \`status: pending\` (the bot skips ${n === 1 ? 'it' : 'them'}) until you write one: ${preview(imported.unanswered)}`);
  }
  if (imported.unknownAnswers.length > 0) {
    lines.push(`warning: the answers file has categories no question has (not imported): ${preview(imported.unknownAnswers)}`);
  }
  return `${lines.join('\n')}\n`;
}

function knowledgeDir(): string {
  try {
    return loadConfigFile(configPath()).bot.knowledgeDir;
  } catch (err) {
    throw new ImportError(`${errorMessage(err)}\n(pass --out FILE to write the knowledge file without reading hub.yaml)`);
  }
}

function preview(ids: readonly string[]): string {
  return ids.length > 8 ? `${ids.slice(0, 8).join(', ')}, … (${ids.length - 8} more)` : ids.join(', ');
}
