/**
 * A workflow send falls through its channel list (issue #15's "fallback from a blocked Telegram
 * identity to email"): the real Telegram adapter against the fake Bot API, which answers 403 "bot
 * was blocked by the user", then the real email channel against an SMTP server on loopback (and a
 * real Dovecot for its IMAP side). The reminder reaches the customer by email, once; the event's
 * status shows the step done; the send records the Telegram failure and the email delivery.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { startDovecot, type Dovecot } from '../fakes/dovecot.js';
import { startSmtpCapture, type SmtpCapture } from '../fakes/smtp-capture.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { workflowConfigDir } from './config-dir.js';

const EVENTS = generateToken();

describe('workflow send: a blocked Telegram identity falls through to email', () => {
  let imap: Dovecot;
  let smtp: SmtpCapture;
  let tg: FakeTelegram;
  let t: TestHub;
  before(async () => {
    imap = await startDovecot();
    smtp = await startSmtpCapture();
    tg = await startFakeTelegram();
    const { dir, wf } = workflowConfigDir('sb-wf-fallback-');
    writeFileSync(
      join(wf, 'renewal.yaml'),
      `kind: reminder
trigger:
  event: subscription.expiring
  data: { subscriptionId: string, plan: string }
channels: [telegram, email]
steps:
  - id: remind
    send: { text: { en: "Your {{plan}} plan renews soon", zh: "您的{{plan}}套餐即将续费" } }
`,
    );
    t = await startTestHub({
      configDir: dir,
      config: {
        api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(EVENTS) }] },
        channels: {
          telegram: { enabled: true, token: tg.token, apiRoot: tg.apiRoot, pollingTimeoutSec: 0 },
          email: {
            enabled: true,
            imap: { host: imap.host, port: imap.port, secure: false, user: imap.user, password: imap.password, pollSeconds: 30 },
            smtp: { host: smtp.host, port: smtp.port, secure: false, pool: false },
            from: { address: 'support@shop.example', name: { en: 'Shop Support', zh: '商店客服' } },
          },
        },
      },
    });
  });
  after(async () => {
    await t?.stop();
    await tg?.close();
    await smtp?.close();
    await imap?.close();
  });

  it('sends by email once, after Telegram refuses, and says so', async () => {
    tg.blockUser(4242);
    const res = await fetch(`${t.hub.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${EVENTS}`, 'content-type': 'application/json', 'idempotency-key': 'renewal-sub-9' },
      body: JSON.stringify({
        type: 'subscription.expiring',
        customer: { externalId: 'cust-9', locale: 'en', identities: [{ channel: 'telegram', id: '4242' }, { channel: 'email', id: 'ann@example.com' }] },
        data: { subscriptionId: 'sub-9', plan: 'Pro' },
      }),
    });
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as { id: string };
    const mails = await until(() => (smtp.mails.length > 0 ? smtp.mails : undefined), 20_000, 'the email');
    assert.deepEqual(mails[0]?.envelope.to, ['ann@example.com']);
    assert.match(mails[0]?.parsed.text ?? '', /Your Pro plan renews soon/);
    const refused = tg.calls.filter((c) => c.method === 'sendMessage');
    assert.equal(refused.length, 1, 'Telegram was tried once');
    assert.equal(refused[0]?.status, 403);

    type Status = { runs: { status: string; steps: { id: string; status: string; result?: { sendId?: string } }[] }[] };
    const status = await until(async () => {
      const s = (await (await fetch(`${t.hub.url}/api/events/${id}`, { headers: { authorization: `Bearer ${EVENTS}` } })).json()) as Status;
      return s.runs[0]?.status === 'done' ? s : undefined;
    });
    const sendId = status.runs[0]?.steps[0]?.result?.sendId ?? '';
    // The send as the API shows it (its delivery read from the message's row).
    const send = await until(async () => {
      const x = await t.hub.sends.get(sendId);
      return x?.status === 'sent' ? x : undefined;
    });
    assert.deepEqual(send?.attempts.map((a) => [a.channel, a.status]), [
      ['telegram', 'failed'],
      ['email', 'sent'],
    ]);
    // Nothing more goes out later (the send is done, once).
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(smtp.mails.length, 1);
  });
});
