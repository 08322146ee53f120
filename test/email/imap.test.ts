/**
 * The IMAP receiver against a real Dovecot (test/fakes/dovecot.ts): order, marking only after
 * onMail resolved, retry of a rejected mail, exact resume, processed folder, reconnect, UIDVALIDITY
 * change, bounded backlog fetches, first start, the size guard and polling without IDLE.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { ImapReceiver, MAX_MAIL_BYTES, type ImapConfig } from '../../src/adapters/email/imap.js';
import type { RawMail } from '../../src/adapters/email/types.js';
import type { ChannelState } from '../../src/core/adapter.js';
import { RecordingContext } from '../contract/recording-context.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';

let dc: Dovecot;
let n = 0;
const contexts: RecordingContext[] = [];
const receivers: ImapReceiver[] = [];

before(async () => {
  dc = await startDovecot();
});
after(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
  await Promise.all(contexts.map((c) => c.close()));
  await dc?.close();
});

/** A fresh mailbox and channel state per test. */
async function setup(): Promise<{ mailbox: string; state: ChannelState }> {
  const mailbox = `box${++n}`;
  await dc.createMailbox(mailbox);
  const ctx = new RecordingContext();
  contexts.push(ctx);
  return { mailbox, state: ctx.state('email') };
}

function cfg(server: Dovecot, mailbox: string, over: Partial<ImapConfig> = {}): ImapConfig {
  return {
    host: server.host,
    port: server.port,
    secure: false,
    user: server.user,
    password: server.password,
    mailbox,
    processed: { flag: '\\Seen' },
    pollSeconds: 60,
    batchSize: 50,
    ...over,
  };
}

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function capture(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

function receiver(config: ImapConfig, state: ChannelState, onMail: (m: RawMail) => Promise<void>, log: Logger = capture().log): ImapReceiver {
  const r = new ImapReceiver(config, { state, onMail, log });
  receivers.push(r);
  return r;
}

function mail(id: string, body = `body of ${id}`): string {
  return [`From: Customer <customer@example.com>`, 'To: support@example.com', `Subject: ${id}`, `Message-ID: <${id}@example.com>`, 'Date: Mon, 1 Jan 2024 10:00:00 +0000', '', body, ''].join('\r\n');
}

function subject(m: RawMail): string {
  return /^Subject: (.*)$/m.exec(m.source.toString('utf8'))?.[1]?.trim() ?? '?';
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
}

async function seen(mailbox: string): Promise<number[]> {
  const flags = await dc.flags(mailbox);
  return [...flags].filter(([, f]) => f.has('\\Seen')).map(([uid]) => uid);
}

describe('ImapReceiver (real Dovecot)', () => {
  test('hands new mail over in UID order and flags it \\Seen only after onMail resolved', async () => {
    const { mailbox, state } = await setup();
    const before = await dc.appendMany(mailbox, [mail('a1'), mail('a2'), mail('a3')]);
    const got: RawMail[] = [];
    const seenWhileHandling: number[] = [];
    const r = receiver(cfg(dc, mailbox), state, async (m) => {
      if ((await dc.flags(mailbox)).get(m.uid)?.has('\\Seen')) seenWhileHandling.push(m.uid);
      got.push(m);
    });
    await r.start();
    await until('the first three', () => got.length >= 3);
    const later = await dc.appendMany(mailbox, [mail('a4'), mail('a5')]); // noticed while idling
    await until('all five', () => got.length >= 5);
    await r.stop();

    assert.deepEqual(got.map((m) => m.uid), [...before, ...later]);
    assert.deepEqual(got.map(subject), ['a1', 'a2', 'a3', 'a4', 'a5']);
    assert.deepEqual(seenWhileHandling, [], 'no mail was flagged before onMail resolved');
    assert.deepEqual(await seen(mailbox), [...before, ...later]);
    const uidValidity = await dc.uidValidity(mailbox);
    assert.ok(got.every((m) => m.uidValidity === uidValidity));
    assert.deepEqual((await state.get(`imap:${mailbox}`))?.value, { uidValidity, lastUid: later[1] });
  });

  test('a rejecting onMail leaves the mail unflagged; it is handed over again first, before the ones after it', async () => {
    const { mailbox, state } = await setup();
    const [u1, u2, u3] = await dc.appendMany(mailbox, [mail('b1'), mail('b2'), mail('b3')]);
    const calls: number[] = [];
    let flagsAtRetry: Map<number, Set<string>> | undefined;
    let rejected = false;
    const { log, lines } = capture();
    const r = receiver(
      cfg(dc, mailbox),
      state,
      async (m) => {
        calls.push(m.uid);
        if (m.uid === u2 && !rejected) {
          rejected = true;
          throw new Error('queue unavailable');
        }
        if (m.uid === u2) flagsAtRetry = await dc.flags(mailbox);
      },
      log,
    );
    await r.start();
    await until('b3 handed over', () => calls.includes(u3 as number));
    await r.stop();

    assert.deepEqual(calls, [u1, u2, u2, u3]);
    assert.equal(flagsAtRetry?.get(u2 as number)?.has('\\Seen'), false, 'the rejected mail stayed unflagged');
    assert.equal(flagsAtRetry?.get(u3 as number)?.has('\\Seen'), false);
    assert.deepEqual(await seen(mailbox), [u1, u2, u3]);
    assert.ok(lines.some((l) => l.level === 40 && l.msg.includes('not accepted') && l.msg.includes('queue unavailable')));
  });

  test('a restart in the middle of a batch misses nothing and repeats nothing', async () => {
    const { mailbox, state } = await setup();
    const uids = await dc.appendMany(mailbox, Array.from({ length: 6 }, (_, i) => mail(`c${i + 1}`)));
    // old mail, already read: skipped on the first start, also by the receiver that takes over
    const [old] = await dc.appendMany(mailbox, [mail('c-old')], ['\\Seen']);
    uids.push(...(await dc.appendMany(mailbox, Array.from({ length: 5 }, (_, i) => mail(`c${i + 7}`)))));
    const config = cfg(dc, mailbox, { batchSize: 5 });

    const first: number[] = [];
    let stopping: Promise<void> | undefined;
    const a = receiver(config, state, async (m) => {
      first.push(m.uid);
      if (first.length === 7) stopping = a.stop(); // stop after 7 of 11, in the second batch
    });
    await a.start();
    await until('the first receiver stopped', () => stopping !== undefined);
    await stopping;
    assert.deepEqual(first, uids.slice(0, 7));

    const second: number[] = [];
    const b = receiver(config, state, async (m) => void second.push(m.uid));
    await b.start();
    await until('the rest', () => second.length >= 4);
    await b.stop();

    assert.deepEqual([...first, ...second], uids);
    assert.ok(!first.includes(old as number) && !second.includes(old as number));
    assert.deepEqual((await seen(mailbox)).sort((x, y) => x - y), [...uids, old as number].sort((x, y) => x - y));
  });

  test('processed.folder: the handed-over mail is moved there (the folder is created)', async () => {
    const { mailbox, state } = await setup();
    const folder = `${mailbox}-done`;
    await dc.appendMany(mailbox, [mail('d1'), mail('d2')]);
    const got: string[] = [];
    const r = receiver(cfg(dc, mailbox, { processed: { folder, flag: '\\Seen' } }), state, async (m) => void got.push(subject(m)));
    await r.start();
    await until('both', () => got.length >= 2);
    await r.stop();

    assert.deepEqual(got, ['d1', 'd2']);
    assert.equal((await dc.flags(mailbox)).size, 0, 'nothing left in the mailbox');
    const moved = await dc.flags(folder);
    assert.equal(moved.size, 2);
    assert.ok([...moved.values()].every((f) => f.has('\\Seen')));
  });

  test('the IMAP server restarted while the receiver idles: it reconnects and picks up mail appended after the restart', async () => {
    const { mailbox, state } = await setup();
    await dc.append(mailbox, mail('e1'));
    const got: string[] = [];
    const { log, lines } = capture();
    const mark = dc.rawlogMark();
    // a poll interval far away: only IDLE and the reconnect can bring the mail
    const r = receiver(cfg(dc, mailbox, { pollSeconds: 3600 }), state, async (m) => void got.push(subject(m)), log);
    await r.start();
    await until('e1', () => got.length === 1);
    await until('the receiver idles', () => dc.commands(mark).includes('IDLE'));

    await dc.restart();
    await dc.append(mailbox, mail('e2'));
    await until('e2 after the restart', () => got.length === 2, 60_000);
    await dc.append(mailbox, mail('e3')); // and the new connection idles again
    await until('e3', () => got.length === 3);
    await r.stop();

    assert.deepEqual(got, ['e1', 'e2', 'e3']);
    const drops = lines.filter((l) => l.level === 40 && /lost|cannot connect/.test(l.msg));
    assert.equal(drops.length, 1, `one warning for the drop: ${JSON.stringify(drops)}`);
    assert.match(String(drops[0]?.reason), /shutting down|closed|ECONNRESET|BYE/i);
    assert.ok(lines.some((l) => l.level === 30 && l.msg.includes('reconnected')));
  });

  test('started while the server is down: start() resolves after the failed attempt, the receiver connects once the server is up', async () => {
    const { mailbox, state } = await setup();
    await dc.append(mailbox, mail('q1'));
    const timers = activeTimeouts();
    await dc.stop();
    const got: string[] = [];
    const { log, lines } = capture();
    const r = receiver(cfg(dc, mailbox), state, async (m) => void got.push(subject(m)), log);
    await r.start();
    const failed = lines.filter((l) => l.level === 40 && l.msg.includes('cannot connect'));
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]?.reason), /ECONNREFUSED/);
    await dc.start();
    await until('q1', () => got.length === 1, 60_000);
    await r.stop();
    await r.stop(); // idempotent
    assert.deepEqual(got, ['q1']);
    assert.equal(lines.filter((l) => l.level === 40).length, 1, 'the failed attempts are warned about once');
    assert.ok(lines.some((l) => l.level === 30 && l.msg.includes('reconnected')));
    assert.equal(activeTimeouts(), timers, 'no timer left behind');
  });

  test('stop() while waiting to reconnect returns at once and leaves no timer', async () => {
    const { mailbox, state } = await setup();
    const timers = activeTimeouts();
    const r = receiver(cfg(dc, mailbox, { port: 1 }), state, async () => undefined); // nothing listens there
    await r.start();
    await Promise.all([r.stop(), r.stop()]);
    assert.equal(activeTimeouts(), timers);
  });

  test('UIDVALIDITY changed (mailbox recreated) while stopped: the unflagged mail is handed over, nothing lost', async () => {
    const { mailbox, state } = await setup();
    await dc.appendMany(mailbox, [mail('f1'), mail('f2'), mail('f3')]);
    const got: string[] = [];
    const a = receiver(cfg(dc, mailbox), state, async (m) => void got.push(subject(m)));
    await a.start();
    await until('f1..f3', () => got.length === 3);
    await a.stop();
    const oldValidity = await dc.uidValidity(mailbox);

    await dc.deleteMailbox(mailbox);
    await dc.createMailbox(mailbox);
    // UIDs start again at 1: all below the stored lastUid (3)
    await dc.append(mailbox, mail('g1'));
    await dc.append(mailbox, mail('g2-read'), ['\\Seen']);
    await dc.append(mailbox, mail('g3'));
    const newValidity = await dc.uidValidity(mailbox);
    assert.notEqual(newValidity, oldValidity);

    const { log, lines } = capture();
    const b = receiver(cfg(dc, mailbox), state, async (m) => void got.push(subject(m)), log);
    await b.start();
    await until('g1 and g3', () => got.length === 5);
    await dc.append(mailbox, mail('g4'));
    await until('g4', () => got.length === 6);
    await b.stop();

    assert.deepEqual(got, ['f1', 'f2', 'f3', 'g1', 'g3', 'g4']);
    assert.ok(lines.some((l) => l.level === 40 && l.msg.includes('UIDVALIDITY')));
    assert.equal(((await state.get(`imap:${mailbox}`))?.value as { uidValidity: string }).uidValidity, newValidity);
  });

  test('while idling, the mailbox is selected again and searched every pollSeconds (a missed EXISTS strands nothing)', async () => {
    const { mailbox, state } = await setup();
    const mark = dc.rawlogMark();
    const r = receiver(cfg(dc, mailbox, { pollSeconds: 1 }), state, async () => undefined);
    await r.start();
    // the receiver's session: SELECT, UID SEARCH, IDLE, then (DONE) SELECT, UID SEARCH, IDLE, ...
    const session = () => dc.commands(mark).filter((c) => c === 'IDLE' || c.startsWith(`SELECT ${mailbox}`) || c.startsWith('UID SEARCH'));
    await until('two re-checks after idling', () => session().filter((c) => c === 'IDLE').length >= 3);
    await r.stop();
    const cmds = session();
    const firstIdle = cmds.indexOf('IDLE');
    const after = cmds.slice(firstIdle + 1);
    assert.ok(after.filter((c) => c.startsWith('SELECT')).length >= 2, `re-selected while idling: ${JSON.stringify(cmds)}`);
    assert.ok(after.filter((c) => c.startsWith('UID SEARCH')).length >= 2, `searched again while idling: ${JSON.stringify(cmds)}`);
  });

  test('a mailbox recreated while connected (no EXISTS ever comes): the periodic re-check finds the new mail', async () => {
    const { mailbox, state } = await setup();
    await dc.append(mailbox, mail('h1'));
    const got: string[] = [];
    // pollSeconds below the schema's minimum, to keep the test short
    const r = receiver(cfg(dc, mailbox, { pollSeconds: 1 }), state, async (m) => void got.push(subject(m)));
    await r.start();
    await until('h1', () => got.length === 1);
    await dc.deleteMailbox(mailbox); // the receiver's session keeps watching the deleted one
    await dc.createMailbox(mailbox);
    await dc.append(mailbox, mail('h2'));
    await until('h2', () => got.length === 2);
    await r.stop();
    assert.deepEqual(got, ['h1', 'h2']);
  });

  test('a backlog of 300 mails with batchSize 50: in order, once each, never more than 50 sources per fetch', async () => {
    const { mailbox, state } = await setup();
    const uids = await dc.appendMany(mailbox, Array.from({ length: 300 }, (_, i) => mail(`k${i + 1}`)));
    const mark = dc.rawlogMark();
    const got: number[] = [];
    const r = receiver(cfg(dc, mailbox, { batchSize: 50 }), state, async (m) => void got.push(m.uid));
    await r.start();
    await until('300 mails', () => got.length >= 300, 120_000);
    await r.stop(); // the session's rawlog is complete once it logged out

    assert.deepEqual(got, uids);
    const fetches = dc.sourceFetches(mark);
    assert.ok(fetches.length >= 6, `sources fetched in batches: ${JSON.stringify(fetches)}`);
    assert.ok(
      fetches.every((f) => f.count <= 50),
      `a fetch asked for more than 50 sources: ${JSON.stringify(fetches.filter((f) => f.count > 50))}`,
    );
    assert.equal(
      fetches.reduce((s, f) => s + f.count, 0),
      300,
      'each source fetched once',
    );
    assert.equal((await seen(mailbox)).length, 300);
  });

  test('the first start ignores mail already \\Seen and hands over the unread mail and what comes later', async () => {
    const { mailbox, state } = await setup();
    await dc.appendMany(mailbox, [mail('m-old1'), mail('m-old2')], ['\\Seen']);
    await dc.append(mailbox, mail('m-unread'));
    await dc.append(mailbox, mail('m-old3'), ['\\Seen']);
    const got: string[] = [];
    const r = receiver(cfg(dc, mailbox), state, async (m) => void got.push(subject(m)));
    await r.start();
    await until('the unread one', () => got.length >= 1);
    await dc.append(mailbox, mail('m-new'));
    await until('the new one', () => got.length >= 2);
    await r.stop();
    assert.deepEqual(got, ['m-unread', 'm-new']);
  });

  test('a keyword as processed.flag: the first start skips mail carrying it, handed-over mail gets it (and stays unread)', async () => {
    const { mailbox, state } = await setup();
    await dc.append(mailbox, mail('w-done'), ['$Switchboard']);
    const [u] = await dc.appendMany(mailbox, [mail('w-new')]);
    const got: string[] = [];
    const r = receiver(cfg(dc, mailbox, { processed: { flag: '$Switchboard' } }), state, async (m) => void got.push(subject(m)));
    await r.start();
    await until('w-new', () => got.length >= 1);
    await r.stop();
    assert.deepEqual(got, ['w-new']);
    const flags = (await dc.flags(mailbox)).get(u as number);
    assert.ok(flags?.has('$Switchboard'));
    assert.ok(!flags?.has('\\Seen'));
  });

  test(`a mail over ${MAX_MAIL_BYTES / 1048576} MB is not loaded: logged, marked processed, passed over`, async () => {
    const { mailbox, state } = await setup();
    const [small1] = await dc.appendMany(mailbox, [mail('s1')]);
    const big = mail('s-big', `${'y'.repeat(998)}\r\n`.repeat(Math.ceil(MAX_MAIL_BYTES / 1000) + 10));
    const [bigUid] = await dc.appendMany(mailbox, [big]);
    const [small2] = await dc.appendMany(mailbox, [mail('s2')]);
    const got: number[] = [];
    const { log, lines } = capture();
    const r = receiver(cfg(dc, mailbox), state, async (m) => void got.push(m.uid), log);
    await r.start();
    await until('s2', () => got.includes(small2 as number));
    await r.stop();

    assert.deepEqual(got, [small1, small2]);
    assert.ok((await seen(mailbox)).includes(bigUid as number), 'the big mail is marked processed');
    assert.ok(lines.some((l) => l.level === 40 && l.uid === bigUid && /MB/.test(l.msg)));
  });
});

