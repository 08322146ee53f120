/**
 * `switchboard config check` reaches the email channel's servers: a wrong IMAP password, an SMTP
 * server that is not there, or a missing mailbox is named by its field, with the fix.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkEmail } from '../../src/adapters/email/check.js';
import { emailConfigSchema, type EmailConfigInput } from '../../src/adapters/email/config.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';
import { startSmtpCapture, type SmtpCapture } from '../fakes/smtp-capture.js';
import { createServer } from 'node:net';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('config check for channels.email', () => {
  let imap: Dovecot;
  let smtp: SmtpCapture;
  const config = (o: Partial<{ imap: Partial<NonNullable<EmailConfigInput['imap']>>; smtp: Partial<NonNullable<EmailConfigInput['smtp']>> }> = {}) =>
    emailConfigSchema.parse({
      enabled: true,
      imap: { host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, ...o.imap },
      smtp: { host: smtp.host, port: smtp.port, secure: false, ...o.smtp },
      from: { address: 'support@shop.example' },
    });
  before(async () => {
    imap = await startDovecot();
    smtp = await startSmtpCapture();
  });
  after(async () => {
    await smtp.close();
    await imap.close();
  });

  it('both servers take the config: one line each', async () => {
    const lines = await checkEmail(config());
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /^channels\.email: IMAP 127\.0\.0\.1:\d+ ok \(INBOX: \d+ mails, \d+ unseen\)$/);
    assert.match(lines[1] ?? '', /^channels\.email: SMTP 127\.0\.0\.1:\d+ ok$/);
  });

  it('a wrong IMAP password names imap.user and the fix', async () => {
    await assert.rejects(checkEmail(config({ imap: { password: 'wrong' } })), /^HubError: channels\.email\.imap\.user: cannot use the IMAP server .*check channels\.email\.imap\.user and channels\.email\.imap\.password/);
  });

  it('a mailbox the server does not have names imap.mailbox', async () => {
    await assert.rejects(checkEmail(config({ imap: { mailbox: 'Support' } })), /channels\.email\.imap\.mailbox: the IMAP server has no mailbox "Support"/);
  });

  it('nothing listening for SMTP names smtp.host', async () => {
    await assert.rejects(checkEmail(config({ smtp: { port: await closedPort() } })), /channels\.email\.smtp\.host: cannot use the SMTP server/);
  });

  it('an empty password is refused before any connection, naming the field', async () => {
    await assert.rejects(checkEmail(config({ imap: { password: '' } })), /channels\.email\.imap\.password is empty/);
  });
});
