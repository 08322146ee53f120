/**
 * `switchboard kb import --csv FAQ.csv [--answers-csv A.csv] [--locale en] [--out FILE] [--force]`
 *
 * Turns an existing FAQ or intent set (`text,category` rows; answers from `category,answer[,locale]`
 * rows) into a knowledge file: one entry per category. An entry the answers file has no answer for
 * is written with `status: pending`, so the bot skips it until an admin writes the answer. The file
 * goes to the knowledge directory of hub.yaml (`<csv name>.yaml`) unless `--out` says otherwise.
 * Nothing is written that would not load: a name the bot does not read, an existing file (without
 * `--force`), or an id another knowledge file of that directory defines (pending entries included).
 * A file there that does not parse is named in a warning.
 *
 * `switchboard kb pending [--approve ID | --reject ID]`: answers agents saved, waiting for an admin
 * (kb-pending.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { configPath } from '../config/load.js';
import { loadConfigFile } from '../hub/config-schema.js';
import { errorMessage } from '../core/errors.js';
import { entriesToYaml } from '../knowledge/csv-import.js';
import { TEMPLATES_FILE, isKnowledgeFileName, parseKnowledgeFile } from '../knowledge/loader.js';
import { importCsv, InputError, readInput, type CliIo } from './input.js';
import { kbPending, PENDING_USAGE, type PendingOptions } from './kb-pending.js';

const USAGE = 'usage: switchboard kb import --csv FAQ.csv [--answers-csv A.csv] [--locale en] [--out FILE] [--force]\n';

export async function kbCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }, opts: PendingOptions = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'import' && sub !== 'pending') {
    io.err.write(`${USAGE}${PENDING_USAGE}\n`);
    return 2;
  }
  try {
    io.out.write(sub === 'import' ? await kbImport(rest) : await kbPending(rest, opts));
    return 0;
  } catch (err) {
    io.err.write(`${errorMessage(err)}\n`);
    return err instanceof InputError ? 2 : 1;
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
    throw new InputError(`${errorMessage(err)}\n${USAGE.trimEnd()}`);
  }
  if (!args.csv) throw new InputError(USAGE.trimEnd());
  const csv = await readInput('csv', args.csv);
  const answersPath = args['answers-csv'];
  const answers = answersPath === undefined ? undefined : await readInput('answers-csv', answersPath);
  const imported = importCsv(csv, answers, args.locale, { pendingWithoutAnswer: true });

  const out = resolve(args.out ?? join(knowledgeDir(), `${basename(args.csv, extname(args.csv))}.yaml`));
  const name = basename(out);
  if (!isKnowledgeFileName(name) || name === TEMPLATES_FILE) {
    throw new InputError(`--out ${out}: the bot loads knowledge files named *.yaml or *.yml (not starting with "." and not ${TEMPLATES_FILE})`);
  }
  if (existsSync(out) && !args.force) throw new InputError(`${out} already exists; pass --force to replace it`);
  const yaml = `# Imported from ${basename(args.csv)}${answersPath ? ` and ${basename(answersPath)}` : ''} by \`switchboard kb import\`.\n${entriesToYaml(imported.entries)}`;
  parseKnowledgeFile(out, yaml); // the file itself must load
  const { clashes, unchecked } = await clashingIds(dirname(out), out, imported.entries.map((e) => e.id));
  if (clashes.length > 0) {
    throw new InputError(`not written: ${clashes.length} id(s) clash with ${dirname(out)}: ${clashes.slice(0, 5).join('; ')}${clashes.length > 5 ? '; …' : ''}`);
  }
  await mkdir(dirname(out), { recursive: true });
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
  for (const u of unchecked) lines.push(`warning: ids not checked against ${u}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Ids of the other knowledge files in `dir` (pending entries too: they load as soon as an admin
 * answers them) that `ids` would clash with. A file that does not parse is reported, not fatal.
 */
async function clashingIds(dir: string, out: string, ids: readonly string[]): Promise<{ clashes: string[]; unchecked: string[] }> {
  const clashes: string[] = [];
  const unchecked: string[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => isKnowledgeFileName(n) && n !== TEMPLATES_FILE);
  } catch {
    return { clashes, unchecked }; // a new directory
  }
  const wanted = new Set(ids);
  for (const n of names.sort()) {
    const path = join(dir, n);
    if (resolve(path) === out) continue;
    try {
      for (const e of parseKnowledgeFile(path, await readFile(path, 'utf8'), { includePending: true })) {
        if (wanted.has(e.id)) clashes.push(`"${e.id}" is already defined at ${e.source.file}:${e.source.line}`);
      }
    } catch (err) {
      unchecked.push(`${path} (${errorMessage(err).split('\n')[0]})`);
    }
  }
  return { clashes, unchecked };
}

function knowledgeDir(): string {
  try {
    return loadConfigFile(configPath()).bot.knowledgeDir;
  } catch (err) {
    throw new InputError(`${errorMessage(err)}\n(pass --out FILE to write the knowledge file without reading hub.yaml)`);
  }
}

function preview(ids: readonly string[]): string {
  return ids.length > 8 ? `${ids.slice(0, 8).join(', ')}, … (${ids.length - 8} more)` : ids.join(', ');
}
