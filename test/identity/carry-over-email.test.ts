/**
 * The conversation state carries over (issue #16, docs/identity.md "An open escalation stays open"):
 * a Telegram customer waits for a person, links their email with a link token, then writes a mail in
 * a NEW thread. The mail joins the Telegram case (the bot stays out, the case and the console see
 * it), the agent's reply goes out by email in that mail's thread, a Telegram message after it is
 * answered on Telegram; once the case is resolved a new mail starts its own conversation again.
 * Through the real email adapter (SMTP on loopback, Dovecot for the mount), the hub as wired.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { EmailAdapter } from '../../src/adapters/email/index.js';
import { parseMail } from '../../src/adapters/email/parse.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { processInbound } from '../../src/core/conversation/inbound.js';
import type { Responder } from '../../src/core/responder.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';
import { startSmtpCapture, type SmtpCapture } from '../fakes/smtp-capture.js';
import { DIALECTS } from '../helpers/env.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const SUPPORT = 'support@shop.example';
const ANN = 'ann@example.com';
const CRM = generateToken();
const DESK = generateToken();
const LIN = { id: 'U-lin', name: 'Lin' };
let n = 0;

function mail(o: { to: string; subject: string; text: string; messageId: string; inReplyTo?: string }): Promise<Buffer> {
  return new MailComposer({
    from: `Ann Lee <${ANN}>`,
    to: o.to,
    subject: o.subject,
    text: o.text,
    messageId: o.messageId,
    ...(o.inReplyTo ? { inReplyTo: o.inReplyTo, references: [o.inReplyTo] } : {}),
  })
    .compile()
    .build();
}

for (const dialect of DIALECTS) {
  describe(`carry-over: an open escalation takes the customer's mail in a new thread (${dialect})`, () => {
    let imap: Dovecot;
    let smtp: SmtpCapture;
    let t: TestHub;
    const tg = new LoopbackAdapter({ channel: 'telegram' });
    // The bot answers everything, and hands over when asked for a person.
    const bot: Responder = {
      respond: async (turn) =>
        /person/.test(turn.text) ? { kind: 'escalate', reason: 'asked_for_human', priority: 'normal', confidence: 1 } : { kind: 'answer', text: `Bot: ${turn.text.split('\n').pop() ?? ''}`, confidence: 0.9 },
    };
    /** The mail to Ann whose text matches `re` (waits for it). */
    const mailWith = (re: RegExp) => until(() => smtp.mails.find((m) => m.envelope.to.includes(ANN) && re.test(m.parsed.text ?? '')), 20_000, `a mail to ${ANN} matching ${re}`);
    /** A mail through the email adapter's own mapping, then the hub's pipeline as wired. */
    const deliver = async (raw: Buffer) => {
      const adapter = t.hub.adapters.get('email') as EmailAdapter;
      const msg = await adapter.toInbound({ uid: ++n, source: raw }, await parseMail(raw, { maxAttachmentBytes: 1_000_000, ownAddresses: [SUPPORT] }));
      await processInbound(t.hub.inboundDeps(), msg);
      const stored = await t.hub.storage.messages.byKey(`email:${msg.platformMessageId}`);
      assert.ok(stored);
      return stored;
    };
    const repliesTo = async (messageId: string) => (await t.hub.storage.messages.causedBy(messageId)).filter((m) => m.author === 'bot');
    let caseId = '';
    let customerId = '';

    before(async () => {
      imap = await startDovecot();
      smtp = await startSmtpCapture();
      t = await startTestHub({
        dialect,
        responder: bot,
        adapters: [tg],
        config: {
          api: {
            tokens: [
              { name: 'crm', roles: ['events'], sha256: hashToken(CRM) },
              { name: 'desk', roles: ['agent'], sha256: hashToken(DESK) },
            ],
          },
          channels: {
            email: {
              enabled: true,
              imap: { host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, pollSeconds: 60 },
              smtp: { host: smtp.host, port: smtp.port, secure: false, pool: false },
              from: { address: SUPPORT, name: 'Shop Support' },
            },
          },
        },
      });
      // Ann on Telegram asks for a person: the case waits for an agent.
      await tg.receive('5001', 'hello', { userName: 'Ann' });
      await tg.waitForSent(1);
      await tg.receive('5001', 'I want a person please');
      await tg.waitForSent(2);
      const identity = await until(() => t.hub.storage.customers.findIdentity('telegram', '5001'));
      customerId = identity.customerId;
      await t.hub.storage.customers.setExternalId(customerId, 'shop-9');
      const [c] = await t.hub.storage.conversations.ofCustomer(customerId);
      assert.equal(c?.status, 'waiting_agent');
      caseId = c?.id ?? '';
    });
    after(async () => {
      await t?.stop();
      await smtp?.close();
      await imap?.close();
    });

    it('after a link, a mail in a new thread joins the Telegram case, the agent answers it in its mail thread; after the case, mail routes per thread again', async () => {
      await until(async () => (await t.hub.storage.channelState.get('email', 'address'))?.value === SUPPORT, 5000, 'the address stored by the adapter');
      const res = await fetch(`${t.hub.url}/api/customers/shop-9/link-tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CRM}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channels: ['email'] }),
      });
      assert.equal(res.status, 201);
      const address = ((await res.json()) as { links: { email: { address: string } } }).links.email.address;
      await deliver(await mail({ to: address, subject: 'Linking', text: 'link me', messageId: `<link-${dialect}@example.com>` }));
      assert.equal((await t.hub.storage.customers.findIdentity('email', ANN))?.customerId, customerId, 'linked into the Telegram customer');
      await mailWith(/Bot: link me/); // the link mail itself is answered as usual (docs/identity.md "Link tokens")

      // A mail in a NEW thread (its own Message-ID, no In-Reply-To): it joins the case.
      const bId = `<new-thread-${dialect}@example.com>`;
      const b = await deliver(await mail({ to: SUPPORT, subject: 'Order 77 again', text: 'Any news on order 77?', messageId: bId }));
      assert.equal(b.conversationId, caseId, 'the mail is in the Telegram case');
      assert.equal((await t.hub.storage.conversations.get(caseId))?.status, 'waiting_agent');
      assert.deepEqual(await repliesTo(b.id), [], 'the bot does not answer it');
      const events = await t.hub.storage.events.ofConversation(caseId);
      const received = events.find((e) => e.type === 'message.received' && (e.payload as { messageId?: string }).messageId === b.id);
      assert.equal((received?.payload as { toAgent?: boolean } | undefined)?.toAgent, true, 'relayed to the desk');
      const view = await fetch(`${t.hub.url}/api/conversations/${caseId}`, { headers: { authorization: `Bearer ${DESK}` } });
      assert.equal(view.status, 200);
      assert.match(JSON.stringify(await view.json()), /Any news on order 77\?/, 'the console shows it in the case');

      // The agent answers in the case: by email, in that mail's thread.
      await t.hub.agentActions.reply(caseId, LIN, 'Lin here: order 77 left today.', `ev-1-${dialect}`);
      const out = await mailWith(/order 77 left today/);
      assert.equal(out.parsed.inReplyTo, bId, 'In-Reply-To the customer mail');
      assert.ok([out.parsed.references ?? []].flat().includes(bId), 'References carry the thread');
      assert.match(out.parsed.subject ?? '', /^Re: Order 77 again \[#[a-z0-9]{10}\]$/);
      assert.equal(tg.sentTo('5001').filter((m) => /order 77 left/.test(m.text)).length, 0, 'not on Telegram');

      // A reply in that thread joins the case too; a Telegram message after it is answered on Telegram.
      const b2 = await deliver(await mail({ to: SUPPORT, subject: 'Re: Order 77 again', text: 'Thanks!', messageId: `<b2-${dialect}@example.com>`, inReplyTo: out.parsed.messageId ?? '' }));
      assert.equal(b2.conversationId, caseId);
      const sentTg = tg.sent.length;
      await tg.receive('5001', 'and on Telegram?');
      await until(async () => (await t.hub.storage.messages.ofConversation(caseId, 100)).some((m) => m.text === 'and on Telegram?'));
      await t.hub.agentActions.reply(caseId, LIN, 'Answered where you wrote last.', `ev-2-${dialect}`);
      const onTg = await tg.waitForSent(sentTg + 1);
      assert.equal(onTg[onTg.length - 1]?.text, 'Answered where you wrote last.');

      // Once the case is resolved, a new mail starts its own conversation and the bot answers it.
      await t.hub.agentActions.resolve(caseId, LIN);
      const c = await deliver(await mail({ to: SUPPORT, subject: 'Another thing', text: 'Do you ship to Norway?', messageId: `<after-${dialect}@example.com>` }));
      assert.notEqual(c.conversationId, caseId);
      const conv = await t.hub.storage.conversations.get(c.conversationId);
      assert.equal(conv?.status, 'bot');
      assert.equal(conv?.threadKey, `<after-${dialect}@example.com>`);
      assert.equal((await mailWith(/Bot: Do you ship to Norway\?/)).parsed.inReplyTo, `<after-${dialect}@example.com>`);
    });
  });
}
