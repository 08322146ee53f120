/**
 * The email channel end to end (issue #14): a real hub with `channels.email` reading a real Dovecot
 * on loopback and sending through an SMTP server on loopback. What a mail client would see: replies
 * threaded by their headers, one conversation per thread, nothing answered that must not be.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import type { Responder } from '../../src/core/responder.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';
import { startSmtpCapture, type CapturedMail, type SmtpCapture } from '../fakes/smtp-capture.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const SUPPORT = 'support@shop.example';
const EVENTS = generateToken();

function compose(o: { from: string; subject: string; text?: string; html?: string; messageId: string; inReplyTo?: string; references?: string[]; headers?: Record<string, string> }): Promise<Buffer> {
  return new MailComposer({
    from: o.from,
    to: SUPPORT,
    subject: o.subject,
    ...(o.text !== undefined ? { text: o.text } : {}),
    ...(o.html !== undefined ? { html: o.html } : {}),
    messageId: o.messageId,
    ...(o.inReplyTo ? { inReplyTo: o.inReplyTo } : {}),
    ...(o.references ? { references: o.references } : {}),
    ...(o.headers ? { headers: o.headers } : {}),
  })
    .compile()
    .build();
}

/** A GBK mail labelled gb2312 (what many Chinese clients send), written by hand. */
function gbkMail(messageId: string): Buffer {
  const head = [
    'From: =?GB2312?B?' + iconv.encode('王芳', 'gbk').toString('base64') + '?= <wang.fang@example.cn>',
    `To: ${SUPPORT}`,
    'Subject: =?GB2312?B?' + iconv.encode('退款问题', 'gbk').toString('base64') + '?=',
    `Message-ID: ${messageId}`,
    'Date: Sun, 06 Dec 2026 10:00:00 +0800',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="gb2312"',
    'Content-Transfer-Encoding: base64',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head), Buffer.from(iconv.encode('我的退款什么时候到账？', 'gbk').toString('base64') + '\r\n')]);
}

