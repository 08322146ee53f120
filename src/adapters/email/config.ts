import { z } from 'zod';
import { HubError } from '../../core/errors.js';

/*
 * Empty strings pass the schema on purpose (as in every channel): the config loader substitutes an
 * unset `${ENV}` with '' and then names the missing variable. `assertUsable` refuses an enabled
 * channel whose host, user or password is empty, naming the field.
 */

const processedSchema = z
  .object({
    folder: z.string().min(1).optional().describe('Move a processed mail to this folder (created when missing); default: leave it in the mailbox.'),
    flag: z.string().min(1).default('\\Seen').describe('Flag set on a processed mail (after it is durably queued).'),
  })
  .strict();

const imapSchema = z
  .object({
    host: z.string().default('').describe('IMAP server host.'),
    port: z.number().int().min(1).max(65535).default(993).describe('IMAP port (993 with TLS, 143 plain or STARTTLS).'),
    secure: z.boolean().default(true).describe('TLS from the first byte (port 993); false: plain, upgraded with STARTTLS when offered.'),
    user: z.string().default('').describe('IMAP login.'),
    password: z.string().default('').describe('IMAP password (use ${ENV}).'),
    mailbox: z.string().min(1).default('INBOX').describe('The mailbox customers write to.'),
    processed: processedSchema.default(processedSchema.parse({})),
    pollSeconds: z.number().int().min(5).max(3600).default(60).describe('Polling interval when the server has no IDLE (and the longest IDLE before it is renewed).'),
    batchSize: z.number().int().min(1).max(1000).default(50).describe('Mails fetched and queued per batch (a backlog is worked through in batches).'),
  })
  .strict();

const smtpSchema = z
  .object({
    host: z.string().default('').describe('SMTP server host.'),
    port: z.number().int().min(1).max(65535).default(587).describe('SMTP port (465 TLS, 587 STARTTLS, 25).'),
    secure: z.boolean().default(false).describe('TLS from the first byte (port 465); false: STARTTLS when offered.'),
    user: z.string().optional().describe('SMTP login, when the server wants one.'),
    password: z.string().optional().describe('SMTP password (use ${ENV}).'),
    pool: z.boolean().default(true).describe('Keep a pool of SMTP connections.'),
    maxConnections: z.number().int().min(1).max(50).default(3).describe('Pooled connections at most.'),
  })
  .strict();

const dkimSchema = z
  .object({
    domainName: z.string().min(1).describe('The signing domain (d=).'),
    keySelector: z.string().min(1).describe('The DNS selector (s=).'),
    privateKey: z.string().min(1).describe('The PEM private key (use ${ENV}).'),
  })
  .strict();

export const emailConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    imap: imapSchema.default(imapSchema.parse({})),
    smtp: smtpSchema.default(smtpSchema.parse({})),
    from: z
      .object({
        address: z.string().default('').describe('The address customers write to and replies come from.'),
        name: z
          .union([z.string(), z.record(z.string(), z.string())])
          .default({ en: 'Customer Support', zh: '客户服务' })
          .describe('Sender name, one or per locale ({ zh, en }).'),
      })
      .strict()
      .default({ address: '', name: { en: 'Customer Support', zh: '客户服务' } }),
    replyCapPerHour: z.number().int().min(0).default(20).describe('Replies at most per sender per hour (0: no cap); mail beyond it is kept for agents, not answered.'),
    maxAttachmentBytes: z
      .number()
      .int()
      .min(0)
      .default(10 * 1024 * 1024)
      .describe('Larger attachments are listed with their size but not kept.'),
    dkim: dkimSchema.optional().describe('DKIM signing of outgoing mail.'),
  })
  .strict();

export type EmailConfig = z.infer<typeof emailConfigSchema>;
export type EmailConfigInput = z.input<typeof emailConfigSchema>;

/** Refuses an enabled channel that cannot work, naming the field to fix. */
export function assertUsable(c: EmailConfig): void {
  if (!c.enabled) return;
  const required: [string, string][] = [
    ['imap.host', c.imap.host],
    ['imap.user', c.imap.user],
    ['imap.password', c.imap.password],
    ['smtp.host', c.smtp.host],
    ['from.address', c.from.address],
  ];
  for (const [field, value] of required) {
    if (value.trim() === '') {
      throw new HubError('CONFIG_INVALID', `channels.email.${field} is empty: set it${field.endsWith('password') ? ' (e.g. password: ${EMAIL_PASSWORD})' : ''} or disable the channel`, {
        context: { field: `channels.email.${field}` },
      });
    }
  }
  if (!/^[^@\s]+@[^@\s]+$/.test(c.from.address)) {
    throw new HubError('CONFIG_INVALID', `channels.email.from.address is not an email address: "${c.from.address}"`, { context: { field: 'channels.email.from.address' } });
  }
  if ((c.smtp.user === undefined) !== (c.smtp.password === undefined) || c.smtp.password === '') {
    throw new HubError('CONFIG_INVALID', 'channels.email.smtp.user and smtp.password go together (both, or neither for a relay without login); the password is empty', {
      context: { field: 'channels.email.smtp.password' },
    });
  }
}
