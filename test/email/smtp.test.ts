import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { AddressObject } from 'mailparser';
import { SmtpSender } from '../../src/adapters/email/smtp.js';
import { classifySmtpError } from '../../src/adapters/email/smtp-errors.js';
import type { EmailConfig } from '../../src/adapters/email/config.js';
import type { OutgoingMail } from '../../src/adapters/email/types.js';
import { HubError } from '../../src/core/errors.js';
import { startSmtpCapture, type CapturedMail, type SmtpCapture } from '../fakes/smtp-capture.js';

const log = pino({ level: 'silent' });
const FROM = 'support@example.com';
const PASSWORD = 'hunter2-Very-Secret';

function smtpConfig(smtp: SmtpCapture, over: Partial<EmailConfig['smtp']> = {}): EmailConfig['smtp'] {
  return { host: smtp.host, port: smtp.port, secure: false, pool: false, maxConnections: 3, ...over };
}

function mail(over: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    to: 'customer@example.net',
    fromName: 'Customer Support',
    subject: 'Your question',
    text: 'Hello, here is the answer.',
    messageId: `<sb.t.${Math.random().toString(36).slice(2)}@example.com>`,
    autoReplied: false,
    ...over,
  };
}

async function sendError(sender: SmtpSender, m: OutgoingMail): Promise<HubError> {
  try {
    await sender.send(m);
  } catch (err) {
    assert.ok(err instanceof HubError, `a HubError, got ${String(err)}`);
    return err;
  }
  return assert.fail('send should have failed');
}

/** The unfolded value of a header as it is on the wire (first occurrence), undefined when absent. */
function rawHeader(m: CapturedMail, name: string): string | undefined {
  const line = m.parsed.headerLines.find((h) => h.key === name.toLowerCase())?.line;
  return line?.replace(/\r?\n[ \t]+/g, ' ').slice(name.length + 1).trim();
}

