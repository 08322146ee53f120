/**
 * Email attachments opened by agents (src/adapters/email/files.ts): the adapter gives each kept
 * attachment a fetchHandle and registers a fetcher with the hub; the fetcher reads the mail again
 * from a real Dovecot on loopback and hands back the attachment's exact bytes, without touching the
 * mail's flags, and says NOT_FOUND once the mail is gone or the mailbox was recreated.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { pino } from 'pino';
import type { AdapterContext, AttachmentFetcher } from '../../src/core/adapter.js';
import { isHubError } from '../../src/core/errors.js';
import type { InboundMessage } from '../../src/core/types.js';
import { EmailAdapter } from '../../src/adapters/email/adapter.js';
import { emailConfigSchema, type EmailConfig } from '../../src/adapters/email/config.js';
import { fetchEmailAttachment } from '../../src/adapters/email/files.js';
import { parseMail } from '../../src/adapters/email/parse.js';
import { RecordingContext, until } from '../contract/recording-context.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';

const SUPPORT = 'support@shop.example';
/** A keyword as the processed flag: a fetch that set \Seen would show. */
const PROCESSED = '$Processed';
const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1'), randomBytes(6000), Buffer.from('\n%%EOF\n')]);
const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), randomBytes(1500)]);
/** Over `maxAttachmentBytes` below: listed, not kept, no handle. */
const big = randomBytes(150_000);
const MAX_ATTACHMENT_BYTES = 100_000;

let seq = 0;
function mailWithFiles(): Promise<Buffer> {
  seq++;
  return new MailComposer({
    from: 'Wang Fang <wang.fang@customers.example>',
    to: SUPPORT,
    subject: `Invoice ${seq}`,
    text: 'The invoice and a photo of the damage.',
    messageId: `<files-${seq}-${Date.now()}@customers.example>`,
    date: new Date('2026-12-06T10:00:00Z'),
    attachments: [
      { filename: 'invoice.pdf', content: pdf, contentType: 'application/pdf' },
      { filename: '损坏.png', content: png, contentType: 'image/png' },
      { filename: 'big.bin', content: big, contentType: 'application/octet-stream' },
    ],
  })
    .compile()
    .build();
}

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** The HubError code a promise rejects with (fails the test when it resolves). */
async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isHubError(err), `expected a HubError, got ${String(err)}`);
    return { code: err.code, message: err.message };
  }
  assert.fail('expected a rejection');
}

const signal = () => new AbortController().signal;