describe('email channel, end to end (Dovecot + SMTP on loopback)', () => {
  let imap: Dovecot;
  let smtp: SmtpCapture;
  let t: TestHub;
  const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `Answer to: ${turn.text.split('\n')[0]}`, confidence: 0.9 }) };
  const mailTo = (addr: string, n: number) => until(() => (smtp.mails.filter((m) => m.envelope.to.includes(addr)).length >= n ? smtp.mails.filter((m) => m.envelope.to.includes(addr)) : undefined), 15_000, `${n} mails to ${addr}`);
  const conversationsOf = async (addr: string) => {
    const id = await until(() => t.hub.storage.customers.findIdentity('email', addr), 15_000, `identity ${addr}`);
    return t.hub.storage.conversations.ofCustomer(id.customerId);
  };
  const header = (m: CapturedMail, name: string): string => {
    const v = m.parsed.headers.get(name);
    return typeof v === 'string' ? v : JSON.stringify(v);
  };

  before(async () => {
    imap = await startDovecot();
    smtp = await startSmtpCapture();
    t = await startTestHub({
      responder: echo,
      config: {
        api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(EVENTS) }] },
        channels: {
          email: {
            enabled: true,
            imap: { host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, pollSeconds: 5 },
            smtp: { host: smtp.host, port: smtp.port, secure: false, pool: false },
            from: { address: SUPPORT, name: { en: 'Shop Support', zh: '商店客服' } },
            replyCapPerHour: 4,
          },
        },
      },
    });
  });
  after(async () => {
    await t?.stop();
    await smtp?.close();
    await imap?.close();
  });

  it('a question is answered as a reply a mail client threads: In-Reply-To, References, Re: subject, Auto-Submitted', async () => {
    await imap.append('INBOX', await compose({ from: 'Ann Lee <Ann.Lee@example.com>', subject: 'Where is my order?', text: 'Hello, order 1001 has not arrived.', messageId: '<q1@example.com>' }));
    const [reply] = await mailTo('ann.lee@example.com', 1);
    assert.ok(reply);
    assert.equal(reply.parsed.inReplyTo, '<q1@example.com>');
    assert.deepEqual([reply.parsed.references].flat(), ['<q1@example.com>']);
    assert.match(reply.parsed.subject ?? '', /^Re: Where is my order\? \[#[a-z0-9]{10}\]$/);
    assert.equal(header(reply, 'auto-submitted'), 'auto-replied');
    assert.equal(reply.parsed.from?.value[0]?.address, SUPPORT);
    assert.equal(reply.parsed.from?.value[0]?.name, 'Shop Support');
    assert.match(reply.parsed.text ?? '', /Answer to: Where is my order\?/);
    assert.ok(reply.parsed.html, 'an HTML alternative');
    assert.match(reply.parsed.messageId ?? '', /^<sb\.[A-Za-z0-9_-]+\.[^@]+@shop\.example>$/);
    // The mailbox copy is marked processed.
    await until(async () => [...(await imap.flags('INBOX')).values()].every((f) => f.has('\\Seen')) || undefined);
  });

  it("the customer's reply stays in the conversation of its thread; a new mail opens another one", async () => {
    const [first] = await mailTo('ann.lee@example.com', 1);
    const ours = first?.parsed.messageId ?? '';
    await imap.append(
      'INBOX',
      await compose({
        from: 'Ann Lee <ann.lee@example.com>',
        subject: first?.parsed.subject ?? '',
        text: 'Thanks, and when will it ship?\n\nOn Sun, Dec 6, 2026 Shop Support wrote:\n> Answer to: Where is my order?',
        messageId: '<q2@example.com>',
        inReplyTo: ours,
        references: ['<q1@example.com>', ours],
      }),
    );
    const mails = await mailTo('ann.lee@example.com', 2);
    const second = mails[1];
    assert.equal(second?.parsed.inReplyTo, '<q2@example.com>');
    assert.deepEqual([second?.parsed.references].flat(), ['<q1@example.com>', ours, '<q2@example.com>']);
    assert.equal(second?.parsed.subject, first?.parsed.subject, 'the same subject, no stacked Re:');
    assert.match(second?.parsed.text ?? '', /Answer to: Thanks, and when will it ship\?/);
    assert.equal((await conversationsOf('ann.lee@example.com')).length, 1);

    await imap.append('INBOX', await compose({ from: 'ann.lee@example.com', subject: 'Another question', text: 'Do you ship to Canada?', messageId: '<q3@example.com>' }));
    await mailTo('ann.lee@example.com', 3);
    const convs = await conversationsOf('ann.lee@example.com');
    assert.equal(convs.length, 2);
    assert.deepEqual(convs.map((c) => c.threadKey).sort(), ['<q1@example.com>', '<q3@example.com>']);
  });

  it('a reply whose client dropped the headers finds its thread by the subject token', async () => {
    const [first] = await mailTo('ann.lee@example.com', 1);
    await imap.append('INBOX', await compose({ from: 'ann.lee@example.com', subject: first?.parsed.subject ?? '', text: 'Headers lost, same thread.', messageId: '<q4@example.com>' }));
    await mailTo('ann.lee@example.com', 4);
    const convs = await conversationsOf('ann.lee@example.com');
    assert.equal(convs.length, 2, 'no third conversation');
    const q1 = convs.find((c) => c.threadKey === '<q1@example.com>');
    assert.ok(q1);
    const texts = (await t.hub.storage.messages.ofConversation(q1.id)).map((m) => m.text);
    assert.ok(texts.includes('Headers lost, same thread.'), JSON.stringify(texts));
  });

  it('a GBK mail labelled gb2312 reads as Chinese, and the answer is signed with the Chinese name', async () => {
    await imap.append('INBOX', gbkMail('<gbk1@example.cn>'));
    const [reply] = await mailTo('wang.fang@example.cn', 1);
    assert.match(reply?.parsed.text ?? '', /Answer to: 退款问题/);
    assert.equal(reply?.parsed.from?.value[0]?.name, '商店客服');
    const id = await t.hub.storage.customers.findIdentity('email', 'wang.fang@example.cn');
    assert.equal(id?.displayName, '王芳');
  });

  it('an out-of-office reply and a bounce are stored for agents but never answered', async () => {
    const before_ = smtp.mails.length;
    await imap.append(
      'INBOX',
      await compose({ from: 'bob@example.com', subject: 'Automatic reply: Where is my order?', text: 'I am out of the office.', messageId: '<ooo1@example.com>', headers: { 'Auto-Submitted': 'auto-replied' } }),
    );
    await imap.append('INBOX', await compose({ from: 'MAILER-DAEMON@mx.example.com', subject: 'Undelivered Mail Returned to Sender', text: 'This is the mail system.', messageId: '<bounce1@mx.example.com>', headers: { 'Return-Path': '<>' } }));
    // A later ordinary mail is answered: everything before it was handled.
    await imap.append('INBOX', await compose({ from: 'carol@example.com', subject: 'Hello', text: 'Are you open on Sunday?', messageId: '<c1@example.com>' }));
    await mailTo('carol@example.com', 1);
    assert.equal(smtp.mails.length, before_ + 1, JSON.stringify(smtp.mails.slice(before_).map((m) => m.envelope.to)));
    const bob = await conversationsOf('bob@example.com');
    const msgs = await t.hub.storage.messages.ofConversation(bob[0]?.id ?? '');
    assert.deepEqual(
      msgs.map((m) => [m.direction, m.text]),
      [['in', 'Automatic reply: Where is my order?\n\nI am out of the office.']],
    );
    assert.equal(bob[0]?.status, 'bot');
  });

  it('the reply cap: past replyCapPerHour answers to one sender, mail is kept but not answered', async () => {
    for (let i = 0; i < 5; i++) await imap.append('INBOX', await compose({ from: 'loop@example.com', subject: `Ticket ${i}`, text: `message ${i}`, messageId: `<loop${i}@example.com>` }));
    await mailTo('loop@example.com', 4);
    await imap.append('INBOX', await compose({ from: 'dave@example.com', subject: 'Hi', text: 'A question', messageId: '<d1@example.com>' }));
    await mailTo('dave@example.com', 1);
    assert.equal(smtp.mails.filter((m) => m.envelope.to.includes('loop@example.com')).length, 4);
    const convs = await conversationsOf('loop@example.com');
    assert.equal(convs.length, 5, 'the fifth mail is stored in its own thread');
  });

  it('a proactive mail through the API starts a thread with List-Unsubscribe; the answer to it is threaded', async () => {
    const res = await fetch(`${t.hub.url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${EVENTS}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customer: { identities: [{ channel: 'email', id: 'carol@example.com' }] }, text: 'Your plan renews on 1 January.\nReply to this mail with any question.' }),
    });
    assert.equal(res.status, 202);
    const mails = await mailTo('carol@example.com', 2);
    const reminder = mails[1];
    assert.equal(reminder?.parsed.subject, 'Your plan renews on 1 January.');
    assert.equal(reminder?.parsed.inReplyTo, undefined);
    assert.match(reminder?.raw.toString() ?? '', /^List-Unsubscribe: <mailto:support@shop\.example\?subject=unsubscribe>\r$/m);
    assert.notEqual(header(reminder as CapturedMail, 'auto-submitted'), 'auto-replied');
    const ours = reminder?.parsed.messageId ?? '';
    await imap.append('INBOX', await compose({ from: 'carol@example.com', subject: `Re: ${reminder?.parsed.subject ?? ''}`, text: 'Can I pay by card?', messageId: '<c2@example.com>', inReplyTo: ours, references: [ours] }));
    const after_ = await mailTo('carol@example.com', 3);
    assert.equal(after_[2]?.parsed.inReplyTo, '<c2@example.com>');
    assert.match(after_[2]?.parsed.text ?? '', /Answer to: Can I pay by card\?/);
  });

  it('a Message-ID longer than the hub keys take is answered under a stable hash (its resend is not answered twice)', async () => {
    const long = `<${'x'.repeat(300)}@mailer.example.com>`;
    const raw = await compose({ from: 'erin@example.com', subject: 'Long id', text: 'Is my parcel insured?', messageId: long });
    await imap.append('INBOX', raw);
    await mailTo('erin@example.com', 1);
    await imap.append('INBOX', raw);
    await imap.append('INBOX', await compose({ from: 'erin@example.com', subject: 'Next', text: 'And another thing', messageId: '<e2@example.com>' }));
    await mailTo('erin@example.com', 2);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(smtp.mails.filter((m) => m.envelope.to.includes('erin@example.com')).length, 2);
  });

  it('SMTP 550 for an address marks the identity unreachable (final, not retried)', async () => {
    smtp.rejectRcpt('gone@example.com', 550, '5.1.1 <gone@example.com>: Recipient address rejected: User unknown');
    await imap.append('INBOX', await compose({ from: 'gone@example.com', subject: 'Last words', text: 'Bye', messageId: '<g1@example.com>' }));
    const identity = await until(async () => {
      const i = await t.hub.storage.customers.findIdentity('email', 'gone@example.com');
      return i?.unreachableAt ? i : undefined;
    }, 15_000, 'gone@ marked unreachable');
    assert.match(identity.unreachableReason ?? '', /User unknown/);
  });
});
