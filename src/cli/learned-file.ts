/**
 * Approved answers as knowledge entries in `<knowledge dir>/learned.yaml`. Written only by the
 * admin's `switchboard kb pending --approve` (never by the hub): read-modify-write through the
 * `yaml` package's Document API (other entries and comments stay as they are), checked against the
 * knowledge loader before anything is written, under a lock file (two admins approving at once on
 * one host), then a temp file renamed over the old one, so the hub's hot reload sees the old file or
 * the new one, never half of one. The temp and lock names do not end in .yaml: the reload watcher
 * ignores them.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isMap, isSeq, parseDocument, YAMLSeq, type Document } from 'yaml';
import { errorMessage } from '../core/errors.js';
import type { PendingAnswer } from '../core/storage/pending-answers.js';
import { TEMPLATES_FILE, isKnowledgeFileName, parseKnowledgeFile } from '../knowledge/loader.js';
import { InputError } from './input.js';

export const LEARNED_FILE = 'learned.yaml';

const HEADER = `# Answers agents saved from desk cases, approved with \`npx switchboard kb pending --approve ID\`.
# The bot answers from them like from any knowledge file; edit them freely (hot reload picks it up).
`;

/** How long a lock file may sit before it is taken as left by a crashed run. */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

export interface Approval {
  by: string;
  at: number;
}

/**
 * Adds `a` as an approved entry (`learned-<id>`, or the next free `learned-<id>-<n>` when another
 * knowledge file has that id) unless an entry made from the same pending answer is already there
 * (an approval that stopped before it was recorded); returns the entry id.
 */
export async function addLearnedEntry(dir: string, a: PendingAnswer, approval: Approval): Promise<{ entryId: string; added: boolean; warnings: string[] }> {
  const file = join(dir, LEARNED_FILE);
  return withLock(file, async () => {
    const doc = await readLearned(file);
    const seq = entriesOf(doc, file);
    const mine = (seq.toJSON() as unknown[]).map(asEntry).find((e) => e.learnedFrom?.key === a.key);
    if (mine?.id) return { entryId: mine.id, added: false, warnings: [] };

    const { ids, warnings } = await knownIds(dir);
    let entryId = `learned-${a.id}`;
    for (let n = 2; ids.has(entryId); n++) entryId = `learned-${a.id}-${n}`;
    seq.add(
      doc.createNode({
        id: entryId,
        questions: { [a.locale]: [a.question] },
        answer: { [a.locale]: a.answer },
        tags: ['learned'],
        status: 'approved',
        learnedFrom: {
          pendingAnswer: a.id,
          key: a.key,
          conversation: a.conversationId,
          proposedBy: a.proposedByName ? `${a.proposedByName} (${a.proposedBy})` : a.proposedBy,
          proposedAt: new Date(a.createdAt).toISOString(),
          approvedBy: approval.by,
          approvedAt: new Date(approval.at).toISOString(),
        },
      }),
    );
    const text = doc.toString({ lineWidth: 0 });
    // The file as the hub will load it: the new entry must be there and answerable.
    let loaded;
    try {
      loaded = parseKnowledgeFile(file, text);
    } catch (err) {
      throw new InputError(`answer #${a.id} would not load as a knowledge entry (${errorMessage(err)}); nothing was written`);
    }
    if (!loaded.some((e) => e.id === entryId)) throw new InputError(`answer #${a.id}: entry ${entryId} does not load from ${file}; nothing was written`);
    await writeAtomically(file, text);
    return { entryId, added: true, warnings };
  });
}

/** Removes the entry made from pending answer `key` (an approval that lost to a rejection). */
export async function removeLearnedEntry(dir: string, key: string): Promise<boolean> {
  const file = join(dir, LEARNED_FILE);
  return withLock(file, async () => {
    const doc = await readLearned(file);
    const seq = entriesOf(doc, file);
    const at = (seq.toJSON() as unknown[]).map(asEntry).findIndex((e) => e.learnedFrom?.key === key);
    if (at < 0) return false;
    seq.delete(at);
    await writeAtomically(file, doc.toString({ lineWidth: 0 }));
    return true;
  });
}

interface EntryLike {
  id?: string;
  learnedFrom?: { key?: string };
}

function asEntry(v: unknown): EntryLike {
  return typeof v === 'object' && v !== null ? (v as EntryLike) : {};
}

/** learned.yaml as a document (a new one when the file does not exist); refuses a file the bot would not load. */
async function readLearned(file: string): Promise<Document> {
  let source = '';
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new InputError(`${file}: ${errorMessage(err)}`);
  }
  if (!source.trim()) source = `${HEADER}entries: []\n`;
  try {
    parseKnowledgeFile(file, source, { includePending: true });
  } catch (err) {
    throw new InputError(`${errorMessage(err)}\n(fix ${file} first: nothing was written)`);
  }
  return parseDocument(source);
}

/** The list of entries: `entries:` of the mapping, or the bare list (both load). */
function entriesOf(doc: Document, file: string): YAMLSeq {
  if (doc.contents === null) doc.contents = doc.createNode({ entries: [] });
  let seq: unknown = doc.contents;
  if (isMap(doc.contents)) {
    seq = doc.get('entries', true);
    if (!isSeq(seq)) {
      seq = new YAMLSeq();
      doc.set('entries', seq);
    }
  }
  if (!isSeq(seq)) throw new InputError(`${file}: expected \`entries:\` with a list of entries; nothing was written`);
  seq.flow = false;
  return seq;
}

/** Ids defined by the knowledge files of `dir` (pending entries too); files that do not parse are warned about. */
async function knownIds(dir: string): Promise<{ ids: Set<string>; warnings: string[] }> {
  const ids = new Set<string>();
  const warnings: string[] = [];
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => isKnowledgeFileName(n) && n !== TEMPLATES_FILE);
  } catch {
    return { ids, warnings }; // a new directory
  }
  for (const n of names) {
    const path = join(dir, n);
    try {
      for (const e of parseKnowledgeFile(path, await readFile(path, 'utf8'), { includePending: true })) ids.add(e.id);
    } catch (err) {
      warnings.push(`ids not checked against ${path} (${errorMessage(err).split('\n')[0]}); the hub keeps its last good knowledge base until it is fixed`);
    }
  }
  return { ids, warnings };
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = join(file, '..', `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, 'utf8');
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Runs `fn` holding `<dir>/.<file>.lock` (created exclusively; one older than 30 s is taken over). */
async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(file, '..', `.${basename(file)}.lock`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const h = await open(lock, 'wx');
      await h.writeFile(`${process.pid}\n`);
      await h.close();
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new InputError(`knowledge directory ${join(file, '..')} does not exist (bot.knowledgeDir in hub.yaml)`);
      if (code !== 'EEXIST') throw err;
      const st = await stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new InputError(`${lock} is held by another \`kb pending\` run (remove it if none is running)`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
