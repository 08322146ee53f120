/**
 * parseMail: real mails (fixtures from Gmail, Outlook/Exchange, QQ Mail, Apple Mail) and mails built
 * here from real bytes (iconv-lite) for every charset case: honest labels, labels that lie, no label,
 * unknown labels, raw 8-bit headers. Reply stripping, threading fields, addresses, attachments
 * (metadata only) and malformed MIME (never a throw).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import iconv from 'iconv-lite';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseMail } from '../../src/adapters/email/parse.js';
import type { ParsedMail } from '../../src/adapters/email/types.js';

const OPTS = { maxAttachmentBytes: 10 * 1024 * 1024, ownAddresses: ['support@example.com'] };
const fixture = (name: string): Promise<Buffer> => readFile(new URL(`../fixtures/email/${name}`, import.meta.url));
const parse = (source: Buffer): Promise<ParsedMail> => parseMail(source, OPTS);

/** A mail from header lines (LF, turned into CRLF) and a body of real bytes. */
function mail(head: string, body: Buffer | string = ''): Buffer {
  return Buffer.concat([Buffer.from(`${head.trim().replace(/\r?\n/g, '\r\n')}\r\n\r\n`, 'latin1'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}
const FROM = 'From: Customer <customer@example.net>\nTo: support@example.com';
/** An RFC 2047 B word of real bytes. */
const word = (label: string, bytes: Buffer): string => `=?${label}?B?${bytes.toString('base64')}?=`;
const qEncode = (bytes: Buffer): string => [...bytes].map((b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** ISO-2022-JP from EUC-JP (iconv-lite has no ISO-2022-JP encoder): JIS X 0208 bytes are EUC-JP's minus 0x80. */
function iso2022jp(text: string): Buffer {
  const out: number[] = [];
  let jis = false;
  for (const ch of text) {
    const e = iconv.encode(ch, 'euc-jp');
    if (e.length === 1) {
      if (jis) out.push(0x1b, 0x28, 0x42);
      jis = false;
      out.push(e[0] as number);
    } else {
      if (!jis) out.push(0x1b, 0x24, 0x42);
      jis = true;
      out.push((e[0] as number) & 0x7f, (e[1] as number) & 0x7f);
    }
  }
  if (jis) out.push(0x1b, 0x28, 0x42);
  return Buffer.from(out);
}

function noReplacementChar(m: ParsedMail): void {
  for (const [field, value] of Object.entries({ subject: m.subject, from: m.from?.name ?? '', text: m.fullText })) {
    assert.ok(!value.includes('\uFFFD'), `${field} has U+FFFD: ${value}`);
  }
}

// GB18030-only: 𠀀 (U+20000) and ß are four-byte sequences that GBK cannot read.
const CHINESE = '您好，我的订单号是4711，收件人王𠀀，谢谢！Grüße';

describe('parseMail: real clients', () => {
  it('Gmail: UTF-8 quoted-printable, the wrapped "On … wrote:" and the quote stripped, threading, lower-cased addresses', async () => {
    const m = await parse(await fixture('gmail-reply.eml'));
    assert.deepEqual(m.from, { address: 'zoe.muller@gmail.com', name: 'Zoë Müller' });
    assert.deepEqual(m.to, ['support@example.com']);
    assert.deepEqual(m.cc, ['zoe.backup@gmail.com']);
    assert.equal(m.subject, 'Re: Your question about order 4711 [#K7Q2M9XA]');
    assert.equal(m.caseToken, 'k7q2m9xa');
    assert.equal(m.messageId, '<CAHx1Qp5kz7J4uYf0n+Gq2QhWq=8dFv3w@mail.gmail.com>');
    assert.equal(m.inReplyTo, '<sb.PHJvb3RAZXhhbXBsZS5jb20-.43@example.com>');
    assert.deepEqual(m.references, ['<sb.PHJvb3RAZXhhbXBsZS5jb20-.42@example.com>', '<sb.PHJvb3RAZXhhbXBsZS5jb20-.43@example.com>']);
    assert.equal(m.date, Date.parse('2024-01-03T09:01:52Z'));
    assert.equal(m.text, 'Hi,\n\nthe tracking number still shows "label created". Can you check with the courier?\nOrder 4711, placed on 2 January.\n\nThanks,\nZoë');
    assert.match(m.fullText, /On Tue, Jan 2, 2024 at 10:15 AM Example Support <support@example.com>\nwrote:\n\n> Hello Zoë,/);
    assert.equal(m.skipReason, undefined);
    assert.deepEqual(m.warnings, []);
  });

  it('Outlook: ISO-8859-1 body, the "From:/Sent:" block after the separator stripped, the PDF listed', async () => {
    const m = await parse(await fixture('outlook-reply.eml'));
    assert.deepEqual(m.from, { address: 'jonas.bergstrom@contoso.com', name: 'Bergström, Jonas' });
    assert.deepEqual(m.cc, ['purchasing@contoso.com']);
    assert.match(m.text, /^Hello,\n\nthe invoice total does not match our purchase order \(PO 5521\)\. The attached PDF shows/);
    assert.match(m.text, /Med vänliga hälsningar \/ Best regards\nJonas Bergström$/);
    assert.ok(!m.text.includes('From:') && !m.text.includes('Dear Jonas'));
    assert.match(m.fullText, /________________________________\nFrom: Example Support <support@example.com>\nSent: /);
    assert.deepEqual(m.attachments, [{ name: 'PO 5521.pdf', mimeType: 'application/pdf', size: 48, kept: true }]);
    assert.equal(m.skipReason, undefined);
  });

  it('QQ Mail: GB18030 bytes labelled gb2312 decode as GB18030 (body, Subject, From name); "原始邮件" quote stripped', async () => {
    const m = await parse(await fixture('qq-mail-gb2312.eml'));
    noReplacementChar(m);
    assert.deepEqual(m.from, { address: 'wang@qq.com', name: '王𠀀' });
    assert.equal(m.subject, '回复：您的订单 [#k7q2m9xa]');
    assert.equal(m.caseToken, 'k7q2m9xa');
    assert.equal(m.text, '你好，\n\n我的订单还没有收到，收件人是王𠀀，地址没有错。请帮忙查一下。\n\n谢谢');
    assert.match(m.fullText, /------------------ 原始邮件 ------------------\n发件人: "客户服务"<support@example.com>;/);
    assert.deepEqual(m.warnings, []);
  });

  it('Apple Mail (iPhone): "发自我的iPhone" and the "在 … 写道：" quote stripped, UTF-8 encoded-word subject', async () => {
    const m = await parse(await fixture('apple-mail-iphone.eml'));
    assert.equal(m.subject, 'Re: 您的订单 [#k7q2m9xa]');
    assert.equal(m.text, '好的，谢谢！能改到周五送货吗？');
    assert.match(m.fullText, /发自我的iPhone\n\n> 在 2024年1月4日，17:05，Example Support <support@example.com> 写道：/);
    assert.ok(!m.fullText.includes('\uFEFF'), 'the stray byte order mark of iOS quotes is dropped');
  });

  it('HTML only: readable text with line breaks, list items and the link target; Reply-To kept when it differs', async () => {
    const m = await parse(await fixture('html-only.eml'));
    assert.equal(m.replyTo, 'karl.heinz@example.de');
    assert.equal(m.from?.address, 'orders@webform.example.net');
    assert.match(m.text, /Hello, I would like to change the delivery address of order 4711\.\n\nNew address: Hauptstraße 5\n10115 Berlin/);
    assert.match(m.text, /\* Name: Karl Heinz\n \* Phone: \+49 30 1234567/);
    assert.match(m.text, /order page \[https:\/\/shop\.example\.com\/account\/orders\/4711\]/);
    assert.ok(!/<\/?[a-z]+[^>]*>/i.test(m.text), `no tags left: ${m.text}`);
    assert.ok(!m.text.includes('p{margin'), 'no stylesheet text');
  });

  it('HTML only with an inline image (multipart/related, which mailparser leaves without text): still readable text', async () => {
    const src = mail(
      `${FROM}\nSubject: photo\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary="rel"`,
      '--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The lid is <b>broken</b>, see the photo:</p><p><img src="cid:img1"></p><p>Can I get a new one?</p>\r\n' +
        '--rel\r\nContent-Type: image/png; name="IMG_0412.png"\r\nContent-ID: <img1>\r\nContent-Disposition: inline; filename="IMG_0412.png"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUg==\r\n--rel--\r\n',
    );
    const m = await parse(src);
    assert.equal(m.text, 'The lid is broken, see the photo:\n\nCan I get a new one?');
    assert.deepEqual(m.attachments, [{ name: 'IMG_0412.png', mimeType: 'image/png', size: 16, kept: true }]);
  });
});

describe('parseMail: charsets', () => {
  const body = iconv.encode(CHINESE, 'gb18030');

  for (const label of ['gb2312', 'GBK', 'GB2312', 'cp936']) {
    it(`GB18030 bytes labelled ${label} (8bit body, base64 and quoted-printable) read as GB18030`, async () => {
      for (const [cte, encoded] of [
        ['8bit', body],
        ['base64', Buffer.from(body.toString('base64'))],
        ['quoted-printable', Buffer.from(qEncode(body).replace(/(.{72})/g, '$1=\r\n'))],
      ] as const) {
        const m = await parse(mail(`${FROM}\nSubject: ${word(label, iconv.encode('订单 𠀀', 'gb18030'))}\nContent-Type: text/plain; charset=${label}\nContent-Transfer-Encoding: ${cte}`, encoded));
        assert.equal(m.text, CHINESE, `${label} ${cte}`);
        assert.equal(m.subject, '订单 𠀀');
        assert.deepEqual(m.warnings, []);
      }
    });
  }

  it('Big5 body and a Big5 Q-encoded subject', async () => {
    const text = '您好，請問我的訂單什麼時候出貨？';
    const m = await parse(mail(`${FROM}\nSubject: =?big5?Q?${qEncode(iconv.encode('訂單查詢', 'big5'))}?=\nContent-Type: text/plain; charset="big5"\nContent-Transfer-Encoding: base64`, iconv.encode(text, 'big5').toString('base64')));
    assert.equal(m.text, text);
    assert.equal(m.subject, '訂單查詢');
    noReplacementChar(m);
  });

  it('ISO-2022-JP body and subject (7bit escapes)', async () => {
    const text = 'お世話になっております。注文番号4711の件です。';
    const jisBody = iso2022jp(text);
    assert.ok(jisBody.every((b) => b < 0x80), 'ISO-2022-JP is 7-bit');
    const m = await parse(mail(`${FROM}\nSubject: ${word('ISO-2022-JP', iso2022jp('ご注文について'))}\nContent-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit`, jisBody));
    assert.equal(m.text, text);
    assert.equal(m.subject, 'ご注文について');
  });

  it('Latin-1 labelled iso-8859-1, also in the From name', async () => {
    const m = await parse(mail(`From: ${word('iso-8859-1', iconv.encode('Françoise Müller', 'latin1'))} <f@example.fr>\nSubject: Commande\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit`, iconv.encode('Bonjour, où est ma commande ? Grüße', 'latin1')));
    assert.equal(m.text, 'Bonjour, où est ma commande ? Grüße');
    assert.equal(m.from?.name, 'Françoise Müller');
  });

  it('8-bit bytes without a charset: UTF-8 when valid, else GB18030 when it reads cleanly, else windows-1252 (with a warning)', async () => {
    const utf8 = await parse(mail(`${FROM}\nSubject: x\nContent-Type: text/plain`, Buffer.from('Grüße 你好', 'utf8')));
    assert.equal(utf8.text, 'Grüße 你好');
    assert.deepEqual(utf8.warnings, []);

    const gbk = await parse(mail(`${FROM}\nSubject: x\nMIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit`, iconv.encode('你好，我的快递到哪里了？', 'gbk')));
    assert.equal(gbk.text, '你好，我的快递到哪里了？');
    assert.deepEqual(gbk.warnings, ['text/plain part: no charset, decoded as gb18030']);

    // No MIME headers at all (an old script): the same.
    const bare = await parse(mail(`${FROM}\nSubject: x`, iconv.encode(CHINESE, 'gb18030')));
    assert.equal(bare.text, CHINESE);

    // "für" is a valid GB18030 pair (FC 72) but not Chinese; "café" ends in a lone lead byte.
    for (const latin of ['Sehr geehrte Damen und Herren, für Ihre Hilfe danke ich.', 'Un café, s\'il vous plaît. Grüße']) {
      const m = await parse(mail(`${FROM}\nSubject: x\nContent-Type: text/plain`, iconv.encode(latin, 'latin1')));
      assert.equal(m.text, latin);
      assert.deepEqual(m.warnings, ['text/plain part: no charset, decoded as windows-1252']);
    }
  });

  it('a charset label nobody knows: the same fallback, and a warning naming it', async () => {
    const m = await parse(mail(`${FROM}\nSubject: ${word('x-chinese-please', iconv.encode('快递', 'gbk'))}\nContent-Type: text/plain; charset="x-chinese-please"`, iconv.encode('快递还没到', 'gbk')));
    assert.equal(m.text, '快递还没到');
    assert.equal(m.subject, '快递');
    assert.deepEqual(m.warnings, [
      'text/plain part: unknown charset "x-chinese-please", decoded as gb18030',
      'Subject header: unknown charset "x-chinese-please", decoded as gb18030',
    ]);
  });

  it('a utf-8 or us-ascii label on bytes that are not UTF-8: decoded by what they are, with a warning', async () => {
    for (const label of ['utf-8', 'us-ascii']) {
      const m = await parse(mail(`${FROM}\nSubject: x\nContent-Type: text/plain; charset=${label}\nContent-Transfer-Encoding: 8bit`, iconv.encode('退货地址在哪里？', 'gbk')));
      assert.equal(m.text, '退货地址在哪里？');
      assert.deepEqual(m.warnings, [`text/plain part: labelled "${label}" but not UTF-8, decoded as gb18030`]);
    }
  });

  it('raw 8-bit GBK in Subject, From name and an attachment file name (older Chinese clients)', async () => {
    const head = Buffer.concat([
      Buffer.from('From: "'),
      iconv.encode('李雷', 'gbk'),
      Buffer.from('" <LiLei@163.com>\r\nTo: support@example.com\r\nSubject: '),
      iconv.encode('发票问题', 'gbk'),
      Buffer.from('\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'),
      Buffer.from('--b1\r\nContent-Type: text/plain; charset="gbk"\r\nContent-Transfer-Encoding: base64\r\n\r\n'),
      Buffer.from(iconv.encode('请看附件。', 'gbk').toString('base64')),
      Buffer.from('\r\n--b1\r\nContent-Type: application/pdf; name="'),
      iconv.encode('发票.pdf', 'gbk'),
      Buffer.from('"\r\nContent-Disposition: attachment; filename="'),
      iconv.encode('发票.pdf', 'gbk'),
      Buffer.from('"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n'),
    ]);
    const m = await parse(head);
    noReplacementChar(m);
    assert.deepEqual(m.from, { address: 'lilei@163.com', name: '李雷' });
    assert.equal(m.subject, '发票问题');
    assert.equal(m.text, '请看附件。');
    assert.deepEqual(m.attachments, [{ name: '发票.pdf', mimeType: 'application/pdf', size: 9, kept: true }]);
    assert.ok(m.warnings.includes('Subject header: raw 8-bit bytes that are not UTF-8, decoded as gb18030'), m.warnings.join('\n'));
  });

  it('parts of a multipart without a charset: each sniffed; an HTML part believes its <meta charset>', async () => {
    const big5Html = iconv.encode('<html><head><meta http-equiv="Content-Type" content="text/html; charset=big5"></head><body><p>訂單已取消</p></body></html>', 'big5');
    const m = await parse(
      mail(
        `${FROM}\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="outer"`,
        Buffer.concat([
          Buffer.from('--outer\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\n'),
          iconv.encode('订单已取消', 'gbk'),
          Buffer.from('\r\n--inner\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n'),
          Buffer.from(big5Html.toString('base64')),
          Buffer.from('\r\n--inner--\r\n--outer\r\nContent-Type: text/html\r\nContent-Disposition: inline\r\n\r\n'),
          big5Html,
          Buffer.from('\r\n--outer--\r\n'),
        ]),
      ),
    );
    assert.equal(m.text, '订单已取消\n訂單已取消');
    assert.deepEqual(m.warnings, [
      'text/plain part: no charset, decoded as gb18030',
      'text/html part: no charset, decoded as big5 (its <meta charset>)',
      'text/html part: no charset, decoded as big5 (its <meta charset>)',
    ]);
  });
});

describe('parseMail: reply stripping', () => {
  const cases: [string, string][] = [
    ['one-line attribution', 'Yes, the blue one.\n\nOn Mon, 8 Jan 2024 at 10:00, Support <support@example.com> wrote:\n> Which colour?'],
    ['two-line attribution', 'Yes, the blue one.\n\nOn Mon, Jan 8, 2024 at 10:00 AM Example Support <\nsupport@example.com> wrote:\n\n> Which colour?'],
    ['在 … 写道：', 'Yes, the blue one.\n\n在 2024年1月8日 周一 10:00，客户服务 <support@example.com> 写道：\n> 哪个颜色？'],
    ['于 … 写道：', 'Yes, the blue one.\n\n客户服务 <support@example.com> 于2024年1月8日周一 10:00写道：\n\n> 哪个颜色？'],
    ['-----Original Message-----', 'Yes, the blue one.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nSubject: Colour\n\nWhich colour?'],
    ['-----原始邮件-----', 'Yes, the blue one.\n\n-----原始邮件-----\n发件人: 客户服务\n主题: 颜色\n\n哪个颜色？'],
    ['separator and 发件人:', 'Yes, the blue one.\n\n________________________________\n发件人: 客户服务 <support@example.com>\n发送时间: 2024年1月8日 10:00\n\n哪个颜色？'],
    ['From:/Sent: block without a separator (Outlook HTML)', 'Yes, the blue one.\n\nFrom: Example Support <support@example.com>\nSent: Monday, January 8, 2024 10:00 AM\nTo: Ann\nSubject: Colour\n\nWhich colour?'],
    ['signature', 'Yes, the blue one.\n\n-- \nAnn Smith\nHead of Purchasing, Contoso'],
    ['Sent from my iPhone', 'Yes, the blue one.\n\nSent from my iPhone\n\n> On 8 Jan 2024, at 10:00, Support <support@example.com> wrote:\n> Which colour?'],
    ['发自我的iPhone', 'Yes, the blue one.\n\n发自我的iPhone'],
  ];
  for (const [name, body] of cases) {
    it(`${name}: text is the new part, fullText everything`, async () => {
      const m = await parse(mail(`${FROM}\nSubject: Re: colour\nContent-Type: text/plain; charset=utf-8`, body));
      assert.equal(m.text, 'Yes, the blue one.');
      assert.equal(m.fullText, body.replace(/ +$/gm, ''));
    });
  }

  it('a customer who answers between quoted lines keeps every answer; only the > lines go', async () => {
    const body = '> What is your order number?\n4711\n\n> And the delivery address?\nHauptstraße 5, Berlin\n\nThanks';
    const m = await parse(mail(`${FROM}\nSubject: Re: questions\nContent-Type: text/plain; charset=utf-8`, body));
    assert.equal(m.text, '4711\n\nHauptstraße 5, Berlin\n\nThanks');
  });

  it('when stripping would leave nothing, text is the full text', async () => {
    const body = 'On Mon, 8 Jan 2024 at 10:00, Support <support@example.com> wrote:\n> Which colour?';
    const m = await parse(mail(`${FROM}\nSubject: Fwd\nContent-Type: text/plain; charset=utf-8`, body));
    assert.equal(m.text, body);
  });

  it('ordinary lines that look a little like quote headers are kept', async () => {
    const body = 'On Monday I ordered two lamps.\nFrom: my office in Berlin\nThe second one never arrived -- can you check?';
    const m = await parse(mail(`${FROM}\nSubject: lamps\nContent-Type: text/plain; charset=utf-8`, body));
    assert.equal(m.text, body);
  });
});

describe('parseMail: threading and addresses', () => {
  it('References oldest first (one id or many, folded), In-Reply-To with a comment, the case token bounds', async () => {
    const m = await parse(mail(`${FROM}\nSubject: Re: Re: hello [#abc] [#AbCd1234]\nMessage-ID: <new@x.example>\nIn-Reply-To: <b@x.example> (Support's message of Monday)\nReferences: <root@x.example>\n <a@x.example>\n\t<b@x.example> <a@x.example>`, 'ok'));
    assert.deepEqual(m.references, ['<root@x.example>', '<a@x.example>', '<b@x.example>']);
    assert.equal(m.inReplyTo, '<b@x.example>');
    assert.equal(m.messageId, '<new@x.example>');
    assert.equal(m.caseToken, 'abcd1234');
    const one = await parse(mail(`${FROM}\nSubject: [#${'a'.repeat(33)}] [#abc]\nReferences: <only@x.example>`, 'ok'));
    assert.deepEqual(one.references, ['<only@x.example>']);
    assert.equal(one.caseToken, undefined);
    assert.equal(one.messageId, undefined);
    assert.equal(one.inReplyTo, undefined);
  });

  it('a mail without From, or with a From that holds no address: from undefined, a warning, not answered', async () => {
    const none = await parse(mail('To: support@example.com\nSubject: hi', 'hello'));
    assert.equal(none.from, undefined);
    assert.deepEqual(none.warnings, ['no From header']);
    assert.equal(none.skipReason, 'no From (nobody to answer)');
    const bad = await parse(mail('From: Customer Service Team\nTo: support@example.com\nSubject: hi', 'hello'));
    assert.equal(bad.from, undefined);
    assert.deepEqual(bad.warnings, ['no usable address in the From header ("Customer Service Team")']);
  });

  it('groups in To/Cc are flattened, duplicates and case merged, Reply-To equal to From dropped, an invalid Date left out', async () => {
    const m = await parse(mail('From: Ann <ANN@Example.net>\nReply-To: ann@example.net\nTo: Team: Bob@example.com, carol@example.com;, bob@EXAMPLE.com\nCc: undisclosed-recipients:;\nDate: yesterday-ish\nSubject: hi', 'hello'));
    assert.deepEqual(m.from, { address: 'ann@example.net', name: 'Ann' });
    assert.equal(m.replyTo, undefined);
    assert.deepEqual(m.to, ['bob@example.com', 'carol@example.com']);
    assert.deepEqual(m.cc, []);
    assert.equal(m.date, undefined);
    assert.deepEqual(m.warnings, ['unreadable Date header ("yesterday-ish")']);
  });
});

describe('parseMail: attachments', () => {
  it('a 25 MB attachment is listed with kept=false; no attachment bytes in the result', async () => {
    const big = Buffer.alloc(25 * 1024 * 1024, 0x41);
    const source = await new MailComposer({
      from: 'Ann <ann@example.net>',
      to: 'support@example.com',
      subject: 'scans',
      text: 'The scans are attached.',
      attachments: [
        { filename: 'scans.zip', content: big, contentType: 'application/zip' },
        { filename: 'note.txt', content: 'small note' },
      ],
    })
      .compile()
      .build();
    const m = await parseMail(source, { maxAttachmentBytes: 10 * 1024 * 1024, ownAddresses: [] });
    assert.equal(m.text, 'The scans are attached.');
    assert.deepEqual(m.attachments, [
      { name: 'scans.zip', mimeType: 'application/zip', size: 25 * 1024 * 1024, kept: false },
      { name: 'note.txt', mimeType: 'text/plain', size: 10, kept: true },
    ]);
    assert.ok(JSON.stringify(m).length < 2000, 'metadata only');
    const limitEqual = await parseMail(source, { maxAttachmentBytes: 25 * 1024 * 1024, ownAddresses: [] });
    assert.equal(limitEqual.attachments[0]?.kept, true, 'a file of exactly the limit is kept');
  });
});

describe('parseMail: malformed MIME never throws', () => {
  it('a multipart cut off in an attachment: the text and what came of the attachment, with a warning', async () => {
    const m = await parse(mail(`${FROM}\nSubject: cut\nContent-Type: multipart/mixed; boundary="XX"`, '--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello there\r\n--XX\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x'));
    assert.equal(m.text, 'hello there');
    assert.equal(m.attachments[0]?.name, 'a.pdf');
    assert.deepEqual(m.warnings, ['multipart/mixed ends without its closing boundary (cut off?)']);
  });

  it('a multipart without its boundary parameter: the boundary is found in the body, with a warning', async () => {
    const m = await parse(mail(`${FROM}\nSubject: nob\nContent-Type: multipart/alternative`, '--=_abc\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nstill readable\r\n--=_abc--\r\n'));
    assert.equal(m.text, 'still readable');
    assert.deepEqual(m.warnings, ['multipart/alternative without a boundary: "=_abc", found in the body, is used']);
    const hopeless = await parse(mail(`${FROM}\nSubject: nob\nContent-Type: multipart/mixed`, 'no delimiter anywhere'));
    assert.deepEqual(hopeless.warnings, ['multipart/mixed without a boundary: its parts cannot be read']);
    assert.equal(hopeless.from?.address, 'customer@example.net');
  });

  it('garbage bytes, an empty mail, headers only, a header block over 1 MB: a result with warnings', async () => {
    const garbage = await parse(Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x0d, 0x0a, 0x0d, 0x0a, 0xc8, 0xc9, 0x80, 0x0a]));
    assert.equal(garbage.from, undefined);
    assert.ok(garbage.warnings.includes('no header block: the mail is read as a body without headers'), garbage.warnings.join('\n'));
    assert.ok(!/[\u0000-\u0008]/.test(garbage.fullText));

    const empty = await parse(Buffer.alloc(0));
    assert.deepEqual(empty.warnings, ['empty mail', 'no From header']);
    assert.equal(empty.text, '');

    const headersOnly = await parse(Buffer.from('From: a@example.net\r\nSubject: only headers'));
    assert.equal(headersOnly.subject, 'only headers');
    assert.deepEqual(headersOnly.warnings, ['no empty line after the headers: the mail has no body']);

    const huge = await parse(Buffer.from(`From: a@example.net\r\nX-Junk: ${'x'.repeat(1100 * 1024)}\r\n\r\nbody`));
    assert.deepEqual(huge.warnings, ['unreadable mail: Max header size for a MIME node exceeded']);
    assert.equal(huge.skipReason, 'unreadable mail');
  });
});
