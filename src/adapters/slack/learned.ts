import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';
import { HubError } from '../../core/errors.js';

export interface LearnedInput {
  conversationId: string;
  question: string;
  answer: string;
  locale: string;
  agent: string;
  /** Unique per save request (a redelivered job writes nothing new). */
  key: string;
  savedAt: number;
}

const HEADER = `# Answers agents saved from Slack cases. Entries are \`status: pending\` and ignored by the bot
# until a reviewer edits them (questions, answer, tags) and sets \`status: approved\`; hot reload
# then picks them up. Written by the Slack desk: keep the list under \`entries:\`.
`;

const locks = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call for the same file in this process. */
function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(file) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  locks.set(file, tail);
  void tail.then(() => {
    if (locks.get(file) === tail) locks.delete(file);
  });
  return run;
}

/**
 * Appends a pending knowledge entry (the knowledge loader's schema: id, questions by locale,
 * answer by locale, tags, status) to `file`, keeping comments and other entries. Read-modify-write
 * under an in-process lock and an atomic rename; two hub processes saving at the same instant could
 * still lose one entry (single-writer assumption, documented).
 */
export async function appendLearned(file: string, input: LearnedInput): Promise<{ id: string; duplicate: boolean }> {
  return withLock(file, async () => {
    let source = '';
    try {
      source = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const doc = parseDocument(source.trim() ? source : `${HEADER}entries: []\n`);
    if (doc.errors.length) {
      throw new HubError('CONFIG_INVALID', `${file} is not valid YAML (${doc.errors[0]?.message.split('\n')[0]}); not overwriting it`);
    }
    if (!isMap(doc.contents)) throw new HubError('CONFIG_INVALID', `${file}: expected a mapping with \`entries:\``);
    let entries = doc.get('entries', true);
    if (!isSeq(entries)) {
      entries = new YAMLSeq();
      doc.set('entries', entries);
    }
    const seq = entries as YAMLSeq;
    seq.flow = false;
    const existing = seq.toJSON() as { id?: string; learnedFrom?: { key?: string } }[];
    const same = existing.find((e) => e?.learnedFrom?.key === input.key);
    if (same?.id) return { id: same.id, duplicate: true };
    const prefix = `learned-${input.conversationId.replace(/[^\w]/g, '').slice(0, 8)}-`;
    const n = existing.filter((e) => typeof e?.id === 'string' && e.id.startsWith(prefix)).length + 1;
    const id = `${prefix}${n}`;
    seq.add(
      doc.createNode({
        id,
        status: 'pending',
        questions: { [input.locale]: [input.question] },
        answer: { [input.locale]: input.answer },
        tags: ['learned'],
        learnedFrom: {
          conversation: input.conversationId,
          agent: input.agent,
          savedAt: new Date(input.savedAt).toISOString(),
          key: input.key,
        },
      }),
    );
    await mkdir(dirname(file), { recursive: true });
    const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(tmp, doc.toString({ lineWidth: 0 }), 'utf8');
    await rename(tmp, file);
    return { id, duplicate: false };
  });
}
