/**
 * The receiving side: one IMAP connection (imapflow) to the customers' mailbox. New mail is noticed
 * from EXISTS while the connection idles (imapflow starts IDLE by itself when nothing runs), and the
 * mailbox is selected again and checked every `pollSeconds` in any case (the polling of a server
 * without IDLE, and the safety net for a missed EXISTS or a recreated mailbox).
 *
 * Each pass hands over, in UID order, the mail past the cursor (cursor.ts): sizes first, then the
 * sources in batches of `batchSize` UIDs (BODY.PEEK, so fetching sets no flag). A mail is marked
 * processed (the flag, and a move to `processed.folder` when set) only after `onMail` resolved, and
 * then the cursor moves past it. A rejecting `onMail` ends the pass there; the same mail is handed
 * over again on the next pass, before any later one. The first start, and a changed UIDVALIDITY,
 * hand over the mail not yet marked processed (see cursor.ts). A drop or a failed connect is followed by a
 * reconnect with exponential backoff (1 s doubling to 60 s, with jitter); imapflow does not
 * reconnect by itself.
 */
import { ImapFlow, type SearchObject } from 'imapflow';
import type { Logger } from 'pino';
import type { ChannelState } from '../../core/adapter.js';
import { errorMessage } from '../../core/errors.js';
import type { EmailConfig } from './config.js';
import { advanced, CursorStore, cursorKey, fetchGroups, uidSet, unprocessedQuery, type ImapCursor } from './cursor.js';
import type { MailSink } from './types.js';

/** A mail larger than this is not loaded: it is logged, marked processed and passed over. */
export const MAX_MAIL_BYTES = 50 * 1024 * 1024;
/** Sources fetched by one command at most, in bytes (besides the `batchSize` cap). */
const MAX_FETCH_BYTES = 64 * 1024 * 1024;
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;
/** How long stop() lets a running pass finish before it closes the connection under it. */
const STOP_GRACE_MS = 10_000;
const LOGOUT_TIMEOUT_MS = 5000;

export type ImapConfig = EmailConfig['imap'];

export interface ImapReceiverDeps {
  state: ChannelState;
  onMail: MailSink;
  log: Logger;
}

type PassResult = 'done' | 'stopped' | 'retry';

export class ImapReceiver {
  private readonly cursor: CursorStore;
  private readonly where: string;
  private running = false;
  private loop: Promise<void> | undefined;
  private started: Promise<void> | undefined;
  private client: ImapFlow | undefined;
  private connecting = false;
  private backoff = MIN_BACKOFF_MS;
  /** New mail was announced since the last pass started. */
  private newMail = false;
  private wakeUp: { resolve: () => void; onMail: boolean } | undefined;

  constructor(
    private readonly cfg: ImapConfig,
    private readonly deps: ImapReceiverDeps,
  ) {
    this.cursor = new CursorStore(deps.state, cursorKey(cfg.mailbox));
    this.where = `${cfg.user}@${cfg.host}:${cfg.port}/${cfg.mailbox}`;
  }

  /** Starts receiving; resolves once the first connection attempt was made (it keeps retrying in the background). */
  start(): Promise<void> {
    if (this.loop && this.started) return this.started;
    this.running = true;
    let attempted = (): void => undefined;
    this.started = new Promise<void>((resolve) => (attempted = resolve));
    this.loop = this.run(attempted)
      .catch((err) => this.deps.log.error(`email imap: receiver stopped unexpectedly: ${errorMessage(err)}`))
      .finally(attempted);
    return this.started;
  }

