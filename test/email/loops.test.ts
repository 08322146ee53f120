/**
 * Loop protection: mail the bot must never answer, each told by the header that gives it away —
 * checked on real mails (fixtures) through parseMail, so the headers are what mailparser makes of
 * them, and on one header changed at a time.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { skipReason } from '../../src/adapters/email/loops.js';
import { parseMail } from '../../src/adapters/email/parse.js';

const OPTS = { maxAttachmentBytes: 10 * 1024 * 1024, ownAddresses: ['Support@Example.com'] };
const fixture = async (name: string): Promise<string> => (await readFile(new URL(`../fixtures/email/${name}`, import.meta.url))).toString('utf8');
const reasonOf = async (source: string): Promise<string | undefined> => (await parseMail(Buffer.from(source, 'utf8'), OPTS)).skipReason;

/** An ordinary customer mail, plus extra header lines. */
function plain(extra: string[] = [], from = 'Ann Customer <ann@example.net>', subject = 'Where is my order?'): string {
  return [`From: ${from}`, 'To: support@example.com', `Subject: ${subject}`, 'Message-ID: <q1@example.net>', ...extra, 'Content-Type: text/plain; charset=utf-8', '', 'Hello, where is order 4711?', ''].join('\r\n');
}

describe('skipReason on real mails', () => {
  it('an ordinary reply is answered', async () => {
    assert.equal(await reasonOf(await fixture('gmail-reply.eml')), undefined);
    assert.equal(await reasonOf(await fixture('outlook-reply.eml')), undefined);
    assert.equal(await reasonOf(await fixture('qq-mail-gb2312.eml')), undefined);
    assert.equal(await reasonOf(plain()), undefined);
  });

  it('Exchange out-of-office: X-Auto-Response-Suppress; without it, the "Automatic reply:" subject', async () => {
    const oof = await fixture('exchange-out-of-office.eml');
    assert.equal(await reasonOf(oof), 'auto-reply (X-Auto-Response-Suppress: All)');
    const withoutHeader = oof.replace(/^X-Auto-Response-Suppress: All\r\n/m, '');
    assert.notEqual(withoutHeader, oof);
    assert.equal(await reasonOf(withoutHeader), 'auto-reply (Subject: Automatic reply: Your question about order 4711 [#k7q2m9xa])');
    assert.equal(await reasonOf(withoutHeader.replace('Subject: Automatic reply: ', 'Subject: Re: ')), undefined);
  });

  it('Gmail vacation responder: Auto-Submitted: auto-replied', async () => {
    assert.equal(await reasonOf(await fixture('gmail-vacation.eml')), 'auto-reply (Auto-Submitted: auto-replied)');
  });

  it('a mailer-daemon bounce (multipart/report; delivery-status); a read receipt (disposition-notification)', async () => {
    assert.equal(await reasonOf(await fixture('bounce-mailer-daemon.eml')), 'bounce (multipart/report; report-type=delivery-status)');
    assert.equal(await reasonOf(await fixture('read-receipt.eml')), 'read receipt (multipart/report; report-type=disposition-notification)');
  });

  it('a list mail: List-Id; without it, List-Unsubscribe', async () => {
    const list = await fixture('list-mail.eml');
    assert.equal(await reasonOf(list), 'mailing list (List-Id)');
    const noId = list.replace(/^List-Id: .*\r\n/m, '');
    assert.notEqual(noId, list);
    assert.equal(await reasonOf(noId), 'mailing list (List-Unsubscribe)');
    assert.equal(await reasonOf(noId.replace(/^List-Unsubscribe: .*\r\n .*\r\n/m, '')), undefined);
  });
});