describe('ImapReceiver on a server without IDLE', () => {
  let plain: Dovecot;
  before(async () => {
    plain = await startDovecot({ idle: false });
  });
  after(async () => {
    await plain?.close();
  });

  test('polls every pollSeconds and never sends IDLE', async () => {
    const mailbox = 'polled';
    await plain.createMailbox(mailbox);
    const ctx = new RecordingContext();
    contexts.push(ctx);
    const mark = plain.rawlogMark();
    const got: string[] = [];
    const { log, lines } = capture();
    const r = receiver(cfg(plain, mailbox, { pollSeconds: 1 }), ctx.state('email'), async (m) => void got.push(subject(m)), log);
    await r.start();
    await plain.append(mailbox, mail('p1'));
    await until('p1', () => got.length === 1);
    await plain.append(mailbox, mail('p2'));
    await until('p2', () => got.length === 2);
    await r.stop();

    assert.deepEqual(got, ['p1', 'p2']);
    assert.ok(lines.some((l) => l.level === 30 && l.msg.includes('no IDLE')));
    const commands = plain.commands(mark);
    assert.ok(commands.some((c) => c.startsWith('SELECT')), 'the receiver session is in the rawlog');
    assert.ok(!commands.some((c) => c === 'IDLE'), 'no IDLE sent');
  });
});
