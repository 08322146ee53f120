/**
 * A link token on email (issue #16, docs/identity.md "Link tokens"): the API gives a reply address
 * carrying the token as a plus-address tag on the email channel's own address; a mail sent to it
 * (the tag in To, Cc or Delivered-To) links the sender to the business customer, and the mail itself
 * is answered as usual. Through the real email adapter: Dovecot (IMAP) and an SMTP server on
 * loopback, the hub as wired. Used, tampered, other-channel and expired tokens are refused and
 * audited, exactly as on the other channels.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { EmailAdapter } from '../../src/adapters/email/index.js';
import { parseMail } from '../../src/adapters/email/parse.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { processInbound } from '../../src/core/conversation/inbound.js';
import { emailLinkTag, linkByToken } from '../../src/core/customers/link-tokens.js';
import type { Responder } from '../../src/core/responder.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';
import { startSmtpCapture, type SmtpCapture } from '../fakes/smtp-capture.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const SUPPORT = 'support@shop.example';
const CRM = generateToken();
let n = 0;

function mail(o: { from: string; to: string; cc?: string; text: string; deliveredTo?: string }): Promise<Buffer> {
  n += 1;
  return new MailComposer({
    from: o.from,
    to: o.to,
    ...(o.cc ? { cc: o.cc } : {}),
    subject: `Question ${n}`,
    text: o.text,
    messageId: `<link-${n}-${Date.now()}@example.com>`,
    ...(o.deliveredTo ? { headers: { 'Delivered-To': o.deliveredTo } } : {}),
  })
    .compile()
    .build();
}

describe('link token on email, through the real email adapter (Dovecot + SMTP on loopback)', () => {
  let imap: Dovecot;
  let smtp: SmtpCapture;
  let t: TestHub;
  const shop = new LoopbackAdapter({ channel: 'alpha' });
  const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `Answer to: ${turn.text.split('\n').pop() ?? ''}`, confidence: 0.9 }) };
  const mailsTo = (addr: string, count: number) =>
    until(() => (smtp.mails.filter((m) => m.envelope.to.includes(addr)).length >= count ? smtp.mails.filter((m) => m.envelope.to.includes(addr)) : undefined), 20_000, `${count} mails to ${addr}`);
  const customerOf = async (addr: string) => (await t.hub.storage.customers.findIdentity('email', addr))?.customerId;
  const issue = async (externalId: string, channels: string[] = ['email'], ttlMinutes?: number) => {
    const res = await fetch(`${t.hub.url}/api/customers/${externalId}/link-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CRM}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channels, ...(ttlMinutes ? { ttlMinutes } : {}) }),
    });
    assert.equal(res.status, 201);
    return (await res.json()) as { customerId: string; expiresAt: string; links: Record<string, { token: string; url: string | null; address?: string | null }> };
  };
  /** A mail handed to the email adapter's own mapping, then to the hub's pipeline as wired (no IMAP round trip). */
  const deliver = async (raw: Buffer): Promise<void> => {
    const adapter = t.hub.adapters.get('email') as EmailAdapter;
    const msg = await adapter.toInbound({ uid: 1, source: raw }, await parseMail(raw, { maxAttachmentBytes: 1_000_000, ownAddresses: [SUPPORT] }));
    await processInbound(t.hub.inboundDeps(), msg);
  };
  const lastOut = async (addr: string): Promise<string[]> => {
    const id = await customerOf(addr);
    return (await t.hub.storage.messages.ofCustomer(id ?? '', 1000)).filter((m) => m.direction === 'out' && m.channel === 'email').map((m) => m.text);
  };
  const refusals = async (customerId: string) => (await t.hub.storage.audit.list({ customerId, action: 'link_refused', limit: 50 })).map((e) => e.reason);

  before(async () => {
    imap = await startDovecot();
    smtp = await startSmtpCapture();
    t = await startTestHub({
      responder: echo,
      adapters: [shop],
      config: {
        api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(CRM) }] },
        channels: {
          email: {
            enabled: true,
            imap: { host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, pollSeconds: 5 },
            smtp: { host: smtp.host, port: smtp.port, secure: false, pool: false },
            from: { address: SUPPORT, name: 'Shop Support' },
          },
        },
      },
    });
    await shop.receive('bob', 'where is order 77?', { userName: 'Bob' });
    await shop.waitForSent(1);
    const bob = await until(() => t.hub.storage.customers.findIdentity('alpha', 'bob'));
    await t.hub.storage.customers.setExternalId(bob.customerId, 'shop-7');
  });
  after(async () => {
    await t?.stop();
    await smtp?.close();
    await imap?.close();
  });

  it('the API gives a reply address with the token as a plus-address tag; a mail to it links the sender and is answered as usual', async () => {
    await until(async () => (await t.hub.storage.channelState.get('email', 'address'))?.value === SUPPORT, 5000, 'the address stored by the adapter');
    const body = await issue('shop-7');
    const link = body.links.email;
    assert.ok(link);
    assert.match(link.address ?? '', /^support\+link-[a-z2-7]{45}@shop\.example$/);
    assert.equal(link.address, `support+link-${emailLinkTag(link.token)}@shop.example`);
    assert.equal(link.url, `mailto:${link.address}`);

    await imap.append('INBOX', await mail({ from: 'Ann Lee <Ann.Lee@example.com>', to: `Shop <${link.address}>`, text: 'When does order 77 ship?' }));
    const sent = await mailsTo('ann.lee@example.com', 2);
    const texts = sent.map((m) => m.parsed.text ?? '').join('\n---\n');
    assert.match(texts, /linked to your customer account/);
    assert.match(texts, /Answer to: When does order 77 ship\?/, 'the mail itself is answered');
    assert.equal(await customerOf('ann.lee@example.com'), body.customerId);
    assert.equal((await t.hub.storage.customers.findIdentity('email', 'ann.lee@example.com'))?.verified, true);
    const [entry] = await t.hub.storage.audit.list({ customerId: body.customerId, action: 'link', limit: 1 });
    assert.equal(entry?.actor.name, 'email:ann.lee@example.com (link token)');
    // One history: the web shop's message and the mail are the business customer's.
    const history = (await t.hub.storage.messages.ofCustomer(body.customerId, 100)).map((m) => m.text).join('\n');
    assert.match(history, /where is order 77\?/);
    assert.match(history, /When does order 77 ship\?/);

    // Ann writes to the tagged address again (kept in her address book): just the answer, no second word about the link.
    await deliver(await mail({ from: 'ann.lee@example.com', to: link.address ?? '', text: 'One more question' }));
    const again = (await lastOut('ann.lee@example.com')).slice(-1);
    assert.deepEqual(again, ['Answer to: One more question']);
    assert.equal((await lastOut('ann.lee@example.com')).filter((x) => /linked/.test(x)).length, 1);

    // Someone else mailing the same address: refused (used), audited, their mail still answered, nothing of Bob's shown.
    await imap.append('INBOX', await mail({ from: 'mallory@evil.example', to: link.address ?? '', text: 'let me in' }));
    const theirs = await mailsTo('mallory@evil.example', 2);
    assert.match(theirs.map((m) => m.parsed.text ?? '').join('\n'), /already been used/);
    assert.notEqual(await customerOf('mallory@evil.example'), body.customerId);
    assert.ok((await refusals(body.customerId)).includes('used'));
    assert.ok(!(await t.hub.storage.messages.ofCustomer((await customerOf('mallory@evil.example')) ?? '', 100)).some((m) => m.text.includes('order 77')));
  });

  it('the tag is found in Cc and in Delivered-To (case-free); a plain mail to the support address links nothing', async () => {
    const viaCc = (await issue('shop-cc')).links.email?.address ?? '';
    await deliver(await mail({ from: 'cc.user@example.com', to: SUPPORT, cc: viaCc, text: 'hello' }));
    assert.equal(await customerOf('cc.user@example.com'), (await t.hub.storage.customers.byExternalId('shop-cc'))?.id);

    const viaDelivered = (await issue('shop-dt')).links.email?.address ?? '';
    await deliver(await mail({ from: 'dt.user@example.com', to: SUPPORT, deliveredTo: viaDelivered.toUpperCase(), text: 'hello' }));
    assert.equal(await customerOf('dt.user@example.com'), (await t.hub.storage.customers.byExternalId('shop-dt'))?.id);

    await deliver(await mail({ from: 'plain@example.com', to: SUPPORT, text: 'hello' }));
    const plain = await customerOf('plain@example.com');
    assert.ok(plain);
    assert.equal((await t.hub.storage.customers.get(plain))?.externalId ?? null, null);
    assert.ok((await lastOut('plain@example.com')).every((x) => !/link/i.test(x)));
  });

  it('tampered, other-channel and expired tokens are refused with the same answers and audit lines', async () => {
    const a = await issue('shop-x', ['email', 'telegram']);
    const address = a.links.email?.address ?? '';
    const tag = emailLinkTag(a.links.email?.token ?? '');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    await deliver(await mail({ from: 'tamper@example.com', to: address.replace(tag, flip(tag, 30)), text: 'hi' }));
    assert.match((await lastOut('tamper@example.com')).join('\n'), /isn't valid/);
    await deliver(await mail({ from: 'tamper2@example.com', to: address.replace(tag, flip(tag, 2)), text: 'hi' }));
    assert.match((await lastOut('tamper2@example.com')).join('\n'), /isn't valid/);
    await deliver(await mail({ from: 'tamper3@example.com', to: address.replace(tag, 'x'.repeat(12)), text: 'hi' }));
    assert.match((await lastOut('tamper3@example.com')).join('\n'), /isn't valid/);
    // The grant's Telegram token, put in the email tag: made for another channel.
    const tgTag = emailLinkTag(a.links.telegram?.token ?? '');
    await deliver(await mail({ from: 'other@example.com', to: address.replace(tag, tgTag), text: 'hi' }));
    assert.match((await lastOut('other@example.com')).join('\n'), /made for another channel/);
    for (const who of ['tamper', 'tamper2', 'tamper3', 'other']) assert.notEqual(await customerOf(`${who}@example.com`), a.customerId);
    assert.ok((await refusals(a.customerId)).includes('other_channel'));

    // Still unused: the right address links.
    await deliver(await mail({ from: 'right@example.com', to: address, text: 'hi' }));
    assert.equal(await customerOf('right@example.com'), a.customerId);

    const late = await issue('shop-late', ['email'], 1);
    const lateTag = emailLinkTag(late.links.email?.token ?? '');
    await deliver(await mail({ from: 'late@example.com', to: SUPPORT, text: 'hi' }));
    const r = await linkByToken(t.hub.storage, { token: lateTag, channel: 'email', platformUserId: 'late@example.com', now: Date.parse(late.expiresAt) });
    assert.equal(r.outcome, 'expired');
    assert.ok((await refusals(late.customerId)).includes('expired'));
  });
});