  /**
   * Lets the mail being handed over finish (it is marked and the cursor moved), logs out and clears
   * every timer. Idempotent. Do not await it inside `onMail`: it waits for that call.
   */
  async stop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    this.running = false;
    this.wake(false);
    if (this.connecting) this.client?.close();
    const grace = setTimeout(() => this.client?.close(), STOP_GRACE_MS);
    try {
      await loop;
    } finally {
      clearTimeout(grace);
      if (this.loop === loop) {
        this.loop = undefined;
        this.started = undefined;
      }
    }
  }

  private async run(attempted: () => void): Promise<void> {
    this.backoff = MIN_BACKOFF_MS;
    let down: { since: number; attempts: number } | undefined;
    while (this.running) {
      const client = this.newClient();
      let failure: string | undefined;
      client.on('error', (err: Error) => (failure ??= errorMessage(err)));
      client.on('close', () => this.client === client && this.wake(false));
      client.on('exists', (e) => {
        if (e.count > e.prevCount) this.wake(true);
      });
      this.client = client;
      let wasUp = false;
      try {
        this.connecting = true;
        await client.connect();
        this.connecting = false;
        await this.serve(client, () => {
          wasUp = true;
          attempted();
          const idle = client.capabilities.has('IDLE') ? 'IDLE' : `no IDLE on the server: polling every ${this.cfg.pollSeconds} s`;
          if (down) {
            const secs = Math.round((Date.now() - down.since) / 1000);
            this.deps.log.info({ attempts: down.attempts }, `email imap: reconnected to ${this.where} after ${secs} s (${idle})`);
          } else {
            this.deps.log.info(`email imap: watching ${this.where} (${idle})`);
          }
          down = undefined;
        });
      } catch (err) {
        failure ??= client.byeReason ? `server said BYE: ${client.byeReason}` : reasonOf(err);
      } finally {
        this.connecting = false;
        attempted();
      }
      if (!this.running) {
        await this.logout(client);
        break;
      }
      this.client = undefined; // its late events must not cut the backoff short
      client.close();
      failure ??= client.byeReason ? `server said BYE: ${client.byeReason}` : 'connection closed';
      const wait = Math.round(this.backoff / 2 + (Math.random() * this.backoff) / 2);
      if (!down) {
        down = { since: Date.now(), attempts: 0 };
        const what = wasUp ? `connection to ${this.where} lost` : `cannot connect to ${this.where}`;
        this.deps.log.warn({ reason: failure }, `email imap: ${what}: ${failure}; reconnecting with backoff (first try in ${wait} ms)`);
      } else {
        this.deps.log.debug({ reason: failure, attempt: down.attempts }, `email imap: reconnect failed: ${failure}; next try in ${wait} ms`);
      }
      down.attempts++;
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      await this.sleep(wait, false);
    }
    this.client = undefined;
  }

  private newClient(): ImapFlow {
    const log = this.deps.log;
    const quiet = (): void => undefined;
    return new ImapFlow({
      host: this.cfg.host,
      port: this.cfg.port,
      secure: this.cfg.secure,
      auth: { user: this.cfg.user, pass: this.cfg.password },
      // imapflow's own warnings go to debug: the receiver logs drops and failures itself
      logger: { debug: quiet, info: quiet, warn: (o: unknown) => log.debug({ imapflow: o }, 'email imap: imapflow warning'), error: (o: unknown) => log.debug({ imapflow: o }, 'email imap: imapflow error') },
      // passes hold a mailbox lock, so IDLE never lands between their commands; start it soon after
      autoIdleDelay: 500,
      connectionTimeout: 30_000,
    });
  }

  /** Works the mailbox until stopped (resolves) or the connection fails (throws). */
  private async serve(client: ImapFlow, ready: () => void): Promise<void> {
    const folder = this.cfg.processed.folder;
    if (folder) await ensureFolder(client, folder);
    await client.mailboxOpen(this.cfg.mailbox);
    ready();
    const pollMs = this.cfg.pollSeconds * 1000;
    let nextCheck = Date.now() + pollMs; // re-select and re-check at least this often, new mail or not
    let reselect = false;
    let failures = 0;
    while (this.running) {
      this.newMail = false;
      const result = await this.pass(client, reselect);
      if (result === 'stopped' || !this.running) return;
      assertUsable(client);
      if (reselect) nextCheck = Date.now() + pollMs;
      let waitMs = Math.max(0, nextCheck - Date.now());
      if (result === 'retry') {
        waitMs = Math.min(waitMs, MIN_BACKOFF_MS * 2 ** Math.min(failures++, 16));
      } else {
        failures = 0;
        this.backoff = MIN_BACKOFF_MS; // reset by a working pass, not by a login that drops at once
      }
      // after a failure, wait the retry time even if new mail comes in (it queues behind the failed one)
      if (result === 'retry' || !this.newMail) await this.sleep(waitMs, result === 'done');
      assertUsable(client);
      reselect = Date.now() >= nextCheck;
    }
  }

  /** One pass over the mail past the cursor. */
  private async pass(client: ImapFlow, reselect: boolean): Promise<PassResult> {
    if (reselect) await client.mailboxOpen(this.cfg.mailbox); // a fresh view: a missed EXISTS, a recreated mailbox
    const lock = await client.getMailboxLock(this.cfg.mailbox);
    try {
      const mailbox = client.mailbox;
      if (!mailbox) throw new Error(`${this.cfg.mailbox} is not selected`);
      const uidValidity = mailbox.uidValidity.toString();
      let cur = await this.cursor.load();
      if (!cur || cur.uidValidity !== uidValidity) {
        const next: ImapCursor = { uidValidity, lastUid: 0 };
        const newest = Number.isFinite(mailbox.uidNext) ? mailbox.uidNext - 1 : await maxUid(client);
        if (newest > 0) next.catchUpTo = newest;
        if (cur) {
          this.deps.log.warn(
            { was: cur.uidValidity, now: uidValidity },
            `email imap: UIDVALIDITY of ${this.where} changed (${cur.uidValidity} -> ${uidValidity}; mailbox recreated?): handing over again every mail not yet marked processed`,
          );
        } else {
          this.deps.log.info(`email imap: first start on ${this.where}: handing over the mail not yet marked processed, none of the processed history`);
        }
        if (!(await this.cursor.save(next))) return this.conflict();
        cur = next;
      }
      const uids = await this.pendingUids(client, cur);
      for (let i = 0; i < uids.length; i += this.cfg.batchSize) {
        const result = await this.batch(client, uids.slice(i, i + this.cfg.batchSize), uidValidity);
        if (result !== 'done') return result;
      }
      return 'done';
    } finally {
      lock.release();
    }
  }

  /** The UIDs to hand over, ascending: the not yet processed up to `catchUpTo`, then every one past it. */
  private async pendingUids(client: ImapFlow, cur: ImapCursor): Promise<number[]> {
    const uids: number[] = [];
    if (cur.catchUpTo !== undefined && cur.catchUpTo > cur.lastUid) {
      const old = await search(client, { ...unprocessedQuery(this.cfg.processed), uid: `${cur.lastUid + 1}:${cur.catchUpTo}` });
      uids.push(...old.filter((u) => u > cur.lastUid && u <= (cur.catchUpTo ?? 0)));
    }
    const from = Math.max(cur.lastUid, cur.catchUpTo ?? 0) + 1;
    // `n:*` also names the newest mail when every UID is below n: filter
    uids.push(...(await search(client, { uid: `${from}:*` })).filter((u) => u >= from));
    return [...new Set(uids)].sort((a, b) => a - b);
  }

  /** Hands over one batch of at most `batchSize` UIDs, in order. */
  private async batch(client: ImapFlow, uids: number[], uidValidity: string): Promise<PassResult> {
    const sizes = new Map<number, number>();
    for await (const m of client.fetch(uidSet(uids), { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
    // a UID without a size was expunged meanwhile: nothing to hand over
    const present = uids.filter((u) => sizes.has(u));
    for (const group of fetchGroups(present, sizes, MAX_MAIL_BYTES, MAX_FETCH_BYTES)) {
      const wanted = group.filter((u) => (sizes.get(u) ?? 0) <= MAX_MAIL_BYTES);
      const sources = new Map<number, Buffer>();
      if (wanted.length > 0) {
        this.deps.log.debug({ uids: uidSet(wanted), count: wanted.length }, 'email imap: fetching mail sources');
        for await (const m of client.fetch(uidSet(wanted), { uid: true, source: true }, { uid: true })) if (m.source) sources.set(m.uid, m.source);
      }
      for (const uid of group) {
        if (!this.running) return 'stopped';
        const size = sizes.get(uid) ?? 0;
        if (size > MAX_MAIL_BYTES) {
          this.deps.log.warn({ uid, size }, `email imap: mail uid ${uid} in ${this.where} is ${Math.round(size / 1048576)} MB (over ${MAX_MAIL_BYTES / 1048576} MB): not loaded, marked processed`);
        } else {
          const source = sources.get(uid);
          if (!source) continue; // expunged between the two fetches
          sources.delete(uid);
          try {
            await this.deps.onMail({ uid, uidValidity, source });
          } catch (err) {
            if (!this.running) return 'stopped';
            this.deps.log.warn({ uid }, `email imap: mail uid ${uid} in ${this.where} not accepted, handing it over again on the next pass: ${reasonOf(err)}`);
            return 'retry';
          }
        }
        await this.markProcessed(client, uid);
        const cur = this.cursor.current;
        if (!cur || !(await this.cursor.save(advanced(cur, uid)))) return this.conflict();
      }
    }
    return 'done';
  }

  private async markProcessed(client: ImapFlow, uid: number): Promise<void> {
    const { flag, folder } = this.cfg.processed;
    if (!(await client.messageFlagsAdd(String(uid), [flag], { uid: true }))) {
      this.deps.log.warn({ uid, flag }, `email imap: could not set ${flag} on mail uid ${uid} in ${this.where}`);
    }
    if (folder && !(await client.messageMove(String(uid), folder, { uid: true }))) {
      this.deps.log.warn({ uid, folder }, `email imap: could not move mail uid ${uid} from ${this.where} to ${folder}`);
    }
  }

  private conflict(): PassResult {
    this.deps.log.warn(`email imap: the cursor ${this.cursor.key} was written by someone else meanwhile; reading it again on the next pass`);
    return 'retry';
  }

  /** Resolves after `ms`, or sooner when woken: by stop, a closed connection, or new mail when `onMail`. */
  private sleep(ms: number, onMail: boolean): Promise<void> {
    if (!this.running || (onMail && this.newMail)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = {
        onMail,
        resolve: () => {
          clearTimeout(timer);
          this.wakeUp = undefined;
          resolve();
        },
      };
    });
  }

  private wake(mail: boolean): void {
    if (mail) this.newMail = true;
    if (this.wakeUp && (!mail || this.wakeUp.onMail)) this.wakeUp.resolve();
  }

  private async logout(client: ImapFlow): Promise<void> {
    if (!client.usable) return client.close();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([client.logout(), new Promise<void>((resolve) => (timer = setTimeout(resolve, LOGOUT_TIMEOUT_MS)))]);
    } catch (err) {
      this.deps.log.debug(`email imap: logout failed: ${errorMessage(err)}`);
    } finally {
      clearTimeout(timer);
      client.close();
    }
  }
}

