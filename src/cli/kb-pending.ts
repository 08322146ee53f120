/**
 * `switchboard kb pending [--approve ID | --reject ID] [--by NAME]`
 *
 * Answers agents saved from desk cases wait in the database (`pending_answers`) until an admin
 * decides: without a flag the pending ones are listed (id, question, answer, who, when);
 * `--approve ID` writes the answer into `<bot.knowledgeDir>/learned.yaml` (the running hub's hot
 * reload picks it up) and marks it approved; `--reject ID` marks it rejected. Storage and the
 * knowledge folder come from hub.yaml (`SWITCHBOARD_CONFIG`, `DATABASE_URL` overrides) like the
 * hub's own. Questions and answers are sealed by the PII codec: storage opens with the hub's keys
 * (`SWITCHBOARD_PII_KEYS`/`SWITCHBOARD_PII_HASH_KEY`, else `<dataDir>/pii-keys`, never generated
 * here); with neither, it opens without keys (a database no hub has written sealed rows into).
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configPath } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import type { PiiCodec } from '../core/storage/pii.js';
import type { PendingAnswer } from '../core/storage/pending-answers.js';
import { Storage } from '../core/storage/storage.js';
import { loadConfigFile } from '../hub/config-schema.js';
import { PII_HASH_KEY_ENV, PII_KEYS_ENV, PII_KEY_FILE, hubPiiCodec } from '../hub/pii.js';
import { InputError } from './input.js';
import { LEARNED_FILE, addLearnedEntry, removeLearnedEntry } from './learned-file.js';

export const PENDING_USAGE = 'usage: switchboard kb pending [--approve ID | --reject ID] [--by NAME]';

export interface PendingOptions {
  /** hub.yaml to read (default: SWITCHBOARD_CONFIG or config/hub.yaml). */
  configFile?: string;
  now?: () => number;
  /** Where the PII keys are read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export async function kbPending(argv: string[], opts: PendingOptions = {}): Promise<string> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { approve: { type: 'string' }, reject: { type: 'string' }, by: { type: 'string' } },
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new InputError(`${errorMessage(err)}\n${PENDING_USAGE}`);
  }
  if (args.approve !== undefined && args.reject !== undefined) throw new InputError(`--approve and --reject together: pick one\n${PENDING_USAGE}`);
  const approve = args.approve === undefined ? undefined : answerId('approve', args.approve);
  const reject = args.reject === undefined ? undefined : answerId('reject', args.reject);
  const by = args.by?.trim() || adminName();

  const file = opts.configFile ?? configPath();
  let cfg;
  try {
    cfg = loadConfigFile(file);
  } catch (err) {
    throw new InputError(`${errorMessage(err)}\n(kb pending reads storage.url and bot.knowledgeDir from ${file})`);
  }
  const storage = await Storage.open(cfg.storage.url, { ...hubKeys(cfg.dataDir, opts.env), preparedStatements: cfg.storage.preparedStatements });
  try {
    const now = opts.now ?? Date.now;
    if (approve !== undefined) return await approveAnswer(storage, cfg.bot.knowledgeDir, approve, by, now());
    if (reject !== undefined) return await rejectAnswer(storage, reject, by);
    return listPending(await storage.pendingAnswers.list('pending'), cfg.bot.knowledgeDir);
  } finally {
    await storage.close();
  }
}

/**
 * The hub's PII keys. None anywhere (no environment, no key file): no hub has sealed anything
 * with this data folder, so storage opens without a codec (a sealed row then fails by name,
 * asking for SWITCHBOARD_PII_KEYS). Keys that do not parse or do not match the database fail.
 */
function hubKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env): { pii?: PiiCodec } {
  const none = !env[PII_KEYS_ENV]?.trim() && !env[PII_HASH_KEY_ENV]?.trim() && !existsSync(join(dataDir, PII_KEY_FILE));
  return none ? {} : { pii: hubPiiCodec({ dataDir, generate: false, env }) };
}

function answerId(flag: string, value: string): number {
  const v = value.trim().replace(/^#/, '');
  if (!/^\d{1,15}$/.test(v) || Number(v) < 1) throw new InputError(`--${flag} ${value}: expected the number of an answer (\`npx switchboard kb pending\` lists them)`);
  return Number(v);
}

function adminName(): string {
  try {
    return userInfo().username || 'admin';
  } catch {
    return 'admin';
  }
}

async function pendingOne(storage: Storage, id: number, verb: 'approve' | 'reject'): Promise<PendingAnswer> {
  const a = await storage.pendingAnswers.get(id);
  if (!a) throw new InputError(`no answer #${id} (\`npx switchboard kb pending\` lists the pending ones)`);
  if (a.status !== 'pending') throw new InputError(`cannot ${verb} answer #${id}: ${decided(a)}`);
  return a;
}

function decided(a: PendingAnswer): string {
  const who = `by ${a.reviewedBy ?? 'someone'}${a.reviewedAt ? ` on ${when(a.reviewedAt)}` : ''}`;
  return a.status === 'approved' ? `it is already approved (as ${a.entryId ?? '?'}, ${who})` : `it was already rejected (${who})`;
}

async function approveAnswer(storage: Storage, dir: string, id: number, by: string, at: number): Promise<string> {
  const a = await pendingOne(storage, id, 'approve');
  const { entryId, added, warnings } = await addLearnedEntry(dir, a, { by, at });
  if (!(await storage.pendingAnswers.review(id, { status: 'approved', entryId, by }))) {
    // Another admin decided meanwhile: a rejection wins over the entry just written.
    const now = await storage.pendingAnswers.get(id);
    if (added && now?.status === 'rejected') await removeLearnedEntry(dir, a.key);
    throw new InputError(`cannot approve answer #${id}: ${now ? decided(now) : 'it was deleted'}`);
  }
  const file = join(dir, LEARNED_FILE);
  const lines = [`approved #${id} as ${entryId} in ${file}; a running hub picks it up by itself (hot reload)`];
  for (const w of warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

async function rejectAnswer(storage: Storage, id: number, by: string): Promise<string> {
  await pendingOne(storage, id, 'reject');
  if (!(await storage.pendingAnswers.review(id, { status: 'rejected', by }))) {
    const now = await storage.pendingAnswers.get(id);
    throw new InputError(`cannot reject answer #${id}: ${now ? decided(now) : 'it was deleted'}`);
  }
  return `rejected #${id}\n`;
}

function listPending(rows: readonly PendingAnswer[], dir: string): string {
  if (rows.length === 0) return 'no pending answers\n';
  const out: string[] = [];
  for (const a of rows) {
    const who = a.proposedByName ? `${a.proposedByName} (${a.proposedBy})` : a.proposedBy;
    out.push(`#${a.id}  ${when(a.createdAt)}  by ${who}  [${a.locale}]  conversation ${a.conversationId}`);
    out.push(`    Q: ${indent(a.question)}`);
    out.push(`    A: ${indent(a.answer)}`);
    out.push('');
  }
  const n = rows.length;
  out.push(`${n} pending ${n === 1 ? 'answer' : 'answers'}. \`--approve ID\` writes one into ${join(dir, LEARNED_FILE)}, \`--reject ID\` drops it.`);
  return `${out.join('\n')}\n`;
}

function indent(text: string): string {
  return text.replace(/\r?\n/g, '\n       ');
}

function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
