import { createPrivateKey } from 'node:crypto';
import { createTransport, type SendMailOptions, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { HubError, errorMessage } from '../../core/errors.js';
import type { EmailConfig } from './config.js';
import { classifySmtpError, scrubSecrets, type SmtpSecrets } from './smtp-errors.js';
import type { OutgoingMail } from './types.js';

export interface SmtpSenderOptions {
  /** The envelope sender and the From address (from.address). */
  fromAddress: string;
  dkim?: EmailConfig['dkim'];
  log: Logger;
}

/** A header value on one line (a CR/LF in it would start a header of its own). */
const oneLine = (v: string): string => v.replace(/[\r\n]+/g, ' ').trim();

/**
 * The DKIM key as PEM, checked now: a bad key would otherwise fail every send, one retry at a time.
 * A key from an environment variable often has its line breaks written as `\n`; they are restored.
 */
function dkimKey(pem: string): string {
  const key = !pem.includes('\n') && pem.includes('\\n') ? pem.replace(/\\n/g, '\n') : pem;
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new HubError('CONFIG_INVALID', `channels.email.dkim.privateKey is not a usable PEM private key (${errorMessage(err)})`, {
      context: { field: 'channels.email.dkim.privateKey' },
    });
  }
  return key;
}

/**
 * Sends OutgoingMail over SMTP with nodemailer: a pool of `maxConnections` connections when
 * `smtp.pool`, TLS from the first byte when `secure` (465), otherwise STARTTLS when the server
 * offers it (nodemailer's default), DKIM-signed when `dkim` is configured. Failures come out as
 * HubErrors classified by classifySmtpError (the outbound queue retries or gives up on them).
 */
export class SmtpSender {
  private readonly transport: Transporter;
  private readonly secrets: SmtpSecrets;

  constructor(
    private readonly cfg: EmailConfig['smtp'],
    private readonly opts: SmtpSenderOptions,
  ) {
    this.secrets = { user: cfg.user, password: cfg.password };
    const common = {
      host: cfg.host,
      port: cfg.port,
      secure: cfg.secure,
      ...(cfg.user ? { auth: { user: cfg.user, pass: cfg.password ?? '' } } : {}),
      ...(opts.dkim ? { dkim: { domainName: opts.dkim.domainName, keySelector: opts.dkim.keySelector, privateKey: dkimKey(opts.dkim.privateKey) } } : {}),
      // Our content is strings; never let a value be read as a file path or URL to fetch.
      disableFileAccess: true,
      disableUrlAccess: true,
    };
    this.transport = cfg.pool ? createTransport({ ...common, pool: true, maxConnections: cfg.maxConnections }) : createTransport(common);
    // An 'error' event nobody listens to would end the process.
    this.transport.on('error', (err: unknown) => {
      const e = classifySmtpError(err, this.secrets);
      opts.log.warn({ code: e.code, ...e.context }, scrubSecrets(e.message, this.secrets));
    });
  }

  /** Sends one mail; resolves with the Message-ID it went out with (the one given). */
  async send(mail: OutgoingMail): Promise<{ messageId: string }> {
    try {
      const info = await this.transport.sendMail(this.compose(mail));
      return { messageId: typeof info.messageId === 'string' && info.messageId !== '' ? info.messageId : mail.messageId };
    } catch (err) {
      throw classifySmtpError(err, this.secrets);
    }
  }

  /**
   * Connects and logs in (when a user is configured), for start-up and `config check`. Throws a
   * HubError naming the field to fix: `channels.email.smtp.user` for a refused login,
   * `channels.email.smtp.host` (or `.secure`) when the server cannot be reached.
   */
  async verify(): Promise<void> {
    try {
      await this.transport.verify();
    } catch (err) {
      const e = classifySmtpError(err, this.secrets);
      const named = typeof e.context.field === 'string' ? e.context.field : undefined;
      const field = named ?? (e.code === 'AUTH_FAILED' ? 'channels.email.smtp.user' : 'channels.email.smtp.host');
      const fix =
        named === undefined
          ? e.code === 'AUTH_FAILED'
            ? ' (check channels.email.smtp.user and channels.email.smtp.password)'
            : ' (check channels.email.smtp.host, port and secure)'
          : '';
      throw new HubError(e.code, `${field}: cannot use the SMTP server ${this.cfg.host}:${this.cfg.port}: ${e.message}${fix}`, {
        context: { ...e.context, field, host: this.cfg.host, port: this.cfg.port },
        retry: e.retry,
      });
    }
  }

  /** Closes the pooled connections (a mail in flight is finished first). */
  close(): void {
    this.transport.close();
  }

  private compose(mail: OutgoingMail): SendMailOptions {
    const headers: Record<string, string> = {};
    if (mail.autoReplied) {
      headers['Auto-Submitted'] = 'auto-replied';
      // Exchange/Outlook: no out-of-office answers to a bot's reply (loop protection on their side).
      headers['X-Auto-Response-Suppress'] = 'All';
    }
    if (mail.listUnsubscribe !== undefined && mail.listUnsubscribe.trim() !== '') {
      headers['List-Unsubscribe'] = oneLine(mail.listUnsubscribe);
      // RFC 8058 one-click needs an https URI to POST to; a mailto: alone must not claim it.
      if (/<https:\/\/[^>\s]+>/i.test(mail.listUnsubscribe)) headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    }
    const fromName = oneLine(mail.fromName);
    return {
      from: fromName ? { name: fromName, address: this.opts.fromAddress } : this.opts.fromAddress,
      to: mail.to,
      envelope: { from: this.opts.fromAddress, to: [mail.to] },
      subject: oneLine(mail.subject),
      // Kept as given: the adapter reads its thread back out of it when the customer replies.
      messageId: mail.messageId,
      ...(mail.inReplyTo ? { inReplyTo: mail.inReplyTo } : {}),
      ...(mail.references && mail.references.length > 0 ? { references: mail.references } : {}),
      text: mail.text,
      ...(mail.html !== undefined ? { html: mail.html } : {}),
      headers,
      // Encoded words in base64: a third of the size of Q-encoding for Chinese names and subjects.
      textEncoding: 'base64',
      xMailer: false,
    };
  }
}