describe('skipReason, one signal at a time', () => {
  const cases: [string, string, string | undefined][] = [
    ['Auto-Submitted: auto-generated', 'Auto-Submitted: auto-generated', 'automatic mail (Auto-Submitted: auto-generated)'],
    ['Auto-Submitted with a parameter', 'Auto-Submitted: auto-replied; owner-email="ann@example.net"', 'auto-reply (Auto-Submitted: auto-replied; owner-email="ann@example.net")'],
    ['Auto-Submitted: no', 'Auto-Submitted: no', undefined],
    ['Auto-Submitted: No (a person)', 'Auto-Submitted: No', undefined],
    ['Precedence: bulk', 'Precedence: bulk', 'bulk mail (Precedence: bulk)'],
    ['Precedence: junk', 'Precedence: Junk', 'bulk mail (Precedence: junk)'],
    ['Precedence: list', 'Precedence: list', 'mailing list (Precedence: list)'],
    ['Precedence: first-class', 'Precedence: first-class', undefined],
    ['X-Autoreply', 'X-Autoreply: yes', 'auto-reply (X-Autoreply: yes)'],
    ['X-Autorespond, any value', 'X-Autorespond: 0', 'auto-reply (X-Autorespond: 0)'],
    ['X-MS-Exchange-Inbox-Rules-Loop', 'X-MS-Exchange-Inbox-Rules-Loop: ann@example.net', 'auto-reply (X-MS-Exchange-Inbox-Rules-Loop: ann@example.net)'],
    ['List-Unsubscribe alone', 'List-Unsubscribe: <mailto:leave@lists.example.org>', 'mailing list (List-Unsubscribe)'],
    ['Return-Path: <>', 'Return-Path: <>', 'empty envelope sender (Return-Path: <>)'],
    ['a normal Return-Path', 'Return-Path: <ann@example.net>', undefined],
    ['multipart/report feedback report', 'Content-Type: multipart/report; report-type=feedback-report; boundary="fb"', 'feedback report (multipart/report; report-type=feedback-report)'],
  ];
  for (const [name, header, expected] of cases) {
    it(`${name} → ${expected ?? 'answered'}`, async () => {
      assert.equal(await reasonOf(plain([header])), expected);
    });
  }

  const senders: [string, string | undefined][] = [
    ['MAILER-DAEMON@mx.example.org', 'bounce (From: mailer-daemon@mx.example.org)'],
    ['postmaster@example.org', 'bounce (From: postmaster@example.org)'],
    ['no-reply@accounts.example.com', 'no-reply sender (From: no-reply@accounts.example.com)'],
    ['NoReply@example.com', 'no-reply sender (From: noreply@example.com)'],
    ['do-not-reply@example.com', 'no-reply sender (From: do-not-reply@example.com)'],
    ['donotreply+bounce42@example.com', 'no-reply sender (From: donotreply+bounce42@example.com)'],
    ['nora@example.com', undefined],
    ['replies@example.com', undefined],
  ];
  for (const [address, expected] of senders) {
    it(`sender ${address} → ${expected ?? 'answered'}`, async () => {
      assert.equal(await reasonOf(plain([], `Someone <${address}>`)), expected);
    });
  }

  const subjects: [string, string | undefined][] = [
    ['Automatic reply: Where is my order?', 'auto-reply (Subject: Automatic reply: Where is my order?)'],
    ['Auto Reply: Where is my order?', 'auto-reply (Subject: Auto Reply: Where is my order?)'],
    ['AutoReply', 'auto-reply (Subject: AutoReply)'],
    ['Out of Office: back on Monday', 'auto-reply (Subject: Out of Office: back on Monday)'],
    ['=?UTF-8?B?6Ieq5Yqo5Zue5aSN77ya5oKo55qE6K6i5Y2V?=', 'auto-reply (Subject: 自动回复：您的订单)'],
    ['Re: out of stock?', undefined],
    ['Question about your auto reply settings', undefined],
  ];
  for (const [subject, expected] of subjects) {
    it(`subject "${subject}" → ${expected ?? 'answered'}`, async () => {
      assert.equal(await reasonOf(plain([], undefined, subject)), expected);
    });
  }

  it('our own address (any case), and a mail without From, are never answered', async () => {
    assert.equal(await reasonOf(plain([], 'Support <SUPPORT@example.com>')), 'our own address');
    assert.equal(await reasonOf(plain().replace(/^From: .*\r\n/, '')), 'no From (nobody to answer)');
  });

  it('works on a plain header map as well (the loop check does not need mailparser)', () => {
    const headers = new Map<string, unknown>([['auto-submitted', 'auto-replied']]);
    assert.equal(skipReason({ headers, from: 'ann@example.net', subject: 'x', ownAddresses: [] }), 'auto-reply (Auto-Submitted: auto-replied)');
    assert.equal(skipReason({ headers: new Map([['list-id', '<x.example.org>']]), from: 'ann@example.net', subject: 'x', ownAddresses: [] }), 'mailing list (List-Id)');
    assert.equal(skipReason({ headers: new Map(), from: 'ann@example.net', subject: 'x', ownAddresses: [] }), undefined);
  });
});
