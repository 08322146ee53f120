/**
 * Debian's real Dovecot on 127.0.0.1 (a free high port) in a temp dir, for tests that drive the
 * real imapflow client against a real IMAP server. One user, `bot` / `secret`, maildir storage.
 * Dovecot 2.3 and 2.4 are both handled (their config syntax differs). Tests run as root (Dovecot
 * switches to uid 65534 for the mail processes).
 *
 *   const dc = await startDovecot();
 *   await dc.createMailbox('t1');
 *   const uid = await dc.append('t1', rawMail);          // IMAP APPEND through a second client
 *   (await dc.flags('t1')).get(uid)                       // Set of flags, e.g. '\\Seen'
 *   const mark = dc.rawlogMark();                         // sessions so far; then, of the sessions after it:
 *   dc.sourceFetches(mark)                                // every BODY.PEEK[] fetch the server got, with its UID count
 *   dc.commands(mark)                                     // every command line, e.g. 'IDLE'
 *   await dc.restart();                                   // stop + start on the same port and mail dir
 *   await dc.close();                                     // stop + remove the temp dir
 *
 * Dovecot daemonizes; its stdout/stderr go to `<dir>/dovecot.out` (a pipe would keep the test
 * process waiting for output that never closes). It is stopped by the pid in `<base_dir>/master.pid`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ImapFlow } from 'imapflow';

export const DOVECOT_USER = 'bot';
export const DOVECOT_PASSWORD = 'secret';
/** The uid/gid the mail processes run as (nobody/nogroup). */
const MAIL_UID = 65534;

export interface Dovecot {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The temp dir (config, logs, mail, rawlogs). */
  dir: string;
  /** `2.3.19.1` etc. */
  version: string;
  /** A connected imapflow client (log in as `bot`); log it out when done. */
  client(): Promise<ImapFlow>;
  createMailbox(name: string): Promise<void>;
  deleteMailbox(name: string): Promise<void>;
  /** Appends one raw mail; resolves with its UID. */
  append(mailbox: string, raw: string | Buffer, flags?: string[]): Promise<number>;
  /** Appends many raw mails over one connection, in order; resolves with their UIDs. */
  appendMany(mailbox: string, raws: (string | Buffer)[], flags?: string[]): Promise<number[]>;
  /** UID -> flags of every mail in the mailbox (fetching flags does not change them). */
  flags(mailbox: string): Promise<Map<number, Set<string>>>;
  uidValidity(mailbox: string): Promise<string>;
  /**
   * Every `UID FETCH <set> (... BODY.PEEK[] ...)` (message sources) any client sent, from the
   * server's rawlogs (written as the commands arrive), with how many UIDs each one named.
   */
  sourceFetches(since?: RawlogMark): SourceFetch[];
  /** The sessions logged so far: `sourceFetches(mark)` then reads only the sessions after it. */
  rawlogMark(): RawlogMark;
  /** Every command line (tag stripped, e.g. `IDLE`, `UID FETCH 1:5 (UID RFC822.SIZE)`) of the sessions after `since`. */
  commands(since?: RawlogMark): string[];
  /** Dovecot's own log (errors and session info). */
  log(): string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stop + start on the same port and mail dir. */
  restart(): Promise<void>;
  /** stop, then remove the temp dir. */
  close(): Promise<void>;
}

/** One `UID FETCH` of message sources as the server received it. */
export interface SourceFetch {
  /** The UID set as sent, e.g. `1:50` or `3,5,7`. */
  set: string;
  /** UIDs it names; Infinity for an open-ended set (`n:*`). */
  count: number;
}

/** Sessions already in the rawlog dir (see `rawlogMark`). */
export type RawlogMark = ReadonlySet<string>;

export interface DovecotOptions {
  /** false: the server does not offer IDLE (clients have to poll). Default true. */
  idle?: boolean;
}

/** The installed Dovecot's version; throws a clear error when it is not installed. */
export function dovecotVersion(): string {
  try {
    return execFileSync('dovecot', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: pathWithSbin() }).trim().split(/\s+/)[0] ?? '';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('dovecot is not installed: the IMAP tests run a real Dovecot. Install it with `apt-get install dovecot-imapd` (.ci/run does).');
    }
    throw err;
  }
}

