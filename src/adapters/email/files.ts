/**
 * Agents open a mail's attachments through the hub's signed links (AdapterContext.serveAttachments):
 * each kept attachment gets a `fetchHandle`, and opening a link makes the hub call
 * `fetchEmailAttachment`, which reads the mail again over a short IMAP connection of its own
 * (EXAMINE and BODY.PEEK: no flag changes), parses it as parse.ts does and streams that attachment.
 *
 * A handle is `<folder>/<uidValidity>/<uid>/<index>/<size>.<digest>`:
 * - `folder`: where the mail stays, `imap.processed.folder` when one is set (the receiver moves the
 *   mail there once it is queued), else `imap.mailbox`;
 * - `uidValidity`, `uid`: where the mail arrived in `imap.mailbox`;
 * - `index`: the attachment's position in the mail (mailparser's order, as parse.ts lists them);
 * - `size`, `digest`: the source's length in bytes and the start of its SHA-256 (base64url).
 * A mail moved to another folder gets a new UID there that is unknown when the handle is made, so
 * there it is found by its size (UID SEARCH LARGER/SMALLER) and recognised by the digest; a mail not
 * moved (yet, or the move failed) is read by UID from the mailbox, under the same UIDVALIDITY only.
 * The digest also means a handle names one mail's exact bytes: no other mail is ever served for it.
 * No secret is in a handle; the IMAP password is in no error text.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ImapFlow } from 'imapflow';
import { simpleParser, type SimpleParserOptions } from 'mailparser';
import type { AttachmentContent } from '../../core/adapter.js';
import { HubError, errorMessage, isHubError } from '../../core/errors.js';
import { repairCharsets } from './charset.js';
import type { EmailConfig } from './config.js';
import type { ImapConfig } from './imap.js';
import type { RawMail } from './types.js';

/** base64url characters of the SHA-256 kept in a handle (72 bits). */
const DIGEST_CHARS = 12;
/** Mails of the very same size in the processed folder that are looked at, newest first. */
const MAX_CANDIDATES = 20;
const CONNECT_TIMEOUT_MS = 20_000;
const LOGOUT_TIMEOUT_MS = 2000;

/**
 * Parsed as parse.ts parses (the same charset repair and the options that decide the attachment
 * list: inline images stay attachments), so an index means the same attachment; no text is made.
 */
const PARSER_OPTIONS: SimpleParserOptions = {
  skipImageLinks: true,
  skipTextToHtml: true,
  skipHtmlToText: true,
  skipTextLinks: true,
  checksumAlgo: false,
};

interface Handle {
  folder: string;
  uidValidity: string;
  uid: number;
  index: number;
  size: number;
  digest: string;
}

function digestOf(source: Buffer): string {
  return createHash('sha256').update(source).digest('base64url').slice(0, DIGEST_CHARS);
}

/**
 * The `fetchHandle` maker of one mail's attachments (by index), or undefined when the mail's
 * UIDVALIDITY is not known (a mail read from a file, `email inspect`).
 */
export function attachmentHandles(cfg: ImapConfig, raw: Pick<RawMail, 'uid' | 'source'> & { uidValidity?: string | undefined }): ((index: number) => string) | undefined {
  if (raw.uidValidity === undefined) return undefined;
  const head = `${cfg.processed.folder ?? cfg.mailbox}/${raw.uidValidity}/${raw.uid}`;
  let tail: string | undefined;
  return (index) => `${head}/${index}/${(tail ??= `${raw.source.length}.${digestOf(raw.source)}`)}`;
}

function parseHandle(handle: string): Handle {
  const parts = handle.split('/');
  const [uidValidity, uid, index, sized] = parts.slice(-4);
  const folder = parts.slice(0, -4).join('/');
  const m = /^(\d{1,10})\.([\w-]+)$/.exec(sized ?? '');
  if (folder === '' || !/^\d{1,20}$/.test(uidValidity ?? '') || !/^\d{1,10}$/.test(uid ?? '') || !/^\d{1,4}$/.test(index ?? '') || !m?.[1] || m[2]?.length !== DIGEST_CHARS) {
    throw new HubError('NOT_FOUND', 'email: this is not a link to an email attachment');
  }
  return { folder, uidValidity: uidValidity as string, uid: Number(uid), index: Number(index), size: Number(m[1]), digest: m[2] };
}

/**
 * The bytes of the attachment behind `handle`. NOT_FOUND: the mail or the attachment is gone, or the
 * mailbox was recreated (new UIDVALIDITY); PLATFORM_REFUSED: over `maxAttachmentBytes`; NETWORK:
 * the IMAP server cannot be reached or refuses the login.
 */
export async function fetchEmailAttachment(config: Pick<EmailConfig, 'imap' | 'maxAttachmentBytes'>, handle: string, signal: AbortSignal): Promise<AttachmentContent> {
  const h = parseHandle(handle);
  const source = await withImap(config.imap, signal, (client) => findMail(client, config.imap.mailbox, h));
  let parsed;
  try {
    parsed = await simpleParser(repairCharsets(source).source, PARSER_OPTIONS);
  } catch (err) {
    throw new HubError('NOT_FOUND', `email: the mail can no longer be read: ${errorMessage(err)}`);
  }
  const a = parsed.attachments[h.index];
  if (!a) throw new HubError('NOT_FOUND', `email: the mail has no attachment ${h.index + 1} (it has ${parsed.attachments.length})`);
  const content = a.content;
  if (content.length > config.maxAttachmentBytes) {
    throw new HubError('PLATFORM_REFUSED', `email: the attachment is too large to open here (${content.length} bytes, over channels.email.maxAttachmentBytes: ${config.maxAttachmentBytes})`);
  }
  return {
    body: Readable.from([content]),
    mimeType: a.contentType,
    size: content.length,
    name: a.filename?.trim() || `attachment-${h.index + 1}`,
  };
}