function lastMail(smtp: SmtpCapture): CapturedMail {
  const m = smtp.mails.at(-1);
  assert.ok(m, 'a mail was captured');
  return m;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('email SmtpSender: headers', () => {
  let smtp: SmtpCapture;
  let sender: SmtpSender;
  before(async () => {
    smtp = await startSmtpCapture();
    sender = new SmtpSender(smtpConfig(smtp), { fromAddress: FROM, log });
  });
  after(async () => {
    sender.close();
    await smtp.close();
  });

  it('keeps the Message-ID, threads with In-Reply-To/References, marks bot replies, encodes a Chinese sender name, sends text + html', async () => {
    const sent = await sender.send(
      mail({
        fromName: '客户服务 · 小李',
        subject: '回复: 订单 #123 [#abc123defg]',
        text: '您好，您的订单已发货。',
        html: '<p>您好，您的订单已<b>发货</b>。</p>',
        messageId: '<sb.PGEuMUBleC5uZXQ-.out-42@example.com>',
        inReplyTo: '<b.2@ex.net>',
        references: ['<a.1@ex.net>', '<b.2@ex.net>'],
        autoReplied: true,
        listUnsubscribe: '<mailto:support@example.com?subject=unsubscribe>',
      }),
    );
    assert.equal(sent.messageId, '<sb.PGEuMUBleC5uZXQ-.out-42@example.com>');
    const m = lastMail(smtp);
    assert.deepEqual(m.envelope, { from: FROM, to: ['customer@example.net'] });
    assert.equal(rawHeader(m, 'Message-ID'), '<sb.PGEuMUBleC5uZXQ-.out-42@example.com>');
    assert.equal(m.parsed.messageId, '<sb.PGEuMUBleC5uZXQ-.out-42@example.com>');
    assert.equal(m.parsed.inReplyTo, '<b.2@ex.net>');
    assert.deepEqual(m.parsed.references, ['<a.1@ex.net>', '<b.2@ex.net>']);
    assert.equal(rawHeader(m, 'Auto-Submitted'), 'auto-replied');
    assert.equal(rawHeader(m, 'List-Unsubscribe'), '<mailto:support@example.com?subject=unsubscribe>');
    assert.equal(rawHeader(m, 'List-Unsubscribe-Post'), undefined, 'one-click only with an https URI');
    // From: the name is MIME-encoded on the wire (no raw 8-bit bytes) and decodes back exactly.
    const fromLine = rawHeader(m, 'From') ?? '';
    assert.match(fromLine, /=\?UTF-8\?B\?/i);
    assert.ok(!/[^\x20-\x7e]/.test(fromLine), `From is 7-bit: ${fromLine}`);
    assert.deepEqual(m.parsed.from?.value, [{ name: '客户服务 · 小李', address: FROM }]);
    assert.equal(m.parsed.subject, '回复: 订单 #123 [#abc123defg]');
    assert.equal((m.parsed.to as AddressObject).value[0]?.address, 'customer@example.net');
    // Alternatives: one multipart/alternative with the text first and the HTML second.
    assert.match(rawHeader(m, 'Content-Type') ?? '', /^multipart\/alternative;/);
    assert.equal(m.parsed.text?.trim(), '您好，您的订单已发货。');
    assert.equal(m.parsed.html, '<p>您好，您的订单已<b>发货</b>。</p>');
    const body = m.raw.toString('latin1');
    assert.ok(body.indexOf('Content-Type: text/plain; charset=utf-8') < body.indexOf('Content-Type: text/html; charset=utf-8'));
  });

  it('text only, no threading headers, no Auto-Submitted for an agent; one-click unsubscribe with an https URI', async () => {
    await sender.send(
      mail({
        text: 'A reminder from us.',
        listUnsubscribe: '<mailto:support@example.com?subject=unsubscribe>, <https://example.com/unsub?u=1>',
      }),
    );
    const m = lastMail(smtp);
    assert.match(rawHeader(m, 'Content-Type') ?? '', /^text\/plain; charset=utf-8/);
    assert.equal(m.parsed.html, false);
    assert.equal(m.parsed.text?.trim(), 'A reminder from us.');
    assert.equal(rawHeader(m, 'In-Reply-To'), undefined);
    assert.equal(rawHeader(m, 'References'), undefined);
    assert.equal(rawHeader(m, 'Auto-Submitted'), undefined);
    assert.equal(rawHeader(m, 'List-Unsubscribe'), '<mailto:support@example.com?subject=unsubscribe>, <https://example.com/unsub?u=1>');
    assert.equal(rawHeader(m, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
  });

  it('a reply thread: three mails with growing References parse back as one thread', async () => {
    const ids = ['<root.1@ex.net>', '<sb.r.2@example.com>', '<sb.r.3@example.com>'];
    const before = smtp.mails.length;
    await sender.send(mail({ messageId: ids[0] ?? '', subject: 'Order 7' }));
    await sender.send(mail({ messageId: ids[1] ?? '', subject: 'Re: Order 7', inReplyTo: ids[0] ?? '', references: ids.slice(0, 1) }));
    await sender.send(mail({ messageId: ids[2] ?? '', subject: 'Re: Order 7', inReplyTo: ids[1] ?? '', references: ids.slice(0, 2) }));
    const got = smtp.mails.slice(before).map((c) => c.parsed);
    assert.equal(got.length, 3);
    const refs = got.map((p) => (p.references === undefined ? [] : ([] as string[]).concat(p.references)));
    assert.deepEqual(refs, [[], [ids[0]], [ids[0], ids[1]]]);
    assert.deepEqual(
      got.map((p) => p.inReplyTo),
      [undefined, ids[0], ids[1]],
    );
    // What a client threads on: each mail answers the one before, and all share the first References entry (the root).
    const roots = got.map((p, i) => refs[i]?.[0] ?? p.messageId);
    assert.deepEqual(roots, [ids[0], ids[0], ids[0]]);
    got.forEach((p, i) => assert.equal(p.messageId, ids[i]));
  });
});

describe('email SmtpSender: failures', () => {
  let smtp: SmtpCapture;
  let sender: SmtpSender;
  before(async () => {
    smtp = await startSmtpCapture();
    sender = new SmtpSender(smtpConfig(smtp), { fromAddress: FROM, log });
  });
  after(async () => {
    sender.close();
    await smtp.close();
  });

  it('4xx on DATA -> NETWORK, retry, quoting the reply; the next send goes through', async () => {
    smtp.failNext(451, '4.3.0 Temporary local problem');
    const err = await sendError(sender, mail());
    assert.equal(err.code, 'NETWORK');
    assert.equal(err.retry, 'retry');
    assert.match(err.message, /451 4\.3\.0 Temporary local problem/);
    const n = smtp.mails.length;
    await sender.send(mail());
    assert.equal(smtp.mails.length, n + 1);
  });

  it('550 on RCPT TO -> RECIPIENT_UNREACHABLE, final, naming the address', async () => {
    smtp.rejectRcpt('gone@example.net', 550, '5.1.1 <gone@example.net>: Recipient address rejected: User unknown');
    const err = await sendError(sender, mail({ to: 'gone@example.net' }));
    assert.equal(err.code, 'RECIPIENT_UNREACHABLE');
    assert.equal(err.retry, 'final');
    assert.equal(err.context.recipient, 'gone@example.net');
    assert.match(err.message, /550 5\.1\.1 <gone@example\.net>: Recipient address rejected: User unknown/);
  });

  it('a relay refusal on RCPT TO is ours to fix, not the recipient\'s', async () => {
    smtp.rejectRcpt('far@elsewhere.org', 554, '5.7.1 <far@elsewhere.org>: Relay access denied');
    const err = await sendError(sender, mail({ to: 'far@elsewhere.org' }));
    assert.equal(err.code, 'PLATFORM_REFUSED');
    assert.equal(err.retry, 'final');
    assert.match(err.message, /channels\.email\.smtp\.user/);
  });

  it('552 5.3.4 on DATA -> PLATFORM_REFUSED, final (too big)', async () => {
    smtp.failNext(552, '5.3.4 Message size exceeds fixed limit');
    const err = await sendError(sender, mail());
    assert.equal(err.code, 'PLATFORM_REFUSED');
    assert.equal(err.retry, 'final');
    assert.match(err.message, /552 5\.3\.4 Message size exceeds fixed limit/);
  });

  it('550 on DATA without a recipient code is a content verdict -> PLATFORM_REFUSED; 550 on MAIL FROM names from.address', async () => {
    smtp.failNext(550, 'Message rejected as spam');
    const spam = await sendError(sender, mail());
    assert.equal(spam.code, 'PLATFORM_REFUSED');
    smtp.failNext(550, '5.7.1 Sender address rejected: not owned by user', 'mail');
    const sender550 = await sendError(sender, mail());
    assert.equal(sender550.code, 'PLATFORM_REFUSED');
    assert.equal(sender550.context.field, 'channels.email.from.address');
  });

  it('connection refused -> NETWORK, retry, naming channels.email.smtp.host', async () => {
    const port = await closedPort();
    for (const pool of [false, true]) {
      const s = new SmtpSender({ host: '127.0.0.1', port, secure: false, pool, maxConnections: 2 }, { fromAddress: FROM, log });
      try {
        const err = await sendError(s, mail());
        assert.equal(err.code, 'NETWORK', `pool: ${pool}`);
        assert.equal(err.retry, 'retry');
        assert.match(err.message, /ECONNREFUSED/);
        assert.match(err.message, /channels\.email\.smtp\.host/);
      } finally {
        s.close();
      }
    }
  });
});

describe('email SmtpSender: authentication', () => {
  let smtp: SmtpCapture;
  before(async () => {
    smtp = await startSmtpCapture({ auth: { user: 'bot@example.com', password: PASSWORD } });
  });
  after(async () => {
    await smtp.close();
  });

  it('logs in and sends with the right credentials', async () => {
    const s = new SmtpSender(smtpConfig(smtp, { user: 'bot@example.com', password: PASSWORD }), { fromAddress: FROM, log });
    try {
      await s.verify();
      await s.send(mail());
      assert.equal(lastMail(smtp).user, 'bot@example.com');
    } finally {
      s.close();
    }
  });

  it('535 -> AUTH_FAILED, retry, with the fix and without the password', async () => {
    const wrong = `${PASSWORD}-wrong`;
    const s = new SmtpSender(smtpConfig(smtp, { user: 'bot@example.com', password: wrong }), { fromAddress: FROM, log });
    try {
      const err = await sendError(s, mail());
      assert.equal(err.code, 'AUTH_FAILED');
      assert.equal(err.retry, 'retry');
      assert.match(err.message, /535 5\.7\.8 Authentication credentials invalid/);
      assert.match(err.message, /channels\.email\.smtp\.user and channels\.email\.smtp\.password/);
      assert.ok(!err.message.includes(PASSWORD), err.message);
      assert.ok(!JSON.stringify(err.context).includes(PASSWORD));
      assert.deepEqual(smtp.logins.at(-1), { user: 'bot@example.com', ok: false });
    } finally {
      s.close();
    }
  });

  it('a server that wants a login while none is configured -> AUTH_FAILED', async () => {
    const s = new SmtpSender(smtpConfig(smtp), { fromAddress: FROM, log });
    try {
      const err = await sendError(s, mail());
      assert.equal(err.code, 'AUTH_FAILED');
      assert.match(err.message, /^SMTP MAIL FROM refused: 530 /);
    } finally {
      s.close();
    }
  });

  it('verify() fails naming channels.email.smtp.user on wrong credentials, and .host when unreachable', async () => {
    const s = new SmtpSender(smtpConfig(smtp, { user: 'bot@example.com', password: 'not-it-at-all' }), { fromAddress: FROM, log });
    try {
      await assert.rejects(s.verify(), (err: unknown) => {
        assert.ok(err instanceof HubError);
        assert.equal(err.code, 'AUTH_FAILED');
        assert.equal(err.context.field, 'channels.email.smtp.user');
        assert.match(err.message, /^channels\.email\.smtp\.user: cannot use the SMTP server 127\.0\.0\.1:\d+: .*535/);
        assert.ok(!err.message.includes('not-it-at-all'));
        return true;
      });
    } finally {
      s.close();
    }
    const port = await closedPort();
    const down = new SmtpSender({ host: '127.0.0.1', port, secure: false, pool: true, maxConnections: 1 }, { fromAddress: FROM, log });
    try {
      await assert.rejects(down.verify(), (err: unknown) => {
        assert.ok(err instanceof HubError);
        assert.equal(err.code, 'NETWORK');
        assert.equal(err.context.field, 'channels.email.smtp.host');
        assert.match(err.message, /^channels\.email\.smtp\.host: /);
        return true;
      });
    } finally {
      down.close();
    }
  });
});

describe('email SmtpSender: pooling and DKIM', () => {
  let smtp: SmtpCapture;
  before(async () => {
    smtp = await startSmtpCapture();
  });
  after(async () => {
    await smtp.close();
  });

  it('a pool reuses its connections: 10 mails over at most maxConnections; without a pool, one connection per mail', async () => {
    const pooled = new SmtpSender(smtpConfig(smtp, { pool: true, maxConnections: 3 }), { fromAddress: FROM, log });
    const start = smtp.connections;
    const n0 = smtp.mails.length;
    try {
      await Promise.all(Array.from({ length: 10 }, (_, i) => pooled.send(mail({ subject: `pooled ${i}` }))));
    } finally {
      pooled.close();
    }
    const pooledConnections = smtp.connections - start;
    assert.equal(smtp.mails.length - n0, 10);
    assert.ok(pooledConnections >= 1 && pooledConnections <= 3, `pooled connections: ${pooledConnections}`);
    assert.ok(new Set(smtp.mails.slice(n0).map((m) => m.connection)).size <= 3);

    const single = new SmtpSender(smtpConfig(smtp, { pool: false }), { fromAddress: FROM, log });
    const start2 = smtp.connections;
    try {
      for (let i = 0; i < 3; i++) await single.send(mail());
    } finally {
      single.close();
    }
    assert.equal(smtp.connections - start2, 3);
  });

  it('signs with DKIM when configured: DKIM-Signature with d= and s= as configured', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const dkim = { domainName: 'example.com', keySelector: 'sb2024', privateKey };
    const s = new SmtpSender(smtpConfig(smtp), { fromAddress: FROM, dkim, log });
    try {
      await s.send(mail({ fromName: '客户服务' }));
    } finally {
      s.close();
    }
    const sig = rawHeader(lastMail(smtp), 'DKIM-Signature') ?? '';
    const tags = new Map(sig.split(';').map((t) => t.replace(/\s+/g, '').split('=', 2) as [string, string]));
    assert.equal(tags.get('d'), 'example.com');
    assert.equal(tags.get('s'), 'sb2024');
    assert.equal(tags.get('a'), 'rsa-sha256');
    assert.match(tags.get('h') ?? '', /(^|:)from(:|$)/i);
    assert.match(tags.get('h') ?? '', /(^|:)message-id(:|$)/i);
    assert.ok((tags.get('b') ?? '').length > 100, 'a signature value');

    const plain = new SmtpSender(smtpConfig(smtp), { fromAddress: FROM, log });
    try {
      await plain.send(mail());
    } finally {
      plain.close();
    }
    assert.equal(rawHeader(lastMail(smtp), 'DKIM-Signature'), undefined);
  });

  it('refuses an unusable DKIM key at construction, naming the field; restores a key whose line breaks came as \\n', async () => {
    assert.throws(
      () => new SmtpSender(smtpConfig(smtp), { fromAddress: FROM, dkim: { domainName: 'example.com', keySelector: 's', privateKey: 'not a key' }, log }),
      (err: unknown) => err instanceof HubError && err.code === 'CONFIG_INVALID' && err.context.field === 'channels.email.dkim.privateKey',
    );
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const fromEnv = privateKey.trim().replace(/\n/g, '\\n');
    const s = new SmtpSender(smtpConfig(smtp), { fromAddress: FROM, dkim: { domainName: 'example.org', keySelector: 'env', privateKey: fromEnv }, log });
    try {
      await s.send(mail());
    } finally {
      s.close();
    }
    assert.match(rawHeader(lastMail(smtp), 'DKIM-Signature') ?? '', /d=example\.org;.*s=env;/);
  });
});

describe('classifySmtpError', () => {
  const nm = (message: string, props: Record<string, unknown>): Error => Object.assign(new Error(message), props);

  it('never lets the password through, plain or as an AUTH token, and quotes the reply', () => {
    const plainToken = Buffer.from(`\0bot\0${PASSWORD}`).toString('base64');
    const err = classifySmtpError(
      nm(`Invalid login: 535 bad ${PASSWORD} ${plainToken}`, { code: 'EAUTH', command: 'AUTH PLAIN', responseCode: 535, response: `535 5.7.8 rejected ${PASSWORD} / ${plainToken}` }),
      { user: 'bot', password: PASSWORD },
    );
    assert.equal(err.code, 'AUTH_FAILED');
    assert.ok(!err.message.includes(PASSWORD) && !err.message.includes(plainToken), err.message);
    assert.ok(!JSON.stringify(err.context).includes(PASSWORD));
    assert.match(err.message, /535 5\.7\.8 rejected <password> \/ <password>/);
  });

  it('maps the reply classes', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 450, response: '450 4.2.0 Mailbox busy' }, 'NETWORK', 'retry'],
      [{ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 553, response: '553 5.1.3 Bad address syntax', recipient: 'x@y' }, 'RECIPIENT_UNREACHABLE', 'final'],
      [{ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 551, response: '551 User not local' }, 'RECIPIENT_UNREACHABLE', 'final'],
      [{ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 554, response: '554 <far@elsewhere.org>: Relay access denied' }, 'PLATFORM_REFUSED', 'final'],
      [{ code: 'EMESSAGE', command: 'DATA', responseCode: 550, response: '550 5.1.1 Mailbox unavailable' }, 'RECIPIENT_UNREACHABLE', 'final'],
      [{ code: 'EMESSAGE', command: 'DATA', responseCode: 554, response: '554 5.7.1 Spam' }, 'PLATFORM_REFUSED', 'final'],
      [{ code: 'EENVELOPE', command: 'RCPT TO', responseCode: 552, response: '552 5.2.2 Mailbox full' }, 'PLATFORM_REFUSED', 'final'],
      [{ code: 'EAUTH', command: 'AUTH LOGIN', responseCode: 534, response: '534 5.7.9 Application-specific password required' }, 'AUTH_FAILED', 'retry'],
      [{ code: 'EAUTH', command: 'AUTH PLAIN', responseCode: 454, response: '454 4.7.0 Temporary authentication failure' }, 'NETWORK', 'retry'],
      [{ code: 'ENOAUTH', command: 'API' }, 'AUTH_FAILED', 'retry'],
      [{ code: 'ESOCKET', originalCode: 'ECONNRESET', command: 'CONN' }, 'NETWORK', 'retry'],
      [{ code: 'EDNS', command: 'CONN' }, 'NETWORK', 'retry'],
      [{ code: 'ETIMEDOUT', command: 'CONN' }, 'NETWORK', 'retry'],
      [{ code: 'EENVELOPE', command: 'API' }, 'RECIPIENT_UNREACHABLE', 'final'],
    ];
    for (const [props, code, retry] of cases) {
      const msg = props.code === 'EENVELOPE' && props.command === 'API' ? 'Invalid recipient "a b@"' : 'failed';
      const e = classifySmtpError(nm(msg, props));
      assert.equal(e.code, code, JSON.stringify(props));
      assert.equal(e.retry, retry, JSON.stringify(props));
      if (typeof props.response === 'string') assert.ok(e.message.includes(props.response), e.message);
    }
  });

  it('passes a HubError through unchanged', () => {
    const h = new HubError('INTERNAL', 'x');
    assert.equal(classifySmtpError(h), h);
  });
});