export async function startDovecot(options: DovecotOptions = {}): Promise<Dovecot> {
  const version = dovecotVersion();
  const is24 = /^2\.(4|[5-9])|^[3-9]\./.test(version);
  const dir = mkdtempSync(join(traversableTempBase(), 'sb-dovecot-'));
  chmodSync(dir, 0o755); // mkdtemp makes 0700; the mail processes (uid 65534) must traverse it
  const home = join(dir, 'home', DOVECOT_USER);
  const rawlog = join(dir, 'rawlog');
  const base = join(dir, 'run');
  mkdirSync(home, { recursive: true, mode: 0o755 });
  chmodSync(join(dir, 'home'), 0o755);
  mkdirSync(rawlog, { mode: 0o755 });
  mkdirSync(base, { mode: 0o755 });
  mkdirSync(join(dir, 'state'), { mode: 0o755 });
  chownSync(home, MAIL_UID, MAIL_UID);
  chownSync(rawlog, MAIL_UID, MAIL_UID);
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, `${DOVECOT_USER}:{PLAIN}${DOVECOT_PASSWORD}:${MAIL_UID}:${MAIL_UID}::${home}\n`, { mode: 0o644 });
  const port = await freePort();
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, config({ is24, dir, base, passwd, rawlog, port, idle: options.idle ?? true }));

  const start = async (): Promise<void> => {
    const out = openSync(join(dir, 'dovecot.out'), 'a');
    try {
      const child = spawn('dovecot', ['-c', conf], { stdio: ['ignore', out, out], env: pathWithSbin() });
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', resolve);
      });
      if (code !== 0) throw new Error(`dovecot exited with ${code}:\n${readLogs(dir)}`);
    } finally {
      closeSync(out);
    }
    await waitFor(() => portOpen(port), 10_000, () => `dovecot did not listen on ${port}:\n${readLogs(dir)}`);
  };

  /** Stops the master and every process it started (sessions included: a client sees the server go away). */
  const stop = async (): Promise<void> => {
    const pidFile = join(base, 'master.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
    // Dovecot's session processes outlive the master for a while (they end on their own ~10 s later)
    await terminate([pid, ...childrenOf(pid)]);
  };

  try {
    await start();
  } catch (err) {
    await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const client = async (): Promise<ImapFlow> => {
    const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user: DOVECOT_USER, pass: DOVECOT_PASSWORD }, logger: false, disableAutoIdle: true });
    c.on('error', () => undefined); // a dropped helper connection fails its pending command; that is enough
    await c.connect();
    return c;
  };
  const withClient = async <T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> => {
    const c = await client();
    try {
      return await fn(c);
    } finally {
      await c.logout().catch(() => c.close());
    }
  };
  const appendMany = (mailbox: string, raws: (string | Buffer)[], flags: string[] = []) =>
    withClient(async (c) => {
      const uids: number[] = [];
      for (const raw of raws) {
        const r = await c.append(mailbox, raw, flags);
        if (!r || r.uid === undefined) throw new Error(`APPEND to ${mailbox} returned no UID`);
        uids.push(r.uid);
      }
      return uids;
    });

  return {
    host: '127.0.0.1',
    port,
    user: DOVECOT_USER,
    password: DOVECOT_PASSWORD,
    dir,
    version,
    client,
    createMailbox: (name) => withClient(async (c) => void (await c.mailboxCreate(name))),
    deleteMailbox: (name) => withClient(async (c) => void (await c.mailboxDelete(name))),
    append: async (mailbox, raw, flags) => {
      const [uid] = await appendMany(mailbox, [raw], flags);
      return uid as number;
    },
    appendMany,
    flags: (mailbox) =>
      withClient(async (c) => {
        const out = new Map<number, Set<string>>();
        const mb = await c.mailboxOpen(mailbox, { readOnly: true });
        if (mb.exists === 0) return out;
        for await (const m of c.fetch('1:*', { uid: true, flags: true })) out.set(m.uid, new Set([...(m.flags ?? [])].filter((f) => f !== '\\Recent')));
        return out;
      }),
    uidValidity: (mailbox) =>
      withClient(async (c) => {
        const s = await c.status(mailbox, { uidValidity: true });
        if (!s || s.uidValidity === undefined) throw new Error(`no UIDVALIDITY for ${mailbox}`);
        return s.uidValidity.toString();
      }),
    sourceFetches: (since) => sourceFetches(commandLines(rawlog, since)),
    rawlogMark: () => new Set(rawlogFiles(rawlog)),
    commands: (since) => commandLines(rawlog, since),
    log: () => readLogs(dir),
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Dovecot 2.3's capabilities after login, without IDLE. */
const NO_IDLE_CAPABILITIES = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE ESEARCH SEARCHRES BINARY MOVE LITERAL+';

function config(o: { is24: boolean; dir: string; base: string; passwd: string; rawlog: string; port: number; idle: boolean }): string {
  const common = [
    'protocols = imap',
    'listen = 127.0.0.1',
    `base_dir = ${o.base}`,
    `state_dir = ${join(o.dir, 'state')}`,
    `log_path = ${join(o.dir, 'dovecot.log')}`,
    `info_log_path = ${join(o.dir, 'dovecot.log')}`,
    'ssl = no',
    'first_valid_uid = 1',
    'mail_max_userip_connections = 100',
    `service imap-login {\n  inet_listener imap {\n    port = ${o.port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
    // per-session logs of what each client sent (sourceFetches)
    `protocol imap {\n  rawlog_dir = ${o.rawlog}\n${o.idle ? '' : `  imap_capability = ${NO_IDLE_CAPABILITIES}\n`}}`,
  ];
  if (o.is24) {
    return [
      'dovecot_config_version = 2.4.0',
      'dovecot_storage_version = 2.4.0',
      ...common,
      'auth_allow_cleartext = yes',
      'mail_driver = maildir',
      'mail_path = ~/Maildir',
      `passdb passwd-file {\n  passwd_file_path = ${o.passwd}\n}`,
      `userdb passwd-file {\n  passwd_file_path = ${o.passwd}\n}`,
      '',
    ].join('\n');
  }
  return [
    ...common,
    'disable_plaintext_auth = no',
    'mail_location = maildir:~/Maildir',
    `passdb {\n  driver = passwd-file\n  args = ${o.passwd}\n}`,
    `userdb {\n  driver = passwd-file\n  args = ${o.passwd}\n}`,
    '',
  ].join('\n');
}

function rawlogFiles(rawlogDir: string): string[] {
  return readdirSync(rawlogDir)
    .filter((n) => n.endsWith('.in'))
    .sort();
}

/** Client command lines of the sessions not in `since`, without timestamp and tag; literals' lines are left out when recognisable. */
function commandLines(rawlogDir: string, since?: RawlogMark): string[] {
  const out: string[] = [];
  for (const f of rawlogFiles(rawlogDir).filter((n) => !since?.has(n))) {
    for (const line of readFileSync(join(rawlogDir, f), 'utf8').split(/\r?\n/)) {
      const m = /^\d+\.\d+ [A-Za-z0-9]+ ([A-Z][A-Z ]*\b.*)$/.exec(line);
      if (m?.[1]) out.push(m[1]);
    }
  }
  return out;
}

/** The source fetches among the command lines (`UID FETCH <set> (... BODY.PEEK[] ...)`). */
function sourceFetches(commands: string[]): SourceFetch[] {
  const out: SourceFetch[] = [];
  for (const line of commands) {
    const m = /^UID FETCH (\S+) \((.*)\)$/i.exec(line);
    if (!m?.[1] || !/(BODY|BINARY)\.PEEK\[\]/i.test(m[2] ?? '')) continue;
    out.push({ set: m[1], count: setSize(m[1]) });
  }
  return out;
}

/** How many UIDs a sequence set names; Infinity when it is open-ended (`n:*`). */
function setSize(set: string): number {
  let n = 0;
  for (const part of set.split(',')) {
    const [a, b] = part.split(':');
    if (a === '*' || b === '*') return Infinity;
    n += b === undefined ? 1 : Math.abs(Number(b) - Number(a)) + 1;
  }
  return n;
}

function readLogs(dir: string): string {
  return ['dovecot.out', 'dovecot.log']
    .map((n) => join(dir, n))
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p, 'utf8'))
    .join('\n');
}

/**
 * A writable directory that uid 65534 can traverse down to: the temp dir when it is (the usual
 * case), else the first of /var/tmp, /dev/shm, /run that is (some CI sandboxes give a /tmp without
 * the others' x bit). Throws naming every candidate when none is.
 */
function traversableTempBase(): string {
  const candidates = [...new Set([tmpdir(), '/var/tmp', '/dev/shm', '/run'])];
  const refused: string[] = [];
  for (const c of candidates) {
    const why = untraversable(c);
    if (why === undefined) return c;
    refused.push(`${c}: ${why}`);
  }
  throw new Error(`no temp directory Dovecot's mail processes (uid ${MAIL_UID}) can reach: ${refused.join('; ')}. Set TMPDIR to a directory every user can traverse`);
}

/** Why uid 65534 cannot use `path` as a parent (not there, not writable by us, a parent without o+x); undefined when it can. */
function untraversable(path: string): string | undefined {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch {
    return 'missing or not writable';
  }
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return `${p} is not traversable by other users`;
    if (dirname(p) === p) return undefined;
  }
}

function pathWithSbin(): NodeJS.ProcessEnv {
  const path = process.env.PATH ?? '';
  return { ...process.env, PATH: path.split(':').includes('/usr/sbin') ? path : `${path}:/usr/sbin:/sbin` };
}

/** SIGTERM, then SIGKILL after 10 s; resolves once every one is gone. */
async function terminate(pids: number[]): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  try {
    await waitFor(async () => !pids.some(alive), 10_000, () => `dovecot processes ${pids.join(' ')} did not stop`);
  } catch {
    signal('SIGKILL');
    await waitFor(async () => !pids.some(alive), 5_000, () => `dovecot processes ${pids.join(' ')} survived SIGKILL`);
  }
}

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 50));
  }
}