describe('email attachments through the hub links (Dovecot on loopback)', () => {
  let dc: Dovecot;
  const running: { adapter: EmailAdapter; ctx: RecordingContext }[] = [];

  before(async () => {
    dc = await startDovecot();
  });

  after(async () => {
    for (const r of running) {
      await r.adapter.stop();
      await r.ctx.close();
    }
    await dc?.close();
  });

  function config(mailbox: string, processed: { folder?: string; flag?: string } = { flag: PROCESSED }): EmailConfig {
    return emailConfigSchema.parse({
      enabled: true,
      imap: { host: dc.host, port: dc.port, secure: false, user: dc.user, password: dc.password, mailbox, processed, pollSeconds: 5 },
      smtp: { host: '127.0.0.1', port: 1, secure: false, pool: false },
      from: { address: SUPPORT },
      replyCapPerHour: 0,
      maxAttachmentBytes: MAX_ATTACHMENT_BYTES,
    });
  }

  /** An adapter mounted on a RecordingContext wrapped to record `serveAttachments` (RecordingContext has none). */
  async function mounted(cfg: EmailConfig): Promise<{ adapter: EmailAdapter; ctx: RecordingContext; fetcher: AttachmentFetcher }> {
    const ctx = new RecordingContext();
    const served: { channel: string; fetch: AttachmentFetcher }[] = [];
    const context: AdapterContext = {
      accept: (m) => ctx.accept(m),
      http: ctx.http,
      bus: ctx.bus,
      log: ctx.log,
      state: (channel) => ctx.state(channel),
      history: () => ctx.history(),
      withPerson: () => ctx.withPerson(),
      serveAttachments: (channel, fetch) => void served.push({ channel, fetch }),
    };
    const adapter = new EmailAdapter(cfg, pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' }));
    await adapter.mount(context);
    running.push({ adapter, ctx });
    assert.equal(served.length, 1, 'mount registers one fetcher');
    assert.equal(served[0]?.channel, 'email');
    return { adapter, ctx, fetcher: (served[0] as { fetch: AttachmentFetcher }).fetch };
  }

  /** Appends a mail with files, lets the adapter take it in; resolves once the receiver marked it processed. */
  async function received(mailbox: string, processed?: { folder: string }): Promise<{ fetcher: AttachmentFetcher; adapter: EmailAdapter; msg: InboundMessage; uid: number; raw: Buffer }> {
    await dc.createMailbox(mailbox);
    if (processed) await dc.createMailbox(processed.folder);
    const raw = await mailWithFiles();
    const uid = await dc.append(mailbox, raw);
    const { adapter, ctx, fetcher } = await mounted(config(mailbox, processed ? { folder: processed.folder } : { flag: PROCESSED }));
    await adapter.connect();
    const [msg] = await ctx.waitForAccepted(1, 15_000);
    assert.ok(msg);
    if (processed) await until(async () => (await dc.flags(processed.folder)).size === 1, 15_000, 'the mail moved');
    else await until(async () => (await dc.flags(mailbox)).get(uid)?.has(PROCESSED), 15_000, 'the mail marked processed');
    return { fetcher, adapter, msg, uid, raw };
  }

  function handles(msg: InboundMessage): [string, string] {
    const [a, b, c] = msg.attachments;
    assert.equal(msg.attachments.length, 3);
    assert.equal(c?.name, 'big.bin');
    assert.equal(c?.fetchHandle, undefined, 'an attachment over maxAttachmentBytes is not kept: no handle');
    assert.equal(typeof a?.fetchHandle, 'string');
    assert.equal(typeof b?.fetchHandle, 'string');
    return [a?.fetchHandle as string, b?.fetchHandle as string];
  }

  let kept: { handle: string } | undefined;

  it('gives kept attachments fetchHandles; the fetcher returns their exact bytes and types and leaves the flags alone', async () => {
    const { fetcher, msg, uid } = await received('files-a');
    const [pdfHandle, pngHandle] = handles(msg);
    for (const h of [pdfHandle, pngHandle]) {
      assert.ok(h.startsWith('files-a/'), h);
      assert.ok(h.length < 80, `a short handle: ${h}`);
      assert.ok(!h.includes(dc.password), 'no secret in a handle');
      assert.equal(encodeURIComponent(h).length, h.length + 2 * (h.split('/').length - 1), 'URL-safe but for its slashes');
    }
    const before = (await dc.flags('files-a')).get(uid);
    assert.deepEqual(before, new Set([PROCESSED]));

    const mark = dc.rawlogMark();
    const gotPdf = await fetcher(pdfHandle, signal());
    assert.ok((await bytesOf(gotPdf.body)).equals(pdf));
    assert.equal(gotPdf.mimeType, 'application/pdf');
    assert.equal(gotPdf.size, pdf.length);
    assert.equal(gotPdf.name, 'invoice.pdf');
    const gotPng = await fetcher(pngHandle, signal());
    assert.ok((await bytesOf(gotPng.body)).equals(png));
    assert.equal(gotPng.mimeType, 'image/png');
    assert.equal(gotPng.size, png.length);
    assert.equal(gotPng.name, '损坏.png');

    assert.ok(dc.sourceFetches(mark).length >= 2, 'the fetcher read the mail with BODY.PEEK[]');
    assert.deepEqual((await dc.flags('files-a')).get(uid), before, 'fetching changed no flag (no \\Seen)');
    kept = { handle: pdfHandle };
  });

  it('says NOT_FOUND for a mail deleted since', async () => {
    const { fetcher, msg, uid } = await received('files-del');
    const [pdfHandle] = handles(msg);
    const c = await dc.client();
    try {
      await c.mailboxOpen('files-del');
      assert.ok(await c.messageDelete(String(uid), { uid: true }));
    } finally {
      await c.logout();
    }
    const gone = await codeOf(fetcher(pdfHandle, signal()));
    assert.equal(gone.code, 'NOT_FOUND');
    assert.match(gone.message, /no longer in files-del/);
  });

  it('says NOT_FOUND when the mailbox was recreated (new UIDVALIDITY), even for the same mail under the same UID', async () => {
    const { fetcher, adapter, msg, uid, raw } = await received('files-re');
    const [pdfHandle] = handles(msg);
    assert.ok((await bytesOf((await fetcher(pdfHandle, signal())).body)).equals(pdf), 'served before');
    await adapter.disconnect();
    const was = await dc.uidValidity('files-re');
    await dc.deleteMailbox('files-re');
    await dc.createMailbox('files-re');
    const again = await dc.append('files-re', raw, [PROCESSED]);
    assert.equal(again, uid, 'the same UID names the same bytes: only UIDVALIDITY tells them apart');
    assert.notEqual(await dc.uidValidity('files-re'), was);
    const changed = await codeOf(fetcher(pdfHandle, signal()));
    assert.equal(changed.code, 'NOT_FOUND');
    assert.match(changed.message, /mailbox changed/);
  });

  it('with processed.folder, the handle points there and still works after the move (the mail found by its bytes, not a look-alike)', async () => {
    const { fetcher, msg, raw } = await received('files-p', { folder: 'files-p-done' });
    assert.equal((await dc.flags('files-p')).size, 0, 'moved out of the mailbox');
    const [pdfHandle, pngHandle] = handles(msg);
    assert.ok(pdfHandle.startsWith('files-p-done/'), pdfHandle);
    // A later mail of exactly the same size in the folder (one byte of the PDF differs): not ours.
    const line = pdf.subarray(0, 57).toString('base64');
    const decoy = Buffer.from(raw.toString('latin1').replace(line, `${line.slice(0, 12)}${line[12] === 'A' ? 'B' : 'A'}${line.slice(13)}`), 'latin1');
    assert.equal(decoy.length, raw.length);
    assert.ok(!decoy.equals(raw));
    await dc.append('files-p-done', decoy);
    assert.ok((await bytesOf((await fetcher(pdfHandle, signal())).body)).equals(pdf));
    assert.ok((await bytesOf((await fetcher(pngHandle, signal())).body)).equals(png));
  });

  it('with processed.folder, a mail not moved (yet, or the move failed) is read from the mailbox', async () => {
    await dc.createMailbox('files-f');
    await dc.createMailbox('files-f-done');
    const raw = await mailWithFiles();
    const uid = await dc.append('files-f', raw);
    const { adapter, fetcher } = await mounted(config('files-f', { folder: 'files-f-done' }));
    const msg = await adapter.toInbound({ uid, uidValidity: await dc.uidValidity('files-f'), source: raw }, await parseMail(raw, { maxAttachmentBytes: MAX_ATTACHMENT_BYTES, ownAddresses: [SUPPORT] }));
    const [pdfHandle] = handles(msg);
    assert.ok(pdfHandle.startsWith('files-f-done/'), pdfHandle);
    assert.ok((await bytesOf((await fetcher(pdfHandle, signal())).body)).equals(pdf));
  });

  it('refuses an attachment over maxAttachmentBytes, an index the mail does not have, and says NETWORK without the password', async () => {
    // Last: Dovecot delays logins from an address that just failed one (auth penalty).
    assert.ok(kept, 'runs after the first test');
    const cfg = config('files-a');
    const small = await codeOf(fetchEmailAttachment({ ...cfg, maxAttachmentBytes: 1000 }, kept.handle, signal()));
    assert.equal(small.code, 'PLATFORM_REFUSED');
    assert.match(small.message, /too large/);
    const parts = kept.handle.split('/');
    parts[parts.length - 2] = '7';
    const none = await codeOf(fetchEmailAttachment(cfg, parts.join('/'), signal()));
    assert.equal(none.code, 'NOT_FOUND');
    assert.match(none.message, /no attachment 8/);
    assert.equal((await codeOf(fetchEmailAttachment(cfg, 'files-a/1/2', signal()))).code, 'NOT_FOUND');

    const password = 'Wr0ng-pass-4711';
    const login = await codeOf(fetchEmailAttachment({ ...cfg, imap: { ...cfg.imap, password } }, kept.handle, signal()));
    assert.equal(login.code, 'NETWORK');
    assert.match(login.message, /login/);
    assert.ok(!login.message.includes(password), login.message);
    const down = await codeOf(fetchEmailAttachment({ ...cfg, imap: { ...cfg.imap, port: 1 } }, kept.handle, signal()));
    assert.equal(down.code, 'NETWORK');
    assert.ok(!down.message.includes(cfg.imap.password), down.message);
  });
});