function assertUsable(client: ImapFlow): void {
  if (!client.usable) throw new Error(client.byeReason ? `server said BYE: ${client.byeReason}` : 'connection closed');
}

/** Creates the folder for processed mail when it is missing. */
async function ensureFolder(client: ImapFlow, folder: string): Promise<void> {
  try {
    await client.mailboxCreate(folder); // `created: false` when the server answers ALREADYEXISTS
  } catch (err) {
    // a server that refuses CREATE of an existing folder without ALREADYEXISTS: fine if it is there
    if (!(await client.status(folder, { messages: true }))) throw new Error(`cannot create the folder ${folder}: ${reasonOf(err)}`);
  }
}

/** imapflow's `Command failed` with the server's text. */
function reasonOf(err: unknown): string {
  const text = (err as { responseText?: unknown } | undefined)?.responseText;
  return typeof text === 'string' && text !== '' ? `${errorMessage(err)}: ${text}` : errorMessage(err);
}

async function search(client: ImapFlow, query: SearchObject): Promise<number[]> {
  const found = await client.search(query, { uid: true });
  if (!Array.isArray(found)) throw new Error(`UID SEARCH failed (${found === false ? 'refused by the server' : 'no mailbox selected'})`);
  return found;
}

async function maxUid(client: ImapFlow): Promise<number> {
  return (await search(client, { all: true })).reduce((a, b) => Math.max(a, b), 0);
}
