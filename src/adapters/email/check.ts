import { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { HubError, errorMessage } from '../../core/errors.js';
import { assertUsable, type EmailConfig } from './config.js';
import { SmtpSender } from './smtp.js';

const CHECK_TIMEOUT_MS = 15_000;

/**
 * `switchboard config check` for `channels.email`: the fields are set, the IMAP server takes the
 * login and has the mailbox, the SMTP server takes the connection (and login). Each problem names
 * the field and the fix; resolves to the lines to print when all is well.
 */
export async function checkEmail(c: EmailConfig): Promise<string[]> {
  assertUsable(c);
  const log = pino({ level: 'silent' });
  const imap = new ImapFlow({
    host: c.imap.host,
    port: c.imap.port,
    secure: c.imap.secure,
    auth: { user: c.imap.user, pass: c.imap.password },
    logger: false,
    connectionTimeout: CHECK_TIMEOUT_MS,
    greetingTimeout: CHECK_TIMEOUT_MS,
  });
  imap.on('error', () => undefined);
  try {
    await imap.connect();
  } catch (err) {
    const auth = (err as { authenticationFailed?: boolean }).authenticationFailed === true || /auth|login|credentials/i.test(errorMessage(err));
    const field = auth ? 'channels.email.imap.user' : 'channels.email.imap.host';
    const fix = auth ? 'check channels.email.imap.user and channels.email.imap.password' : 'check channels.email.imap.host, port and secure';
    throw new HubError(auth ? 'AUTH_FAILED' : 'NETWORK', `${field}: cannot use the IMAP server ${c.imap.host}:${c.imap.port}: ${imapReason(err)} (${fix})`, { context: { field } });
  }
  try {
    const status = await imap.status(c.imap.mailbox, { messages: true, unseen: true }).catch((err: unknown) => {
      throw new HubError('CONFIG_INVALID', `channels.email.imap.mailbox: the IMAP server has no mailbox "${c.imap.mailbox}": ${imapReason(err)}`, {
        context: { field: 'channels.email.imap.mailbox' },
      });
    });
    const smtp = new SmtpSender(c.smtp, { fromAddress: c.from.address, ...(c.dkim ? { dkim: c.dkim } : {}), log });
    try {
      await smtp.verify();
    } finally {
      smtp.close();
    }
    return [
      `channels.email: IMAP ${c.imap.host}:${c.imap.port} ok (${c.imap.mailbox}: ${status ? `${status.messages ?? '?'} mails, ${status.unseen ?? '?'} unseen` : 'found'})`,
      `channels.email: SMTP ${c.smtp.host}:${c.smtp.port} ok`,
    ];
  } finally {
    await imap.logout().catch(() => imap.close());
  }
}

function imapReason(err: unknown): string {
  const e = err as { responseText?: string; code?: string };
  return e.responseText ?? (e.code ? `${e.code}: ${errorMessage(err)}` : errorMessage(err));
}