/** The mail's source: in the handle's folder (found by size and digest), else by UID in the mailbox. */
async function findMail(client: ImapFlow, mailbox: string, h: Handle): Promise<Buffer> {
  if (h.folder !== mailbox) {
    const moved = await findMoved(client, h);
    if (moved) return moved;
    // Not moved: the receiver moves a mail only once it is queued, and a failed move leaves it where it is.
    const left = await byUid(client, mailbox, h);
    if (typeof left === 'string') throw new HubError('NOT_FOUND', `email: the mail is no longer in ${h.folder} (deleted or moved)`);
    return left;
  }
  const found = await byUid(client, mailbox, h);
  if (found === 'changed') throw new HubError('NOT_FOUND', `email: the mailbox changed (${mailbox} was recreated: new UIDVALIDITY), the mail is no longer known`);
  if (found === 'gone') throw new HubError('NOT_FOUND', `email: the mail is no longer in ${mailbox} (deleted or moved)`);
  return found;
}

async function findMoved(client: ImapFlow, h: Handle): Promise<Buffer | undefined> {
  if (!(await examine(client, h.folder))) return undefined;
  const uids = await client.search({ larger: h.size - 1, smaller: h.size + 1 }, { uid: true });
  if (!Array.isArray(uids)) throw new Error(`UID SEARCH in ${h.folder} failed`);
  for (const uid of uids.sort((a, b) => b - a).slice(0, MAX_CANDIDATES)) {
    const source = await sourceOf(client, uid);
    if (source && matches(source, h)) return source;
  }
  return undefined;
}

async function byUid(client: ImapFlow, mailbox: string, h: Handle): Promise<Buffer | 'changed' | 'gone'> {
  const box = await examine(client, mailbox);
  if (!box) return 'gone';
  if (box.uidValidity.toString() !== h.uidValidity) return 'changed';
  const meta = await client.fetchOne(String(h.uid), { uid: true, size: true }, { uid: true });
  if (!meta || meta.size !== h.size) return 'gone'; // size first: nothing is loaded for a mail that is not ours
  const source = await sourceOf(client, h.uid);
  return source && matches(source, h) ? source : 'gone';
}

/** Opens `folder` read-only (EXAMINE: reading sets no flag); undefined when the server says it does not exist. */
async function examine(client: ImapFlow, folder: string): Promise<{ uidValidity: bigint } | undefined> {
  try {
    return await client.mailboxOpen(folder, { readOnly: true });
  } catch (err) {
    if ((err as { responseStatus?: unknown }).responseStatus === 'NO') return undefined;
    throw err;
  }
}

/** BODY.PEEK[] of one UID (imapflow's `source`), or undefined when there is no such mail. */
async function sourceOf(client: ImapFlow, uid: number): Promise<Buffer | undefined> {
  const m = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
  return m && m.source ? m.source : undefined;
}

function matches(source: Buffer, h: Handle): boolean {
  return source.length === h.size && digestOf(source) === h.digest;
}

/** Runs `fn` on a fresh logged-in connection, logged out afterwards; failures other than HubErrors become NETWORK. */
async function withImap<T>(cfg: ImapConfig, signal: AbortSignal, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  if (signal.aborted) throw new HubError('NETWORK', 'email: fetching the attachment was aborted', { retry: 'retry' });
  const where = `${cfg.host}:${cfg.port}`;
  const client = new ImapFlow({
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure,
    auth: { user: cfg.user, pass: cfg.password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: CONNECT_TIMEOUT_MS,
  });
  client.on('error', () => undefined); // the failing command rejects as well; that is what is reported
  const abort = (): void => client.close();
  signal.addEventListener('abort', abort, { once: true });
  let step = 'connection to';
  try {
    await client.connect();
    step = 'reading the mail from';
    return await fn(client);
  } catch (err) {
    if (isHubError(err)) throw err;
    if (signal.aborted) throw new HubError('NETWORK', 'email: fetching the attachment was aborted', { retry: 'retry' });
    const what = (err as { authenticationFailed?: unknown }).authenticationFailed ? `IMAP login as ${cfg.user} at ${where} failed` : `IMAP ${step} ${where} failed`;
    throw new HubError('NETWORK', scrub(`email: ${what}: ${reasonOf(err)}`, cfg.password), { retry: 'retry' });
  } finally {
    signal.removeEventListener('abort', abort);
    await logout(client);
  }
}

async function logout(client: ImapFlow): Promise<void> {
  if (!client.usable) return client.close();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.logout(), new Promise<void>((resolve) => (timer = setTimeout(resolve, LOGOUT_TIMEOUT_MS)))]);
  } catch {
    // the bytes are read: a failed logout changes nothing
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

/** imapflow's `Command failed` with the server's text. */
function reasonOf(err: unknown): string {
  const text = (err as { responseText?: unknown } | undefined)?.responseText;
  return typeof text === 'string' && text !== '' ? `${errorMessage(err)}: ${text}` : errorMessage(err);
}

/** The text without the password (a server or library that echoes it must not show it to agents). */
function scrub(text: string, password: string): string {
  return password === '' ? text : text.split(password).join('***');
}
