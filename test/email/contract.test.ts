/**
 * The adapter contract for email: mail arrives in a real Dovecot on loopback (IMAP APPEND, as an
 * MTA would deliver it), replies go out through an SMTP server on loopback.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { pino } from 'pino';
import { EmailAdapter } from '../../src/adapters/email/adapter.js';
import { emailConfigSchema } from '../../src/adapters/email/config.js';
import { adapterContract, RecordingContext, unsupported, type Delivery } from '../contract/adapter-contract.js';
import { startDovecot } from '../fakes/dovecot.js';
import { startSmtpCapture } from '../fakes/smtp-capture.js';

const SUPPORT = 'support@shop.example';
const address = (userId: string) => (userId.includes('@') ? userId : `${userId}@customers.example`);

interface MailDelivery extends Delivery {
  uid: number;
}

let seq = 0;

adapterContract<MailDelivery>('email (Dovecot + SMTP on loopback)', async () => {
  const imap = await startDovecot();
  const smtp = await startSmtpCapture();
  const config = emailConfigSchema.parse({
    enabled: true,
    imap: { host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, pollSeconds: 5 },
    smtp: { host: smtp.host, port: smtp.port, secure: false, pool: false },
    from: { address: SUPPORT },
    replyCapPerHour: 0,
  });
  const adapter = new EmailAdapter(config, pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' }));
  const ctx = new RecordingContext();
  await adapter.mount(ctx);
  await adapter.connect();
  const mail = (from: string, text: string) =>
    new MailComposer({ from, to: SUPPORT, subject: `Contract ${++seq}`, text, messageId: `<contract-${seq}-${Date.now()}@customers.example>` }).compile().build();
  return {
    adapter,
    ctx,
    deliverText: async (userId, text) => {
      // The subject is the question's first line; the contract sends texts whose body is the whole question.
      const raw = await new MailComposer({ from: address(userId), to: SUPPORT, subject: 'Re: contract', text, messageId: `<contract-${++seq}-${Date.now()}@customers.example>` })
        .compile()
        .build();
      const uid = await imap.append('INBOX', raw);
      // The same mail delivered again (a resend by the MTA, a copy): same Message-ID, a new UID.
      return { uid, redeliver: async () => void (await imap.append('INBOX', raw)) };
    },
    sentTexts: async (chatId) => smtp.mails.filter((m) => m.envelope.to.includes(chatId)).map((m) => (m.parsed.text ?? '').replace(/\n$/, '')),
    failNextSend: {
      rateLimited: unsupported('SMTP names no wait: a 4xx reply is retried with backoff as NETWORK (test/email/smtp.test.ts)'),
      unreachable: async () => smtp.failNext(550, '5.1.1 User unknown', 'rcpt'),
      network: async () => smtp.failNext(451, '4.3.0 Temporary failure, try again later'),
    },
    // The mail is flagged \Seen only once accept resolved; until then it is picked up again.
    acknowledged: async (d) => (await imap.flags('INBOX')).get(d.uid)?.has('\\Seen') === true,
    // Our own mail in the mailbox (a Cc or Bcc to ourselves, a copy of a reply).
    deliverOwnMessage: async (_userId, text) => void (await imap.append('INBOX', await mail(`Shop Support <${SUPPORT}>`, text))),
    close: async () => {
      await adapter.stop();
      await ctx.close();
      await smtp.close();
      await imap.close();
    },
  };
});
